import { createHash } from 'node:crypto';
import pg from 'pg';

/** A database name of this checkout's own, so test runs from two clones on one stack never drop each other's. */
export function checkoutDatabase(prefix) {
  return `${prefix}_${createHash('sha256').update(process.cwd()).digest('hex').slice(0, 8)}`;
}

export function databaseUrlFor(url, database) {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Drops (forcing out any sessions) and creates a database on the server of `url`. */
export async function recreateDatabase(url, database) {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${database}"`);
  } finally {
    await admin.end();
  }
}
