#!/usr/bin/env bash
# make bench: idemaudit against a hand-written DuckDB SQL baseline on the
# same generated corpora; wall time, MB/s, lines/s and peak RSS of each step.
# Corpora are cached in .bench/ (deterministic: same seed, same bytes).
# BENCH_SIZES="1000000" to skip the 10M corpus (about 6 GB, 3 minutes to write).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=bin/idemaudit
BASE=bin/baseline
SIZES=${BENCH_SIZES:-1000000 10000000}
OUT=bench/results.md
command -v /usr/bin/time >/dev/null || { echo "bench needs /usr/bin/time (GNU time)"; exit 2; }
mkdir -p .bench bench

corpus() { # corpus N: .bench/N
	local n=$1 dir=.bench/$1
	if [ ! -f "$dir/.done" ]; then
		rm -rf "$dir"
		echo "writing $n calls to $dir ..." >&2
		$BIN sample --calls "$n" --files 8 --seed 42 "$dir" >/dev/null
		touch "$dir/.done"
	fi
}

# BENCH_REPEAT=N runs each step N times and keeps the fastest (and the
# largest peak RSS): wall times on a shared machine vary by ±15% or more.
REPEAT=${BENCH_REPEAT:-1}

# measure NAME CALLS MB BASEWALL CMD...: one table row
measure() {
	local name=$1 calls=$2 mb=$3 basewall=$4; shift 4
	local wall="" rss=0 w r i
	for ((i = 0; i < REPEAT; i++)); do
		/usr/bin/time -f '%e %M' -o .bench/time.txt "$@" >/dev/null 2>.bench/stderr.txt || { cat .bench/stderr.txt >&2; exit 1; }
		read -r w r < .bench/time.txt
		if [ -z "$wall" ] || awk -v a="$w" -v b="$wall" 'BEGIN { exit !(a < b) }'; then wall=$w; fi
		if [ "$r" -gt "$rss" ]; then rss=$r; fi
	done
	awk -v name="$name" -v n="$calls" -v mb="$mb" -v w="$wall" -v r="$rss" -v b="$basewall" 'BEGIN {
		ratio = (b > 0) ? sprintf("%.2f", w / b) : ""
		printf "| %-34s | %10d | %8.2f | %8.1f | %12.0f | %8.0f | %6s |\n", name, n, w, mb / w, n / w, r / 1024, ratio }'
	echo "$wall" > .bench/last-wall
}

rows=()
header='| step | calls | wall s | MB/s | lines/s | peak MB | ÷ baseline |
|---|--:|--:|--:|--:|--:|--:|'
declare -A walls
for n in $SIZES; do
	corpus "$n"
	dir=.bench/$n
	mb=$(zcat -f "$dir"/*.jsonl* | wc -c | awk '{printf "%.0f", $1 / 1e6}')
	rows+=("$(measure "baseline SQL (2 rules)" "$n" "$mb" 0 $BASE "$dir")")
	base=$(cat .bench/last-wall)
	rows+=("$(measure "audit --format json (all rules)" "$n" "$mb" "$base" $BIN audit -q -f json -o /dev/null "$dir")")
	walls[$n]=$(cat .bench/last-wall)
	# a new database each time (the removal is part of the measured command, and negligible)
	rows+=("$(measure "ingest --db (new file)" "$n" "$mb" "$base" sh -c 'rm -f "$1" "$1.wal"; exec "$2" ingest -q --db "$1" "$3"' - .bench/db-$n.duckdb $BIN "$dir")")
	rows+=("$(measure "report --db (json)" "$n" "$mb" "$base" $BIN report --db .bench/db-$n.duckdb --since 2000-01-01 -f json -o /dev/null)")
	rows+=("$(measure "ingest --db again (unchanged)" "$n" "$mb" 0 $BIN ingest -q --db .bench/db-$n.duckdb "$dir")")
done

# pathological groups: no rule may be quadratic in group size
p=.bench/patho
if [ ! -f $p/.done ]; then
	mkdir -p $p
	awk 'BEGIN { for (i = 0; i < 100000; i++) printf "{\"ts\":%d,\"action_type\":\"charge\",\"idempotency_key\":\"k\",\"response_id\":\"r%d\",\"effect\":\"created\"}\n", 1794787200 + i, i }' > $p/one-key.jsonl
	awk 'BEGIN { for (i = 0; i < 1000000; i++) printf "{\"ts\":%d,\"action_type\":\"post\",\"session_id\":\"s\",\"response_id\":\"r%d\"}\n", 1794787200 + i, i }' > $p/one-session.jsonl
	touch $p/.done
fi
if [ ! -f $p/one-action.jsonl ]; then # half keyed, half keyless: missing-key's one group of 5M calls
	awk 'BEGIN { for (i = 0; i < 10000000; i++) { k = (i % 2) ? "" : sprintf(",\"idempotency_key\":\"k%d\"", i)
		printf "{\"ts\":%.0f,\"action_type\":\"send\"%s,\"response_id\":\"r%d\",\"args\":{\"n\":%d}}\n", 1794787200000 + i, k, i, i } }' > $p/one-action.tmp
	mv $p/one-action.tmp $p/one-action.jsonl
fi
if [ ! -f $p/one-chain.jsonl ]; then # an agent stuck in a retry loop: one keyless chain of 3M calls
	awk 'BEGIN { for (i = 0; i < 3000000; i++) printf "{\"ts\":%d,\"action_type\":\"send_email\",\"response_id\":\"r%d\",\"args\":{\"to\":\"a@example.com\"}}\n", 1794787200 + i, i }' > $p/one-chain.tmp
	mv $p/one-chain.tmp $p/one-chain.jsonl
fi
for f in one-key one-session one-action one-chain; do
	n=$(wc -l < $p/$f.jsonl)
	mb=$(du -m $p/$f.jsonl | cut -f1)
	rows+=("$(measure "audit: $f.jsonl (one group)" "$n" "$mb" 0 $BIN audit -q -f json -o /dev/null $p/$f.jsonl)")
done

linear=""
if [ -n "${walls[1000000]:-}" ] && [ -n "${walls[10000000]:-}" ]; then
	linear=$(awk -v a="${walls[1000000]}" -v b="${walls[10000000]}" 'BEGIN { printf "time(10M) / time(1M) for audit: %.1f (target ≤ 11)", b / a }')
fi

{
	echo "# Benchmark results"
	echo
	echo "$(date -u +%Y-%m-%d) · $(nproc) cores · $(awk '/MemTotal/ {printf "%.0f GB", $2 / 1048576}' /proc/meminfo) RAM · $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//') · idemaudit $($BIN --version | cut -d' ' -f2)"
	echo
	echo "Page cache warm; MB are decompressed JSONL; each step the fastest of $REPEAT run(s) (BENCH_REPEAT), peak RSS the largest."
	echo "\"÷ baseline\" is the wall time over the baseline's"
	echo "(bench/baseline: read_json with explicit columns, GROUP BY key HAVING count(DISTINCT response_id) > 1,"
	echo "LAG over (action_type, md5(args)) with a 10-minute window), which does far less."
	echo
	echo "$header"
	printf '%s\n' "${rows[@]}"
	[ -n "$linear" ] && { echo; echo "$linear"; }
} > $OUT
cat $OUT
