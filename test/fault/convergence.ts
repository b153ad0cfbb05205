// What the views still lack of the acknowledged mutations, read straight from the read tables.
import { randomUUID } from 'node:crypto';
import { eventLogChannel } from '../../src/cqrs/event-log.ts';
import { connectPostgres, type SqlConnection } from '../../src/db/sql.ts';
import { orderSagaName } from '../../src/modules/orders/saga/order-saga.ts';
import type { Acknowledged } from './command-load.ts';

/** parked_event holds every consumer's parked events; these are the process managers'. */
const processNames = [orderSagaName];

/** A fresh connection per call: PostgreSQL may have restarted since the last one. */
async function withSql<T>(url: string, work: (sql: SqlConnection) => Promise<T>): Promise<T> {
  const sql = await connectPostgres(url);
  try {
    return await work(sql);
  } finally {
    await sql.close().catch(() => {});
  }
}

/** Descriptions of what is missing (empty when the views show every acknowledged mutation). */
export function missingFromViews(readDatabaseUrl: string, expected: Acknowledged): Promise<string[]> {
  return withSql(readDatabaseUrl, async (sql) => {
    const missing: string[] = [];
    const userIds = [...expected.users.keys()];
    const users = await sql.query<{ id: string; email: string; login_count: number }>(
      'SELECT id::text, email, login_count FROM user_profile WHERE id = ANY($1::uuid[])',
      [userIds],
    );
    const seen = new Map(users.map((row) => [row.id, row]));
    for (const [id, user] of expected.users) {
      const row = seen.get(id);
      if (!row) missing.push(`user ${id} not in user_profile`);
      // A login whose request failed may still have committed: at least the acknowledged ones.
      else if (row.login_count < user.logins) missing.push(`user ${id}: ${row.login_count} logins in the view, ${user.logins} acknowledged`);
    }
    const orderIds = [...expected.orders];
    const orders = await sql.query<{ id: string }>('SELECT id::text FROM order_history WHERE id = ANY($1::uuid[])', [orderIds]);
    const seenOrders = new Set(orders.map((row) => row.id));
    for (const id of orderIds) if (!seenOrders.has(id)) missing.push(`order ${id} not in order_history`);
    // Each accepted asynchronous login ran (SUCCEEDED) and appended exactly one UserLoggedIn, whatever crashed.
    const commandIds = [...expected.asyncLogins.keys()];
    const commands = await sql.query<{ id: string; status: string; runs: string }>(
      `SELECT c.id::text, c.status,
              (SELECT count(*) FROM event_log e WHERE e.type = 'UserLoggedIn' AND e.metadata->>'commandId' = c.id::text)::text AS runs
         FROM async_commands c WHERE c.id = ANY($1::uuid[])`,
      [commandIds],
    );
    const seenCommands = new Map(commands.map((row) => [row.id, row]));
    for (const id of commandIds) {
      const command = seenCommands.get(id);
      if (!command) throw new Error(`accepted command ${id} is not in async_commands: an acceptance was lost`);
      if (Number(command.runs) > 1) throw new Error(`command ${id} ran ${command.runs} times`);
      if (command.status !== 'SUCCEEDED' || command.runs !== '1') missing.push(`command ${id} is ${command.status} (${command.runs} runs)`);
    }
    return missing;
  });
}

/**
 * Waits until `remaining` reports nothing left. A backlog (the saga settles orders more slowly than
 * a sustained load places them) may take long to drain, so this fails only when it stops shrinking
 * for `stallMs`: a liveness check, not a speed goal. Returns how many were left at first.
 */
export async function untilDrained(remaining: () => Promise<string[]>, options: { stallMs: number; what: string }): Promise<number> {
  let left = await remaining();
  const first = left.length;
  let best = left.length;
  let progressAt = Date.now();
  while (left.length > 0) {
    if (Date.now() - progressAt > options.stallMs) {
      throw new Error(`${options.what}: no progress for ${options.stallMs} ms, ${left.length} left, e.g. ${left.slice(0, 3).join('; ')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    left = await remaining();
    if (left.length < best) {
      best = left.length;
      progressAt = Date.now();
    }
  }
  return first;
}

/** Orders the saga has not settled yet (neither completed nor cancelled). */
export function unsettledOrders(readDatabaseUrl: string, orderIds: Iterable<string>): Promise<string[]> {
  return withSql(readDatabaseUrl, async (sql) => {
    const rows = await sql.query<{ id: string; status: string }>(
      `SELECT id::text, status FROM order_history WHERE id = ANY($1::uuid[]) AND status NOT IN ('completed', 'cancelled')`,
      [[...orderIds]],
    );
    return rows.map((row) => `order ${row.id} is ${row.status}`);
  });
}

/** Parked events of every projection, as "projection@position". */
export function parkedEvents(readDatabaseUrl: string): Promise<{ projection: string; position: string; error: string }[]> {
  return withSql(readDatabaseUrl, (sql) =>
    sql.query<{ projection: string; position: string; error: string }>(
      `SELECT consumer AS projection, position::text, error FROM parked_event WHERE consumer <> ALL($1::text[]) ORDER BY consumer, position`,
      [processNames],
    ),
  );
}

/** What the saga parked: events it could not handle, and orders whose step kept failing. */
export function sagaParked(databaseUrl: string): Promise<string[]> {
  return withSql(databaseUrl, async (sql) => {
    const events = await sql.query<{ process: string; position: string; error: string }>(
      'SELECT consumer AS process, position::text, error FROM parked_event WHERE consumer = ANY($1::text[])',
      [processNames],
    );
    const sagas = await sql.query<{ order_id: string; parked_step: string }>('SELECT order_id::text, parked_step FROM order_sagas WHERE parked_at IS NOT NULL');
    return [
      ...events.map((row) => `${row.process} event ${row.position}: ${row.error}`),
      ...sagas.map((row) => `saga of order ${row.order_id} parked at ${row.parked_step}`),
    ];
  });
}

/**
 * Appends an event no projection can apply, as a buggy writer could: a UserRegistered without its
 * payload. Returns its log position.
 */
export function appendPoisonEvent(databaseUrl: string): Promise<string> {
  return withSql(databaseUrl, async (sql) => {
    const id = randomUUID();
    const metadata = { commandId: randomUUID(), correlationId: randomUUID(), causationId: null, actor: 'fault-suite', time: new Date().toISOString() };
    const [row] = await sql.query<{ position: string }>(
      `INSERT INTO event_log (aggregate_type, aggregate_id, aggregate_version, type, schema_version, data, metadata)
       VALUES ('User', $1, 1, 'UserRegistered', 1, $2::jsonb, $3::jsonb) RETURNING position::text`,
      [id, JSON.stringify({ userId: id, poison: true }), JSON.stringify(metadata)],
    );
    await sql.query(`NOTIFY ${eventLogChannel}`);
    return row!.position;
  });
}
