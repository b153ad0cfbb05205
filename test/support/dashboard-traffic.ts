// A little shop traffic through the public APIs, so that the dashboard's panels have something to
// show (test/e2e/dashboard-prometheus.test.ts, scripts/render-dashboard.ts): an admin adds and stocks
// products, customers register themselves (one with an e-mail already taken: a rejected command) and
// order (the order saga runs its commands), log in asynchronously (the command worker runs it), and
// read the catalog (read-cache misses, then hits). Plain fetch and Errors: it runs outside vitest too.
import { randomUUID } from 'node:crypto';
import { asAdmin, newCustomer } from './auth.ts';
import { postGraphQL, type RawResponse } from './raw-graphql.ts';

const addProduct = `mutation AddProduct($sku: String!, $name: String!, $priceCents: Money!) {
  addProduct(sku: $sku, name: $name, description: "On the dashboard", category: "dashboard", priceCents: $priceCents, currency: "EUR") {
    __typename ... on MutationAddProductSuccess { data { aggregateId } } } }`;
const restock = `mutation RestockProduct($productId: ID!, $quantity: Int!) { restockProduct(productId: $productId, quantity: $quantity) { __typename } }`;
const registerUser = `mutation RegisterUser($email: String!, $name: String!) { registerUser(email: $email, name: $name) { __typename } }`;
const placeOrder = `mutation PlaceOrder($userId: ID!, $productId: ID!, $quantity: Int!) {
  placeOrder(userId: $userId, items: [{ productId: $productId, quantity: $quantity }]) { __typename } }`;
const loginAsync = `mutation RecordUserLogin($userId: ID!) { recordUserLogin(userId: $userId, mode: ASYNC) { __typename } }`;
const catalog = `query ProductCatalog { productCatalog(filter: { category: "dashboard" }, first: 10) { edges { node { id name } } } }`;
const product = `query Product($id: ID!) { product(id: $id) { id name } }`;

/** The __typename of a mutation's one result field; throws on a GraphQL error. */
function typenameOf(response: RawResponse): string {
  if (response.body.errors) throw new Error(`GraphQL errors (${response.status}): ${response.text.slice(0, 300)}`);
  return String((Object.values(response.body.data ?? {})[0] as { __typename?: string } | undefined)?.__typename);
}

function expectTypename(response: RawResponse, expected: string): RawResponse {
  const typename = typenameOf(response);
  if (typename !== expected) throw new Error(`expected ${expected}, got ${typename}: ${response.text.slice(0, 300)}`);
  return response;
}

export interface ShopTraffic {
  /** One round: a customer registers, orders and logs in; the second round and every `rejectEvery`-th after it, another customer is refused that e-mail; catalog reads. */
  round(): Promise<void>;
  /** The rounds run so far. */
  readonly rounds: number;
  /** The products the customers order. */
  readonly productIds: readonly string[];
}

/** Traffic against a shop whose write and read APIs are at these URLs (an app on test/support/auth.ts's key). */
export async function shopTraffic(urls: { write: string; read: string }, options: { products?: number; rejectEvery?: number } = {}): Promise<ShopTraffic> {
  const admin = await asAdmin();
  const productIds: string[] = [];
  for (let index = 0; index < (options.products ?? 3); index++) {
    const added = expectTypename(
      await postGraphQL(
        urls.write,
        addProduct,
        { sku: `DASH-${randomUUID().slice(0, 8)}`, name: `Kettle ${index + 1}`, priceCents: 1500 + 500 * index },
        admin,
      ),
      'MutationAddProductSuccess',
    );
    const productId = (added.body.data!.addProduct as { data: { aggregateId: string } }).data.aggregateId;
    expectTypename(await postGraphQL(urls.write, restock, { productId, quantity: 100_000 }, admin), 'MutationRestockProductSuccess');
    productIds.push(productId);
  }
  const rejectEvery = options.rejectEvery ?? 3;
  let rounds = 0;
  let takenEmail: string | undefined;

  return {
    get rounds() {
      return rounds;
    },
    productIds,
    async round() {
      const productId = productIds[rounds % productIds.length]!;
      const customer = await newCustomer();
      const email = `${customer.userId.slice(0, 8)}@dashboard.example`;
      expectTypename(await postGraphQL(urls.write, registerUser, { email, name: 'Dashboard customer' }, customer.headers), 'MutationRegisterUserSuccess');
      if (takenEmail && (rounds - 1) % rejectEvery === 0) {
        const other = await newCustomer();
        expectTypename(await postGraphQL(urls.write, registerUser, { email: takenEmail, name: 'Second comer' }, other.headers), 'EmailTakenError');
      }
      takenEmail = email;
      expectTypename(
        await postGraphQL(urls.write, placeOrder, { userId: customer.userId, productId, quantity: 1 + (rounds % 2) }, customer.headers),
        'MutationPlaceOrderSuccess',
      );
      expectTypename(await postGraphQL(urls.write, loginAsync, { userId: customer.userId }, customer.headers), 'MutationRecordUserLoginSuccess');
      for (let read = 0; read < 3; read++) {
        const answered = await postGraphQL(urls.read, read === 2 ? product : catalog, read === 2 ? { id: productId } : {});
        if (answered.body.errors) throw new Error(`read failed: ${answered.text.slice(0, 300)}`);
      }
      rounds++;
    },
  };
}
