package rules_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idemaudit/idemaudit/internal/ingest"
	"github.com/idemaudit/idemaudit/internal/rules"
)

// auditFiles writes each named file with its lines, ingests them in name
// order into a fresh in-memory DuckDB and runs the whole catalogue.
func auditFiles(t *testing.T, window time.Duration, files map[string][]string) *rules.Result {
	t.Helper()
	if window == 0 {
		window = rules.DefaultWindow
	}
	return auditWith(t, rules.Options{Window: window}, files)
}

// auditWith is auditFiles with every option.
func auditWith(t *testing.T, o rules.Options, files map[string][]string) *rules.Result {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := ingest.Open(ctx, "", ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var names []string
	for name := range files {
		names = append(names, name)
	}
	sortStrings(names)
	for _, name := range names {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Join(files[name], "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := db.IngestFile(ctx, p); err != nil {
			t.Fatalf("ingest %s: %v", name, err)
		}
	}
	res, err := rules.Audit(ctx, db.Conn, o)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func auditLines(t *testing.T, lines ...string) *rules.Result {
	t.Helper()
	return auditFiles(t, 0, map[string][]string{"a.jsonl": lines})
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// findings returns the findings of one rule.
func findings(res *rules.Result, rule string) []rules.Finding {
	var out []rules.Finding
	for _, f := range res.Findings {
		if f.Rule == rule {
			out = append(out, f)
		}
	}
	return out
}

// lines lists the evidence line numbers of a finding.
func lines(f rules.Finding) []int64 {
	var out []int64
	for _, c := range f.Calls {
		out = append(out, c.Line)
	}
	return out
}
