package ingest

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/idemaudit/idemaudit/internal/config"
)

// readParquet reads a Parquet export (Langfuse's blob export and LangSmith's
// bulk export default to it) through a DuckDB of its own: each row, as
// JSON, is one record; a call's line is its row number (1-based).
func readParquet(ctx context.Context, path string, cfg *config.Config, keepArgs bool, im *Import, deliver func(batch) error) (Format, error) {
	// DuckDB reads a path as a glob (runs[1].parquet, runs?.parquet): it
	// reads the file through a link of a plain name instead, and spills
	// (were it to) into a private directory
	tmp, err := newSpillDir()
	if err != nil {
		return "", err
	}
	defer removeSpillDir(tmp)
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	link := filepath.Join(tmp, "source.parquet")
	if err := os.Symlink(abs, link); err != nil {
		return "", err
	}
	c, err := duckdb.NewConnector("", nil)
	if err != nil {
		return "", err
	}
	defer c.Close()
	db := sql.OpenDB(c)
	defer db.Close()
	if _, err := db.ExecContext(ctx, "SET memory_limit = "+quoteLiteral(DefaultMemoryLimit())+"; SET temp_directory = "+quoteLiteral(tmp)); err != nil {
		return "", err
	}
	rows, err := db.QueryContext(ctx, "SELECT to_json(t)::VARCHAR FROM read_parquet("+quoteLiteral(link)+") AS t")
	if err != nil {
		return "", fmt.Errorf("read Parquet: %w", err)
	}
	defer rows.Close()
	f := im.From
	var p *Parser
	b := batch{}
	var row int64
	for rows.Next() {
		var js string
		if err := rows.Scan(&js); err != nil {
			return f, err
		}
		row++
		b.lines++
		v, err := decodeJSON([]byte(js))
		if err != nil {
			b.malformed = append(b.malformed, Malformed{row, "row: " + err.Error()})
			continue
		}
		if p == nil {
			if f == "" || f == FormatAuto {
				if f = detect(v); f == "" {
					f = FormatJSONL
				}
			}
			p = &Parser{cfg: cfg, keepArgs: keepArgs, conv: (&convSpec{f, im}).converter()}
		}
		p.importValue(v, row, &b)
		if b.lines >= 4096 {
			if err := deliver(b); err != nil {
				return f, err
			}
			b = batch{}
		}
	}
	if err := rows.Err(); err != nil {
		return f, fmt.Errorf("read Parquet: %w", err)
	}
	if f == "" || f == FormatAuto {
		f = FormatJSONL
	}
	return f, deliver(b)
}
