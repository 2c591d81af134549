#!/usr/bin/env bash
# Checks stack.sh's process bookkeeping (spawn, alive, stop_pid) with stand-in
# services, in a throwaway state folder: no real service is started or stopped.
# A service counts as alive from the moment it is spawned, while it is still on its
# way through setsid and nohup to its binary, and `down` stops it in that state too.
# Run by `make test`; takes a few seconds.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
state="$(mktemp -d)"
trap 'rm -rf "$state"' EXIT
K8SDM_STATE="$state" K8SDM_PORT_OFFSET=0
# shellcheck source=scripts/stack.sh
. "$here/stack.sh"
set +e # each check reports its own failure

failures=0
check() { # description command...
  local what="$1"; shift
  if "$@"; then echo "ok   $what"; else echo "FAIL $what" >&2; failures=$((failures + 1)); fi
}
not() { ! "$@"; }
pid_of() { read -r p _ <"$RUN/$1.pid" && echo "$p"; }
session_empty() { # sid: polls briefly, as killed processes take a moment to be reaped
  local i
  for ((i = 0; i < 30; i++)); do
    pgrep -s "$1" >/dev/null || return 0
    sleep 0.1
  done
  return 1
}
sleep_bin="$(command -v sleep)"

# Still in its wrapper (a shell that execs the binary only later): alive, and stoppable.
spawn slow bash -c "sleep 3; exec $sleep_bin 60"
pid="$(pid_of slow)"
check "a service still on its way to its binary is alive" alive slow "$sleep_bin"
stop_pid slow
check "stop_pid stops a service still in its wrapper, with its children" session_empty "$pid"
check "and it is no longer alive" not alive slow "$sleep_bin"

# Once it runs its binary: alive, then stopped.
spawn steady "$sleep_bin" 60
pid="$(pid_of steady)"
for _ in 1 2 3 4 5 6 7 8 9 10; do
  [ "$(tr '\0' '\n' <"/proc/$pid/cmdline" | head -n1)" = "$sleep_bin" ] && break
  sleep 0.1
done
check "a service running its binary is alive" alive steady "$sleep_bin"
stop_pid steady
check "stop_pid stops it" session_empty "$pid"

# A pid file naming a live process that is not ours: another start time, or another boot.
"$sleep_bin" 60 &
other=$!
echo "$other 1 $(boot_id)" >"$RUN/stale.pid"
check "a reused pid (another start time) is not alive" not alive stale "$sleep_bin"
echo "$other $(proc_start "$other") not-this-boot" >"$RUN/stale.pid"
check "a pid from another boot is not alive" not alive stale "$sleep_bin"
stop_pid stale
check "stop_pid leaves a process that is not ours alone" kill -0 "$other"

# A pid file of the previous format (the pid alone): matched on the binary.
echo "$other" >"$RUN/legacy.pid"
check "an old-format pid file of our binary is alive" alive legacy "$sleep_bin"
check "an old-format pid file of another binary is not" not alive legacy /bin/false
kill "$other"

# A service that dies at once is not alive (wait_ready reports it as exited).
spawn dies bash -c 'exit 3'
sleep 0.5
check "a service that exited is not alive" not alive dies "$sleep_bin"

# The JetStream cluster's nodes: the nats-server binary, ports apart from the single node's and shifted by the offset.
check "cluster nodes are nats-server processes" [ "$(service_bin nats-2)" = "$NATS_SERVER_BIN" ]
check "the cluster URL lists three nodes beside the single one" \
  [ "$NATS_CLUSTER_URL" = "nats://127.0.0.1:24231,nats://127.0.0.1:24232,nats://127.0.0.1:24233" ]
check "with an offset, the cluster's ports move too" \
  [ "$(PORT_OFFSET=1000 nats_node_port 1) $(PORT_OFFSET=1000 nats_node_route_port 1)" = "25231 25241" ]

# Every port, at the largest offset allowed, stays below the ephemeral range, where
# an outgoing connection's local end could hold it when the server starts.
highest_port() (
  K8SDM_PORT_OFFSET=4000
  # shellcheck source=scripts/stack.sh
  . "$here/stack.sh"
  local n ports=("$PG_PORT" "$NATS_PORT" "$NATS_MON_PORT" "$ETCD_PORT" "$ETCD_PEER_PORT" "$APISERVER_PORT" "$KWOK_PORT")
  for n in "${NATS_NODES[@]}"; do ports+=("$(nats_node_port "$n")" "$(nats_node_route_port "$n")" "$(nats_node_mon_port "$n")"); done
  printf '%s\n' "${ports[@]}" | sort -n | tail -1
)
check "at the largest offset every port is below 32768" [ "$(highest_port)" -lt 32768 ]
refused_offset() { ! K8SDM_STATE="$state" K8SDM_PORT_OFFSET="$1" bash "$here/stack.sh" status >/dev/null 2>&1; }
check "an offset past 4000 is refused" refused_offset 4001
check "an offset of 4000 is taken" not refused_offset 4000

if ((failures)); then echo "stack.test.sh: $failures check(s) failed" >&2; exit 1; fi
echo "stack.test.sh: all checks passed"
