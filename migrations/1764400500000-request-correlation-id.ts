import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The correlation id (the API's X-Request-Id) of the call that made a request: every message
 * of the request carries it, the outbox relay's and re-drives' too, so worker log lines match
 * the API's. Null for requests made before it existed.
 */
export class RequestCorrelationId1764400500000 implements MigrationInterface {
  name = 'RequestCorrelationId1764400500000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE deployment_requests ADD COLUMN correlation_id varchar(128)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE deployment_requests DROP COLUMN correlation_id`);
  }
}
