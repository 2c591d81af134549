import type { MigrationInterface, QueryRunner } from 'typeorm';

/** When an open request may be tried again after a transient failure: every message of its deployment honours it. */
export class RequestRetryAt1764300300000 implements MigrationInterface {
  name = 'RequestRetryAt1764300300000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE deployment_requests ADD COLUMN retry_at timestamptz`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE deployment_requests DROP COLUMN retry_at`);
  }
}
