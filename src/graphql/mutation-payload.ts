// What a mutation's success type carries beside the receipt (docs/client-contract.md#mutations): the
// consistency token, and the entity the command changed as the read API shows it, so that a screen
// needs no second round trip. The entity is read from its view once the view's projection has applied
// the command: the read API's consistency wait (src/graphql/use-consistency.ts on src/cqrs/consistency.ts),
// bounded by CONSISTENCY_WAIT_MS; then one read-table lookup. Both happen only when the field is selected.
import type { ObjectRef, SchemaTypes } from '@pothos/core';
import { createReadLoaders, type ReadLoaders } from '../modules/read-loaders.ts';
import type { AppAuthScopes, builder } from './builder.ts';
import { writeServices, type GraphQLContext } from './context.ts';
import { CommandReceipt, consistencyTokenOf, type Receipt } from './types/command-receipt.ts';
import { RequestConsistency } from './use-consistency.ts';

type Types = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T extends SchemaTypes> ? T : never;

/** The fields of a mutation's success type: its parent is the command's receipt. */
type PayloadFieldBuilder = PothosSchemaTypes.ObjectFieldBuilder<Types, Receipt>;

/** An entity a mutation's payload can show: the view that holds it, and how to read it there by the receipt's aggregate id. */
export interface PayloadEntity<Row> {
  type: ObjectRef<Types, Row>;
  /** The projection that maintains the view. */
  projection: string;
  load(loaders: ReadLoaders, id: string): Promise<Row | null>;
  /**
   * Who may see it, given its id: the read API's scopes for the same entity, so that a payload never
   * shows what the read API would refuse.
   */
  authScopes(id: string): Partial<AppAuthScopes>;
  /** What the entity is, for the field's description. */
  description: string;
}

const entityCost =
  'Selecting it costs the mutation one wait for the projector (until the view has applied the command, at most CONSISTENCY_WAIT_MS) ' +
  'and one read-table lookup; not selecting it costs nothing.';

/**
 * The entity after the command, as its view shows it; null for a command sent with mode ASYNC (it has
 * not run yet), when the view has not applied the command within the wait, or where this process has
 * no read database. A command that changed nothing (null position) has nothing to wait for: the view is read at once.
 */
export async function entityAfterCommand<Row>(context: GraphQLContext, receipt: Receipt, entity: PayloadEntity<Row>): Promise<Row | null> {
  const views = writeServices(context).views;
  if (!views || receipt.mode === 'ASYNC') return null;
  if (receipt.position) {
    const consistency = new RequestConsistency(views.waiter, receipt.position, views.waitMs);
    await consistency.ready(entity.projection);
    if (!consistency.hasReached(entity.projection)) return null;
  }
  // Loaders of its own: a request may change one entity in two mutations, and a cached row would be the first's.
  return entity.load(createReadLoaders(views.db), receipt.aggregateId);
}

/**
 * A mutation's success type: `data` (the receipt, kept for existing clients), `receipt`, `consistencyToken`
 * and the entity as `name`. Spread into the `errors` options of a mutation whose type is CommandReceipt.
 */
export function payloadOf<Row>(name: string, entity: PayloadEntity<Row>) {
  return {
    result: { fields: payloadFields(name, entity) },
    dataField: { description: 'The receipt, as `receipt` (its first name, kept for existing clients).' },
  };
}

function payloadFields<Row>(name: string, entity: PayloadEntity<Row>) {
  // Seen as rows of no particular shape here: Pothos cannot check a resolver against a type parameter.
  const entityType: ObjectRef<Types, unknown> = entity.type;
  return (t: PayloadFieldBuilder) => ({
    receipt: t.field({
      type: CommandReceipt,
      description: 'The command: its aggregate, version, status and id.',
      // The mutation's own scopes decided that the caller may run it; its receipt is the caller's.
      authScopes: { admin: true, customer: true },
      resolve: (receipt) => receipt,
    }),
    consistencyToken: t.string({
      nullable: true,
      description:
        'Send it back in the `x-consistency-token` header of a read query to wait until the views have applied this write ' +
        '(for mode ASYNC: the acceptance). Null when the command changed nothing. The same as `receipt.consistencyToken`.',
      authScopes: { admin: true, customer: true },
      resolve: (receipt, _args, context) => consistencyTokenOf(receipt, context),
    }),
    [name]: t.field({
      type: entityType,
      nullable: true,
      description:
        `${entity.description} after this command, as the read API shows it. Null for mode ASYNC, and when the view ` +
        `has not applied the command within CONSISTENCY_WAIT_MS (then read it with the consistency token). ${entityCost}`,
      // Nothing to show for a command that has not run, so nothing to check.
      authScopes: (receipt) => receipt.mode === 'ASYNC' || entity.authScopes(receipt.aggregateId),
      resolve: (receipt, _args, context) => entityAfterCommand(context, receipt, entity),
    }),
  });
}
