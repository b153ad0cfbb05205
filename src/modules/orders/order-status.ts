// An order's status: one vocabulary for the write model, the order_history view and the API's
// OrderStatus enum.
export const orderStatuses = ['placed', 'paid', 'reserved', 'completed', 'cancelled'] as const;
export type OrderStatus = (typeof orderStatuses)[number];

/**
 * The statuses the Order aggregate records itself. Payment and reservation progress ('paid',
 * 'reserved') belong to the Payment and Reservation aggregates; only the view combines the three.
 */
export type OrderAggregateStatus = Extract<OrderStatus, 'placed' | 'completed' | 'cancelled'>;
