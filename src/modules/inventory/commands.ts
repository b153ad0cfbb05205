// Stock commands (aggregate 'Inventory', id = product id) and their pure decide function. Reservations
// for orders change the same figures but are another aggregate (reservations.ts).
import { decideByType, type CommandOf } from '../../cqrs/decider.ts';
import { NotFoundError, validate } from '../../cqrs/errors.ts';
import { productAggregate } from '../catalog/events.ts';
import { InsufficientStockError } from './errors.ts';
import type { StockEvent } from './events.ts';

export type RestockProduct = { type: 'RestockProduct'; data: { productId: string; quantity: number } };
export type AdjustInventory = { type: 'AdjustInventory'; data: { productId: string; delta: number; reason: string } };

export interface InventoryStockState {
  /** The product's stock row; null when the product does not exist (the row is created with it). */
  stock: { onHand: number; reserved: number } | null;
}

export const maxStockChange = 1_000_000;
// on_hand is a PostgreSQL integer; refusing to pass it keeps an overflow a typed error, not a crash.
export const maxOnHand = 2_147_483_647;

function quantityProblem(quantity: number): string | undefined {
  return Number.isInteger(quantity) && quantity >= 1 && quantity <= maxStockChange ? undefined : `must be a whole number from 1 to ${maxStockChange}`;
}

function deltaProblem(delta: number): string | undefined {
  return Number.isInteger(delta) && delta !== 0 && Math.abs(delta) <= maxStockChange
    ? undefined
    : `must be a non-zero whole number from -${maxStockChange} to ${maxStockChange}`;
}

function reasonProblem(reason: string): string | undefined {
  const length = [...reason.trim()].length;
  return length >= 1 && length <= 200 ? undefined : 'must be 1 to 200 characters after trimming';
}

function capacityProblem(onHand: number): string | undefined {
  return onHand <= maxOnHand ? undefined : `would take stock on hand above ${maxOnHand}`;
}

function restockProduct(command: RestockProduct, state: InventoryStockState, time: string): StockEvent[] {
  const { productId, quantity } = command.data;
  validate([['quantity', quantityProblem(quantity)]]);
  if (state.stock === null) throw new NotFoundError(productAggregate, productId);
  const onHand = state.stock.onHand + quantity;
  validate([['quantity', capacityProblem(onHand)]]);
  return [{ type: 'InventoryRestocked', data: { productId, quantity, onHand, reserved: state.stock.reserved, restockedAt: time } }];
}

function adjustInventory(command: AdjustInventory, state: InventoryStockState, time: string): StockEvent[] {
  const { productId, delta, reason } = command.data;
  validate([
    ['delta', deltaProblem(delta)],
    ['reason', reasonProblem(reason)],
  ]);
  if (state.stock === null) throw new NotFoundError(productAggregate, productId);
  const { onHand, reserved } = state.stock;
  if (onHand + delta < reserved) throw new InsufficientStockError(productId, onHand, reserved, delta);
  validate([['delta', capacityProblem(onHand + delta)]]);
  return [{ type: 'InventoryAdjusted', data: { productId, delta, reason: reason.trim(), onHand: onHand + delta, reserved, adjustedAt: time } }];
}

/** The stock commands: one line each, its type and its decider. */
export const stockDeciders = {
  RestockProduct: restockProduct,
  AdjustInventory: adjustInventory,
};

export type InventoryStockCommand = CommandOf<typeof stockDeciders>;

export const decide = decideByType(stockDeciders);

/** The state after one more event: every stock event carries the figures after it. */
export function evolve(_state: InventoryStockState, event: StockEvent): InventoryStockState {
  return { stock: { onHand: event.data.onHand, reserved: event.data.reserved } };
}
