import type { MigrationInterface, QueryRunner } from 'typeorm';

export class InitialSchema1764300000000 implements MigrationInterface {
  name = 'InitialSchema1764300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE deployment_requests (
        request_id              varchar(255) PRIMARY KEY,
        seq                     bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        operation               varchar(10)  NOT NULL CHECK (operation IN ('CREATE', 'UPDATE', 'DELETE')),
        namespace               varchar(63)  NOT NULL,
        name                    varchar(63)  NOT NULL,
        spec                    jsonb,
        spec_mode               varchar(10)  NOT NULL CHECK (spec_mode IN ('REPLACE', 'MERGE')),
        body_hash               char(64)     NOT NULL,
        status                  varchar(16)  NOT NULL
                                CHECK (status IN ('CREATED', 'QUEUED', 'PROCESSING', 'SUCCESS', 'FAILURE')),
        attempts                int          NOT NULL DEFAULT 0,
        generation              int          NOT NULL DEFAULT 0,
        error_code              varchar(64),
        error_message           text,
        dead_lettered           boolean      NOT NULL DEFAULT false,
        result_generation       bigint,
        result_resource_version varchar(64),
        created_at              timestamptz  NOT NULL DEFAULT now(),
        updated_at              timestamptz  NOT NULL DEFAULT now(),
        queued_at               timestamptz,
        started_at              timestamptz,
        completed_at            timestamptz,
        deadline_at             timestamptz  NOT NULL
      )`);
    // The worker drains one deployment's open requests in acceptance order.
    await q.query(`
      CREATE INDEX deployment_requests_open_by_target ON deployment_requests (namespace, name, seq)
      WHERE status NOT IN ('SUCCESS', 'FAILURE')`);
    await q.query(`CREATE INDEX deployment_requests_by_target ON deployment_requests (namespace, name, seq DESC)`);
    await q.query(`CREATE INDEX deployment_requests_by_status ON deployment_requests (status, seq DESC)`);
    await q.query(`
      CREATE INDEX deployment_requests_dead_lettered ON deployment_requests (seq DESC) WHERE dead_lettered`);

    await q.query(`
      CREATE TABLE deployments (
        namespace            varchar(63)  NOT NULL,
        name                 varchar(253) NOT NULL,
        uid                  uuid         NOT NULL,
        labels               jsonb        NOT NULL DEFAULT '{}',
        images               jsonb        NOT NULL DEFAULT '[]',
        spec                 jsonb,
        desired_replicas     int          NOT NULL,
        ready_replicas       int          NOT NULL DEFAULT 0,
        updated_replicas     int          NOT NULL DEFAULT 0,
        available_replicas   int          NOT NULL DEFAULT 0,
        unavailable_replicas int          NOT NULL DEFAULT 0,
        conditions           jsonb        NOT NULL DEFAULT '[]',
        generation           bigint       NOT NULL,
        observed_generation  bigint       NOT NULL DEFAULT 0,
        resource_version     varchar(64)  NOT NULL,
        rollout              varchar(16)  NOT NULL CHECK (rollout IN ('PROGRESSING', 'AVAILABLE', 'FAILED')),
        last_request_id      varchar(255),
        drifted              boolean      NOT NULL DEFAULT false,
        k8s_created_at       timestamptz,
        created_at           timestamptz  NOT NULL DEFAULT now(),
        updated_at           timestamptz  NOT NULL DEFAULT now(),
        deleted_at           timestamptz,
        synced_at            timestamptz  NOT NULL DEFAULT now(),
        PRIMARY KEY (namespace, name)
      )`);
    await q.query(`CREATE INDEX deployments_labels ON deployments USING gin (labels)`);
    await q.query(`CREATE INDEX deployments_live ON deployments (namespace, name) WHERE deleted_at IS NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE deployments`);
    await q.query(`DROP TABLE deployment_requests`);
  }
}
