import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ReconcileRuns1764300100000 implements MigrationInterface {
  name = 'ReconcileRuns1764300100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE reconcile_runs (
        id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        trigger         varchar(10) NOT NULL CHECK (trigger IN ('cron', 'manual', 'once')),
        status          varchar(10) NOT NULL CHECK (status IN ('PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED')),
        requested_at    timestamptz NOT NULL DEFAULT now(),
        started_at      timestamptz,
        finished_at     timestamptz,
        inserted        int NOT NULL DEFAULT 0,
        updated         int NOT NULL DEFAULT 0,
        marked_deleted  int NOT NULL DEFAULT 0,
        republished     int NOT NULL DEFAULT 0,
        requeued        int NOT NULL DEFAULT 0,
        failed          int NOT NULL DEFAULT 0,
        drifted         int NOT NULL DEFAULT 0,
        healed          int NOT NULL DEFAULT 0,
        details         jsonb NOT NULL DEFAULT '{}',
        error           text
      )`);
    await q.query(`CREATE INDEX reconcile_runs_started ON reconcile_runs (started_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE reconcile_runs`);
  }
}
