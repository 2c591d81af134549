import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * deployments.field_owners: which field managers own each managed field (self-heal must
 * not revert another manager's field). watcher_state.cluster_uid: the kube-system
 * namespace's uid when the position was saved, so a different cluster is noticed.
 */
export class MirrorOwnershipAndCluster1764300210000 implements MigrationInterface {
  name = 'MirrorOwnershipAndCluster1764300210000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE deployments ADD COLUMN field_owners jsonb NOT NULL DEFAULT '{}'`);
    await q.query(`ALTER TABLE watcher_state ADD COLUMN cluster_uid varchar(64)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE watcher_state DROP COLUMN cluster_uid`);
    await q.query(`ALTER TABLE deployments DROP COLUMN field_owners`);
  }
}
