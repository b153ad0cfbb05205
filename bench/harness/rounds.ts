// Interleaved rounds: each contender runs once per round, A B then B A, so that the noise of a
// shared machine falls on all alike; a round's ratio is taken within the round, and the run's
// figure is the median over rounds (docs/benchmarks.md).
export interface Contender<T> {
  name: string;
  run(): Promise<T>;
}

export interface RoundsOptions {
  rounds: number;
  /** Untimed runs of each contender first (JIT, connection pools, caches). */
  warmups: number;
  progress?(message: string): void;
  /** Called after each round (e.g. to sample memory). */
  afterRound?(round: number): void;
}

/** Each contender's results, one per round, in round order. */
export async function interleave<T>(contenders: Contender<T>[], options: RoundsOptions): Promise<Map<string, T[]>> {
  for (let i = 0; i < options.warmups; i++) for (const contender of contenders) await contender.run();
  const results = new Map(contenders.map((contender) => [contender.name, [] as T[]]));
  for (let round = 0; round < options.rounds; round++) {
    const order = round % 2 === 0 ? contenders : [...contenders].reverse();
    for (const contender of order) {
      options.progress?.(`round ${round + 1}/${options.rounds}: ${contender.name}`);
      results.get(contender.name)!.push(await contender.run());
    }
    options.afterRound?.(round);
  }
  return results;
}
