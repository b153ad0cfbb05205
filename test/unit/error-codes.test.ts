// The write API's error codes are an enum clients switch on (docs/client-contract.md#mutations): every
// DomainError class in src carries a code the ErrorCode enum lists, so that a new error class without
// its code in src/graphql/types/errors.ts fails here rather than in a client's response.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { isEnumType, isNonNullType, type GraphQLEnumType, type GraphQLInterfaceType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { buildSchemas } from '../../src/graphql/schema.ts';
import { errorCodes } from '../../src/graphql/types/errors.ts';
import { repoRoot } from '../support/app-process.ts';

const src = join(repoRoot, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'generated' ? [] : sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every class declared as `extends DomainError`, with the code its body declares (null when none is a literal). */
function domainErrorClasses(): { where: string; name: string; code: string | null }[] {
  return sourceFiles(src).flatMap((file) => {
    const text = readFileSync(file, 'utf8');
    return [...text.matchAll(/class (\w+) extends DomainError \{/g)].map((match) => {
      // The class body up to the next top-level declaration: its `readonly code = '…'`.
      const body = text.slice(match.index).split(/\n(?=export |class |function |const )/)[0]!;
      const code = /readonly code = '([A-Z_]+)'/.exec(body)?.[1] ?? null;
      return { where: relative(repoRoot, file), name: match[1]!, code };
    });
  });
}

describe('ErrorCode', () => {
  const classes = domainErrorClasses();

  it('finds the error classes (the scan works)', () => {
    expect(classes.map((found) => found.name)).toEqual(
      expect.arrayContaining(['ValidationError', 'NotFoundError', 'ForbiddenError', 'SkuTakenError', 'EmailTakenError', 'OverloadedError']),
    );
  });

  it.each(classes.map((found) => [found.name, found] as const))("lists %s's code", (_name, found) => {
    expect(found.code, `${found.where}: ${found.name} declares no literal code`).not.toBeNull();
    expect(Object.keys(errorCodes), `${found.where}: add ${found.code} to errorCodes in src/graphql/types/errors.ts`).toContain(found.code);
  });

  it('lists no code that no error class has', () => {
    expect(Object.keys(errorCodes).sort()).toEqual([...new Set(classes.map((found) => found.code))].sort());
  });

  it("is the type of the Error interface's code in the write schema", () => {
    const { write } = buildSchemas();
    const code = (write.getType('Error') as GraphQLInterfaceType).getFields().code!.type;
    expect(isNonNullType(code) && isEnumType(code.ofType) && code.ofType.name).toBe('ErrorCode');
    const values = (write.getType('ErrorCode') as GraphQLEnumType).getValues().map((value) => value.name);
    expect(values.sort()).toEqual(Object.keys(errorCodes).sort());
  });
});
