// npm run webhooks -- list [--json]
//                     register <url> <event type[,event type…]|*> [--coalesce]
//                     pause <id> | resume <id> | delete <id> | replay <id>
//                     rotate <id> [--overlap <seconds>]
//                     deliveries <id> [--status pending|delivered|parked|superseded] [--json]
// Partners' webhook endpoints (docs/webhooks.md), the same operations as the admin API, on the
// databases `npm start` would use (embedded: only while no server holds DATA_DIR; use the admin API
// then). A secret is printed once, by register and rotate, and never otherwise.
// Exit codes: 0 done, 1 failed (not found, database unreachable, embedded database busy), 2 bad usage or input.
import { ConfigError, loadConfig } from '../config.ts';
import { NotFoundError, ValidationError } from '../cqrs/errors.ts';
import { PendingMigrationsError } from '../db/migrations.ts';
import { createWriteClient } from '../db/write-client.ts';
import { webhookAdmin, type DeliveryView, type WebhookAdmin } from '../modules/webhooks/endpoints.ts';
import { targetGuard } from '../modules/webhooks/ssrf-guard.ts';
import { withDatabases } from './cli-databases.ts';
import { deliveriesTable, endpointsTable } from './webhook-tables.ts';

const usage = [
  'usage: npm run webhooks -- list [--json]',
  '       npm run webhooks -- register <url> <event type[,event type…]|*> [--coalesce]',
  '       npm run webhooks -- pause <id> | resume <id> | delete <id> | replay <id>',
  '       npm run webhooks -- rotate <id> [--overlap <seconds>]   (default 86400: the old secret keeps signing a day)',
  '       npm run webhooks -- deliveries <id> [--status pending|delivered|parked|superseded] [--json]',
].join('\n');

class UsageError extends Error {}

const statuses = ['pending', 'delivered', 'parked', 'superseded'] as const;

function option(args: string[], name: string): string | undefined {
  const at = args.indexOf(name);
  if (at < 0) return undefined;
  const value = args[at + 1];
  if (value === undefined || value.startsWith('--')) throw new UsageError(usage);
  args.splice(at, 2);
  return value;
}

function flag(args: string[], name: string): boolean {
  const at = args.indexOf(name);
  if (at >= 0) args.splice(at, 1);
  return at >= 0;
}

async function run(admin: WebhookAdmin, args: string[]): Promise<string> {
  const [action, ...rest] = args;
  const json = flag(rest, '--json');
  switch (action) {
    case 'list':
      if (rest.length > 0) break;
      return json ? JSON.stringify(await admin.list(), null, 2) : endpointsTable(await admin.list());
    case 'register': {
      const coalesce = flag(rest, '--coalesce');
      if (rest.length !== 2 || json) break;
      const [url, types] = rest as [string, string];
      const { endpoint, secret } = await admin.register({ url, eventTypes: types.split(','), coalesce });
      return `registered endpoint ${endpoint.id} for ${endpoint.eventTypes.join(', ')}\nsecret (shown once, store it now): ${secret}`;
    }
    case 'rotate': {
      const overlap = option(rest, '--overlap');
      if (rest.length !== 1 || json || (overlap !== undefined && !/^\d+$/.test(overlap))) break;
      const { endpoint, secret } = await admin.rotateSecret(rest[0]!, overlap === undefined ? 86_400 : Number(overlap));
      const until = endpoint.previousSecretUntil ? `; the previous secret keeps signing until ${endpoint.previousSecretUntil.toISOString()}` : '';
      return `rotated the secret of endpoint ${endpoint.id}${until}\nnew secret (shown once, store it now): ${secret}`;
    }
    case 'pause':
    case 'resume':
      if (rest.length !== 1 || json) break;
      return `endpoint ${(await admin[action](rest[0]!)).id} is ${action === 'pause' ? 'paused' : 'active'}`;
    case 'delete':
      if (rest.length !== 1 || json) break;
      await admin.remove(rest[0]!);
      return `deleted endpoint ${rest[0]} and its deliveries`;
    case 'replay':
      if (rest.length !== 1 || json) break;
      return `queued ${await admin.replay(rest[0]!)} parked delivery(ies) of endpoint ${rest[0]} again`;
    case 'deliveries': {
      const status = option(rest, '--status');
      if (rest.length !== 1 || (status !== undefined && !(statuses as readonly string[]).includes(status))) break;
      const deliveries = await admin.deliveries(rest[0]!, { status: status as DeliveryView['status'] | undefined, limit: 100 });
      return json ? JSON.stringify(deliveries, null, 2) : deliveriesTable(deliveries);
    }
    default:
      break;
  }
  throw new UsageError(usage);
}

try {
  const args = process.argv.slice(2);
  if (args.length === 0 || args.includes('--help') || args.includes('-h')) {
    console.log(usage);
    process.exit(args.length === 0 ? 2 : 0);
  }
  const config = loadConfig(process.env, ['all']);
  const output = await withDatabases(config, async (targets) => {
    const writeDb = createWriteClient(targets.write);
    try {
      return await run(webhookAdmin(writeDb, targetGuard(config.webhooks.allowedHosts)), args);
    } finally {
      await writeDb.$disconnect();
    }
  });
  console.log(output);
} catch (error) {
  if (error instanceof UsageError || error instanceof ConfigError || error instanceof ValidationError) {
    console.error(error.message);
    process.exit(2);
  }
  if (error instanceof NotFoundError || error instanceof PendingMigrationsError) {
    console.error(error.message);
    process.exit(1);
  }
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
}
