// Command baseline is the benchmark's yardstick: the DuckDB SQL an expert
// would write by hand for the two findings that matter most, run on the
// same files as idemaudit. It does far less than idemaudit (two rules, no
// line numbers, canonical args or malformed-line report; read_json's
// ignore_errors also drops the valid line after a truncated one).
//
//	go run ./bench/baseline DIR
package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
)

const load = `CREATE TABLE calls AS
SELECT CASE WHEN json_type(ts) = 'VARCHAR' THEN TRY_CAST(ts->>'$' AS TIMESTAMPTZ)
            WHEN TRY_CAST(ts AS DOUBLE) >= 1e12 THEN to_timestamp(TRY_CAST(ts AS DOUBLE) / 1000)
            ELSE to_timestamp(TRY_CAST(ts AS DOUBLE)) END AS t,
       action_type, idempotency_key, response_id, session_id, args
FROM read_json(%s, format = 'newline_delimited', ignore_errors = true,
     columns = {ts: 'JSON', action_type: 'VARCHAR', idempotency_key: 'VARCHAR',
                response_id: 'VARCHAR', session_id: 'VARCHAR', args: 'JSON'})`

const sameKey = `SELECT count(*) FROM (
  SELECT idempotency_key FROM calls WHERE idempotency_key IS NOT NULL
  GROUP BY idempotency_key HAVING count(DISTINCT response_id) > 1)`

const repeats = `SELECT count(*) FROM (
  SELECT t - lag(t) OVER (PARTITION BY action_type, md5(args::VARCHAR) ORDER BY t) AS gap
  FROM calls WHERE idempotency_key IS NULL)
WHERE gap <= INTERVAL 10 MINUTE`

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: baseline DIR")
		os.Exit(2)
	}
	files, _ := filepath.Glob(filepath.Join(os.Args[1], "*.jsonl*"))
	quoted := make([]string, len(files))
	for i, f := range files {
		quoted[i] = "'" + strings.ReplaceAll(f, "'", "''") + "'"
	}
	ctx := context.Background()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		fail(err)
	}
	defer db.Close()
	start := time.Now()
	if _, err := db.ExecContext(ctx, fmt.Sprintf(load, "["+strings.Join(quoted, ", ")+"]")); err != nil {
		fail(err)
	}
	loaded := time.Since(start)
	var n, dup, rep int64
	db.QueryRowContext(ctx, "SELECT count(*) FROM calls").Scan(&n)
	if err := db.QueryRowContext(ctx, sameKey).Scan(&dup); err != nil {
		fail(err)
	}
	if err := db.QueryRowContext(ctx, repeats).Scan(&rep); err != nil {
		fail(err)
	}
	fmt.Printf("rows %d, keys with several responses %d, keyless repeats %d; load %.2fs, total %.2fs\n",
		n, dup, rep, loaded.Seconds(), time.Since(start).Seconds())
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "baseline:", err)
	os.Exit(1)
}
