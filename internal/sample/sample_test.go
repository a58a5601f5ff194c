package sample

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func readAll(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if b, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func TestDeterministic(t *testing.T) {
	o := DefaultOptions()
	o.Calls = 2000
	a, err := Write(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Write(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if !bytes.Equal(readAll(t, a[i]), readAll(t, b[i])) {
			t.Errorf("%s differs between two runs", filepath.Base(a[i]))
		}
	}
	o.Seed = 2
	c, _ := Write(t.TempDir(), o)
	if bytes.Equal(readAll(t, a[0]), readAll(t, c[0])) {
		t.Error("another seed wrote the same bytes")
	}
}

func TestShape(t *testing.T) {
	for _, o := range []Options{
		DefaultOptions(),
		{Calls: 5000, Seed: 3, Files: 6, Gzip: true, Start: DefaultOptions().Start, Days: 3, Malformed: 12, AnomalyRate: 0.1},
		{Calls: 40, Seed: 4, Files: 1, Start: DefaultOptions().Start, Days: 1, Malformed: 0},
	} {
		var planted []Planted
		o.Planted = func(p Planted) { planted = append(planted, p) }
		paths, err := Write(t.TempDir(), o)
		if err != nil {
			t.Fatal(err)
		}
		if len(paths) != o.Files {
			t.Fatalf("%d files, want %d", len(paths), o.Files)
		}
		calls, bad, crlf := 0, 0, 0
		lineCount := make([]int64, len(paths))
		for i, p := range paths {
			if gz := strings.HasSuffix(p, ".gz"); gz != (o.Gzip || (o.GzipOne && i == len(paths)-1)) {
				t.Errorf("%s: gzip %v", p, gz)
			}
			data := readAll(t, p)
			crlf += bytes.Count(data, []byte("\r\n"))
			sc := bufio.NewScanner(bytes.NewReader(data)) // drops the \r of CRLF
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				lineCount[i]++
				line := sc.Bytes()
				if len(bytes.TrimSpace(line)) == 0 {
					continue
				}
				var m map[string]any
				if !utf8.Valid(line) || json.Unmarshal(line, &m) != nil {
					bad++
					continue
				}
				if a, _ := m["action_type"].(string); a == "" || m["ts"] == "yesterday" {
					bad++
					continue
				}
				calls++
			}
		}
		if calls != o.Calls || bad != o.Malformed {
			t.Errorf("%+v: %d calls and %d malformed lines, want %d and %d", o, calls, bad, o.Calls, o.Malformed)
		}
		if (crlf > 0) != (o.Files > 1 && !o.Gzip) {
			t.Errorf("%d CRLF lines", crlf)
		}
		kinds := map[string]bool{}
		for _, p := range planted {
			kinds[p.Kind] = true
			for _, c := range p.Calls {
				if c.Line < 1 || c.Line > lineCount[c.File] {
					t.Errorf("planted %s: line %d:%d out of range", p.Kind, c.File, c.Line)
				}
			}
		}
		if o.Calls >= 500 {
			for _, k := range Anomalies {
				if !kinds[k] {
					t.Errorf("%+v: no %s planted", o, k)
				}
			}
		}
	}
}
