import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 10, scope:
 * - who asked: requested_by_key_id / requested_by_name on every request record (NULL on rows
 *   accepted before API keys existed);
 * - Idempotency-Key scoped per API key: its own column, unique per (key id, Idempotency-Key).
 *   The reconciler's self-heal has no key id: coalesce makes its keys one more scope. Old
 *   heal rows (their request_id was the key) get their key back, so the next pass replays
 *   them instead of queueing the same heal again; clients' old keys had no API key to
 *   belong to and stay unset;
 * - reconcile_runs.runner_pid: the backend holding the pass lock, so a manual trigger can
 *   name the pass in progress (and never a row a crashed process left RUNNING);
 * - the mirror: env values of Deployments we do not manage are dropped (names kept in
 *   spec.envNames). Env values that came from valueFrom were stored as "" and cannot be told
 *   from a literal "", so rows holding "" get resource_version lowered by one: the next list
 *   (watcher relist, reconciler repair) rewrites them in the new shape (spec.envReferences),
 *   while every older event of the object stays older.
 */
export class RequestPrincipalAndScope1764400200000 implements MigrationInterface {
  name = 'RequestPrincipalAndScope1764400200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE deployment_requests
        ADD COLUMN requested_by_key_id varchar(64),
        ADD COLUMN requested_by_name varchar(255),
        ADD COLUMN idempotency_key varchar(255)`);
    await q.query(`
      UPDATE deployment_requests SET idempotency_key = request_id, requested_by_name = 'reconciler'
      WHERE request_id LIKE 'heal:%'`);
    await q.query(`
      CREATE UNIQUE INDEX deployment_requests_idempotency
      ON deployment_requests ((coalesce(requested_by_key_id, '')), idempotency_key)
      WHERE idempotency_key IS NOT NULL`);
    await q.query(`ALTER TABLE reconcile_runs ADD COLUMN runner_pid int`);
    await scrubMirrorEnv((sql) => q.query(sql));
  }

  async down(q: QueryRunner): Promise<void> {
    // Scrubbed env values are gone for good; the mirror refills them as objects change.
    await q.query(`ALTER TABLE reconcile_runs DROP COLUMN runner_pid`);
    await q.query(`DROP INDEX deployment_requests_idempotency`);
    await q.query(`
      ALTER TABLE deployment_requests
        DROP COLUMN idempotency_key, DROP COLUMN requested_by_name, DROP COLUMN requested_by_key_id`);
  }
}

/** The mirror's part of the migration, on its own so a test can run it over rows it wrote. */
export async function scrubMirrorEnv(query: (sql: string) => Promise<unknown>): Promise<void> {
  await query(`
      UPDATE deployments SET spec = (spec - 'env') || jsonb_build_object(
          'envNames', (SELECT jsonb_agg(k ORDER BY k COLLATE "C") FROM jsonb_object_keys(spec->'env') AS k))
      WHERE labels->>'app.kubernetes.io/managed-by' IS DISTINCT FROM 'k8s-deployment-manager'
        AND jsonb_typeof(spec->'env') = 'object' AND spec->'env' <> '{}'::jsonb`);
  await query(`
      UPDATE deployments d SET resource_version = (d.resource_version::numeric - 1)::text
      WHERE d.resource_version ~ '^[1-9][0-9]*$' AND d.resource_version <> '1'
        AND jsonb_typeof(d.spec->'env') = 'object'
        AND EXISTS (SELECT 1 FROM jsonb_each_text(d.spec->'env') AS e WHERE e.value = '')`);
}
