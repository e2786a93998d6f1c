#!/usr/bin/env bash
# Flakiness check: runs the test suite several times, shuffled (a new seed each run),
# while a CPU burner keeps every core busy, and reports every test that failed in any run.
#   scripts/flaky-check.sh [-n RUNS] [-b BURNERS] [vitest args...]
#   scripts/flaky-check.sh -n 3                          # the whole suite, 3 runs
#   scripts/flaky-check.sh -n 2 --project integration    # only the integration tests
#   npm run test:flaky -- -n 3
# RUNS defaults to 3 (VELTRIX_FLAKY_RUNS), BURNERS to the number of cores (0: no load).
# Each run's log and JSON report are kept in .tmp/flaky/<time>/. The last line is
#   flaky-check: N runs, M tests failed at least once
# and the exit status is 0 only when no test ever failed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${VELTRIX_FLAKY_RUNS:-3}"
burners="$(nproc)"
while [ $# -gt 0 ]; do
  case "$1" in
    -n) runs="$2"; shift 2 ;;
    -b) burners="$2"; shift 2 ;;
    *) break ;;
  esac
done

# shellcheck source=lib/setup.sh
. "$root/scripts/lib/setup.sh"
veltrix_setup

out="$root/.tmp/flaky/$(date -u +%Y-%m-%dT%H-%M-%SZ)"
mkdir -p "$out"

# The load: one busy loop per core, at normal priority, for the whole check.
pids=()
stop_burners() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
}
trap stop_burners EXIT
for _ in $(seq 1 "$burners"); do
  sh -c 'while :; do :; done' &
  pids+=("$!")
done
echo "flaky-check: $runs runs, $burners CPU burners, logs in $out"

for i in $(seq 1 "$runs"); do
  seed=$((RANDOM * 32768 + RANDOM))
  started=$(date +%s)
  status=0
  npx vitest run --sequence.shuffle --sequence.seed="$seed" \
    --reporter=default --reporter=./test/harness/totals-reporter.ts \
    --reporter=json --outputFile.json="$out/run-$i.json" "$@" \
    >"$out/run-$i.log" 2>&1 || status=$?
  totals="$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out/run-$i.log" | tail -n 1 || true)"
  echo "flaky-check: run $i (seed $seed): ${totals:-no totals} in $(($(date +%s) - started)) s (exit $status)"
  echo "$seed" >"$out/run-$i.seed"
done

# Every test that failed in any run, with the runs (and seeds) it failed in. A run that
# produced no JSON (vitest itself failed) counts as a failure of the run.
node - "$out" "$runs" <<'EOF'
const { existsSync, readFileSync, writeFileSync } = require("node:fs");
const { join, relative } = require("node:path");
const [dir, runs] = [process.argv[2], Number(process.argv[3])];
const failed = new Map();
const note = (name, run) => failed.set(name, [...(failed.get(name) ?? []), run]);
for (let i = 1; i <= runs; i++) {
  const seed = readFileSync(join(dir, `run-${i}.seed`), "utf8").trim();
  const file = join(dir, `run-${i}.json`);
  const run = `run ${i} (seed ${seed})`;
  if (!existsSync(file)) {
    note("(the whole run: no JSON report; see its log)", run);
    continue;
  }
  const report = JSON.parse(readFileSync(file, "utf8"));
  for (const f of report.testResults ?? []) {
    const path = relative(process.cwd(), f.name);
    const tests = f.assertionResults ?? [];
    // A file that failed outside its tests (an import error, a failing hook).
    if (f.status === "failed" && !tests.some((t) => t.status === "failed")) note(`${path} (file: ${f.message ?? "failed"})`.slice(0, 300), run);
    for (const t of tests) if (t.status === "failed") note(`${path} > ${t.fullName}`, run);
  }
}
const lines = [...failed].sort().map(([name, where]) => `  ${where.length}/${runs}  ${name}  [${where.join(", ")}]`);
const summary = [`flaky-check: failed at least once:`, ...(lines.length ? lines : ["  (none)"])].join("\n");
writeFileSync(join(dir, "summary.txt"), summary + "\n");
console.log(summary);
console.log(`flaky-check: ${runs} runs, ${failed.size} tests failed at least once`);
process.exit(failed.size === 0 ? 0 : 1);
EOF
