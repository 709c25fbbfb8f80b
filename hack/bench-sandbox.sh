#!/usr/bin/env bash
# The sandbox's cost per command (docs/benchmarks.md): a bash task running
# /bin/true, unconfined and sandboxed, five times; prints each run's ratio
# of medians and the median of the five, against the 1.2x target. Needs
# Landlock (Linux 6.2+); run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
ratios=$(go test ./runner/shell -run '^$' -bench '^BenchmarkTrue$' -benchtime 2000x -count "$runs" |
	awk '/^BenchmarkTrue/ { for (i = 1; i <= NF; i++) if ($(i+1) == "ratio") print $i }')
if [ -z "$ratios" ]; then
	echo "no ratio reported (is Landlock available here?)" >&2
	exit 1
fi
echo "ratios: $(echo $ratios)"
median=$(printf '%s\n' $ratios | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
echo "median: ${median}x (target 1.2x)"
awk -v m="$median" 'BEGIN { exit !(m <= 1.2) }'
