import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * deployments.manager_times: when each field manager last changed the object (from
 * managedFields, written by the mirror). deployments.drift: the reconciler's last judgement,
 * each drifted field with the managers that own it now and when they last changed it, and
 * the fields another controller manages (an HPA's replicas), which are not drift.
 */
export class DriftAttribution1764400700000 implements MigrationInterface {
  name = 'DriftAttribution1764400700000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE deployments ADD COLUMN manager_times jsonb NOT NULL DEFAULT '{}'`);
    await q.query(`ALTER TABLE deployments ADD COLUMN drift jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE deployments DROP COLUMN drift`);
    await q.query(`ALTER TABLE deployments DROP COLUMN manager_times`);
  }
}
