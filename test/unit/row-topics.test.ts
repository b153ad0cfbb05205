// Row-change notices routed by topic and row id: a subscriber hears its own row only, in order,
// and leaving (return(), as the expiry and quota wrappers call it) ends the subscription at once.
import { filter, pipe } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { createLocalNoticeBus } from '../../src/cqrs/notices.ts';
import { rowTopics } from '../../src/cqrs/row-topics.ts';

type Row = { id: string; step: number };
type TestTopics = { rowChanged: Row; totals: { sum: number } };

function setUp() {
  const notices = createLocalNoticeBus<TestTopics>();
  return { notices, topics: rowTopics(notices, { rowChanged: (row) => row.id }) };
}

describe('rowTopics', () => {
  it("delivers a row's notices to its subscribers only, in order, and every notice to a topic-wide one", async () => {
    const { notices, topics } = setUp();
    const a = topics.subscribe('rowChanged', 'a')[Symbol.asyncIterator]();
    const all = topics.subscribe('rowChanged')[Symbol.asyncIterator]();
    // A Repeater starts listening on its first next(), as GraphQL execution calls it at once.
    const firstA = a.next();
    const firstAll = all.next();
    for (const row of [
      { id: 'b', step: 1 },
      { id: 'a', step: 1 },
      { id: 'a', step: 2 },
    ])
      await notices.publish('rowChanged', row);
    expect(await firstA).toEqual({ done: false, value: { id: 'a', step: 1 } });
    expect(await a.next()).toEqual({ done: false, value: { id: 'a', step: 2 } });
    expect((await firstAll).value).toEqual({ id: 'b', step: 1 });
    expect((await all.next()).value).toEqual({ id: 'a', step: 1 });
    await Promise.all([a.return(), all.return()]);
  });

  it('passes topics without row ids whole, and refuses to route them by id', async () => {
    const { notices, topics } = setUp();
    const totals = topics.subscribe('totals')[Symbol.asyncIterator]();
    const next = totals.next();
    await notices.publish('totals', { sum: 3 });
    expect(await next).toEqual({ done: false, value: { sum: 3 } });
    expect(() => topics.subscribe('totals', 'x')).toThrow(/not routed by row id/);
    await totals.return();
  });

  it('ends a filtered subscription at once when the client leaves while it waits', async () => {
    const { notices, topics } = setUp();
    const evenSteps = pipe(
      topics.subscribe('rowChanged', 'a'),
      filter((row: Row) => row.step % 2 === 0),
    )[Symbol.asyncIterator]();
    const first = evenSteps.next();
    await notices.publish('rowChanged', { id: 'a', step: 1 });
    await notices.publish('rowChanged', { id: 'a', step: 2 });
    expect(await first).toEqual({ done: false, value: { id: 'a', step: 2 } });
    const waiting = evenSteps.next();
    await evenSteps.return();
    expect(await waiting).toEqual({ done: true, value: undefined });
    // Publishing after the subscriber left reaches nobody and throws nothing.
    await notices.publish('rowChanged', { id: 'a', step: 4 });
  });

  it('a subscriber that stops reading loses its own pushes past 1024 and harms no one: the publisher and the other subscribers go on', async () => {
    const notices = createLocalNoticeBus<TestTopics>();
    const lost: string[] = [];
    const topics = rowTopics(notices, { rowChanged: (row) => row.id }, (_error, topic) => lost.push(topic));
    const stalled = topics.subscribe('rowChanged', 'a')[Symbol.asyncIterator]();
    const reading = topics.subscribe('rowChanged', 'a')[Symbol.asyncIterator]();
    void stalled.next();
    const received: number[] = [];
    const reader = (async () => {
      for (let step = 1; step <= 1100; step++) received.push((await reading.next()).value!.step);
    })();
    for (let step = 1; step <= 1100; step++) {
      await notices.publish('rowChanged', { id: 'a', step });
      // The reader keeps up: it is handed each push before the next one.
      await new Promise((resolve) => setImmediate(resolve));
    }
    await reader;
    expect(received).toEqual(Array.from({ length: 1100 }, (_, index) => index + 1));
    expect(lost.length).toBeGreaterThan(0);
    expect(new Set(lost)).toEqual(new Set(['rowChanged:a']));
    await Promise.all([stalled.return(), reading.return()]);
  });

  it('hands a payload for many listeners out a slice per turn, each listener getting the payloads in publication order', async () => {
    const notices = createLocalNoticeBus<TestTopics>();
    const topics = rowTopics(notices, { rowChanged: (row) => row.id }, undefined, 10);
    const heard: number[][] = Array.from({ length: 35 }, () => []);
    heard.forEach((steps) => topics.listen('rowChanged', 'a', (row) => steps.push(row.step)));
    await notices.publish('rowChanged', { id: 'a', step: 1 });
    await notices.publish('rowChanged', { id: 'a', step: 2 });
    // Only the first slice heard the first payload in this turn; the second waits behind it.
    expect(heard.filter((steps) => steps.length > 0)).toHaveLength(10);
    while (heard.some((steps) => steps.length < 2)) await new Promise((resolve) => setImmediate(resolve));
    expect(heard.every((steps) => steps[0] === 1 && steps[1] === 2 && steps.length === 2)).toBe(true);
  });

  it('does not call a listener that left while a payload was being handed out', async () => {
    const notices = createLocalNoticeBus<TestTopics>();
    const topics = rowTopics(notices, { rowChanged: (row) => row.id }, undefined, 10);
    const calls = Array.from({ length: 25 }, () => 0);
    const leave = calls.map((_, index) => topics.listen('rowChanged', 'a', () => calls[index]!++));
    await notices.publish('rowChanged', { id: 'a', step: 1 });
    leave[20]!();
    while (calls.filter((count, index) => index !== 20 && count === 0).length > 0) await new Promise((resolve) => setImmediate(resolve));
    expect(calls[20]).toBe(0);
    expect(calls.filter((count) => count === 1)).toHaveLength(24);
  });
});
