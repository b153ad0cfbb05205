// Stopping what a test spawned with `detached: true` and everything under it (`npm start` runs a shell,
// which runs node): a signal to the leader alone may leave the rest running.
import type { ChildProcess } from 'node:child_process';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether any process of the group led by `pid` is still there. */
export function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM to the child's process group, SIGKILL after `graceMs`; resolves once the group is gone (or 2 s after the SIGKILL). */
export async function stopGroup(child: ChildProcess, graceMs = 5_000): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  for (const [signal, waitMs] of [
    ['SIGTERM', graceMs],
    ['SIGKILL', 2_000],
  ] as const) {
    if (!groupAlive(pid)) return;
    try {
      process.kill(-pid, signal);
    } catch {
      return;
    }
    for (const deadline = Date.now() + waitMs; groupAlive(pid) && Date.now() < deadline;) await sleep(100);
  }
}
