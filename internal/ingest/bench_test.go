package ingest

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/idemaudit/idemaudit/internal/config"
	"github.com/idemaudit/idemaudit/internal/sample"
)

// benchLines writes a generated sample once and returns its lines.
func benchLines(b *testing.B) ([][]byte, int64) {
	b.Helper()
	data := sampleLog(b, sample.Options{Calls: 50000, Seed: 7, AnomalyRate: 0.01})
	var lines [][]byte
	s := bufio.NewScanner(bytes.NewReader(data))
	s.Buffer(nil, 1<<20)
	for s.Scan() {
		lines = append(lines, append([]byte(nil), s.Bytes()...))
	}
	return lines, int64(len(data))
}

// sampleLog is the content of a generated log of one file over a week from
// 2026-11-16 (o's Files, Start and Days are set here).
func sampleLog(tb testing.TB, o sample.Options) []byte {
	tb.Helper()
	dir := tb.TempDir()
	o.Files, o.Start, o.Days = 1, time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC), 7
	files, err := sample.Write(dir, o)
	if err != nil {
		tb.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, filepath.Base(files[0])))
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// BenchmarkParse is one parser over generated lines (one core).
func BenchmarkParse(b *testing.B) { benchParse(b, "") }

// BenchmarkParseIgnore is BenchmarkParse with a configuration that leaves a
// path out of every action's args (the sample's own).
func BenchmarkParseIgnore(b *testing.B) {
	benchParse(b, "[actions.\"*\"]\nignore = [\"metadata.request_id\"]\n")
}

func benchParse(b *testing.B, toml string) {
	lines, size := benchLines(b)
	var p Parser
	if toml != "" {
		cfg, err := config.Parse("x.toml", []byte(toml))
		if err != nil {
			b.Fatal(err)
		}
		p.cfg = cfg
	}
	var r Record
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, l := range lines {
			p.Parse(l, &r)
		}
	}
}

// BenchmarkIngest is a whole ingest of the same lines into an in-memory database.
func BenchmarkIngest(b *testing.B) {
	lines, size := benchLines(b)
	data := bytes.Join(lines, []byte{'\n'})
	ctx := context.Background()
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		db, err := Open(ctx, "", Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := db.IngestReader(ctx, "bench", bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
		db.Close()
	}
}
