import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The event log behind GET /v1/events and the long-poll: one row per real change of a request's
 * status or rollout receipt and of a mirror row's rollout, deletion or drift. Triggers write the
 * rows, so every writer (API, worker, watcher, reconciler, outbox relay) emits them atomically with
 * its change and no code path has to remember to. Each trigger also NOTIFYs `dm_events` (sent on
 * commit, collapsed to one per transaction) so every API process reads the new rows at once.
 * `event_purges` remembers the highest id retention has removed: a resume point below it gets a
 * `reset`, with no guessing from gaps (rolled-back transactions leave gaps too).
 */
export class Events1764400900000 implements MigrationInterface {
  name = 'Events1764400900000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE events (
        id          bigint       GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        type        varchar(32)  NOT NULL CHECK (type IN ('request.status', 'request.rollout',
                      'deployment.changed', 'deployment.deleted', 'deployment.drift')),
        namespace   varchar(63)  NOT NULL,
        name        varchar(253) NOT NULL,
        request_id  varchar(255),
        payload     jsonb        NOT NULL,
        created_at  timestamptz  NOT NULL DEFAULT clock_timestamp()
      )`);
    await q.query(`CREATE INDEX events_by_created_at ON events (created_at)`);
    await q.query(`CREATE INDEX events_by_request ON events (request_id, id) WHERE request_id IS NOT NULL`);
    await q.query(`CREATE INDEX events_by_target ON events (namespace, name, id)`);
    await q.query(`CREATE TABLE event_purges (purged_through bigint NOT NULL)`);
    await q.query(`INSERT INTO event_purges VALUES (0)`);

    await q.query(`
      CREATE FUNCTION dm_request_events() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status THEN
          INSERT INTO events (type, namespace, name, request_id, payload)
          VALUES ('request.status', NEW.namespace, NEW.name, NEW.request_id, jsonb_strip_nulls(jsonb_build_object(
            'requestId', NEW.request_id, 'operation', NEW.operation, 'status', NEW.status,
            'attempts', NEW.attempts, 'deadLettered', NEW.dead_lettered,
            'error', CASE WHEN NEW.error_code IS NULL THEN NULL
                          ELSE jsonb_build_object('code', NEW.error_code, 'message', left(NEW.error_message, 1000)) END)));
          PERFORM pg_notify('dm_events', '');
        END IF;
        IF TG_OP = 'UPDATE' AND NEW.rollout IS NOT NULL AND NEW.rollout IS DISTINCT FROM OLD.rollout THEN
          INSERT INTO events (type, namespace, name, request_id, payload)
          VALUES ('request.rollout', NEW.namespace, NEW.name, NEW.request_id, jsonb_build_object(
            'requestId', NEW.request_id, 'operation', NEW.operation, 'rollout', NEW.rollout));
          PERFORM pg_notify('dm_events', '');
        END IF;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER deployment_requests_events AFTER INSERT OR UPDATE OF status, rollout ON deployment_requests
      FOR EACH ROW EXECUTE FUNCTION dm_request_events()`);

    // The mirror marks a deletion with deleted_at (rows are never removed); a row coming back
    // (deleted_at cleared) is a change like a first insert.
    await q.query(`
      CREATE FUNCTION dm_deployment_events() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        was_live boolean := TG_OP = 'UPDATE' AND OLD.deleted_at IS NULL;
        emitted boolean := false;
      BEGIN
        IF NEW.deleted_at IS NOT NULL THEN
          IF was_live THEN
            INSERT INTO events (type, namespace, name, request_id, payload)
            VALUES ('deployment.deleted', NEW.namespace, NEW.name, NEW.last_request_id, jsonb_build_object(
              'namespace', NEW.namespace, 'name', NEW.name, 'uid', NEW.uid, 'lastRequestId', NEW.last_request_id));
            emitted := true;
          END IF;
        ELSIF NOT was_live
           OR (NEW.rollout, NEW.generation, NEW.observed_generation, NEW.desired_replicas, NEW.updated_replicas,
               NEW.ready_replicas, NEW.available_replicas, NEW.images, NEW.uid, NEW.last_request_id)
              IS DISTINCT FROM
              (OLD.rollout, OLD.generation, OLD.observed_generation, OLD.desired_replicas, OLD.updated_replicas,
               OLD.ready_replicas, OLD.available_replicas, OLD.images, OLD.uid, OLD.last_request_id) THEN
          INSERT INTO events (type, namespace, name, request_id, payload)
          VALUES ('deployment.changed', NEW.namespace, NEW.name, NEW.last_request_id, jsonb_build_object(
            'namespace', NEW.namespace, 'name', NEW.name, 'uid', NEW.uid, 'rollout', NEW.rollout,
            'generation', NEW.generation, 'observedGeneration', NEW.observed_generation, 'images', NEW.images,
            'replicas', jsonb_build_object('desired', NEW.desired_replicas, 'updated', NEW.updated_replicas,
                                           'ready', NEW.ready_replicas, 'available', NEW.available_replicas),
            'lastRequestId', NEW.last_request_id));
          emitted := true;
        END IF;
        -- Every reconcile pass restamps drift.checkedAt: only the judgement itself is a change.
        IF (NEW.drifted, NEW.drift - 'checkedAt') IS DISTINCT FROM
           (CASE WHEN TG_OP = 'UPDATE' THEN OLD.drifted ELSE false END,
            CASE WHEN TG_OP = 'UPDATE' THEN OLD.drift - 'checkedAt' ELSE NULL END) THEN
          INSERT INTO events (type, namespace, name, request_id, payload)
          VALUES ('deployment.drift', NEW.namespace, NEW.name, NULL, jsonb_build_object(
            'namespace', NEW.namespace, 'name', NEW.name, 'drifted', NEW.drifted, 'drift', NEW.drift));
          emitted := true;
        END IF;
        IF emitted THEN PERFORM pg_notify('dm_events', ''); END IF;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER deployments_events AFTER INSERT OR UPDATE ON deployments
      FOR EACH ROW EXECUTE FUNCTION dm_deployment_events()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER deployments_events ON deployments`);
    await q.query(`DROP FUNCTION dm_deployment_events()`);
    await q.query(`DROP TRIGGER deployment_requests_events ON deployment_requests`);
    await q.query(`DROP FUNCTION dm_request_events()`);
    await q.query(`DROP TABLE event_purges`);
    await q.query(`DROP TABLE events`);
  }
}
