// Domain errors are typed; the GraphQL layer exposes each class as an object type in the schema.
export abstract class DomainError extends Error {
  abstract readonly code: string;

  /** GraphQL takes a thrown error's `extensions`: a refusal thrown by a query field keeps its code. */
  get extensions(): { code: string } {
    return { code: this.code };
  }
}

export class ValidationError extends DomainError {
  readonly code = 'VALIDATION_FAILED';
  constructor(readonly issues: { field: string; message: string }[]) {
    super(issues.map((issue) => `${issue.field}: ${issue.message}`).join('; '));
    this.name = 'ValidationError';
  }
}

export class NotFoundError extends DomainError {
  readonly code = 'NOT_FOUND';
  constructor(
    readonly aggregateType: string,
    readonly aggregateId: string,
  ) {
    super(`${aggregateType} ${aggregateId} does not exist`);
    this.name = 'NotFoundError';
  }
}

export class VersionConflictError extends DomainError {
  readonly code = 'VERSION_CONFLICT';
  constructor(
    readonly aggregateType: string,
    readonly aggregateId: string,
    readonly expectedVersion: number,
    readonly actualVersion: number | null,
  ) {
    super(
      actualVersion === null
        ? `${aggregateType} ${aggregateId} was changed concurrently; reload and retry`
        : `${aggregateType} ${aggregateId} is at version ${actualVersion}, not the expected ${expectedVersion}`,
    );
    this.name = 'VersionConflictError';
  }
}

/** Collects validation issues so that a command reports all of them at once. */
export function validate(checks: [field: string, message: string | undefined][]): void {
  const issues = checks.flatMap(([field, message]) => (message ? [{ field, message }] : []));
  if (issues.length > 0) throw new ValidationError(issues);
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return uuidPattern.test(value);
}

/** The canonical (lower-case) form of a UUID, or null when `value` is not one. */
export function canonicalUuidOrNull(value: string): string | null {
  return isUuid(value) ? value.toLowerCase() : null;
}

export function uuidProblem(value: string): string | undefined {
  return isUuid(value) ? undefined : 'must be a UUID';
}

/**
 * The one spelling of a UUID: lower case, as PostgreSQL prints its uuid values. Ids that differ
 * only in letter case name the same row in a uuid column but are two different strings for the
 * event log's aggregate ids, stream keys, locks and in-memory maps; canonicalizing every id before
 * any lookup or write keeps one aggregate per entity (docs/security.md ("Correct at the boundary")). A value that is not
 * a UUID is returned as it is, so that validation still reports it.
 */
export function canonicalUuid(value: string): string {
  return isUuid(value) ? value.toLowerCase() : value;
}
