#!/usr/bin/env bash
# Prints a directory holding a Node binary new enough for package.json's engines.node
# (">=22.19": @kubernetes/client-node 2.x needs it; the entry points check the same rule).
# Uses the machine's node when it is new enough; otherwise fetches the
# node-linux-<arch> package (the binary, no install scripts) from the npm registry
# into a cache outside the repository. Idempotent and quiet on success.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/versions.sh"

# The rule is package.json's engines.node (">=MAJOR.MINOR"), read by the candidate itself.
new_enough() { # path-to-node
  "$1" -e '
    const m = /^>=\s*(\d+)\.(\d+)/.exec(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).engines.node);
    const [a, b] = process.versions.node.split(".").map(Number);
    process.exit(m && (a > +m[1] || (a === +m[1] && b >= +m[2])) ? 0 : 1);' "$here/../package.json" 2>/dev/null
}

if [ -x "$NODE_DIR/bin/node" ] && new_enough "$NODE_DIR/bin/node"; then echo "$NODE_DIR/bin"; exit 0; fi
if command -v node >/dev/null && new_enough "$(command -v node)"; then dirname "$(command -v node)"; exit 0; fi

case "$(uname -m)" in
  x86_64) arch=x64 ;; aarch64|arm64) arch=arm64 ;; *) echo "unsupported architecture $(uname -m)" >&2; exit 1 ;;
esac
command -v npm >/dev/null || { echo "npm is needed to fetch Node $NODE_MAJOR" >&2; exit 1; }
echo "[ensure-node] fetching Node $NODE_MAJOR (node-linux-$arch) from the npm registry" >&2
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "node-linux-$arch@$NODE_MAJOR" >/dev/null)
mkdir -p "$tmp/x" && tar -xzf "$tmp"/node-linux-*.tgz -C "$tmp/x"
rm -rf "$NODE_DIR.tmp" && mkdir -p "$NODE_DIR.tmp/bin"
cp "$tmp/x/package/bin/node" "$NODE_DIR.tmp/bin/node"
chmod +x "$NODE_DIR.tmp/bin/node"
new_enough "$NODE_DIR.tmp/bin/node" || { echo "fetched node is older than package.json engines.node" >&2; exit 1; }
rm -rf "$NODE_DIR" && mv "$NODE_DIR.tmp" "$NODE_DIR"
echo "$NODE_DIR/bin"
