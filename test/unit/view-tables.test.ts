// Rebuild and verify copy the tables a projection declares (Projection.tables): every read table
// must belong to exactly one projection, or a rebuild would leave it stale or two would fight over it.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runtimeTables } from '../../src/cqrs/view-copy.ts';
import { projections } from '../../src/modules/projections.ts';

const readSchema = readFileSync(resolve(import.meta.dirname, '../../prisma/read.prisma'), 'utf8');

/** Table names of the read schema's models (`@@map`, or the model name). */
function readTables(): string[] {
  // A model's block ends at the first line that is a lone `}` (comments inside may hold braces).
  return [...readSchema.matchAll(/^model (\w+) \{\n([\s\S]*?)^\}/gm)].map(([, model, body]) => /@@map\("([^"]+)"\)/.exec(body!)?.[1] ?? model!);
}

describe('read tables and the projections that own them', () => {
  it('finds the read tables', () => {
    expect(readTables()).toEqual(expect.arrayContaining(['user_profile', ...runtimeTables]));
  });

  it('gives every view table exactly one owner', () => {
    const owners = new Map<string, string[]>();
    for (const projection of projections) for (const table of projection.tables ?? []) owners.set(table, [...(owners.get(table) ?? []), projection.name]);
    const viewTables = readTables().filter((table) => !(runtimeTables as readonly string[]).includes(table));
    expect(Object.fromEntries(viewTables.map((table) => [table, owners.get(table) ?? []]))).toEqual(
      Object.fromEntries(viewTables.map((table) => [table, [expect.any(String)]])),
    );
  });

  it('names only tables of the read schema, and each projection names some', () => {
    const tables = new Set(readTables());
    for (const projection of projections) {
      expect(projection.tables, projection.name).not.toHaveLength(0);
      for (const table of projection.tables ?? [])
        expect(tables.has(table) && !(runtimeTables as readonly string[]).includes(table), `${projection.name}: ${table}`).toBe(true);
    }
  });
});
