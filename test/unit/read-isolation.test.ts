// docs/architecture.md#g17: read-side code cannot reach the write Prisma client through any runtime import.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const src = join(root, 'src');
const writeClient = join(src, 'db/write-client.ts');
const writeGenerated = join(src, 'generated/write');

const viewsDirs = readdirSync(join(src, 'modules'))
  .map((module) => join(src, 'modules', module, 'views'))
  .filter((dir) => existsSync(dir) && statSync(dir).isDirectory());
const readEntries = ['graphql/server.ts', 'graphql/schema.ts', 'cqrs/projector.ts', 'cqrs/stream-source.ts', 'cqrs/consistency.ts', 'modules/projections.ts']
  .map((file) => join(src, file))
  .concat(
    viewsDirs.flatMap((dir) =>
      readdirSync(dir)
        .filter((file) => file.endsWith('.ts'))
        .map((file) => join(dir, file)),
    ),
  );

/**
 * Specifiers of the imports that survive compilation: static imports and re-exports (including
 * bare `import './x.ts'`) and dynamic `import('./x.ts')`. `import type` / `export type` are erased,
 * so they are skipped; `import { type A } from` is kept, as verbatimModuleSyntax keeps it.
 */
function runtimeImports(fileName: string, text: string): string[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node)) {
      if (node.importClause?.phaseModifier !== ts.SyntaxKind.TypeKeyword && ts.isStringLiteral(node.moduleSpecifier)) found.push(node.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(node)) {
      if (!node.isTypeOnly && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) found.push(node.moduleSpecifier.text);
    } else if (ts.isImportEqualsDeclaration(node)) {
      const reference = node.moduleReference;
      if (!node.isTypeOnly && ts.isExternalModuleReference(reference) && ts.isStringLiteral(reference.expression)) {
        found.push(reference.expression.text);
      }
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [specifier] = node.arguments;
      if (specifier && ts.isStringLiteralLike(specifier)) found.push(specifier.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function resolveRelative(from: string, specifier: string): string {
  const base = resolve(dirname(from), specifier);
  const candidates = [base, base.replace(/\.js$/, '.ts'), `${base}.ts`, join(base, 'index.ts')];
  const found = candidates.find((candidate) => existsSync(candidate) && statSync(candidate).isFile());
  if (!found) throw new Error(`${relative(root, from)}: cannot resolve import '${specifier}'`);
  return found;
}

/** Breadth-first over relative runtime imports; returns, for each reachable file, the file that first imported it. */
function importGraph(entries: string[]): Map<string, string | null> {
  const parent = new Map<string, string | null>(entries.map((entry) => [entry, null]));
  const queue = [...entries];
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    for (const specifier of runtimeImports(file, readFileSync(file, 'utf8'))) {
      if (!specifier.startsWith('.')) continue;
      const target = resolveRelative(file, specifier);
      if (parent.has(target)) continue;
      parent.set(target, file);
      queue.push(target);
    }
  }
  return parent;
}

function chainTo(graph: Map<string, string | null>, file: string): string {
  const chain: string[] = [];
  for (let at: string | null | undefined = file; at; at = graph.get(at)) chain.unshift(relative(root, at));
  return chain.join('\n  -> ');
}

const isWriteSide = (file: string) => file === writeClient || file.startsWith(writeGenerated + '/');

function writeSideChains(entries: string[]): string[] {
  const graph = importGraph(entries);
  return [...graph.keys()].filter(isWriteSide).map((file) => chainTo(graph, file));
}

describe('read-side isolation (docs/architecture.md#g17)', () => {
  it('has the read-side entry files it is meant to check', () => {
    for (const entry of readEntries) expect(existsSync(entry), relative(root, entry)).toBe(true);
    expect(readEntries.some((entry) => entry.includes('/views/'))).toBe(true);
  });

  it('read-side code cannot reach the write Prisma client', () => {
    const chains = writeSideChains(readEntries);
    expect(chains, `read-side code reaches the write side:\n\n${chains.join('\n\n')}\n`).toEqual([]);
  });

  it('the walker finds the write client from src/app.ts, so the check can fail', () => {
    const chains = writeSideChains([join(src, 'app.ts')]);
    expect(chains.some((chain) => chain.endsWith('src/db/write-client.ts'))).toBe(true);
    expect(chains.some((chain) => chain.includes('src/generated/write/'))).toBe(true);
  });

  it('parses every runtime import form and skips the erased type-only ones', () => {
    const text = `
      import type { A } from './type-only.ts';
      export type { B } from './type-reexport.ts';
      import { type C } from './inline-type.ts';
      import {
        d,
        type E,
      } from './multi-line.ts';
      import f from './default.ts';
      import * as g from './namespace.ts';
      import './side-effect.ts';
      export { h } from './reexport.ts';
      export * from './star.ts';
      export * as i from './star-as.ts';
      type J = import('./import-type.ts').J;
      // import { k } from './line-comment.ts';
      /* import { l } from './block-comment.ts'; */
      const m = 'import { n } from "./in-a-string.ts"';
      async function load() { return import('./dynamic.ts'); }
      import { o } from 'package';
    `;
    expect(runtimeImports('example.ts', text)).toEqual([
      './inline-type.ts',
      './multi-line.ts',
      './default.ts',
      './namespace.ts',
      './side-effect.ts',
      './reexport.ts',
      './star.ts',
      './star-as.ts',
      './dynamic.ts',
      'package',
    ]);
  });
});
