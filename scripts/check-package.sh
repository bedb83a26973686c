#!/usr/bin/env bash
# What a user gets from `npm pack`: packs a fresh clone of this repository's HEAD (so
# uncommitted changes are not in it), checks the tarball holds no test code and no source
# maps, installs it in a new consumer project without fast-check, type-checks a strict
# TypeScript program that imports quorate, quorate/testing and quorate/transport, and runs
# every bin. Needs the npm registry (the consumer installs typescript and the runtime
# dependencies). Usage: npm run check:package   (or bash scripts/check-package.sh)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/quorate-package-XXXXXX")"
trap 'rm -rf "$work"' EXIT
fail () { echo "check-package: FAIL: $*" >&2; exit 1; }

git clone --quiet "$repo" "$work/clone"
(cd "$work/clone" && npm ci --no-audit --no-fund --silent && npm pack --silent --pack-destination "$work" >/dev/null)
tarball="$(ls "$work"/quorate-*.tgz)"
tar tzf "$tarball" > "$work/contents.txt"
echo "check-package: $(wc -l < "$work/contents.txt") files in $(basename "$tarball")"
! grep -E '^package/dist/(test|bench|demo)/' "$work/contents.txt" || fail "test, bench or demo output in the tarball"
! grep -E '\.map$|tsbuildinfo$' "$work/contents.txt" || fail "source maps or build info in the tarball"
grep -qx 'package/dist/src/index.js' "$work/contents.txt" || fail "no dist/src/index.js"

ts_version="$(node -p "require('$repo/package.json').devDependencies.typescript")"
types_version="$(node -p "require('$repo/package.json').devDependencies['@types/node']")"
mkdir "$work/consumer"
cd "$work/consumer"
echo '{ "name": "consumer", "version": "1.0.0", "private": true, "type": "module" }' > package.json
npm install --no-audit --no-fund --silent "$tarball" "typescript@$ts_version" "@types/node@$types_version"
[ ! -e node_modules/fast-check ] || fail "fast-check was installed; it must stay an optional peer"
cat > tsconfig.json <<'JSON'
{
  "compilerOptions": {
    "target": "ES2022", "module": "NodeNext", "moduleResolution": "NodeNext", "lib": ["ES2023"],
    "types": ["node"], "strict": true, "noUncheckedIndexedAccess": true, "exactOptionalPropertyTypes": true,
    "skipLibCheck": false, "noEmit": true
  },
  "include": ["main.ts"]
}
JSON
cat > main.ts <<'TS'
import { RaftNode, LevelStorage, QuorateError } from 'quorate'
import type { RaftNodeOptions, StateMachine } from 'quorate'
import { MemoryNetwork } from 'quorate/transport'
import { runSimulation, ManualClock, CrashStorage, withMutations } from 'quorate/testing'
import type { SimulationResult, NodeMutations } from 'quorate/testing'

const network = new MemoryNetwork()
const machine: StateMachine = { apply: () => null }
const options: RaftNodeOptions = { id: 'a', voters: ['a'], storage: new CrashStorage(), transport: network.transport('a'), stateMachine: machine }
const node = new RaftNode(options)
const broken: NodeMutations = { staleReads: true }
const mutant: RaftNodeOptions = withMutations(options, broken)
const result: Promise<SimulationResult> = runSimulation({ seed: 1 })
// The test hooks are not on the public types.
// @ts-expect-error no public mutations option
const bad: RaftNodeOptions = { ...options, mutations: { staleReads: true } }
// @ts-expect-error no debugCore()
node.debugCore()
void [mutant, result, bad, new ManualClock(), LevelStorage, QuorateError]
TS
./node_modules/.bin/tsc -p tsconfig.json || fail "the consumer program does not type-check"
node -e "Promise.all(['quorate', 'quorate/testing', 'quorate/transport', 'quorate/lamport', 'quorate/lease', 'quorate/cluster'].map((m) => import(m))).catch((e) => { console.error(e); process.exit(1) })" || fail "an entry point does not load"
./node_modules/.bin/quorate-node --version >/dev/null || fail "quorate-node --version"
./node_modules/.bin/quorate-sim --version >/dev/null || fail "quorate-sim --version"
./node_modules/.bin/quorate --version >/dev/null || fail "quorate --version"
status=0; ./node_modules/.bin/quorate status 2>/dev/null || status=$?
[ "$status" = 2 ] || fail "quorate status without --endpoint exited $status, not 2"
status=0; ./node_modules/.bin/quorate-sim --sedes 5 2>/dev/null || status=$?
[ "$status" = 2 ] || fail "quorate-sim --sedes 5 exited $status, not 2"
./node_modules/.bin/quorate-transponder --version >/dev/null || fail "quorate-transponder --version"
status=0; ./node_modules/.bin/quorate-transponder --confg t1.json 2>/dev/null || status=$?
[ "$status" = 2 ] || fail "quorate-transponder --confg exited $status, not 2"
echo "check-package: ok (no test code, no source maps, strict consumer type-checks without fast-check, bins run)"
