#!/usr/bin/env bash
# make bench: every figure of BENCHMARKS.md, against the DynamoDB Local that
# `ddb run` started (go run ./infra/cmd/ddb run -- infra/bench/run.sh).
#
#   1. the Go benchmarks of ./shared/..., -benchmem, BENCH_COUNT runs each;
#   2. their medians and 95 % confidence intervals (golang.org/x/perf's
#      benchfmt and benchmath, as benchstat), the ratio, time and allocation
#      targets on those medians (infra/bench/ratios), and the cost of a
#      million authorizations, management operations and metered calls
#      (usage writes per call: BenchmarkMeteredWrites) priced from them
#      (infra/bench/cost);
#   3. binary size, cold start and memory of the real functions through the
#      Lambda Runtime Interface Emulator (infra/bench/coldstart);
#   4. requests/s of GET /v1/whoami on the make run stack under vegeta
#      (infra/bench/throughput);
#   5. the scale model of docs/scale.md (infra/scalesim);
#   6. what a GitHub secret-scanning alert of 1,000 tokens costs
#      (infra/bench/leakalert).
#
# Every step runs and prints; the exit status is 1 if any target was missed
# or any step failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
: "${DYNAMODB_ENDPOINT:?run under infra/cmd/ddb run}"
GO=${GO:-go}
COUNT=${BENCH_COUNT:-6}
PKGS=${BENCH_PKGS:-./shared/...}
OUT=.build/bench
mkdir -p "$OUT"

failed=()
step() { printf '\n==== %s\n\n' "$1"; }

step "machine"
echo "date:     $(date -u +%Y-%m-%dT%H:%MZ)"
echo "go:       $($GO version)"
echo "cpu:      $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs"
echo "memory:   $(free -m 2>/dev/null | awk '/^Mem:/ {print $2 " MiB"}')"
echo "load avg: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"

step "go test -run '^\$' -bench . -benchmem -count $COUNT -p 1 $PKGS"
if ! $GO test -run '^$' -bench . -benchmem -count "$COUNT" -p 1 $PKGS | tee "$OUT/go-bench.txt"; then
  failed+=("go benchmarks")
fi

step "medians ± 95% confidence interval, targets on the medians (go run ./infra/bench/ratios $OUT/go-bench.txt)"
$GO run ./infra/bench/ratios "$OUT/go-bench.txt" || failed+=("ratio targets")

step "cost per million (go run ./infra/bench/cost $OUT/go-bench.txt, prices in BENCHMARKS.md)"
$GO run ./infra/bench/cost "$OUT/go-bench.txt" || failed+=("cost")

step "binary size, cold start and memory (go run ./infra/bench/coldstart)"
$GO run ./infra/bench/coldstart ${COLDSTART_FLAGS:-} || failed+=("cold start targets")

step "throughput of the make run stack (go run ./infra/bench/throughput)"
$GO run ./infra/bench/throughput ${THROUGHPUT_FLAGS:-} || failed+=("throughput")

step "scale model (go run ./infra/scalesim, docs/scale.md)"
$GO run ./infra/scalesim || failed+=("scale model")

step "a secret-scanning alert of 1,000 tokens, 10 real (go run ./infra/bench/leakalert)"
$GO run ./infra/bench/leakalert || failed+=("secret-scanning alert")

echo
if [ ${#failed[@]} -gt 0 ]; then
  printf 'make bench: FAILED:'; printf ' [%s]' "${failed[@]}"; echo
  exit 1
fi
echo "make bench: every target met"
