import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The append-only audit trail. A trigger refuses UPDATE, DELETE and TRUNCATE; the one way to
 * remove rows is audit_log_purge(days), which deletes only rows older than that many days (at
 * least 1): it sets a transaction-local marker that the trigger checks, and the trigger itself
 * never lets a row younger than a day go, whoever sets the marker.
 */
export class AuditLog1764400300000 implements MigrationInterface {
  name = 'AuditLog1764400300000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE audit_log (
        id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at            timestamptz NOT NULL DEFAULT clock_timestamp(),
        actor_key_id  text,
        actor_name    text,
        method        varchar(10) NOT NULL,
        route         text NOT NULL,
        action        text NOT NULL,
        namespace     text,
        name          text,
        status_code   smallint NOT NULL,
        error_code    text,
        request_id    text,
        source_ip     text,
        details       jsonb
      )`);
    await q.query(`CREATE INDEX audit_log_at ON audit_log (at)`);
    await q.query(`CREATE INDEX audit_log_actor ON audit_log (actor_key_id, id)`);
    await q.query(`CREATE INDEX audit_log_namespace ON audit_log (namespace, id)`);
    await q.query(`
      CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        purge_before timestamptz := nullif(current_setting('k8sdm.audit_purge_before', true), '')::timestamptz;
      BEGIN
        IF TG_OP = 'DELETE' AND purge_before IS NOT NULL
           AND OLD.at < purge_before AND OLD.at < now() - interval '1 day' THEN
          RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit_log is append-only: % is not allowed (use audit_log_purge(days))', TG_OP
          USING ERRCODE = 'insufficient_privilege';
      END $$`);
    await q.query(`
      CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()`);
    await q.query(`
      CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()`);
    // SECURITY DEFINER: a deployment may run the API as a role with only INSERT and SELECT on
    // audit_log and EXECUTE on this function; then this is the only way to delete.
    await q.query(`
      CREATE FUNCTION audit_log_purge(days integer) RETURNS bigint
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
      DECLARE
        before timestamptz;
        deleted bigint;
      BEGIN
        IF days IS NULL OR days < 1 THEN
          RAISE EXCEPTION 'audit_log_purge: days must be at least 1, got %', days USING ERRCODE = 'invalid_parameter_value';
        END IF;
        before := now() - make_interval(days => days);
        PERFORM set_config('k8sdm.audit_purge_before', before::text, true);
        DELETE FROM public.audit_log WHERE at < before;
        GET DIAGNOSTICS deleted = ROW_COUNT;
        PERFORM set_config('k8sdm.audit_purge_before', '', true);
        RETURN deleted;
      END $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION audit_log_purge(integer)`);
    await q.query(`DROP TABLE audit_log`);
    await q.query(`DROP FUNCTION audit_log_append_only()`);
  }
}
