import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A rollback's request records which revision it restores (its number, and the request that
 * made that revision), so history can say "rollback of 1". Null on every other request.
 */
export class RequestRollbackOf1764400600000 implements MigrationInterface {
  name = 'RequestRollbackOf1764400600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE deployment_requests ADD COLUMN rollback_of_revision int, ADD COLUMN rollback_of_request_id varchar(255)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE deployment_requests DROP COLUMN rollback_of_revision, DROP COLUMN rollback_of_request_id`,
    );
  }
}
