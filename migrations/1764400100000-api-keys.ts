import type { MigrationInterface, QueryRunner } from 'typeorm';

/** API keys: stored as SHA-256 of the secret (looked up by it), never the secret itself. */
export class ApiKeys1764400100000 implements MigrationInterface {
  name = 'ApiKeys1764400100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE api_keys (
        id            uuid PRIMARY KEY,
        name          varchar(100) NOT NULL,
        role          varchar(10) NOT NULL CHECK (role IN ('reader', 'writer', 'admin')),
        namespaces    text[] NOT NULL CHECK (cardinality(namespaces) > 0),
        key_hash      char(64) NOT NULL UNIQUE,
        key_prefix    varchar(16) NOT NULL,
        created_at    timestamptz NOT NULL DEFAULT now(),
        expires_at    timestamptz,
        revoked_at    timestamptz,
        last_used_at  timestamptz,
        -- An admin key is never narrowed by a scope: it manages keys, so it could widen its own anyway.
        CONSTRAINT api_keys_admin_scope_all CHECK (role <> 'admin' OR namespaces = '{*}')
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE api_keys`);
  }
}
