// npm run webhooks -- list [--json]
//                     register <url> <event type[,event type…]|*> [--coalesce]
//                     pause <id> | resume <id> | delete <id> | replay <id>
//                     rotate <id> [--overlap <seconds>]
//                     deliveries <id> [--status pending|delivered|parked|superseded] [--json]
// Partners' webhook endpoints (docs/webhooks.md), the same operations as the admin API, on the
// databases `npm start` would use (embedded: only while no server holds DATA_DIR; use the admin API
// then). A secret is printed once, by register and rotate, and never otherwise.
// Exit codes: 0 done, 1 failed (not found, database unreachable, embedded database busy), 2 bad usage or input.
import { loadConfig } from '../config.ts';
import { NotFoundError, ValidationError } from '../cqrs/errors.ts';
import type { DeliveryView, WebhookAdmin } from '../modules/webhooks/endpoints.ts';
import { CliFailure, integerFlag, parseCli, runCli, UsageError, usageExit } from './cli-kit.ts';
import { deliveriesTable, endpointsTable } from './webhook-tables.ts';

const usage = [
  'usage: npm run webhooks -- list [--json]',
  '       npm run webhooks -- register <url> <event type[,event type…]|*> [--coalesce]',
  '       npm run webhooks -- pause <id> | resume <id> | delete <id> | replay <id>',
  '       npm run webhooks -- rotate <id> [--overlap <seconds>]   (default 86400: the old secret keeps signing a day)',
  '       npm run webhooks -- deliveries <id> [--status pending|delivered|parked|superseded] [--json]',
].join('\n');

const statuses = ['pending', 'delivered', 'parked', 'superseded'] as const;

const { values, positionals } = parseCli(
  usage,
  { json: { type: 'boolean' }, coalesce: { type: 'boolean' }, overlap: { type: 'string' }, status: { type: 'string' } },
  { positionals: true },
);

/** Which subcommand takes which flag; any other combination is a usage error before anything is opened. */
const flagsOf: Record<string, (keyof typeof values)[]> = {
  list: ['json'],
  register: ['coalesce'],
  rotate: ['overlap'],
  deliveries: ['status', 'json'],
};

function checkFlags(action: string | undefined): void {
  for (const flag of ['json', 'coalesce', 'overlap', 'status'] as const) {
    if (values[flag] !== undefined && !(flagsOf[action ?? ''] ?? []).includes(flag))
      throw new UsageError(`--${flag} does not apply to ${action ?? 'no command'}`);
  }
  if (values.overlap !== undefined) integerFlag('overlap', values.overlap, 0, 365 * 86_400);
  if (values.status !== undefined && !(statuses as readonly string[]).includes(values.status)) {
    throw new UsageError(`--status must be one of ${statuses.join(', ')}, got "${values.status}"`);
  }
}

async function run(admin: WebhookAdmin, args: string[]): Promise<string> {
  const [action, ...rest] = args;
  const json = values.json === true;
  switch (action) {
    case 'list':
      if (rest.length > 0) break;
      return json ? JSON.stringify(await admin.list(), null, 2) : endpointsTable(await admin.list());
    case 'register': {
      if (rest.length !== 2) break;
      const [url, types] = rest as [string, string];
      const { endpoint, secret } = await admin.register({ url, eventTypes: types.split(','), coalesce: values.coalesce === true });
      return `registered endpoint ${endpoint.id} for ${endpoint.eventTypes.join(', ')}\nsecret (shown once, store it now): ${secret}`;
    }
    case 'rotate': {
      if (rest.length !== 1) break;
      const overlap = values.overlap === undefined ? 86_400 : Number(values.overlap);
      const { endpoint, secret } = await admin.rotateSecret(rest[0]!, overlap);
      const until = endpoint.previousSecretUntil ? `; the previous secret keeps signing until ${endpoint.previousSecretUntil.toISOString()}` : '';
      return `rotated the secret of endpoint ${endpoint.id}${until}\nnew secret (shown once, store it now): ${secret}`;
    }
    case 'pause':
    case 'resume':
      if (rest.length !== 1) break;
      return `endpoint ${(await admin[action](rest[0]!)).id} is ${action === 'pause' ? 'paused' : 'active'}`;
    case 'delete':
      if (rest.length !== 1) break;
      await admin.remove(rest[0]!);
      return `deleted endpoint ${rest[0]} and its deliveries`;
    case 'replay':
      if (rest.length !== 1) break;
      return `queued ${await admin.replay(rest[0]!)} parked delivery(ies) of endpoint ${rest[0]} again`;
    case 'deliveries': {
      if (rest.length !== 1) break;
      const deliveries = await admin.deliveries(rest[0]!, { status: values.status as DeliveryView['status'] | undefined, limit: 100 });
      return json ? JSON.stringify(deliveries, null, 2) : deliveriesTable(deliveries);
    }
    default:
      break;
  }
  throw new UsageError(`bad arguments: ${args.join(' ')}`);
}

if (positionals.length === 0) usageExit(usage, '');

await runCli('webhooks', usage, async () => {
  checkFlags(positionals[0]);
  if (!['list', 'register', 'rotate', 'pause', 'resume', 'delete', 'replay', 'deliveries'].includes(positionals[0]!)) {
    throw new UsageError(`unknown command: ${positionals[0]}`);
  }
  const config = loadConfig(process.env, ['all']);
  // Loaded only now: the Prisma client and the module (docs/architecture.md, cli/), which --help and bad usage do without.
  const [{ createWriteClient }, { webhookAdmin }, { targetGuard }, { withDatabases }] = await Promise.all([
    import('../db/write-client.ts'),
    import('../modules/webhooks/endpoints.ts'),
    import('../modules/webhooks/ssrf-guard.ts'),
    import('./cli-databases.ts'),
  ]);
  const output = await withDatabases(config, async (targets) => {
    const writeDb = createWriteClient(targets.write);
    try {
      return await run(webhookAdmin(writeDb, targetGuard(config.webhooks.allowedHosts)), positionals);
    } catch (error) {
      // A refused input (a URL the SSRF guard refuses, an unknown event type) is bad usage; an unknown endpoint is a failure.
      if (error instanceof ValidationError) throw new UsageError(error.message);
      if (error instanceof NotFoundError) throw new CliFailure(error.message);
      throw error;
    } finally {
      await writeDb.$disconnect();
    }
  });
  console.log(output);
});
