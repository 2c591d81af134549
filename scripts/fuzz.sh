#!/usr/bin/env bash
# Fuzzes the API against its own OpenAPI document with schemathesis: every check, every phase
# (examples, coverage, fuzzing, stateful), as the admin. Exits non-zero on any failure.
#
#   scripts/fuzz.sh              bounded run (make test): a few minutes on 2 cores, fixed seed
#   FUZZ=long scripts/fuzz.sh    longer, randomly seeded run, for hunting bugs (make fuzz)
#
# Without FUZZ_URL it boots its own API (ROLE=api, node dist/src/main.js) on the stack, with a
# database, JetStream stream and admin key of its own, and removes them afterwards.
# FUZZ_URL=http://host:port with ADMIN_API_KEY fuzzes an API that is already running instead.
# Knobs: FUZZ_EXAMPLES (cases per operation and phase), FUZZ_SEED, FUZZ_WORKERS.
# Checks and their exclusions (each with its reason) are in test/fuzz/schemathesis.toml.
# schemathesis comes from PyPI into a virtualenv under ~/.cache/k8s-deployment-manager/ (idempotent).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"

SCHEMATHESIS_VERSION=4.32.5
venv="${K8SDM_CACHE:-$HOME/.cache/k8s-deployment-manager}/schemathesis-$SCHEMATHESIS_VERSION"
log() { echo "[fuzz] $*" >&2; }

ensure_schemathesis() {
  [ -x "$venv/bin/schemathesis" ] && return 0
  log "installing schemathesis $SCHEMATHESIS_VERSION (PyPI) into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv" || { rm -rf "$venv"; return 1; }
  "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" ||
    { rm -rf "$venv"; return 1; }
}

case "${FUZZ:-}" in
  long) examples="${FUZZ_EXAMPLES:-500}" seed="${FUZZ_SEED:-}" ;;
  '') examples="${FUZZ_EXAMPLES:-40}" seed="${FUZZ_SEED:-20261128}" ;;
  *) echo "FUZZ must be empty or long, not '$FUZZ'" >&2; exit 2 ;;
esac

ensure_schemathesis

api_pid=''
dry_pid=''
fuzz_id="fuzz$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
cleanup() {
  if [ -n "$dry_pid" ]; then
    kill "$dry_pid" 2>/dev/null || true
    wait "$dry_pid" 2>/dev/null || true
  fi
  if [ -n "$api_pid" ]; then
    kill "$api_pid" 2>/dev/null || true
    wait "$api_pid" 2>/dev/null || true
    FUZZ_ID="$fuzz_id" node --input-type=module -e "
      const { connect } = await import('@nats-io/transport-node');
      const { jetstreamManager } = await import('@nats-io/jetstream');
      const nc = await connect({ servers: process.env.NATS_URL });
      const jsm = await jetstreamManager(nc);
      const id = 'F_' + process.env.FUZZ_ID;
      for (const s of [id, id + '_DLQ', id + '_DRY', id + '_DRY_DLQ'])
        await jsm.streams.delete(s).catch(() => false);
      await nc.close();" || log "could not remove the run's streams"
  fi
}
trap cleanup EXIT

if [ -z "${FUZZ_URL:-}" ]; then
  [ -n "${DATABASE_URL:-}" ] || eval "$("$here/stack.sh" env)"
  [ -f dist/src/main.js ] || { echo "dist/ is missing: run npm run build (make fuzz does)" >&2; exit 1; }
  # A database of this checkout's own, recreated and migrated for each run.
  fuzz_db_url="$(node --input-type=module -e "
    const { checkoutDatabase, databaseUrlFor, recreateDatabase } = await import('./test/support/database.mjs');
    const { runMigrations } = await import('./dist/src/database/migrate.js');
    const url = databaseUrlFor(process.env.DATABASE_URL, checkoutDatabase('k8sdm_fuzz'));
    await recreateDatabase(process.env.DATABASE_URL, new URL(url).pathname.slice(1));
    await runMigrations(url);
    console.log(url);")"
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  ADMIN_API_KEY="$(node dist/src/keys.main.js generate)"
  export ADMIN_API_KEY
  FUZZ_URL="http://127.0.0.1:$port"
  mkdir -p "${TMPDIR:-/tmp}/k8sdm-fuzz"
  api_log="${TMPDIR:-/tmp}/k8sdm-fuzz/api-$fuzz_id.log"
  log "booting the API on $FUZZ_URL (log: $api_log)"
  # Any namespace but Kubernetes' own, so writes get past the namespace policy; limits high enough
  # for one key fuzzing; no worker applies requests: nothing is written to Kubernetes.
  DATABASE_URL="$fuzz_db_url" ROLE=api,reconciler HTTP_PORT="$port" HEALTH_PORT=0 LOG_LEVEL=warn \
    MANAGED_NAMESPACES='*' RATE_LIMIT_MAX=1000000000 RATE_LIMIT_ANONYMOUS_MAX=1000000000 \
    NATS_STREAM="F_$fuzz_id" NATS_SUBJECT="f.$fuzz_id.requests" NATS_CONSUMER="f-$fuzz_id" \
    NATS_DLQ_STREAM="F_${fuzz_id}_DLQ" NATS_DLQ_SUBJECT="f.$fuzz_id.dlq" NATS_CONTROL_SUBJECT="f.$fuzz_id.control" \
    node dist/src/main.js >"$api_log" 2>&1 &
  api_pid=$!
  # A worker for ?dryRun=true only: it answers on the API's control subject but consumes a stream of
  # its own that nothing publishes to, so no request is applied; a dry run writes nothing (dryRun=All).
  DATABASE_URL="$fuzz_db_url" ROLE=worker HEALTH_PORT=0 LOG_LEVEL=warn MANAGED_NAMESPACES='*' \
    NATS_STREAM="F_${fuzz_id}_DRY" NATS_SUBJECT="f.$fuzz_id.dry.requests" NATS_CONSUMER="f-$fuzz_id-dry" \
    NATS_DLQ_STREAM="F_${fuzz_id}_DRY_DLQ" NATS_DLQ_SUBJECT="f.$fuzz_id.dry.dlq" NATS_CONTROL_SUBJECT="f.$fuzz_id.control" \
    node dist/src/main.js >"${api_log%.log}-dry-run-worker.log" 2>&1 &
  dry_pid=$!
  for _ in $(seq 1 150); do
    curl -fsS "$FUZZ_URL/healthz" >/dev/null 2>&1 && break
    kill -0 "$api_pid" 2>/dev/null || { cat "$api_log" >&2; echo "the API exited" >&2; exit 1; }
    sleep 0.2
  done
fi
: "${ADMIN_API_KEY:?ADMIN_API_KEY must be set with FUZZ_URL}"

report_dir="${TMPDIR:-/tmp}/k8sdm-fuzz/report-$fuzz_id"
args=(--max-examples "$examples" --workers "${FUZZ_WORKERS:-2}" --report junit --report-dir "$report_dir")
[ -n "$seed" ] && args+=(--seed "$seed")
log "schemathesis $SCHEMATHESIS_VERSION: $examples examples per operation${seed:+, seed $seed}"
"$venv/bin/schemathesis" --config-file test/fuzz/schemathesis.toml run "$FUZZ_URL/docs-json" \
  -H "Authorization: Bearer $ADMIN_API_KEY" "${args[@]}"
