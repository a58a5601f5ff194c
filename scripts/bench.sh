#!/usr/bin/env bash
# make bench: end-to-end audit of generated corpora, wall time and peak RSS.
# Corpora are cached in .bench/ (deterministic: same seed, same bytes).
# The hand-written DuckDB SQL baseline of the performance issue is not here yet.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=bin/idemaudit
SIZES=${BENCH_SIZES:-1000000}
command -v /usr/bin/time >/dev/null || { echo "bench needs /usr/bin/time (GNU time)"; exit 2; }
printf '%-10s %10s %10s %10s %12s %10s\n' calls MB wall_s MB/s lines/s peak_MB
for n in $SIZES; do
	dir=.bench/$n
	if [ ! -f "$dir/.done" ]; then
		rm -rf "$dir"
		$BIN sample --calls "$n" --files 8 --seed 42 "$dir" >/dev/null
		touch "$dir/.done"
	fi
	mb=$(du -smL "$dir" | cut -f1)
	/usr/bin/time -f '%e %M' -o .bench/time.txt $BIN audit -q -f json -o .bench/report.json "$dir"
	read -r wall rss < .bench/time.txt
	awk -v n="$n" -v mb="$mb" -v w="$wall" -v r="$rss" 'BEGIN {
		printf "%-10d %10d %10.2f %10.1f %12.0f %10.0f\n", n, mb, w, mb / w, n / w, r / 1024 }'
done
