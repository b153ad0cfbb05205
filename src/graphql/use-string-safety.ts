// Refuses string input that no column, event or JSON document of this service can hold: a NUL
// character (PostgreSQL text and jsonb refuse U+0000) and unpaired UTF-16 surrogates (not Unicode:
// jsonb refuses the escape, and UTF-8 encoding silently turns them into U+FFFD). Without this check
// such a value reaches PostgreSQL and fails there, as an unexpected error, or is stored altered.
// It runs before execute and subscribe, so it covers HTTP, SSE and graphql-ws (whose operations go
// through the same enveloped execute/subscribe, src/graphql/server.ts), and both APIs. It checks
// what a client can send: variable values (nested in input objects and lists too) and every
// string literal of the document (arguments, input fields, variable defaults, directive
// arguments). docs/security.md ("Correct at the boundary").
import { BREAK, GraphQLError, Kind, visit, type ASTNode, type DocumentNode, type ExecutionArgs } from 'graphql';
import type { Plugin } from 'graphql-yoga';

export interface StringSafetyOptions {
  /**
   * Whether a string is acceptable. Default: no NUL (U+0000) and well-formed UTF-16
   * (`String.prototype.isWellFormed`: no lone surrogate).
   */
  isSafe?: (value: string) => boolean;
}

// ES2024, in Node 20; the project's TypeScript lib (ES2023) does not declare it yet.
type WellFormedString = string & { isWellFormed(): boolean };

/** No NUL, no unpaired surrogate. */
export function isSafeString(value: string): boolean {
  return !value.includes('\0') && (value as WellFormedString).isWellFormed();
}

/** Where an unsafe string was found: the argument path and, for variables, the variable path. */
interface Finding {
  argument: string;
  variable?: string;
}

/** The first unsafe string in a variable value, as a path below it (`""` for the value itself). */
function unsafePath(value: unknown, isSafe: (value: string) => boolean, path: string): string | null {
  if (typeof value === 'string') return isSafe(value) ? null : path;
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const found = unsafePath(item, isSafe, `${path}[${index}]`);
      if (found !== null) return found;
    }
    return null;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const found = unsafePath(item, isSafe, path ? `${path}.${key}` : key);
      if (found !== null) return found;
    }
  }
  return null;
}

/**
 * Paths of the argument positions in the document: for each node of an argument's value, the
 * argument name and the input fields and list indexes leading to it, e.g. `filter.text` or
 * `items[0].productId`. Variables map to the first argument position that uses them.
 */
function argumentPaths(document: DocumentNode) {
  const paths = new Map<ASTNode, string>();
  const variableArguments = new Map<string, string>();
  const walk = (node: ASTNode, path: string) => {
    paths.set(node, path);
    switch (node.kind) {
      case Kind.OBJECT:
        for (const field of node.fields) walk(field.value, `${path}.${field.name.value}`);
        break;
      case Kind.LIST:
        node.values.forEach((item, index) => walk(item, `${path}[${index}]`));
        break;
      case Kind.VARIABLE:
        if (!variableArguments.has(node.name.value)) variableArguments.set(node.name.value, path);
        break;
      default:
        break;
    }
  };
  visit(document, {
    Argument(node) {
      walk(node.value, node.name.value);
    },
    VariableDefinition(node) {
      if (node.defaultValue) walk(node.defaultValue, `$${node.variable.name.value}`);
    },
  });
  return { paths, variableArguments };
}

/** `base` followed by a path below it: `filter` + `text` is `filter.text`, `items` + `[0].productId` is `items[0].productId`. */
function joinPath(base: string, below: string): string {
  return below === '' || below.startsWith('[') ? `${base}${below}` : `${base}.${below}`;
}

/** The first unsafe string literal of the document, or null. */
function unsafeLiteral(document: DocumentNode, isSafe: (value: string) => boolean): ASTNode | null {
  let literal: ASTNode | null = null;
  visit(document, {
    StringValue(node) {
      if (isSafe(node.value)) return undefined;
      literal = node;
      return BREAK;
    },
  });
  return literal;
}

function findUnsafe(
  document: DocumentNode,
  variables: Record<string, unknown> | null | undefined,
  isSafe: (value: string) => boolean,
  literals: WeakMap<DocumentNode, ASTNode | null>,
): Finding | null {
  // Yoga hands the same parsed document to every request with the same text: its literals are
  // checked once; only the variables differ from request to request.
  let literal = literals.get(document);
  if (literal === undefined) literals.set(document, (literal = unsafeLiteral(document, isSafe)));
  let variable: { name: string; below: string } | null = null;
  if (literal === null) {
    for (const [name, value] of Object.entries(variables ?? {})) {
      const below = unsafePath(value, isSafe, '');
      if (below !== null) {
        variable = { name, below };
        break;
      }
    }
  }
  // The document is only walked again, for the message, when something was found.
  if (literal === null && variable === null) return null;
  const { paths, variableArguments } = argumentPaths(document);
  if (literal !== null) return { argument: paths.get(literal) ?? 'a string literal' };
  const { name, below } = variable!;
  const argument = variableArguments.get(name);
  return { argument: argument === undefined ? joinPath(`$${name}`, below) : joinPath(argument, below), variable: joinPath(`$${name}`, below) };
}

function refusal(finding: Finding): GraphQLError {
  const where = finding.variable ? `Argument "${finding.argument}" (variable ${finding.variable})` : `Argument "${finding.argument}"`;
  return new GraphQLError(`${where} contains a NUL character or an unpaired UTF-16 surrogate, which this API does not accept.`, {
    extensions: { code: 'BAD_USER_INPUT', argument: finding.argument },
  });
}

/**
 * Stops an operation whose input holds an unsafe string before it executes, with BAD_USER_INPUT
 * naming the argument; nothing runs, so nothing is written.
 */
export function useStringSafety(options: StringSafetyOptions = {}): Plugin {
  const isSafe = options.isSafe ?? isSafeString;
  const literals = new WeakMap<DocumentNode, ASTNode | null>();
  // envelop types the execution arguments as `any` (it does not depend on graphql-js); these are graphql-js's.
  const unsafeIn = (operation: Pick<ExecutionArgs, 'document' | 'variableValues'>) =>
    findUnsafe(operation.document, operation.variableValues, isSafe, literals);
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const finding = unsafeIn(args);
      if (finding) setResultAndStopExecution({ errors: [refusal(finding)] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const finding = unsafeIn(args);
      if (finding) setResultAndStopExecution({ errors: [refusal(finding)] });
    },
  };
}
