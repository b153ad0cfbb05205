// What the composition root gives the API that serves admin fields (src/graphql/admin/). Its own file, importing
// only cqrs types, so that src/graphql/context.ts and src/graphql/admin/admin-access.ts do not import each other.
import type { Lineage, RecentCommand } from '../cqrs/lineage-query.ts';
import type { ParkedOperations } from '../cqrs/parked-operations.ts';
import type { ConsumerStatus } from '../cqrs/projection-status.ts';
import type { WebhookAdmin } from '../modules/webhooks/endpoints.ts';

export interface AdminServices {
  projectionStatus(): Promise<ConsumerStatus[]>;
  /** Parked events of projections and process managers, and parked saga instances. */
  parked(): ParkedOperations;
  /** Partners' webhook endpoints and their delivery logs. */
  webhooks(): WebhookAdmin;
  /** The whole story of one correlation id (docs/lineage.md). */
  lineage(correlationId: string): Promise<Lineage>;
  /** The latest requests' correlation ids, newest first. */
  recentCommands(limit: number): Promise<RecentCommand[]>;
}
