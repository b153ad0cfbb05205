// The README's walkthrough, as a client application runs it: a customer registers, an admin adds and
// restocks a product, the customer orders it, reads it back (its own writes visible through the
// consistency token) and follows the order live until it completes.
import { randomUUID } from 'node:crypto';
import { ShopClient, type ShopClientOptions } from './client.ts';
import {
  AddCatalogProductDocument,
  CatalogProductDocument,
  CustomerOrderDocument,
  CustomerOrderUpdatedDocument,
  CustomerProfileDocument,
  PlaceCustomerOrderDocument,
  RegisterCustomerDocument,
  RestockCatalogProductDocument,
  type OrderStatus,
} from './generated/graphql.ts';

export interface WalkthroughOptions extends Omit<ShopClientOptions, 'token'> {
  /** A customer's token whose subject is a new user id (npm run token -- --sub <uuid>). */
  customerToken: string;
  customerId: string;
  /** An admin's token (npm run token -- --sub ops --role admin). */
  adminToken: string;
  /** Progress lines (console.log in the command-line runner). */
  log?: (line: string) => void;
}

export interface WalkthroughResult {
  orderId: string;
  /** Every status the customer saw, in order; the last is where the order ended. */
  statuses: OrderStatus[];
}

const terminal: readonly OrderStatus[] = ['COMPLETED', 'CANCELLED'];

/** The success member of a mutation result, or an error naming the typed refusal. */
function succeeded<T extends { __typename: string }, N extends T['__typename']>(result: T, typename: N): Extract<T, { __typename: N }> {
  if (result.__typename !== typename) throw new Error(`expected ${typename}, got ${JSON.stringify(result)}`);
  return result as Extract<T, { __typename: N }>;
}

export async function runWalkthrough(options: WalkthroughOptions): Promise<WalkthroughResult> {
  const log = options.log ?? (() => undefined);
  const customer = new ShopClient({ ...options, token: options.customerToken });
  const admin = customer.as(options.adminToken);
  try {
    const registered = await customer.execute(RegisterCustomerDocument, { email: `${randomUUID().slice(0, 8)}@example.com`, name: 'Ada Example' });
    succeeded(registered.registerUser, 'MutationRegisterUserSuccess');
    log(`registered customer ${options.customerId}`);

    const added = await admin.execute(AddCatalogProductDocument, {
      sku: `example-${randomUUID().slice(0, 8)}`,
      name: 'Example mug',
      description: 'A mug for the example client',
      category: 'kitchen',
      priceCents: '1299',
      currency: 'EUR',
    });
    const productId = succeeded(added.addProduct, 'MutationAddProductSuccess').receipt.aggregateId;
    succeeded((await admin.execute(RestockCatalogProductDocument, { productId, quantity: 10 })).restockProduct, 'MutationRestockProductSuccess');
    log(`admin added and restocked product ${productId}`);

    customer.follow(admin);
    const placed = await customer.execute(PlaceCustomerOrderDocument, { userId: options.customerId, items: [{ productId, quantity: 2 }] });
    const orderId = succeeded(placed.placeOrder, 'MutationPlaceOrderSuccess').receipt.aggregateId;
    log(`placed order ${orderId}`);

    // Read back with the consistency token of the order's placement: the views include it.
    const profile = await customer.execute(CustomerProfileDocument, { id: options.customerId });
    const product = await customer.execute(CatalogProductDocument, { id: productId });
    const order = await customer.execute(CustomerOrderDocument, { id: orderId });
    if (!profile.userProfile || !product.product || !order.order) throw new Error("the read API does not show the walkthrough's writes");
    log(`read back: ${profile.userProfile.name}, ${product.product.name} at ${product.product.priceCents} cents, order ${order.order.status}`);

    // Live: the order as it is now, then each step; the subscription completes at COMPLETED or
    // CANCELLED (a live query, docs/client-contract.md#live-queries).
    const statuses: OrderStatus[] = [order.order.status];
    await new Promise<void>((resolve, reject) => {
      customer.onSocket(
        CustomerOrderUpdatedDocument,
        { orderId },
        {
          next: (data) => {
            const status = data.orderUpdated.status;
            if (statuses.at(-1) !== status) statuses.push(status);
            log(`order is ${status}`);
          },
          error: reject,
          complete: () => (terminal.includes(statuses.at(-1)!) ? resolve() : reject(new Error(`the subscription completed at ${statuses.at(-1)}`))),
        },
      );
    });
    return { orderId, statuses };
  } finally {
    await Promise.all([customer.close(), admin.close()]);
  }
}
