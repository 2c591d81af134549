import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The requests whose rollout receipt may still move, per Deployment: what the watcher looks
 * up after every mirror write. Partial, so finished receipts (nearly all rows) cost nothing.
 */
export class OpenReceiptsIndex1764400810000 implements MigrationInterface {
  name = 'OpenReceiptsIndex1764400810000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE INDEX deployment_requests_open_rollout ON deployment_requests (namespace, name)
       WHERE rollout->>'state' IN ('WAITING', 'PROGRESSING')`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX deployment_requests_open_rollout`);
  }
}
