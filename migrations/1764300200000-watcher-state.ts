import type { MigrationInterface, QueryRunner } from 'typeorm';

export class WatcherState1764300200000 implements MigrationInterface {
  name = 'WatcherState1764300200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE watcher_state (
        scope              varchar(255) PRIMARY KEY,
        resource_version   varchar(64),
        last_event_at      timestamptz,
        last_relist_at     timestamptz,
        last_relist_reason varchar(32),
        leader_identity    varchar(255),
        leader_since       timestamptz,
        updated_at         timestamptz NOT NULL DEFAULT now()
      )`);
    // GET /v1/deployments filters on rollout and drifted while paging in (namespace, name) order.
    await q.query(
      `CREATE INDEX deployments_live_by_rollout ON deployments (rollout, namespace, name) WHERE deleted_at IS NULL`,
    );
    await q.query(
      `CREATE INDEX deployments_live_drifted ON deployments (namespace, name) WHERE drifted AND deleted_at IS NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX deployments_live_drifted`);
    await q.query(`DROP INDEX deployments_live_by_rollout`);
    await q.query(`DROP TABLE watcher_state`);
  }
}
