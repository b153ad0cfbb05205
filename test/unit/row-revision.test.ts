// A live view row's revision (src/cqrs/projection.ts, RowFold.revision) is the log position of the
// last event that changed it: what a live query resumes after (docs/client-contract.md#live-queries).
import { describe, expect, it } from 'vitest';
import { evolveRow, foldRows, revisionOf } from '../../src/cqrs/projection.ts';
import { compareLogPositions, fromStreamId } from '../../src/cqrs/log-position.ts';
import { productCatalogProjection, type ProductCatalogRow } from '../../src/modules/catalog/views/product-catalog.ts';
import { userProfileProjection } from '../../src/modules/users/views/user-profile.ts';
import { eventRecorder } from '../support/recorded-events.ts';

const productId = '5b1e2c3d-4f50-4a6b-8c7d-9e0f1a2b3c01';
const userId = '6f1c2b9e-0d4a-4a7e-9a51-3f0b8e1c2d01';
const at = '2024-06-01T10:00:00.000Z';

// Transaction ids well apart from positions: a revision is the pair, in that order.
const record = eventRecorder(7000n);
const added = () =>
  record(
    {
      type: 'ProductAdded',
      data: { productId, sku: 'LAMP-1', name: 'Lamp', description: 'A lamp', priceCents: 2999, currency: 'EUR', category: 'lighting', addedAt: at },
    },
    { aggregateType: 'Product', aggregateId: productId, aggregateVersion: 1, time: at },
  );
const priced = (priceCents: number, version: number) =>
  record(
    { type: 'ProductPriceChanged', data: { productId, priceCents, previousPriceCents: 2999, changedAt: at } },
    { aggregateType: 'Product', aggregateId: productId, aggregateVersion: version, time: at },
  );

describe("a live view row's revision", () => {
  it('is the position of the last event that changed the row, as <transaction id>-<position>', () => {
    const events = [added(), priced(1999, 2)];
    const row = foldRows(productCatalogProjection.spec, events).get(productId);
    expect(row?.revision).toBe(`${events[1]!.transactionId}-${events[1]!.position}`);
    expect(row?.revision).toBe(revisionOf(events[1]!));
  });

  it('stays where it was when an event changes nothing (the same price again)', () => {
    const first = [added(), priced(1499, 2)];
    const changed = foldRows(productCatalogProjection.spec, first).get(productId)!;
    const unchanged = evolveRow(productCatalogProjection.spec, changed, priced(1499, 3));
    expect(unchanged).toBeNull();
    expect(changed.revision).toBe(revisionOf(first[1]!));
  });

  it('grows with every change, in the order events are applied', () => {
    const events = [added(), priced(999, 2), priced(899, 3), priced(799, 4)];
    const revisions: string[] = [];
    let row: ProductCatalogRow | null = null;
    for (const event of events) {
      const next: ProductCatalogRow | null = evolveRow(productCatalogProjection.spec, row, event);
      expect(next).not.toBeNull();
      row = next!;
      revisions.push(row.revision);
    }
    const positions = revisions.map(fromStreamId);
    for (let i = 1; i < positions.length; i += 1) expect(compareLogPositions(positions[i - 1]!, positions[i]!)).toBe(-1);
  });

  it('is set by a handler that creates the row, and by one that only spreads the old row', () => {
    const registered = record(
      { type: 'UserRegistered', data: { userId, email: 'ada@example.com', name: 'Ada', registeredAt: at } },
      { aggregateType: 'User', aggregateId: userId, aggregateVersion: 1, time: at },
    );
    const loggedIn = record(
      { type: 'UserLoggedIn', data: { userId, loggedInAt: at } },
      { aggregateType: 'User', aggregateId: userId, aggregateVersion: 2, time: at },
    );
    const created = evolveRow(userProfileProjection.spec, null, registered);
    expect(created?.revision).toBe(revisionOf(registered));
    expect(evolveRow(userProfileProjection.spec, created, loggedIn)?.revision).toBe(revisionOf(loggedIn));
  });
});
