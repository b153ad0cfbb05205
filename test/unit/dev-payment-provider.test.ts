import { describe, expect, it } from 'vitest';
import { createDevPaymentProvider } from '../../src/modules/payments/dev-provider.ts';
import { PaymentProviderUnavailableError } from '../../src/modules/payments/provider.ts';

const orderId = '0f3c9a52-6b1e-4d7a-9c28-1e5b7d9f0a11';
const otherOrderId = '7a2d4e61-3c9b-4f08-8d15-6b0e2c4a9f22';
const provider = (overrides: Partial<Parameters<typeof createDevPaymentProvider>[0]> = {}) =>
  createDevPaymentProvider({ declineAboveCents: 10_000, latencyMs: 0, failureRate: 0, ...overrides });

describe('dev payment provider: charges', () => {
  it('approves amounts up to the limit with a reference', async () => {
    const dev = provider();
    const outcome = await dev.charge({ orderId, amountCents: 10_000, currency: 'EUR' });
    expect(outcome).toEqual({ status: 'approved', reference: expect.stringMatching(/^dev_ch_/) });
    expect(dev.chargesOf(orderId)).toBe(1);
  });

  it('declines amounts above the limit, taking nothing', async () => {
    const dev = provider();
    expect(await dev.charge({ orderId, amountCents: 10_001, currency: 'EUR' })).toEqual({ status: 'declined', reason: 'amount above limit' });
    expect(dev.chargesOf(orderId)).toBe(0);
    expect(dev.totals()).toEqual({ charges: 0, refunds: 0 });
  });

  it('answers a repeated charge of one order with the first outcome, charging once', async () => {
    const dev = provider();
    const first = await dev.charge({ orderId, amountCents: 500, currency: 'EUR' });
    const again = await Promise.all([1, 2, 3].map(() => dev.charge({ orderId, amountCents: 500, currency: 'EUR' })));
    expect(again).toEqual([first, first, first]);
    expect(dev.chargesOf(orderId)).toBe(1);
    expect(dev.chargeRequestsOf(orderId)).toBe(4);
  });

  it('charges concurrent first requests for one order once', async () => {
    const dev = provider({ latencyMs: 5 });
    const outcomes = await Promise.all([1, 2, 3].map(() => dev.charge({ orderId, amountCents: 500, currency: 'EUR' })));
    expect(new Set(outcomes.map((outcome) => JSON.stringify(outcome))).size).toBe(1);
    expect(dev.totals().charges).toBe(1);
  });

  it('keeps orders apart', async () => {
    const dev = provider();
    const a = await dev.charge({ orderId, amountCents: 500, currency: 'EUR' });
    const b = await dev.charge({ orderId: otherOrderId, amountCents: 500, currency: 'EUR' });
    expect(a).not.toEqual(b);
    expect(dev.totals().charges).toBe(2);
  });

  it('fails transiently at the failure rate, before charging, and succeeds when asked again', async () => {
    const rolls = [0.1, 0.9];
    const dev = provider({ failureRate: 0.5, random: () => rolls.shift() ?? 0.9 });
    await expect(dev.charge({ orderId, amountCents: 500, currency: 'EUR' })).rejects.toBeInstanceOf(PaymentProviderUnavailableError);
    expect(dev.chargesOf(orderId)).toBe(0);
    expect(await dev.charge({ orderId, amountCents: 500, currency: 'EUR' })).toMatchObject({ status: 'approved' });
    expect(dev.chargesOf(orderId)).toBe(1);
  });

  it('refuses a negative or fractional amount', async () => {
    const dev = provider();
    await expect(dev.charge({ orderId, amountCents: -1, currency: 'EUR' })).rejects.toBeInstanceOf(RangeError);
    await expect(dev.charge({ orderId, amountCents: 1.5, currency: 'EUR' })).rejects.toBeInstanceOf(RangeError);
    expect(dev.totals().charges).toBe(0);
  });
});

describe('dev payment provider: refunds', () => {
  it('refunds an approved charge once, however often asked', async () => {
    const dev = provider();
    const charge = await dev.charge({ orderId, amountCents: 700, currency: 'EUR' });
    if (charge.status !== 'approved') throw new Error('expected an approval');
    const request = { orderId, reference: charge.reference, amountCents: 700, currency: 'EUR', reason: 'inventory unavailable' };
    const first = await dev.refund(request);
    expect(first.reference).toMatch(/^dev_re_/);
    expect(await dev.refund(request)).toEqual(first);
    expect(dev.refundsOf(orderId)).toBe(1);
  });

  it('refuses to refund what it did not charge', async () => {
    const dev = provider();
    await expect(dev.refund({ orderId, reference: 'dev_ch_unknown', amountCents: 700, currency: 'EUR', reason: 'x' })).rejects.toThrow(/no approved charge/);
    await dev.charge({ orderId, amountCents: 20_000, currency: 'EUR' });
    await expect(dev.refund({ orderId, reference: 'dev_ch_unknown', amountCents: 20_000, currency: 'EUR', reason: 'x' })).rejects.toThrow(/no approved charge/);
    expect(dev.refundsOf(orderId)).toBe(0);
  });

  it('refuses a refund that does not match the charge', async () => {
    const dev = provider();
    const charge = await dev.charge({ orderId, amountCents: 700, currency: 'EUR' });
    if (charge.status !== 'approved') throw new Error('expected an approval');
    await expect(dev.refund({ orderId, reference: charge.reference, amountCents: 701, currency: 'EUR', reason: 'x' })).rejects.toThrow(/does not match/);
    expect(dev.refundsOf(orderId)).toBe(0);
  });
});

describe('after a restart', () => {
  it('refunds a charge made by an earlier instance, recognised by its order-derived reference', async () => {
    const options = { declineAboveCents: 10_000, latencyMs: 0, failureRate: 0 };
    const before = createDevPaymentProvider(options);
    const orderId = '5c1f1d1e-0000-4000-8000-000000000001';
    const charged = await before.charge({ orderId, amountCents: 500, currency: 'USD' });
    expect(charged.status).toBe('approved');
    const after = createDevPaymentProvider(options);
    const reference = charged.status === 'approved' ? charged.reference : '';
    const refund = await after.refund({ orderId, reference, amountCents: 500, currency: 'USD', reason: 'test' });
    expect(refund.reference).toEqual(expect.any(String));
    expect(after.refundsOf(orderId)).toBe(1);
    // A reference the provider never issued is still refused.
    await expect(
      after.refund({ orderId: '5c1f1d1e-0000-4000-8000-000000000002', reference: 'dev_ch_other', amountCents: 1, currency: 'USD', reason: 't' }),
    ).rejects.toThrow();
  });
});
