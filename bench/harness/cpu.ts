// CPU time of processes on this machine, from /proc (user + system), so that a leg can say how much
// CPU one unit of work cost in each process: the product, and PostgreSQL's backends serving it.
import { readFileSync } from 'node:fs';
import type { SqlConnection } from '../../src/db/sql.ts';

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ: 100 on Linux). */
const ticksPerSecond = 100;

/** Seconds of CPU `pid` used so far; NaN where /proc is missing or the process is gone. */
export function cpuSecondsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
  } catch {
    return Number.NaN;
  }
}

/**
 * CPU seconds of the backends connected to `sql`'s database (except `sql`'s own), by pid. Only
 * meaningful when PostgreSQL runs on this machine (the bench's throwaway server); empty otherwise.
 */
export async function backendCpu(sql: SqlConnection): Promise<Map<number, number>> {
  const rows = await sql.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()');
  const cpu = new Map<number, number>();
  for (const { pid } of rows) {
    const seconds = cpuSecondsOf(pid);
    if (Number.isFinite(seconds)) cpu.set(pid, seconds);
  }
  return cpu;
}

/** CPU seconds the backends used between two readings (a backend that appeared since counts from zero). */
export function backendCpuDelta(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, seconds] of after) total += seconds - (before.get(pid) ?? 0);
  return total;
}
