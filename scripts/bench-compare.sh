#!/usr/bin/env bash
# make bench-compare: runs bench modules on a base commit and on this checkout, back to back on
# the same machine and stack, and prints each module's figures side by side (bench/compare.ts).
#
#   scripts/bench-compare.sh [module...]        (default: intake available idle watcher reconciler)
#   BENCH_BASE=<commit>                         the base (default: the commit before issue 13's changes)
#
# The base is checked out as a detached git worktree under the tool cache (outside the
# repository), with this checkout's node_modules when both package-lock.json files match, else
# its own `npm ci`, and built there. Results: bench/results/compare/<module>.json (both runs);
# each side's own files stay in its bench/results/. Every BENCH_* knob applies to both sides.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
. "$here/versions.sh"
base_ref="${BENCH_BASE:-37a3087}"
modules=("$@")
[ ${#modules[@]} -gt 0 ] || modules=(intake available idle watcher reconciler)

base_sha="$(git -C "$repo" rev-parse --verify --quiet "$base_ref^{commit}")" || {
  echo "bench-compare: BENCH_BASE=$base_ref is not a commit of this repository (a shallow clone lacks history: fetch it)" >&2
  exit 2
}
base_dir="$CACHE_ROOT/bench-base/$base_sha"
if [ "$(git -C "$base_dir" rev-parse HEAD 2>/dev/null)" != "$base_sha" ]; then
  # Absent, or left by another clone (the cache outlives a clone's worktree registration, and
  # the results would name the base "unknown"): checked out again, keeping its own npm install.
  kept=""
  if [ -d "$base_dir/node_modules" ] && [ ! -L "$base_dir/node_modules" ]; then
    kept="$CACHE_ROOT/bench-base/node_modules.$$"
    mv "$base_dir/node_modules" "$kept"
  fi
  rm -rf "$base_dir"
  git -C "$repo" worktree prune
  git -C "$repo" worktree add --detach "$base_dir" "$base_sha" >/dev/null
  [ -z "$kept" ] || mv "$kept" "$base_dir/node_modules"
fi
if cmp -s "$repo/package-lock.json" "$base_dir/package-lock.json"; then
  [ -e "$base_dir/node_modules" ] || ln -s "$repo/node_modules" "$base_dir/node_modules"
elif [ ! -e "$base_dir/node_modules/.installed" ]; then
  rm -rf "$base_dir/node_modules"
  (cd "$base_dir" && npm ci --no-audit --no-fund && touch node_modules/.installed)
fi
echo "bench-compare: building the base ($base_ref = ${base_sha:0:7}) in $base_dir" >&2
(cd "$base_dir" && npx tsc -p tsconfig.bench.json)
(cd "$repo" && npx tsc -p tsconfig.bench.json)

# BENCH_QUICK=1 (tiny sizes) checks the comparison runs; its figures, like bench-quick's, mean nothing.
sub=results; [ "${BENCH_QUICK:-0}" = 0 ] || sub=results/quick
mkdir -p "$repo/bench/$sub/compare"
status=0
for m in "${modules[@]}"; do
  rm -f "$base_dir/bench/$sub/$m.json" "$repo/bench/$sub/$m.json"
  echo "bench-compare: $m on the base" >&2
  (cd "$base_dir" && node dist/bench/run.js "$m") || status=1
  echo "bench-compare: $m on this checkout" >&2
  (cd "$repo" && node dist/bench/run.js "$m") || status=1
  if [ -f "$base_dir/bench/$sub/$m.json" ] && [ -f "$repo/bench/$sub/$m.json" ]; then
    node "$repo/dist/bench/compare.js" "$base_dir/bench/$sub/$m.json" "$repo/bench/$sub/$m.json" \
      "$repo/bench/$sub/compare/$m.json"
  fi
done
exit $status
