// Every custom scalar of both printed schemas has a TypeScript type for input and output in codegen.ts,
// or typed clients would see `any` for it; and each says what it is (a description).
import { readFileSync } from 'node:fs';
import { buildSchema, GraphQLScalarType, specifiedScalarTypes } from 'graphql';
import { describe, expect, it } from 'vitest';
import { scalars } from '../../codegen.ts';

const builtIn = new Set(specifiedScalarTypes.map((type) => type.name));

describe.each(['schema/write.graphql', 'schema/read.graphql'])('%s', (file) => {
  const schema = buildSchema(readFileSync(file, 'utf8'));
  const custom = Object.values(schema.getTypeMap()).filter((type): type is GraphQLScalarType => type instanceof GraphQLScalarType && !builtIn.has(type.name));

  it('has its custom scalars mapped in codegen.ts, input and output', () => {
    expect(custom.length).toBeGreaterThan(0);
    for (const scalar of custom) {
      expect(scalars, `${scalar.name} is missing from codegen.ts's scalars`).toHaveProperty(scalar.name);
      expect(scalars[scalar.name as keyof typeof scalars]).toEqual({ input: expect.any(String), output: expect.any(String) });
    }
  });

  it('describes each custom scalar', () => {
    for (const scalar of custom) expect(scalar.description, scalar.name).toBeTruthy();
  });
});
