// The databases, SQL connection and notice bus that the rebuild and verify tests each open per test,
// and their teardown (projectors and LISTEN connections the test started first).
import { createLocalNoticeBus, type NoticeBus } from '../../src/cqrs/notices.ts';
import type { ProjectorTopics, RunningProjector } from '../../src/cqrs/projector.ts';
import { createReadClient, type ReadDb } from '../../src/db/read-client.ts';
import { connectPostgres, type SqlConnection } from '../../src/db/sql.ts';
import { createWriteClient, type WriteDb } from '../../src/db/write-client.ts';
import { createTestDatabase } from './databases.ts';

export interface ViewTestContext {
  url: string;
  writeDb: WriteDb;
  readDb: ReadDb;
  sql: SqlConnection;
  notices: NoticeBus<ProjectorTopics>;
}

export async function openViewTestContext(): Promise<ViewTestContext> {
  const url = await createTestDatabase();
  return {
    url,
    writeDb: createWriteClient({ kind: 'postgres', url }),
    readDb: createReadClient({ kind: 'postgres', url }),
    sql: await connectPostgres(url),
    notices: createLocalNoticeBus<ProjectorTopics>(),
  };
}

export async function closeViewTestContext(context: Omit<ViewTestContext, 'url'>, running: RunningProjector[], listeners: SqlConnection[]): Promise<void> {
  for (const projector of running.splice(0)) await projector.stop();
  for (const listener of listeners.splice(0)) await listener.close();
  await context.notices.close();
  await context.sql.close();
  await Promise.all([context.writeDb.$disconnect(), context.readDb.$disconnect()]);
}
