import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The rollout receipt of a request (src/domain/rollout-receipt.ts), as one JSON document:
 * written WAITING by the worker, moved on by the watcher. Null until the request succeeds,
 * and on requests from before receipts.
 */
export class RequestRollout1764400800000 implements MigrationInterface {
  name = 'RequestRollout1764400800000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE deployment_requests ADD COLUMN rollout jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE deployment_requests DROP COLUMN rollout`);
  }
}
