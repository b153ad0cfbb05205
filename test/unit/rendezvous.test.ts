import { describe, expect, it } from 'vitest';
import { balancedAssignment, rendezvousOrder } from '../../src/cqrs/membership.ts';

const leases = [
  'projector:user_profile',
  'projector:user_search',
  'projector:product_catalog',
  'projector:inventory_report',
  'projector:order_history',
  'projector:order_summary',
  'projector:sales_by_day',
  'process:order-saga',
];
const member = (i: number) => `host-${1000 + i}-${((i * 2654435761) >>> 0).toString(16).padStart(8, '0')}`;
const membersOf = (n: number) => Array.from({ length: n }, (_, i) => member(i));

function loads(assignment: Map<string, string>, members: string[]) {
  return members.map((id) => [...assignment.values()].filter((owner) => owner === id).length);
}

describe('rendezvousOrder', () => {
  it('orders every member once, the same whatever order they come in', () => {
    const members = membersOf(5);
    const order = rendezvousOrder('projector:user_profile', members);
    expect([...order].sort()).toEqual([...members].sort());
    expect(rendezvousOrder('projector:user_profile', [...members].reverse())).toEqual(order);
  });

  it('keeps the others in their order when a member leaves', () => {
    const members = membersOf(5);
    for (const lease of leases) {
      const order = rendezvousOrder(lease, members);
      const gone = order[0]!;
      expect(
        rendezvousOrder(
          lease,
          members.filter((id) => id !== gone),
        ),
      ).toEqual(order.slice(1));
    }
  });
});

describe('balancedAssignment', () => {
  it('gives every lease to exactly one member, and every member ⌊L/N⌋ or ⌈L/N⌉ leases', () => {
    // Many member sets: random ids in production, so balance must not depend on lucky ids.
    for (let n = 1; n <= 8; n++) {
      for (let offset = 0; offset < 50; offset++) {
        const members = Array.from({ length: n }, (_, i) => member(offset * 10 + i));
        const assignment = balancedAssignment(leases, members);
        expect([...assignment.keys()].sort()).toEqual([...leases].sort());
        for (const owner of assignment.values()) expect(members).toContain(owner);
        for (const load of loads(assignment, members)) {
          expect(load).toBeGreaterThanOrEqual(Math.floor(leases.length / n));
          expect(load).toBeLessThanOrEqual(Math.ceil(leases.length / n));
        }
      }
    }
  });

  it('is the same in every process, whatever order leases and members are listed in', () => {
    const members = membersOf(3);
    const assignment = balancedAssignment(leases, members);
    expect(balancedAssignment([...leases].reverse(), [...members].reverse())).toEqual(assignment);
  });

  it('assigns nothing without members', () => {
    expect(balancedAssignment(leases, []).size).toBe(0);
  });
});
