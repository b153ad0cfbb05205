// A payment provider supplied to startApp replaces the development one: the saga charges through it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PaymentProvider } from '../../src/modules/payments/provider.ts';
import { asCustomer } from '../support/auth.ts';
import { eventually } from '../support/eventually.ts';
import { executeHttp } from '../support/graphql-client.ts';
import { shopSession } from '../support/shop-e2e.ts';
import { OrderDocument } from './generated/read/graphql.ts';

const charged: string[] = [];
const cardExpired: PaymentProvider = {
  async charge({ orderId }) {
    charged.push(orderId);
    return { status: 'declined', reason: 'card expired' };
  },
  async refund() {
    throw new Error('nothing was charged, so nothing can be refunded');
  },
};

const shop = shopSession();
beforeAll(() => shop.start({}, { paymentProvider: cardExpired }));
afterAll(() => shop.stop());

describe('a payment provider plugged in through startApp', () => {
  it('is the one the saga charges: its decline cancels the order with its reason', async () => {
    const userId = await shop.registerUser('Carla Card');
    const productId = await shop.addProduct({ sku: 'CARD-1', name: 'Kettle', description: 'Whistling', priceCents: 1_500, category: 'Kitchen' }, 5);
    const orderId = await shop.placeOrder(userId, [{ productId, quantity: 1 }]);

    const customer = await asCustomer(userId);
    const order = await eventually(
      async () => {
        const found = (await executeHttp(shop.readUrl, OrderDocument, { id: orderId }, customer)).data?.order;
        expect(found?.status).toBe('CANCELLED');
        return found!;
      },
      { timeoutMs: 15_000, what: 'the order cancelled by the saga' },
    );
    expect(order.cancelReason).toBe('payment declined: card expired');
    expect(charged).toEqual([orderId]);
  });
});
