#!/usr/bin/env bash
# Local stack for development and tests, as plain background processes on
# 127.0.0.1 (no Docker): PostgreSQL, NATS (JetStream), etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler and KWOK (fake kubelet, one fake node).
#
#   scripts/stack.sh up       start whatever is not running (idempotent), wait until ready
#   scripts/stack.sh down     stop what `up` started; data is kept, so the next `up` is quick
#   scripts/stack.sh status   one line per service
#   scripts/stack.sh env      export lines for DATABASE_URL, NATS_URL, KUBECONFIG,
#                             ETCD_ENDPOINTS, NATS_CLUSTER_URL and PATH (Node 22 and kubectl first)
#                             usage: eval "$(scripts/stack.sh env)"
#
#   scripts/stack.sh up --nats-cluster
#                             also start a 3-node JetStream cluster (nats-1..3) on loopback,
#                             beside the single NATS node (which everything else keeps using);
#                             NATS_CLUSTER_URL lists its three servers. `down` stops it too.
#   scripts/stack.sh nats-node kill|start N
#                             SIGKILL or start cluster node N (1-3): for failover tests
#
# A DATABASE_URL, NATS_URL or KUBECONFIG already set in the environment (to
# something other than this stack's own value) means "use that one": the
# matching services (KUBECONFIG: etcd + the whole control plane + KWOK) are
# neither started nor stopped.
#
# Pods on the fake node become Running and Ready within a second or two.
# A pod that must NEVER become Ready (e.g. to make a rollout fail with a short
# progressDeadlineSeconds) needs this label in its pod template:
#
#     k8sdm.test/never-ready: "true"
#
# KWOK then marks it Running with started containers but Ready=False,
# ContainersReady=False (reason ContainersNotReady), like a failing readiness
# probe (stage "pod-never-ready" in scripts/kwok-stages.sh).
#
# State (data, logs, pid files, certificates, kubeconfig) lives outside the
# repository, in ${K8SDM_STATE:-~/.local/state/k8s-deployment-manager}/stack.
#
# K8SDM_PORT_OFFSET (default 0, at most 4000) is added to every port, so a second
# stack can run beside the usual one, e.g. to try a change to this script:
#
#     K8SDM_STATE=$(mktemp -d) K8SDM_PORT_OFFSET=1000 scripts/stack.sh up
#
# (give `env`, `status` and `down` the same two variables).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/versions.sh
. "$here/versions.sh"

STACK="${K8SDM_STATE:-$HOME/.local/state/k8s-deployment-manager}/stack"
LOGS="$STACK/logs"
RUN="$STACK/run"
PKI="$STACK/pki"
KUBECONFIG_FILE="$STACK/kubeconfig"

# Loopback ports, chosen away from every common default and below Linux's
# ephemeral range (32768-60999): a port in that range can be held at any moment
# as the local end of some outgoing connection, and a server starting then dies
# with "address already in use" (nats-2 did, mid-suite, on 54232).
PORT_OFFSET="${K8SDM_PORT_OFFSET:-0}"
[[ "$PORT_OFFSET" =~ ^[0-9]{1,4}$ ]] && ((10#$PORT_OFFSET <= 4000)) ||
  { echo "[stack] ERROR: K8SDM_PORT_OFFSET must be a number from 0 to 4000 (the ports stay below 32768)" >&2; exit 2; }
PORT_OFFSET=$((10#$PORT_OFFSET)) # "0100" is 100, not octal
PG_PORT=$((25432 + PORT_OFFSET))
NATS_PORT=$((24222 + PORT_OFFSET))
NATS_MON_PORT=$((28222 + PORT_OFFSET))
ETCD_PORT=$((22379 + PORT_OFFSET))
ETCD_PEER_PORT=$((22380 + PORT_OFFSET))
APISERVER_PORT=$((26443 + PORT_OFFSET))
KWOK_PORT=$((26248 + PORT_OFFSET)) # KWOK's own /healthz
# The optional JetStream cluster's node N (1-3): client, route and monitoring ports.
nats_node_port() { echo $((24230 + $1 + PORT_OFFSET)); }
nats_node_route_port() { echo $((24240 + $1 + PORT_OFFSET)); }
nats_node_mon_port() { echo $((28230 + $1 + PORT_OFFSET)); }
NATS_NODES=(1 2 3)

OWN_DATABASE_URL="postgres://postgres:postgres@127.0.0.1:$PG_PORT/k8sdm"
OWN_NATS_URL="nats://127.0.0.1:$NATS_PORT"
OWN_ETCD_ENDPOINTS="http://127.0.0.1:$ETCD_PORT"
NATS_CLUSTER_URL="$(for n in "${NATS_NODES[@]}"; do printf 'nats://127.0.0.1:%s,' "$(nats_node_port "$n")"; done)"
NATS_CLUSTER_URL="${NATS_CLUSTER_URL%,}"

# Services, in start order (stop runs in reverse).
SERVICES=(postgres nats etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

NODE_NAME=kwok-node-0

log() { echo "[stack] $*" >&2; }
die() { echo "[stack] ERROR: $*" >&2; exit 1; }

# --- external services ------------------------------------------------------

# An externally given value counts only if it differs from our own, so a shell
# that already ran `eval "$(stack.sh env)"` still manages this stack.
external_db() { [ -n "${DATABASE_URL:-}" ] && [ "$DATABASE_URL" != "$OWN_DATABASE_URL" ]; }
external_nats() { [ -n "${NATS_URL:-}" ] && [ "$NATS_URL" != "$OWN_NATS_URL" ]; }
external_kube() { [ -n "${KUBECONFIG:-}" ] && [ "$KUBECONFIG" != "$KUBECONFIG_FILE" ]; }

is_external() { # service
  case "$1" in
    postgres) external_db ;;
    nats) external_nats ;;
    *) external_kube ;;
  esac
}

# --- process helpers --------------------------------------------------------

boot_id() { cat /proc/sys/kernel/random/boot_id; }

# A process's start time (field 22 of /proc/PID/stat, clock ticks since boot);
# fails when the pid is gone or a zombie (some inits reap orphans only after a while).
proc_start() { # pid
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }" # the fields after "pid (comm) "; comm may hold spaces
  # shellcheck disable=SC2086
  set -- $stat
  [ "$1" != Z ] && echo "${20}"
}

# A pid file holds "pid start-time boot-id". The start time survives exec, so the
# process counts as ours from the moment it is spawned, while it is still setsid
# or nohup on its way to the binary; a pid reused later (or after a reboot) has
# another start time or boot id.
record_pid() { # service pid
  echo "$2 $(proc_start "$2" || echo gone) $(boot_id)" >"$RUN/$1.pid"
}

# True when the service's pid file names the live process we started.
alive() { # service binary
  local pf="$RUN/$1.pid" pid start boot exe
  [ -s "$pf" ] || return 1
  read -r pid start boot <"$pf" || true
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  if [ -z "$start" ]; then
    # A pid file of an older version of this script (the pid alone): the process
    # must still run our binary.
    exe="$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | head -n1)"
    [ "$exe" = "$2" ] && proc_start "$pid" >/dev/null
    return
  fi
  [ "$boot" = "$(boot_id)" ] && [ "$(proc_start "$pid")" = "$start" ]
}

# Logs are appended across restarts; keep one previous generation past 20 MB.
rotate_log() { # service
  local f="$LOGS/$1.log"
  if [ "$(stat -c %s "$f" 2>/dev/null || echo 0)" -gt 20000000 ]; then mv -f "$f" "$f.1"; fi
}

# Starts a command detached from this shell (own session, stdin closed,
# output appended to the service log) and records its pid.
spawn() { # service command...
  local name="$1"; shift
  mkdir -p "$LOGS" "$RUN"
  rotate_log "$name"
  echo "=== $(date -u +%FT%TZ) starting: $*" >>"$LOGS/$name.log"
  # Readiness checks that read the log look only at this run's part.
  stat -c %s "$LOGS/$name.log" >"$RUN/$name.logpos"
  # Not a process-group leader (no job control here), so setsid execs in place
  # and $! is the service's own pid, and then its process group and session id.
  # It reaches the binary only after two more execs (setsid, nohup): see alive().
  # fd 9 is the stack lock: not for children.
  setsid nohup "$@" >>"$LOGS/$name.log" 2>&1 </dev/null 9>&- &
  record_pid "$name" "$!"
}

# Polls a readiness check until it passes; fails with the log's tail if the
# process dies or the timeout passes.
wait_ready() { # service timeout-seconds binary-or-"" check-command...
  local name="$1" timeout="$2" bin="$3"; shift 3
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if [ -n "$bin" ] && ! alive "$name" "$bin"; then
      fail "$name" "$name exited during startup"
    fi
    if ((SECONDS >= deadline)); then
      fail "$name" "$name not ready after ${timeout}s"
    fi
    sleep 0.5
  done
}

fail() { # service message
  echo "[stack] ERROR: $2; see $LOGS/$1.log (last lines below)" >&2
  tail -n 15 "$LOGS/$1.log" 2>/dev/null | sed 's/^/    /' >&2 || true
  exit 1
}

# This run's part of a service log (since the last spawn).
current_log() { # service
  tail -c +"$(($(cat "$RUN/$1.logpos" 2>/dev/null || echo 0) + 1))" "$LOGS/$1.log" 2>/dev/null
}

# Whether this run's log of a service has a line matching the pattern. grep reads to
# the end: with `grep -q` a long log would SIGPIPE tail and fail the pipeline (pipefail).
log_has() { # service pattern
  current_log "$1" | grep -c -- "$2" >/dev/null
}

service_bin() { # service -> the binary its process runs
  case "$1" in
    nats | nats-[0-9]) echo "$NATS_SERVER_BIN" ;;
    etcd) echo "$ETCD_BIN" ;;
    kwok) echo "$KWOK_BIN" ;;
    kube-*) echo "$K8S_BIN_DIR/$1" ;;
  esac
}

# Ensures one service: reuse it when running and healthy, else (re)start it and wait.
ensure() { # service timeout check-fn start-fn
  local name="$1" timeout="$2" check="$3" start="$4" bin
  bin="$(service_bin "$name")"
  if alive "$name" "$bin"; then
    if "$check" >/dev/null 2>&1; then
      log "$name: already running"
      return 0
    fi
    log "$name: running, waiting until ready"
  else
    log "$name: starting"
    "$start"
  fi
  wait_ready "$name" "$timeout" "$bin" "$check"
  log "$name: ready"
}

# Signals the service and its process group (the session setsid made; none yet
# while the service is still on its way through setsid, then kill -pid finds nothing).
signal_service() { # signal pid
  kill "-$1" -- "-$2" 2>/dev/null || true
  kill "-$1" "$2" 2>/dev/null || true
}

stop_pid() { # service
  local name="$1" pf="$RUN/$1.pid" bin pid i
  [ -s "$pf" ] || return 0
  read -r pid _ <"$pf" || true
  bin="$(service_bin "$name")"
  # Only a process that is still ours: a stale pid may now be anything.
  if alive "$name" "$bin"; then
    log "$name: stopping (pid $pid)"
    signal_service TERM "$pid"
    for ((i = 0; i < 150; i++)); do
      alive "$name" "$bin" || break
      sleep 0.1
    done
    if alive "$name" "$bin"; then signal_service KILL "$pid"; fi
    # Signalled on its way through setsid, it may have left a child in the session it
    # made just after the group signal missed (the session id is its pid).
    pkill -KILL -s "$pid" 2>/dev/null || true
  fi
  rm -f "$pf"
}

http_ok() { curl -fsS --max-time 2 "$@"; }

# --- prerequisites ----------------------------------------------------------

pg_bindir() {
  local d
  d="$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n1)"
  [ -n "$d" ] && [ -x "$d/postgres" ] && echo "$d"
}

ensure_packages() {
  local missing=()
  if ! external_db; then
    pg_bindir >/dev/null || missing+=(postgresql)
    command -v psql >/dev/null || missing+=(postgresql-client)
  fi
  command -v openssl >/dev/null || missing+=(openssl)
  command -v curl >/dev/null || missing+=(curl)
  ((${#missing[@]})) || return 0
  [ "$(id -u)" = 0 ] || die "missing packages: ${missing[*]} (install them, or run as root)"
  log "installing ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends --no-upgrade "${missing[@]}" >&2
}

# The pooler test (test/integration/pooler-check.int-spec.ts) runs a real pgbouncer as a plain
# process of its own; only the binary is needed. Debian's package ships it in /usr/sbin.
ensure_pgbouncer() {
  if command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ]; then return 0; fi
  if [ "$(id -u)" != 0 ]; then
    log "pgbouncer is missing: the pooler test needs it (install it, or run as root)"
    return 0
  fi
  log "installing pgbouncer with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends --no-upgrade pgbouncer >&2
}

# --- PostgreSQL -------------------------------------------------------------

# postgres refuses to run as root: as root we run it as the `postgres` user.
pg_user() { if [ "$(id -u)" = 0 ]; then echo postgres; else id -un; fi; }

as_pg() {
  if [ "$(id -u)" = 0 ]; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

# The data dir must be reachable by the postgres user. As root, $HOME is often
# mode 700, so the data then lives under /var/lib (one dir per state dir) and
# $STACK/postgres is a symlink to it.
pg_data() {
  local link="$STACK/postgres" real
  if [ -L "$link" ]; then
    readlink "$link"
  elif [ "$(id -u)" != 0 ] || runuser -u postgres -- test -x "$STACK" 2>/dev/null; then
    echo "$link"
  else
    real="/var/lib/k8s-deployment-manager/postgres-$(echo "$STACK" | cksum | cut -d' ' -f1)"
    mkdir -p "$(dirname "$real")"
    ln -sfn "$real" "$link"
    echo "$real"
  fi
}

pg_init() { # data-dir
  local data="$1" pwfile
  id postgres >/dev/null 2>&1 || [ "$(id -u)" != 0 ] ||
    useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  [ -s "$data/PG_VERSION" ] && return 0
  log "postgres: initdb $data"
  rm -rf "$data"
  mkdir -p "$data"
  chown "$(pg_user)": "$data"
  chmod 700 "$data"
  pwfile="$(as_pg mktemp)"
  as_pg sh -c "echo postgres >'$pwfile'"
  as_pg "$PG_BIN/initdb" -D "$data" -U postgres --pwfile="$pwfile" \
    --auth=scram-sha-256 -E UTF8 --no-locale >>"$LOGS/postgres.log" 2>&1 ||
    { rm -f "$pwfile"; fail postgres "initdb failed"; }
  rm -f "$pwfile"
  echo "include 'k8sdm.conf'" | as_pg tee -a "$data/postgresql.conf" >/dev/null
}

# postgres trusts postmaster.pid while its pid exists: after a kill -9 that
# pid can linger as a zombie, after a reboot it may belong to anything else.
pg_clear_stale_lock() { # data-dir
  local lock="$1/postmaster.pid" pid exe
  [ -s "$lock" ] || return 0
  pid="$(head -n1 "$lock")"
  exe="$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | head -n1 || true)"
  case "$exe" in */postgres | postgres*) return 0 ;; esac
  log "postgres: removing stale postmaster.pid (pid $pid is gone)"
  rm -f "$lock"
}

pg_ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres; }

start_postgres() {
  local data
  data="$(pg_data)"
  pg_init "$data"
  # Rewritten on every start so a changed port or setting takes effect.
  # No fsync: a throwaway development database, speed matters more.
  as_pg tee "$data/k8sdm.conf" >/dev/null <<EOF
listen_addresses = '127.0.0.1'
port = $PG_PORT
max_connections = 200
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  rotate_log postgres
  log "postgres: starting"
  # pg_ctl detaches the server (own session); its output goes to our log file,
  # which root opens, so the postgres user need not reach $LOGS.
  echo "=== $(date -u +%FT%TZ) pg_ctl start -D $data" >>"$LOGS/postgres.log"
  as_pg "$PG_BIN/pg_ctl" start -D "$data" -s -w -t 60 >>"$LOGS/postgres.log" 2>&1 9>&- ||
    fail postgres "postgres did not start"
}

pg_running() { [ -s "$1/PG_VERSION" ] && as_pg "$PG_BIN/pg_ctl" status -D "$1" >/dev/null 2>&1; }

pg_sql() { PGPASSWORD=postgres "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres "$@"; }

up_postgres() {
  local data
  data="$(pg_data)"
  pg_clear_stale_lock "$data"
  if ! pg_running "$data"; then
    start_postgres
  elif pg_ready; then
    log "postgres: already running"
  else
    log "postgres: running, waiting until ready"
  fi
  wait_ready postgres 60 "" pg_ready
  if [ -z "$(pg_sql -tAc "select 1 from pg_database where datname = 'k8sdm'")" ]; then
    pg_sql -qc 'create database k8sdm' >&2
  fi
  log "postgres: ready on 127.0.0.1:$PG_PORT"
}

down_postgres() {
  local data="$STACK/postgres"
  [ -L "$data" ] && data="$(readlink "$data")"
  if pg_running "$data"; then
    log "postgres: stopping"
    as_pg "$PG_BIN/pg_ctl" stop -D "$data" -s -m fast -w >>"$LOGS/postgres.log" 2>&1 || true
  fi
}

# --- NATS -------------------------------------------------------------------

nats_ready() { http_ok "http://127.0.0.1:$NATS_MON_PORT/healthz?js-enabled-only=true"; }

start_nats() {
  spawn nats "$NATS_SERVER_BIN" -a 127.0.0.1 -p "$NATS_PORT" -m "$NATS_MON_PORT" \
    -js -sd "$STACK/nats"
}

# The JetStream cluster: three servers routed to each other (JetStream needs a
# server name per node and one cluster name). Their data is kept like the rest.
nats_node_ready() { # node: up, and JetStream current (the meta group has a leader)
  http_ok "http://127.0.0.1:$(nats_node_mon_port "$1")/healthz"
}

start_nats_node() { # node
  local n="$1" routes="" r
  for r in "${NATS_NODES[@]}"; do routes+="nats://127.0.0.1:$(nats_node_route_port "$r"),"; done
  spawn "nats-$n" "$NATS_SERVER_BIN" -a 127.0.0.1 -p "$(nats_node_port "$n")" -m "$(nats_node_mon_port "$n")" \
    -n "k8sdm-js-$n" -js -sd "$STACK/nats-cluster/$n" \
    --cluster_name k8sdm-js --cluster "nats://127.0.0.1:$(nats_node_route_port "$n")" --routes "${routes%,}"
}

up_nats_cluster() {
  local n
  # Started together (not one by one until ready): a lone node has no JetStream quorum.
  for n in "${NATS_NODES[@]}"; do
    if alive "nats-$n" "$NATS_SERVER_BIN"; then continue; fi
    log "nats-$n: starting"
    start_nats_node "$n"
  done
  for n in "${NATS_NODES[@]}"; do
    wait_ready "nats-$n" 60 "$NATS_SERVER_BIN" nats_node_ready "$n"
    log "nats-$n: ready (nats://127.0.0.1:$(nats_node_port "$n"))"
  done
}

cmd_nats_node() { # kill|start N
  local action="${1:-}" n="${2:-}"
  [[ "$n" =~ ^[1-3]$ ]] || die "usage: $0 nats-node kill|start 1-3"
  case "$action" in
    kill)
      alive "nats-$n" "$NATS_SERVER_BIN" || die "nats-$n is not running"
      local pid
      read -r pid _ <"$RUN/nats-$n.pid"
      signal_service KILL "$pid"
      log "nats-$n: killed (pid $pid)"
      ;;
    start)
      if ! alive "nats-$n" "$NATS_SERVER_BIN"; then log "nats-$n: starting"; start_nats_node "$n"; fi
      wait_ready "nats-$n" 60 "$NATS_SERVER_BIN" nats_node_ready "$n"
      log "nats-$n: ready"
      ;;
    *) die "usage: $0 nats-node kill|start 1-3" ;;
  esac
}

# --- etcd -------------------------------------------------------------------

etcd_ready() { http_ok "http://127.0.0.1:$ETCD_PORT/health" | grep -q '"health":"true"'; }

start_etcd() {
  # --unsafe-no-fsync: throwaway data; fsync latency on slow disks slows the apiserver.
  spawn etcd "$ETCD_BIN" --name=k8sdm --data-dir="$STACK/etcd" \
    --listen-client-urls="http://127.0.0.1:$ETCD_PORT" \
    --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster="k8sdm=http://127.0.0.1:$ETCD_PEER_PORT" \
    --unsafe-no-fsync --log-level=warn
}

# --- certificates and kubeconfig --------------------------------------------

pki_complete() {
  local f
  for f in ca.crt ca.key apiserver.crt apiserver.key admin.crt admin.key sa.key sa.pub; do
    [ -s "$PKI/$f" ] || return 1
  done
  [ -s "$KUBECONFIG_FILE" ]
}

ensure_pki() {
  if pki_complete; then
    # The certificates name no port; the kubeconfig follows a changed K8SDM_PORT_OFFSET.
    grep -qF "server: https://127.0.0.1:$APISERVER_PORT" "$KUBECONFIG_FILE" || write_kubeconfig
    return 0
  fi
  log "pki: creating a throwaway CA, serving/client certs and the service-account key"
  rm -rf "$PKI" && mkdir -p "$PKI" && chmod 700 "$PKI"
  (
    cd "$PKI"
    exec 2>>"$LOGS/pki.log"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
      -subj "/CN=k8sdm-local-ca" >/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr \
      -subj "/CN=kube-apiserver" >/dev/null
    printf '%s\n' "subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc" \
      "extendedKeyUsage=serverAuth" "keyUsage=digitalSignature,keyEncipherment" >apiserver.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
      -days 3650 -extfile apiserver.ext -out apiserver.crt
    openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr \
      -subj "/O=system:masters/CN=admin" >/dev/null
    printf '%s\n' "extendedKeyUsage=clientAuth" "keyUsage=digitalSignature,keyEncipherment" >admin.ext
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
      -days 3650 -extfile admin.ext -out admin.crt
    openssl genrsa -out sa.key 2048
    openssl rsa -in sa.key -pubout -out sa.pub
    rm -f ./*.csr ./*.ext ca.srl
  ) || fail pki "openssl failed"
  write_kubeconfig
}

write_kubeconfig() {
  # Certificates inlined, so the file is self-contained for any client library.
  local b64="base64 -w0"
  (umask 077 && cat >"$KUBECONFIG_FILE.tmp") <<EOF
apiVersion: v1
kind: Config
clusters:
- name: k8sdm
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $($b64 "$PKI/ca.crt")
users:
- name: admin
  user:
    client-certificate-data: $($b64 "$PKI/admin.crt")
    client-key-data: $($b64 "$PKI/admin.key")
contexts:
- name: k8sdm
  context:
    cluster: k8sdm
    user: admin
current-context: k8sdm
EOF
  mv "$KUBECONFIG_FILE.tmp" "$KUBECONFIG_FILE"
}

kubectl_own() { "$K8S_BIN_DIR/kubectl" --kubeconfig="$KUBECONFIG_FILE" "$@"; }

# --- kube-apiserver, controller-manager, scheduler --------------------------

apiserver_ready() {
  http_ok --cacert "$PKI/ca.crt" "https://127.0.0.1:$APISERVER_PORT/readyz" | grep -qx ok
}

# TaintNodesByCondition is off: it taints every new node not-ready:NoSchedule
# and only the node-lifecycle controller (disabled below) would lift it.
# Deployments are not watch-cached: the cache answers a watch from any
# resourceVersion it has seen since the apiserver's first list, however long
# etcd has compacted it, so a test could not make "410 Gone" happen when it
# needs to (it compacts etcd, see test/support/etcd.ts). Watches and lists of
# Deployments go to etcd, as a cache miss does on any cluster.
start_kube_apiserver() {
  spawn kube-apiserver "$K8S_BIN_DIR/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --watch-cache-sizes=deployments.apps#0 \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$APISERVER_PORT" \
    --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --client-ca-file="$PKI/ca.crt" \
    --authorization-mode=RBAC \
    --service-cluster-ip-range=10.0.0.0/24 \
    --endpoint-reconciler-type=none \
    --allow-privileged=true \
    --disable-admission-plugins=TaintNodesByCondition \
    --service-account-issuer="https://127.0.0.1:$APISERVER_PORT" \
    --service-account-key-file="$PKI/sa.pub" \
    --service-account-signing-key-file="$PKI/sa.key"
}

# Ready once this run started the deployment and replicaset controllers and
# the default ServiceAccount exists (pods are rejected without it).
controller_manager_ready() {
  log_has kube-controller-manager '"Starting controller" controller="deployment"' &&
    log_has kube-controller-manager '"Starting controller" name="replicaset"' &&
    kubectl_own get serviceaccount default -n default
}

start_kube_controller_manager() {
  # Without a kubelet nobody renews node leases; the node-lifecycle and
  # taint-eviction controllers would then evict every pod after ~5 minutes.
  spawn kube-controller-manager "$K8S_BIN_DIR/kube-controller-manager" \
    --kubeconfig="$KUBECONFIG_FILE" \
    --leader-elect=false --secure-port=0 \
    --controllers='*,-node-lifecycle-controller,-taint-eviction-controller' \
    --service-account-private-key-file="$PKI/sa.key" \
    --root-ca-file="$PKI/ca.crt" \
    --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
    --kube-api-qps=200 --kube-api-burst=400 --concurrent-deployment-syncs=10 --concurrent-replicaset-syncs=10
}

# No serving port (--secure-port=0), so this run's log is all there is to go by.
scheduler_ready() { log_has kube-scheduler 'Starting Kubernetes Scheduler'; }

start_kube_scheduler() {
  spawn kube-scheduler "$K8S_BIN_DIR/kube-scheduler" \
    --kubeconfig="$KUBECONFIG_FILE" --leader-elect=false --secure-port=0
}

# --- KWOK -------------------------------------------------------------------

kwok_ready() {
  http_ok "http://127.0.0.1:$KWOK_PORT/healthz" >/dev/null &&
    [ "$(kubectl_own get node "$NODE_NAME" \
      -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]
}

start_kwok() {
  "$here/kwok-stages.sh" >"$STACK/kwok-stages.yaml.tmp"
  mv "$STACK/kwok-stages.yaml.tmp" "$STACK/kwok-stages.yaml"
  # Pod IPs from a range that does not overlap the service range (kwok's default does).
  spawn kwok "$KWOK_BIN" --kubeconfig="$KUBECONFIG_FILE" \
    --manage-all-nodes=true --config="$STACK/kwok-stages.yaml" \
    --cidr=10.244.0.0/16 --server-address="127.0.0.1:$KWOK_PORT"
}

# One fake node, without the NoSchedule taint of KWOK's docs, so ordinary
# Deployments schedule onto it.
ensure_node() {
  kubectl_own get node "$NODE_NAME" >/dev/null 2>&1 && return 0
  log "kwok: creating node $NODE_NAME"
  kubectl_own apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Node
metadata:
  name: $NODE_NAME
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    type: kwok
    kubernetes.io/hostname: $NODE_NAME
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
status:
  capacity:
    cpu: "32"
    memory: 256Gi
    pods: "1000"
  allocatable:
    cpu: "32"
    memory: 256Gi
    pods: "1000"
EOF
}

# --- commands ---------------------------------------------------------------

cmd_up() {
  local t0=$SECONDS cluster=false
  case "${1:-}" in
    "") ;;
    --nats-cluster) cluster=true ;;
    *) die "usage: $0 up [--nats-cluster]" ;;
  esac
  mkdir -p "$LOGS" "$RUN"
  "$here/build-tools.sh" all
  ensure_packages
  ensure_pgbouncer
  PG_BIN="$(pg_bindir || true)"

  if external_db; then log "postgres: using the given DATABASE_URL"; else up_postgres; fi
  if external_nats; then
    log "nats: using the given NATS_URL"
  else
    ensure nats 30 nats_ready start_nats
  fi
  if $cluster; then up_nats_cluster; fi
  if external_kube; then
    log "kubernetes: using the given KUBECONFIG ($KUBECONFIG)"
  else
    ensure etcd 30 etcd_ready start_etcd
    ensure_pki
    ensure kube-apiserver 120 apiserver_ready start_kube_apiserver
    ensure kube-controller-manager 60 controller_manager_ready start_kube_controller_manager
    ensure kube-scheduler 30 scheduler_ready start_kube_scheduler
    ensure_node
    ensure kwok 60 kwok_ready start_kwok
  fi
  log "stack is up ($((SECONDS - t0))s); use: eval \"\$($0 env)\""
}

cmd_down() {
  local i name
  PG_BIN="$(pg_bindir || true)"
  for ((i = ${#NATS_NODES[@]} - 1; i >= 0; i--)); do stop_pid "nats-${NATS_NODES[i]}"; done
  for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do
    name="${SERVICES[i]}"
    is_external "$name" && continue
    if [ "$name" = postgres ]; then
      [ -n "$PG_BIN" ] && down_postgres
    else
      stop_pid "$name"
    fi
  done
  log "stack is down (data kept in $STACK)"
}

cmd_status() {
  local name state addr
  PG_BIN="$(pg_bindir || true)"
  for name in "${SERVICES[@]}"; do
    case "$name" in
      postgres) addr="127.0.0.1:$PG_PORT" ;;
      nats) addr="127.0.0.1:$NATS_PORT (monitoring :$NATS_MON_PORT)" ;;
      etcd) addr="127.0.0.1:$ETCD_PORT" ;;
      kube-apiserver) addr="https://127.0.0.1:$APISERVER_PORT" ;;
      kube-controller-manager | kube-scheduler) addr="-" ;;
      kwok) addr="node $NODE_NAME (healthz 127.0.0.1:$KWOK_PORT)" ;;
    esac
    if is_external "$name"; then
      state=external
      case "$name" in postgres) addr="$DATABASE_URL" ;; nats) addr="$NATS_URL" ;; *) addr="$KUBECONFIG" ;; esac
    elif [ "$name" = postgres ]; then
      state=stopped
      [ -n "$PG_BIN" ] && pg_ready && state=running
    elif alive "$name" "$(service_bin "$name")"; then
      state=running
    else
      state=stopped
    fi
    printf '%-24s %-8s %s\n' "$name" "$state" "$addr"
  done
  # The JetStream cluster, once `up --nats-cluster` has started it.
  for name in "${NATS_NODES[@]}"; do
    [ -e "$RUN/nats-$name.pid" ] || continue
    state=stopped
    alive "nats-$name" "$NATS_SERVER_BIN" && state=running
    printf '%-24s %-8s %s\n' "nats-$name" "$state" "127.0.0.1:$(nats_node_port "$name") (cluster k8sdm-js)"
  done
}

cmd_env() {
  local node_bin
  node_bin="$("$here/ensure-node.sh")" || die "no Node 22 (scripts/ensure-node.sh failed)"
  printf 'export DATABASE_URL=%q\n' "${DATABASE_URL:-$OWN_DATABASE_URL}"
  printf 'export NATS_URL=%q\n' "${NATS_URL:-$OWN_NATS_URL}"
  printf 'export NATS_CLUSTER_URL=%q\n' "$NATS_CLUSTER_URL"
  printf 'export KUBECONFIG=%q\n' "${KUBECONFIG:-$KUBECONFIG_FILE}"
  # The etcd behind our cluster (the tests compact it). A cluster of your own
  # (KUBECONFIG) has none unless ETCD_ENDPOINTS names it too.
  if ! external_kube; then
    printf 'export ETCD_ENDPOINTS=%q\n' "$OWN_ETCD_ENDPOINTS"
  elif [ -n "${ETCD_ENDPOINTS:-}" ]; then
    printf 'export ETCD_ENDPOINTS=%q\n' "$ETCD_ENDPOINTS"
  fi
  # Node 22 and the kubectl built with the cluster come first; $PATH is expanded at eval time.
  # shellcheck disable=SC2016
  printf 'export PATH=%q:%q:"$PATH"\n' "$node_bin" "$K8S_BIN_DIR"
}

# up and down change the stack: one at a time (e.g. parallel test runners).
lock() {
  mkdir -p "$STACK"
  exec 9>"$STACK/.lock"
  flock 9
}

# Sourced (by scripts/stack.test.sh), it only defines the functions.
[ "${BASH_SOURCE[0]}" = "$0" ] || return 0

case "${1:-}" in
  up) lock && cmd_up "${@:2}" ;;
  down) lock && cmd_down ;;
  status) cmd_status ;;
  env) cmd_env ;;
  nats-node) lock && cmd_nats_node "${@:2}" ;;
  *) echo "usage: $0 up [--nats-cluster]|down|status|env|nats-node kill|start N" >&2; exit 2 ;;
esac
