// Event upcasting: consumers see every event in its current shape, whatever version it was stored
// with. The log is never rewritten; an old event is turned into the next version by the upcaster
// registered for (its type, its version), repeatedly, until it reaches the version the code writes
// today. Modules own their history: each declares its current versions and its upcasters
// (src/modules/upcasters.ts), and installs the result for every reader in the process.
//
// Upcasting happens where events are read for consumers: readCommittedEvents (embedded log source,
// rebuilds) and decodeStreamEntry (stream source). The relay publishes stored shapes; see relay.ts.
import type { RecordedEvent } from './events.ts';

/** Turns the payload of `type` at `fromVersion` into its shape at `fromVersion + 1`. Pure. */
export interface Upcaster {
  type: string;
  fromVersion: number;
  /** The whole event is given for context (metadata, recordedAt); only its payload changes. */
  upcast(data: object, event: RecordedEvent): object;
}

/** A typed upcaster: `From` is the payload at `fromVersion`, `To` the one at `fromVersion + 1`. */
export function upcaster<From extends object, To extends object>(
  type: string,
  fromVersion: number,
  upcast: (data: From, event: RecordedEvent) => To,
): Upcaster {
  return { type, fromVersion, upcast: (data, event) => upcast(data as From, event) };
}

/** Why an event cannot be given to consumers. Never passed on silently: the reader throws. */
export class EventUpcastError extends Error {
  constructor(
    readonly event: Pick<RecordedEvent, 'type' | 'schemaVersion' | 'position' | 'transactionId'>,
    reason: string,
  ) {
    super(`event ${event.type} v${event.schemaVersion} at log position ${event.position} (transaction ${event.transactionId}): ${reason}`);
    this.name = 'EventUpcastError';
  }
}

/** What a module declares about its events: the versions written today and how older ones upcast. */
export interface ModuleEventHistory {
  currentVersions: Readonly<Record<string, number>>;
  upcasters?: readonly Upcaster[];
}

export class EventUpcasting {
  private readonly current: ReadonlyMap<string, number>;
  private readonly steps = new Map<string, Upcaster>();

  /**
   * `currentVersions`: the version each event type is written with today. `upcasters`: one per
   * (type, version) below it that has existed. A mistake in either is found here, at start-up.
   */
  constructor(currentVersions: Readonly<Record<string, number>>, upcasters: readonly Upcaster[] = []) {
    for (const [type, version] of Object.entries(currentVersions)) {
      if (!Number.isInteger(version) || version < 1) throw new Error(`event ${type}: current version must be an integer ≥ 1, not ${version}`);
    }
    this.current = new Map(Object.entries(currentVersions));
    for (const step of upcasters) {
      const current = this.current.get(step.type);
      if (current === undefined) throw new Error(`upcaster for ${step.type} v${step.fromVersion}: no current version is declared for ${step.type}`);
      if (!Number.isInteger(step.fromVersion) || step.fromVersion < 1 || step.fromVersion >= current) {
        throw new Error(`upcaster for ${step.type} v${step.fromVersion}: must start from a version in 1..${current - 1} (current is v${current})`);
      }
      const key = stepKey(step.type, step.fromVersion);
      if (this.steps.has(key)) throw new Error(`two upcasters for ${step.type} v${step.fromVersion}`);
      this.steps.set(key, step);
    }
  }

  /** One registry from each module's history; an event type declared by two modules is a mistake. */
  static ofModules(histories: readonly ModuleEventHistory[]): EventUpcasting {
    const currentVersions: Record<string, number> = {};
    for (const [type, version] of histories.flatMap((history) => Object.entries(history.currentVersions))) {
      if (type in currentVersions) throw new Error(`event type ${type} is declared by two modules`);
      currentVersions[type] = version;
    }
    const upcasters = histories.flatMap((history) => history.upcasters ?? []);
    return new EventUpcasting(currentVersions, upcasters);
  }

  currentVersionOf(type: string): number | undefined {
    return this.current.get(type);
  }

  /**
   * The event in its current shape (the same object when it is current already). An event type no
   * module declares passes unchanged: no consumer handles it (consumers handle declared types only),
   * and a process must tolerate types that a newer deployment added. A declared type stored with a
   * version above the current one (written by newer code) or with a missing step throws.
   */
  upcast(event: RecordedEvent): RecordedEvent {
    const current = this.current.get(event.type);
    if (current === undefined || event.schemaVersion === current) return event;
    if (!Number.isInteger(event.schemaVersion) || event.schemaVersion < 1) {
      throw new EventUpcastError(event, 'schema version must be an integer ≥ 1');
    }
    if (event.schemaVersion > current) {
      throw new EventUpcastError(event, `this code knows ${event.type} only up to v${current}; it was written by newer code, so deploy that code here`);
    }
    let data = event.data;
    for (let version = event.schemaVersion; version < current; version += 1) {
      const step = this.steps.get(stepKey(event.type, version));
      if (!step) throw new EventUpcastError(event, `no upcaster from v${version} to v${version + 1} (current is v${current})`);
      data = step.upcast(data, { ...event, schemaVersion: version, data });
    }
    return { ...event, schemaVersion: current, data };
  }
}

function stepKey(type: string, fromVersion: number): string {
  return `${type}@${fromVersion}`;
}

/** Declares nothing: every event passes unchanged, until a process installs its modules' history. */
let installed = new EventUpcasting({});

/** Makes `upcasting` the default of every reader in this process (src/modules/upcasters.ts does). */
export function installEventUpcasting(upcasting: EventUpcasting): void {
  installed = upcasting;
}

export function installedEventUpcasting(): EventUpcasting {
  return installed;
}
