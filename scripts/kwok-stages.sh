#!/usr/bin/env bash
# Prints the KWOK stage configuration used by the local stack (scripts/stack.sh)
# as one multi-document YAML on stdout.
#
# The bare kwok binary has no behaviour of its own ("no stages found"), so we
# feed it the "fast" stages that ship inside the kwok module (the module cache
# copy matching $KWOK_VERSION), plus two stages of our own:
#
#   pod-never-ready: a pod labelled  k8sdm.test/never-ready: "true"  becomes
#   Running with its containers started but Ready=False / ContainersReady=False
#   (like a failing readiness probe), and stays that way. It has weight 1 while
#   KWOK's pod-ready has weight 0, and KWOK picks among matching stages by
#   weight, so labelled pods always take this stage and never pod-ready.
#   pod-never-ready-image: the same for a pod whose first container image is
#   k8sdm.test/never-ready:1 (the API sets no pod labels but the selector).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/versions.sh
. "$here/versions.sh"

# Run outside any module so `go` neither reads nor touches a go.mod.
dir="$(cd / && GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
if [ -z "$dir" ] || [ ! -d "$dir/kustomize/stage" ]; then
  echo "[kwok-stages] cannot find the kwok $KWOK_VERSION module (go mod download failed?)" >&2
  exit 1
fi

for f in node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml \
  pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
  [ -f "$dir/kustomize/stage/$f" ] || { echo "[kwok-stages] missing $dir/kustomize/stage/$f" >&2; exit 1; }
  echo "---"
  cat "$dir/kustomize/stage/$f"
done

never_ready_stage() { # name selector-key value
  cat <<EOF
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: $1
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '$2'
      operator: 'In'
      values:
      - '$3'
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.phase'
      operator: 'In'
      values:
      - 'Pending'
  # pod-ready has no weight (0): a positive weight makes KWOK always choose this one.
  weight: 1
  next:
    statusTemplate: |
      {{ \$now := Now }}

      conditions:
      - lastTransitionTime: {{ \$now | Quote }}
        status: "True"
        type: Initialized
      - lastTransitionTime: {{ \$now | Quote }}
        message: "containers with unready status"
        reason: ContainersNotReady
        status: "False"
        type: Ready
      - lastTransitionTime: {{ \$now | Quote }}
        message: "containers with unready status"
        reason: ContainersNotReady
        status: "False"
        type: ContainersReady

      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        started: true
        restartCount: 0
        state:
          running:
            startedAt: {{ \$now | Quote }}
      {{ end }}
      {{ \$hostIPs := NodeIPsWith .spec.nodeName }}
      {{ with \$hostIPs }}
      hostIP: {{ index . 0 | Quote }}
      hostIPs:
      {{ range . }}
      - ip: {{ . | Quote }}
      {{ end }}
      {{ end }}
      {{ \$podIPs := PodIPsWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) }}
      {{ with \$podIPs }}
      podIP: {{ index . 0 | Quote }}
      podIPs:
      {{ range . }}
      - ip: {{ . | Quote }}
      {{ end }}
      {{ end }}
      phase: Running
      startTime: {{ \$now | Quote }}
EOF
}

never_ready_stage pod-never-ready '.metadata.labels["k8sdm.test/never-ready"]' true
# The same for a pod whose first container runs the image k8sdm.test/never-ready:1, so a Deployment
# made through the API (whose pod labels are only its selector) can have never-ready pods.
never_ready_stage pod-never-ready-image '.spec.containers[0].image' k8sdm.test/never-ready:1
