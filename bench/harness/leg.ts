// What a benchmark leg is: a named comparison that runs against the harness's servers and returns
// rows of figures, each optionally set against a peer measured in the same run (bench/run.ts).
import type { Infra } from './infra.ts';
import type { ProfileSummary } from './profile.ts';

export interface LegContext {
  infra: Infra;
  /** --quick: fewer and shorter rounds, to prove the leg works (CI smoke), not to measure. */
  quick: boolean;
  /** A progress line on stderr, prefixed with the leg's name. */
  progress(message: string): void;
}

/** One figure. `ratio` is subject / peer (or peer / subject for lower-is-better units), >1 is better. */
export interface ResultRow {
  metric: string;
  value: number;
  unit: string;
  peer?: { name: string; value: number };
  ratio?: number;
  /** The target this figure is held to, in words ("≥ 1.5× PostGraphile"), and whether it was met. */
  target?: string;
  met?: boolean;
  /** Extra figures (p99, backlog, rounds…), printed after the row. */
  detail?: Record<string, number | string>;
}

export interface LegResult {
  rows: ResultRow[];
  /** Resident memory (MB) of each process the leg started, after each round: bounded means flat. */
  memory?: Record<string, number[]>;
  notes?: string[];
  /** --profile: where each product process spent its CPU time (bench/harness/profile.ts). */
  profiles?: ProfileSummary[];
}

export interface Leg {
  name: string;
  description: string;
  run(context: LegContext): Promise<LegResult>;
}
