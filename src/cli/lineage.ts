// npm run lineage -- <correlationId> [--json]
// npm run lineage -- recent [--limit <n>] [--json]
// What one request set going (docs/lineage.md): its commands, the saga's follow-up commands, their
// events, the consumers that handled each and when, rows changed, pushes and webhook deliveries;
// or the latest requests' correlation ids. The same as the admin queries `lineage` and
// `recentCommands`, on the databases `npm start` would use (embedded: only while no server holds
// DATA_DIR; use the admin API then). Exit codes: 0 done, 1 failed, 2 bad usage.
import { loadConfig } from '../config.ts';
import { integerFlag, parseCli, runCli, UsageError, usageExit } from './cli-kit.ts';
import { lineageText, recentText } from './lineage-tree.ts';

const usage = [
  'usage: npm run lineage -- <correlationId> [--json]     the tree of one request, with timings',
  '       npm run lineage -- recent [--limit <n>] [--json]   the latest requests (1 to 100, default 20)',
].join('\n');

const { values, positionals } = parseCli(usage, { json: { type: 'boolean' }, limit: { type: 'string' } }, { positionals: true });
if (positionals.length === 0) usageExit(usage, '');

const json = (value: unknown) => JSON.stringify(value, (_key, item: unknown) => (typeof item === 'bigint' ? String(item) : item), 2);

await runCli('lineage', usage, async () => {
  if (positionals.length !== 1) throw new UsageError(`bad arguments: ${positionals.join(' ')}`);
  const [subject] = positionals as [string];
  const recent = subject === 'recent';
  if (!recent && values.limit !== undefined) throw new UsageError('--limit applies to recent only');
  if (!recent && !/^[\x21-\x7e]{1,255}$/.test(subject)) throw new UsageError('a correlation id is 1 to 255 visible ASCII characters');
  const limit = values.limit === undefined ? 20 : integerFlag('limit', values.limit, 1, 100);
  const config = loadConfig(process.env, ['all']);
  // Loaded only now: the Prisma clients and the modules (docs/architecture.md, cli/), which --help and bad usage do without.
  const [{ loadLineage, recentCommands }, { createReadClient }, { createWriteClient }, { logConsumers }, { withDatabases }] = await Promise.all([
    import('../cqrs/lineage-query.ts'),
    import('../db/read-client.ts'),
    import('../db/write-client.ts'),
    import('../modules/log-consumers.ts'),
    import('./cli-databases.ts'),
  ]);
  const output = await withDatabases(config, async (targets) => {
    const writeDb = createWriteClient(targets.write);
    const readDb = createReadClient(targets.read);
    try {
      if (recent) {
        const commands = await recentCommands(writeDb, limit);
        return values.json ? json(commands) : recentText(commands);
      }
      const lineage = await loadLineage({ writeDb, readDb }, logConsumers(config), subject);
      return values.json ? json(lineage) : lineageText(lineage);
    } finally {
      await Promise.all([writeDb.$disconnect(), readDb.$disconnect()]);
    }
  });
  console.log(output);
});
