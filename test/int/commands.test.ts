// Command handling against real PostgreSQL: rows and events in one transaction, typed errors that
// write nothing, and optimistic concurrency under real concurrent transactions.
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ValidationError, VersionConflictError } from '../../src/cqrs/errors.ts';
import type { EventMetadata } from '../../src/cqrs/events.ts';
import { newMetadata } from '../../src/cqrs/event-metadata.ts';
import { createWriteClient, type WriteDb } from '../../src/db/write-client.ts';
import { EmailTakenError } from '../../src/modules/users/commands.ts';
import { userAggregate } from '../../src/modules/users/events.ts';
import { executeUserCommand } from '../../src/modules/users/store.ts';
import { createTestDatabase } from '../support/databases.ts';

let writeDb: WriteDb;

beforeEach(async () => {
  writeDb = createWriteClient({ kind: 'postgres', url: await createTestDatabase(), poolSize: 20 });
});

afterEach(async () => {
  await writeDb?.$disconnect();
});

const at = (iso: string) => newMetadata({ time: new Date(iso), actor: 'test' });

async function register(userId: string, email: string, name = 'Ada', metadata: EventMetadata = at('2024-05-01T10:00:00.000Z')) {
  return executeUserCommand(writeDb, { type: 'RegisterUser', data: { userId, email, name } }, metadata);
}

async function counts() {
  return { users: await writeDb.user.count(), events: await writeDb.eventLogEntry.count() };
}

describe('registerUser', () => {
  it('writes the users row and one event with full metadata at aggregate version 1', async () => {
    const userId = randomUUID();
    const metadata: EventMetadata = {
      commandId: randomUUID(),
      correlationId: randomUUID(),
      causationId: randomUUID(),
      actor: 'user:admin',
      time: '2024-05-01T10:00:00.000Z',
    };

    const result = await register(userId, '  Ada@Example.com ', ' Ada Lovelace ', metadata);

    expect(result).toMatchObject({ aggregateId: userId, commandId: metadata.commandId, version: 1 });
    expect(result.position).toEqual({ transactionId: expect.any(BigInt), position: expect.any(BigInt) });
    const user = await writeDb.user.findUniqueOrThrow({ where: { id: userId } });
    expect(user).toMatchObject({
      email: 'Ada@Example.com',
      emailKey: 'ada@example.com',
      name: 'Ada Lovelace',
      loginCount: 0,
      lastLoginAt: null,
      version: 1,
    });
    expect(user.createdAt.toISOString()).toBe(metadata.time);

    const events = await writeDb.eventLogEntry.findMany();
    expect(events).toHaveLength(1);
    const [event] = events;
    expect(event).toMatchObject({
      aggregateType: userAggregate,
      aggregateId: userId,
      aggregateVersion: 1,
      type: 'UserRegistered',
      schemaVersion: 1,
      data: { userId, email: 'Ada@Example.com', name: 'Ada Lovelace', registeredAt: metadata.time },
    });
    expect(event!.metadata).toEqual(metadata);
    expect(event!.transactionId).toBeGreaterThan(0n);
    expect(result.events.map((recorded) => recorded.position)).toEqual([event!.position]);
  });

  it('rejects an invalid email with a ValidationError and writes nothing', async () => {
    await register(randomUUID(), 'grace@example.com');
    const before = await counts();

    const attempt = register(randomUUID(), 'not-an-email', 'Grace');

    await expect(attempt).rejects.toBeInstanceOf(ValidationError);
    await expect(attempt).rejects.toMatchObject({ issues: [{ field: 'email' }] });
    expect(await counts()).toEqual(before);
  });

  it('lets exactly one of two concurrent registrations of one email (different case) through', async () => {
    const first = randomUUID();
    const second = randomUUID();

    const outcomes = await Promise.allSettled([register(first, 'Same@Example.com'), register(second, 'same@EXAMPLE.com')]);

    const fulfilled = outcomes.filter((outcome) => outcome.status === 'fulfilled');
    const rejected = outcomes.filter((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    expect(fulfilled).toHaveLength(1);
    expect(rejected).toHaveLength(1);
    expect(rejected[0]!.reason).toBeInstanceOf(EmailTakenError);
    const users = await writeDb.user.findMany();
    expect(users).toHaveLength(1);
    expect(users[0]!.emailKey).toBe('same@example.com');
    const events = await writeDb.eventLogEntry.findMany();
    expect(events.map((event) => event.aggregateId)).toEqual([users[0]!.id]);
  });
});

describe('changeUserEmail', () => {
  it('fails with a VersionConflictError on a stale expectedVersion and writes nothing', async () => {
    const userId = randomUUID();
    await register(userId, 'old@example.com');
    await executeUserCommand(writeDb, { type: 'RecordUserLogin', data: { userId } }, at('2024-05-01T11:00:00.000Z'));
    const before = await counts();
    const userBefore = await writeDb.user.findUniqueOrThrow({ where: { id: userId } });

    const attempt = executeUserCommand(writeDb, { type: 'ChangeUserEmail', data: { userId, email: 'new@example.com' } }, at('2024-05-01T12:00:00.000Z'), 1);

    await expect(attempt).rejects.toBeInstanceOf(VersionConflictError);
    await expect(attempt).rejects.toMatchObject({ expectedVersion: 1, actualVersion: 2 });
    expect(await counts()).toEqual(before);
    expect(await writeDb.user.findUniqueOrThrow({ where: { id: userId } })).toEqual(userBefore);

    // The same command at the current version goes through, so the conflict above was the version's doing.
    const result = await executeUserCommand(
      writeDb,
      { type: 'ChangeUserEmail', data: { userId, email: 'new@example.com' } },
      at('2024-05-01T12:00:00.000Z'),
      2,
    );
    expect(result.version).toBe(3);
    expect((await writeDb.user.findUniqueOrThrow({ where: { id: userId } })).email).toBe('new@example.com');
  });
});

describe('recordUserLogin', () => {
  it('retries concurrent logins on one user that lost the append race: all succeed, with distinct gapless versions', async () => {
    const userId = randomUUID();
    await register(userId, 'busy@example.com');

    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, (_, index) =>
        executeUserCommand(writeDb, { type: 'RecordUserLogin', data: { userId } }, at(`2024-05-02T10:00:${String(index).padStart(2, '0')}.000Z`)),
      ),
    );

    const successes = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
    const failures = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason as unknown] : []));
    // No expectedVersion: a command that lost the race is re-run on the new state, not refused.
    expect(failures).toEqual([]);
    expect(successes.length).toBe(10);

    const versions = successes.map((result) => result.version).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: successes.length }, (_, index) => index + 2));

    const logins = await writeDb.eventLogEntry.findMany({
      where: { aggregateId: userId, type: 'UserLoggedIn' },
      orderBy: { aggregateVersion: 'asc' },
    });
    expect(logins.map((event) => event.aggregateVersion)).toEqual(versions);
    const user = await writeDb.user.findUniqueOrThrow({ where: { id: userId } });
    expect(user.loginCount).toBe(successes.length);
    expect(user.version).toBe(successes.length + 1);
  });
});
