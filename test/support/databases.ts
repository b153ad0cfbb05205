// Per-test-file isolation on the shared servers: a fresh database and a unique Redis key prefix.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { inject } from 'vitest';
import { applyMigrations } from '../../src/db/migrations.ts';
import { connectPostgres } from '../../src/db/sql.ts';

/** The PostgreSQL server of this worker slot (VITEST_POOL_ID counts from 1 to the worker count). */
export function postgresUrl(): string {
  const urls = inject('postgresUrls');
  return urls[(Number(process.env.VITEST_POOL_ID ?? '1') - 1) % urls.length]!;
}

/** Creates a database with no tables at all; returns its URL. */
export async function createEmptyDatabase(): Promise<string> {
  const admin = await connectPostgres(postgresUrl());
  const name = `test_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  try {
    await admin.exec(`CREATE DATABASE ${name}`);
  } finally {
    await admin.close();
  }
  return postgresUrl().replace(/\/postgres$/, `/${name}`);
}

/**
 * Copies a database (schema and rows) into a new one; returns its URL. PostgreSQL copies only a
 * database nobody is connected to: disconnect every client of `url` first (a closed connection may
 * take a moment to go away; CREATE DATABASE waits a few seconds for it).
 */
export async function cloneDatabase(url: string): Promise<string> {
  const source = new URL(url).pathname.slice(1);
  const admin = await connectPostgres(postgresUrl());
  const name = `test_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  try {
    await admin.exec(`CREATE DATABASE ${name} TEMPLATE ${source}`);
  } finally {
    await admin.close();
  }
  const clone = new URL(url);
  clone.pathname = `/${name}`;
  return clone.toString();
}

/** Creates an empty database with both migration sets applied; returns its URL. */
export async function createTestDatabase(): Promise<string> {
  const url = await createEmptyDatabase();
  const sql = await connectPostgres(url);
  try {
    await applyMigrations(sql, 'write');
    await applyMigrations(sql, 'read');
  } finally {
    await sql.close();
  }
  return url;
}

export function uniqueStreamKey(): string {
  return `test:${randomUUID().slice(0, 8)}:events`;
}

/**
 * A pub/sub channel of its own for the view-changed notices (NOTICE_CHANNEL): Redis channels are
 * server-wide, and test files run side by side on one Redis, so an app on the default channel would
 * receive other files' checkpoint notices (and take another database's positions for its own).
 */
export function uniqueNoticeChannel(): string {
  return `test:${randomUUID().slice(0, 8)}:view-changed`;
}

export function redisClient(): Redis {
  return new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
}
