// A shop to order from, built through the product's write API: customers who registered themselves
// (each with its own token) and products an admin added and stocked.
import { randomUUID } from 'node:crypto';
import { graphql, type Product } from './product.ts';

export interface Customer {
  userId: string;
  authorization: string;
}

export interface StockedProduct {
  id: string;
  priceCents: number;
}

/** Runs `work` over `items`, at most `concurrency` at a time. */
export async function inParallel<T, R>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (let index = next++; index < items.length; index = next++) results[index] = await work(items[index]!, index);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

/** The receipt's `data` of a mutation that answered with its success type; throws on an error type. */
function receipt<T>(answer: Record<string, unknown>, field: string): T {
  const result = answer[field] as { data?: T } | undefined;
  if (!result?.data) throw new Error(`${field} failed: ${JSON.stringify(answer).slice(0, 300)}`);
  return result.data;
}

/** `count` customers, each registered by itself (its token's subject is its user id). */
export async function registerCustomers(product: Product, count: number): Promise<Customer[]> {
  return inParallel(Array.from({ length: count }), 8, async () => {
    const userId = randomUUID();
    const authorization = await product.authorization({ userId });
    const { data } = await graphql(
      product.writeUrl,
      `
        mutation ($email: String!) {
          registerUser(email: $email, name: "Bench Customer") {
            ... on MutationRegisterUserSuccess {
              data {
                aggregateId
              }
            }
            ... on Error {
              code
              message
            }
          }
        }
      `,
      { email: `customer-${userId}@bench.test` },
      { authorization },
    );
    receipt(data, 'registerUser');
    return { userId, authorization };
  });
}

/** Adds one product per price and stocks each with `quantity`, as an admin. */
export async function stockProducts(product: Product, prices: number[], quantity: number): Promise<StockedProduct[]> {
  const authorization = await product.authorization({ admin: true });
  return inParallel(prices, 4, async (priceCents, index) => {
    const { data: added } = await graphql(
      product.writeUrl,
      `
        mutation ($sku: String!, $priceCents: Money!) {
          addProduct(sku: $sku, name: "Bench kettle", description: "For timing", priceCents: $priceCents, currency: "USD", category: "Kitchen") {
            ... on MutationAddProductSuccess {
              data {
                aggregateId
              }
            }
            ... on Error {
              code
              message
            }
          }
        }
      `,
      { sku: `BENCH-${randomUUID().slice(0, 8)}-${index}`, priceCents },
      { authorization },
    );
    const id = receipt<{ aggregateId: string }>(added, 'addProduct').aggregateId;
    for (let left = quantity; left > 0; left -= 1_000_000) {
      const { data: restocked } = await graphql(
        product.writeUrl,
        `
          mutation ($productId: ID!, $quantity: Int!) {
            restockProduct(productId: $productId, quantity: $quantity) {
              ... on MutationRestockProductSuccess {
                data {
                  aggregateId
                }
              }
              ... on Error {
                code
                message
              }
            }
          }
        `,
        { productId: id, quantity: Math.min(left, 1_000_000) },
        { authorization },
      );
      receipt(restocked, 'restockProduct');
    }
    return { id, priceCents };
  });
}

export const placeOrderMutation = `mutation ($userId: ID!, $items: [OrderItemInput!]!, $mode: CommandMode) {
  placeOrder(userId: $userId, items: $items, mode: $mode) {
    ... on MutationPlaceOrderSuccess { data { aggregateId commandId status } }
    ... on Error { code message }
  }
}`;
