#!/usr/bin/env bash
# Checks docs/alerts.yaml with promtool (built from the Go module proxy into the cache on
# first use): the rules' syntax, then their unit tests in docs/alerts.test.yaml.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
# shellcheck source=scripts/versions.sh
. "$here/versions.sh"

"$here/build-tools.sh" promtool
"$PROMTOOL_BIN" check rules "$root/docs/alerts.yaml"
"$PROMTOOL_BIN" test rules "$root/docs/alerts.test.yaml"
