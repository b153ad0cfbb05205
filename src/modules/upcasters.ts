// The shop's event history: each module's current event versions and the upcasters that bring its
// older events to them. Installed for every reader of events in the process (see src/cqrs/upcasting.ts),
// so projectors, the order saga and rebuilds see current shapes only.
//
// To change an event's shape: bump its version in the module's `<module>EventSchemaVersions`, keep
// the old payload type, and add `upcaster<OldData, NewData>(type, oldVersion, (data) => newData)` to
// that module's history below. Stored events are never rewritten.
import { EventUpcasting, installEventUpcasting } from '../cqrs/upcasting.ts';
import { catalogEventSchemaVersions } from './catalog/events.ts';
import { inventoryEventSchemaVersions } from './inventory/events.ts';
import { orderEventSchemaVersions } from './orders/events.ts';
import { paymentEventSchemaVersions } from './payments/events.ts';
import { userEventSchemaVersions } from './users/events.ts';
import { commandEventSchemaVersions } from './async-commands/events.ts';

const currentVersions = [
  userEventSchemaVersions,
  catalogEventSchemaVersions,
  inventoryEventSchemaVersions,
  orderEventSchemaVersions,
  paymentEventSchemaVersions,
  commandEventSchemaVersions,
];

// Every shop event is still at version 1, so there is no upcaster yet.
export const shopEventUpcasting = EventUpcasting.ofModules(currentVersions.map((versions) => ({ currentVersions: versions })));

/** Every event type the shop writes today (webhook endpoints subscribe to some of them). */
export const shopEventTypes: readonly string[] = currentVersions.flatMap((versions) => Object.keys(versions)).sort();

installEventUpcasting(shopEventUpcasting);
