// Loads Prisma's schema engine from its WebAssembly build. Node 20 cannot import a .wasm module
// without --experimental-wasm-modules, so the JS glue is imported and the module instantiated by hand.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';
import type { SchemaEngine } from '@prisma/schema-engine-wasm';
import type * as SchemaEngineGlue from '@prisma/schema-engine-wasm/schema_engine_bg';

type SqlAdapterFactory = Parameters<typeof bindMigrationAwareSqlAdapterFactory>[0];

let glue: Promise<typeof SchemaEngineGlue> | undefined;

async function loadGlue() {
  const module = await import('@prisma/schema-engine-wasm/schema_engine_bg');
  const packageDir = dirname(createRequire(import.meta.url).resolve('@prisma/schema-engine-wasm/schema_engine_bg'));
  const bytes = await readFile(join(packageDir, 'schema_engine_bg.wasm'));
  const { instance } = await WebAssembly.instantiate(bytes, { './schema_engine_bg.js': module });
  module.__wbg_set_wasm(instance.exports);
  (instance.exports as { __wbindgen_start(): void }).__wbindgen_start();
  return module;
}

export async function openSchemaEngine(datamodel: { path: string; content: string }, adapter: SqlAdapterFactory): Promise<SchemaEngine> {
  glue ??= loadGlue();
  const { SchemaEngine: Engine } = await glue;
  return Engine.new({ datamodels: [[datamodel.path, datamodel.content]] }, () => {}, bindMigrationAwareSqlAdapterFactory(adapter));
}
