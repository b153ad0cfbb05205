// One shop process for the fault-injection suite: the real app (src/main.ts's startApp) with fault
// points that kill the process with SIGKILL, exactly like `kill -9`, at a chosen moment. The suite
// arms a point by creating a file named after it in FAULT_ARMED_DIR; the first process to reach
// the point claims the file (an atomic rename, so exactly one process fires) and dies.
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { startApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';

const armedDir = process.env.FAULT_ARMED_DIR;

function dieIfArmed(point: string) {
  if (!armedDir) return;
  try {
    renameSync(join(armedDir, point), join(armedDir, `${point}.fired-by-${process.pid}`));
  } catch {
    return; // not armed, or another process claimed it first
  }
  process.kill(process.pid, 'SIGKILL');
}

const app = await startApp(loadConfig(), undefined, {
  faultPoints: {
    relayAfterPublish: () => dieIfArmed('relay-after-publish'),
    projectorBeforeCommit: () => dieIfArmed('projector-before-commit'),
    commandWorkerBeforeCommit: () => dieIfArmed('command-worker-before-commit'),
    commandWorkerAfterCommit: () => dieIfArmed('command-worker-after-commit'),
  },
});
// The suite waits for this line to learn the process's endpoints.
console.log(`READY ${JSON.stringify(app.endpoints)}`);
const shutdown = () => void app.stop().then(() => process.exit(0));
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
