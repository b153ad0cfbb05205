// The built-in payment provider for development and tests: no network, deterministic rules, and
// counters so that tests can prove an order was charged (and refunded) at most once.
import { setTimeout as sleep } from 'node:timers/promises';
import { PaymentProviderUnavailableError, type ChargeOutcome, type PaymentProvider } from './provider.ts';

export interface DevPaymentProviderOptions {
  /** Charges above this amount are declined with 'amount above limit'. */
  declineAboveCents: number;
  /** Simulated latency of every call. */
  latencyMs: number;
  /** Share (0 to 1) of calls that fail with PaymentProviderUnavailableError before doing anything. */
  failureRate: number;
  /** Injectable for tests; Math.random by default. */
  random?: () => number;
}

export interface DevPaymentProvider extends PaymentProvider {
  /** Times money was taken for the order: 0 or 1, however often it was asked. */
  chargesOf(orderId: string): number;
  /** Times money was given back for the order: 0 or 1. */
  refundsOf(orderId: string): number;
  /** Every charge request for the order, repeats and transient failures included. */
  chargeRequestsOf(orderId: string): number;
  /** Charges and refunds that moved money, over all orders. */
  totals(): { charges: number; refunds: number };
}

interface ChargeRecord {
  outcome: ChargeOutcome;
  amountCents: number;
  currency: string;
}

/** Derived from the order, so that the provider stays idempotent across restarts and processes. */
function chargeReference(orderId: string): string {
  return `dev_ch_${orderId}`;
}

export function createDevPaymentProvider(options: DevPaymentProviderOptions): DevPaymentProvider {
  const random = options.random ?? Math.random;
  const charges = new Map<string, ChargeRecord>();
  const refunds = new Map<string, { reference: string }>();
  const chargeRequests = new Map<string, number>();

  async function simulateNetwork() {
    if (options.latencyMs > 0) await sleep(options.latencyMs);
    if (options.failureRate > 0 && random() < options.failureRate) throw new PaymentProviderUnavailableError('dev payment provider: simulated outage');
  }

  return {
    async charge({ orderId, amountCents, currency }) {
      chargeRequests.set(orderId, (chargeRequests.get(orderId) ?? 0) + 1);
      if (!Number.isSafeInteger(amountCents) || amountCents < 0) throw new RangeError(`amountCents must be a whole number >= 0, got ${amountCents}`);
      await simulateNetwork();
      // Checked after the await and set without one in between, so concurrent requests for one order
      // cannot both charge.
      const known = charges.get(orderId);
      if (known) return known.outcome;
      const outcome: ChargeOutcome =
        amountCents > options.declineAboveCents
          ? { status: 'declined', reason: 'amount above limit' }
          : { status: 'approved', reference: chargeReference(orderId) };
      charges.set(orderId, { outcome, amountCents, currency });
      return outcome;
    },

    async refund({ orderId, reference, amountCents, currency }) {
      await simulateNetwork();
      const known = refunds.get(orderId);
      if (known) return known;
      const charge = charges.get(orderId);
      if (!charge && reference === chargeReference(orderId)) {
        // Charged by an earlier run of this process (or another process): the references are
        // derived from the order, so the charge is known to be ours even with the memory gone.
        const refund = { reference: `dev_re_${orderId}` };
        refunds.set(orderId, refund);
        return refund;
      }
      if (charge?.outcome.status !== 'approved' || charge.outcome.reference !== reference) {
        throw new Error(`dev payment provider: no approved charge ${reference} for order ${orderId}`);
      }
      if (amountCents !== charge.amountCents || currency !== charge.currency) {
        throw new Error(`dev payment provider: refund of ${amountCents} ${currency} does not match the charge of ${charge.amountCents} ${charge.currency}`);
      }
      const refund = { reference: `dev_re_${orderId}` };
      refunds.set(orderId, refund);
      return refund;
    },

    chargesOf: (orderId) => (charges.get(orderId)?.outcome.status === 'approved' ? 1 : 0),
    refundsOf: (orderId) => (refunds.has(orderId) ? 1 : 0),
    chargeRequestsOf: (orderId) => chargeRequests.get(orderId) ?? 0,
    totals: () => ({ charges: [...charges.values()].filter((charge) => charge.outcome.status === 'approved').length, refunds: refunds.size }),
  };
}
