#!/usr/bin/env bash
# Run an experiment N times in a row and tally its verdicts: the same experiment must give the same verdict
# every time. usage: scripts/stability.sh [N=10] [EXPERIMENT=rollout-syn-flood] [extra notdns run args, e.g. --fast]
# Writes notdns-out/stability-<time>/{run-*/,tally.md}. Exit 0 only when every run passed.
set -uo pipefail
cd "$(dirname "$0")/.."
n=${1:-10}; exp=${2:-rollout-syn-flood}; shift 2 2>/dev/null || shift $#
out=notdns-out/stability-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
codes=()
for i in $(seq 1 "$n"); do
  t0=$(date +%s)
  bin/notdns run "$exp" "$@" --quiet --out "$out/run-$i" > "$out/run-$i.txt" 2>&1
  c=$?; codes+=("$c")
  echo "run $i/$n: exit $c ($(( $(date +%s) - t0 )) s, load $(cut -d' ' -f1 /proc/loadavg))"
done
{
  echo "# $exp × $n ($*) on $(uname -r), $(nproc) cores, $(date -u +%FT%TZ)"
  echo
  echo "exit codes: ${codes[*]}"
  echo
  echo "| variant | expectation | passed | measured (min … max) |"
  echo "|---|---|---|---|"
  jq -rs '[.[].verdict.expectations[]] | group_by(.variant + " " + .label)[]
    | "| \(.[0].variant) | \(.[0].label) | \(map(select(.pass)) | length)/\(length) | \(map(.measured // 0) | min | . * 100 | round / 100) … \(map(.measured // 0) | max | . * 100 | round / 100) |"' \
    "$out"/run-*/results.json
} > "$out/tally.md"
cat "$out/tally.md"
for c in "${codes[@]}"; do [ "$c" = 0 ] || exit 1; done
