// Every field a client can call declares who may call it, and the policy is the documented one
// (docs/security.md, "Authorization"): a new field without `authScopes` fails here.
import type { GraphQLField, GraphQLSchema } from 'graphql';
import { describe, expect, it } from 'vitest';
import { buildSchemas } from '../../src/graphql/schema.ts';

type Scopes = Record<string, unknown> | ((...args: unknown[]) => Record<string, unknown>);

function rootFields(schema: GraphQLSchema): [string, GraphQLField<unknown, unknown>][] {
  return [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].flatMap((root) =>
    root ? Object.entries(root.getFields()).map(([name, field]): [string, GraphQLField<unknown, unknown>] => [`${root.name}.${name}`, field]) : [],
  );
}

function scopesOf(field: GraphQLField<unknown, unknown>): Scopes | undefined {
  return (field.extensions as { pothosOptions?: { authScopes?: Scopes } }).pothosOptions?.authScopes;
}

/** The scope map a field asks for, for arguments naming the user and order `x`. */
function scopeMap(field: GraphQLField<unknown, unknown>): Record<string, unknown> {
  const scopes = scopesOf(field)!;
  return typeof scopes === 'function' ? scopes({}, { id: 'x', userId: 'x', orderId: 'x' }, {}, {}) : scopes;
}

const { write, read } = buildSchemas();
const fields = [...rootFields(write), ...rootFields(read)];

// node/nodes are public fields: who may read the entity they return is checked on its type (below).
const publicFields = ['Query.apiVersion', 'Query.productCatalog', 'Query.product', 'Subscription.productUpdated', 'Query.node', 'Query.nodes'];
const adminOnly = [
  'Query.projectionStatus',
  'Subscription.projectionStatusUpdates',
  'Query.parkedEvents',
  'Query.parkedSagas',
  'Query.webhookEndpoints',
  'Query.webhookDeliveries',
  'Mutation.registerWebhookEndpoint',
  'Mutation.rotateWebhookSecret',
  'Mutation.pauseWebhookEndpoint',
  'Mutation.resumeWebhookEndpoint',
  'Mutation.deleteWebhookEndpoint',
  'Mutation.replayWebhookDeliveries',
  'Mutation.retryParkedEvent',
  'Mutation.retryAllParkedEvents',
  'Mutation.discardParkedEvent',
  'Mutation.resumeParkedSaga',
  'Query.lineage',
  'Query.recentCommands',
  'Mutation.addProduct',
  'Mutation.changeProductPrice',
  'Mutation.discontinueProduct',
  'Mutation.restockProduct',
  'Mutation.adjustInventory',
  'Query.searchUsers',
  'Query.inventoryReport',
  'Query.dailyRegistrations',
  'Query.revenueReport',
  'Subscription.revenueUpdated',
];
const selfOrAdmin = [
  'Mutation.changeUserEmail',
  'Mutation.recordUserLogin',
  'Mutation.placeOrder',
  'Query.userProfile',
  'Query.orderHistory',
  'Subscription.userProfileUpdated',
];
const ownerOrAdmin = ['Mutation.cancelOrder', 'Query.order'];

describe('authorization is declared on every field', () => {
  it.each(fields.map(([name, field]) => [name, field] as const))('%s declares authScopes', (_name, field) => {
    expect(scopesOf(field)).toBeDefined();
  });

  it('follows the documented policy', () => {
    const byName = new Map(fields);
    for (const name of publicFields) expect(scopeMap(byName.get(name)!), name).toEqual({ public: true });
    for (const name of adminOnly) expect(scopeMap(byName.get(name)!), name).toEqual({ admin: true });
    for (const name of selfOrAdmin) expect(scopeMap(byName.get(name)!), name).toEqual({ admin: true, self: 'x' });
    for (const name of ownerOrAdmin) expect(scopeMap(byName.get(name)!), name).toEqual({ admin: true, orderOwner: 'x' });
    expect(scopeMap(byName.get('Subscription.orderUpdated')!)).toEqual({ admin: true, customer: true });
    expect(scopeMap(byName.get('Subscription.commandStatusChanged')!)).toEqual({ admin: true, customer: true });
    expect(scopeMap(byName.get('Query.callbackSigningSecret')!)).toEqual({ admin: true, customer: true });
    expect(scopeMap(byName.get('Query.commandStatus')!)).toEqual({ admin: true, commandSubmitter: 'x' });
    expect(scopeMap(byName.get('Mutation.registerUser')!)).toEqual({ admin: true, self: 'x' });
    const covered = new Set([
      ...publicFields,
      ...adminOnly,
      ...selfOrAdmin,
      ...ownerOrAdmin,
      'Subscription.orderUpdated',
      'Subscription.commandStatusChanged',
      'Query.commandStatus',
      'Query.callbackSigningSecret',
      'Mutation.registerUser',
    ]);
    expect(fields.map(([name]) => name).filter((name) => !covered.has(name))).toEqual([]);
  });

  it('guards every Node type on the type itself, so node(id) and nodes(ids) apply the same policy', () => {
    const typeScopes = (name: string) => (read.getType(name)!.extensions as { pothosOptions?: { authScopes?: Scopes } }).pothosOptions?.authScopes;
    const nodeTypes = read.getPossibleTypes(read.getType('Node') as never).map((type) => type.name);
    expect(nodeTypes.sort()).toEqual(['Order', 'Product', 'UserProfile', 'UserSearchResult']);
    expect((typeScopes('Order') as (...args: unknown[]) => unknown)({ userId: 'x' }, {})).toEqual({ admin: true, self: 'x' });
    expect((typeScopes('UserProfile') as (...args: unknown[]) => unknown)({ id: 'x' }, {})).toEqual({ admin: true, self: 'x' });
    expect(typeScopes('UserSearchResult')).toEqual({ admin: true });
    // Public, like product(id) and productCatalog.
    expect(typeScopes('Product')).toBeUndefined();
  });
});

// The fields of mutation success types beside `data` (src/graphql/mutation-payload.ts): the receipt and
// token are the caller's own; the entity repeats the read API's scope for it, on the receipt's aggregate id.
describe('mutation payload fields declare authorization', () => {
  const receipt = { aggregateId: 'x', mode: 'SYNC' };
  const payloadFields = Object.values(write.getTypeMap())
    .filter((type) => /^Mutation\w+Success$/.test(type.name) && 'getFields' in type)
    .flatMap((type) =>
      Object.entries((type as { getFields(): Record<string, GraphQLField<unknown, unknown>> }).getFields())
        .filter(([name]) => name !== 'data')
        .map(([name, field]): [string, GraphQLField<unknown, unknown>] => [`${type.name}.${name}`, field]),
    );
  const payloadScopes = (field: GraphQLField<unknown, unknown>, parent: unknown) => {
    const scopes = scopesOf(field)!;
    return typeof scopes === 'function' ? scopes(parent, {}, {}, {}) : scopes;
  };
  const entityScopes: Record<string, Record<string, unknown>> = {
    order: { admin: true, orderOwner: 'x' },
    user: { admin: true, self: 'x' },
    product: { public: true },
  };

  it('finds the payloads of every command mutation', () => {
    expect(payloadFields.map(([name]) => name)).toEqual(expect.arrayContaining(['MutationPlaceOrderSuccess.order', 'MutationRestockProductSuccess.product']));
  });

  it.each(payloadFields.map(([name, field]) => [name, field] as const))('%s follows the documented policy', (name, field) => {
    const fieldName = name.split('.')[1]!;
    if (fieldName === 'receipt' || fieldName === 'consistencyToken') {
      expect(payloadScopes(field, receipt)).toEqual({ admin: true, customer: true });
      return;
    }
    expect(payloadScopes(field, receipt)).toEqual(entityScopes[fieldName]);
    // A command accepted to run later shows no entity, so there is nothing to check.
    expect(payloadScopes(field, { ...receipt, mode: 'ASYNC' })).toBe(true);
  });
});
