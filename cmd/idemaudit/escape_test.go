package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// invisible are characters a reader cannot see, or cannot tell from a
// plain space: a key holding one reads as another key. The reports must
// show them as escapes, the JSON report exactly.
var invisible = map[rune]string{
	0x00a0:  `\u00a0`,     // no-break space
	0x00ad:  `\u00ad`,     // soft hyphen
	0x206a:  `\u206a`,     // inhibit symmetric swapping
	0x3164:  `\u3164`,     // Hangul filler
	0xfe0f:  `\ufe0f`,     // variation selector 16
	0x180b:  `\u180b`,     // Mongolian free variation selector
	0xe0041: `\U000e0041`, // tag latin capital A ("ASCII smuggling")
	0xe0100: `\U000e0100`, // variation selector 17
}

func TestInvisibleCharactersAreShownEscaped(t *testing.T) {
	dir := t.TempDir()
	var lines strings.Builder
	for r := range invisible {
		v := "k" + string(r) + "1"
		for i := range 2 {
			rec, _ := json.Marshal(map[string]any{"ts": fmt.Sprintf("2026-11-16T09:00:%02dZ", i*10), "action_type": "charge" + string(r),
				"idempotency_key": v, "response_id": fmt.Sprintf("%s_%d", v, i), "args": map[string]any{"a": 1}})
			lines.Write(append(rec, '\n'))
		}
	}
	p := writeFile(t, dir, "calls.jsonl", lines.String())
	outs := map[string]string{}
	for _, format := range []string{"table", "markdown"} {
		outs["audit "+format] = run(t, nil, "audit", "-q", "-f", format, p).stdout
		for r := range invisible {
			outs[fmt.Sprintf("explain %s %U", format, r)] = run(t, nil, "explain", "-q", "-f", format, "--key", "k"+string(r)+"1", p).stdout
		}
	}
	for name, out := range outs {
		for r, esc := range invisible {
			if strings.ContainsRune(out, r) {
				t.Errorf("%s: %U reaches the output", name, r)
			}
			if strings.HasPrefix(name, "audit") && !strings.Contains(out, "k"+esc+"1") {
				t.Errorf("%s: %U is not shown as %s", name, r, esc)
			}
		}
	}
	var rep struct {
		Findings []struct {
			Key string `json:"idempotency_key"`
		}
	}
	if err := json.Unmarshal([]byte(run(t, nil, "audit", "-q", "-f", "json", filepath.Join(dir, "calls.jsonl")).stdout), &rep); err != nil {
		t.Fatal(err)
	}
	exact := 0
	for _, f := range rep.Findings {
		for r := range invisible {
			if f.Key == "k"+string(r)+"1" {
				exact++
			}
		}
	}
	if exact != len(rep.Findings) || exact == 0 {
		t.Errorf("the JSON report carries %d of %d keys exactly", exact, len(rep.Findings))
	}
}

// A newline in a file name must not start a line of its own on stderr or
// in ingest's per-file lines: it would forge a message.
func TestNewlineInFileNameForgesNoLine(t *testing.T) {
	dir := t.TempDir()
	forged := "idemaudit: all inputs read, nothing to see"
	writeFile(t, dir, "a\n"+forged+".jsonl", high+"not json\n")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(strings.Repeat(high, 200)))
	zw.Close()
	writeFile(t, dir, "b\n"+forged+".jsonl.gz", gz.String()[:gz.Len()/2]) // truncated: the file fails by name
	for _, args := range [][]string{
		{"audit", "-f", "json", dir},
		{"ingest", "--db", filepath.Join(t.TempDir(), "a.duckdb"), dir},
		{"explain", "--key", "nope", dir},
	} {
		r := run(t, nil, args...)
		if r.code != 2 {
			t.Errorf("%s: exit %d, want 2 (the truncated file)", args[0], r.code)
		}
		for _, out := range []string{r.stdout, r.stderr} {
			for _, line := range strings.Split(out, "\n") {
				if strings.HasPrefix(line, forged) {
					t.Errorf("%s: a file name printed a line of its own:\n%s", args[0], out)
				}
			}
		}
		if !strings.Contains(r.stderr, `\n`+forged) {
			t.Errorf("%s: the file name is not shown escaped:\n%s", args[0], r.stderr)
		}
	}
}

// A record id holding ": " is redacted whole in the record's error, not
// up to its first ": ".
func TestRedactRecordIDWithColon(t *testing.T) {
	p := writeFile(t, t.TempDir(), "spans.jsonl", `{"object":"trace.span","id":"span_SECRETX: SECRETTAIL","trace_id":"t","started_at":"2026-11-18T15:14:05Z","ended_at":"2026-11-18T15:14:35Z","span_data":{"type":"function","name":"","input":"{}"},"error":null}
`)
	for _, format := range []string{"json", "markdown", "table"} {
		if plain := run(t, nil, "audit", "-q", "-f", format, p).stdout; !strings.Contains(plain, "SECRETTAIL") {
			t.Fatalf("%s: the error does not name the span, nothing to redact:\n%s", format, plain)
		}
		r := run(t, nil, "audit", "-q", "--redact", "-f", format, p)
		if strings.Contains(r.stdout, "SECRET") || !strings.Contains(r.stdout, "a function span without a name") {
			t.Errorf("%s: a part of the span id shows, or the error is gone:\n%s", format, r.stdout)
		}
	}
}

// The JSON outputs carry a value exactly, but a C1 control (CSI U+009B
// acts on a terminal as ESC [ does), a bidi override or an invisible
// character is written as a \u escape, as encoding/json writes ESC.
func TestJSONEscapesC1AndInvisibleCharacters(t *testing.T) {
	key := "k\u009b2J\u202e\U000e0041\u00ad"
	var lines strings.Builder
	for i := range 2 {
		rec, _ := json.Marshal(map[string]any{"ts": fmt.Sprintf("2026-11-16T09:00:%02dZ", i*10), "action_type": "charge\u009b31m",
			"idempotency_key": key, "response_id": fmt.Sprintf("r\u202e%d", i), "session_id": "s", "args": map[string]any{"to\u202e": i % 1, "n": i}})
		lines.Write(append(rec, '\n'))
	}
	p := writeFile(t, t.TempDir(), "calls.jsonl", lines.String())
	for _, args := range [][]string{
		{"audit", "-f", "json", p},
		{"explain", "-f", "json", "--key", key, p},
		{"identity", "--suggest", "-f", "json", p},
	} {
		r := run(t, nil, args...)
		if r.code != 0 || !json.Valid([]byte(r.stdout)) {
			t.Fatalf("%s: exit %d, valid JSON %v: %s", args[0], r.code, json.Valid([]byte(r.stdout)), r.stderr)
		}
		for _, c := range []rune{0x9b, 0x202e, 0xe0041, 0xad} {
			if strings.ContainsRune(r.stdout, c) {
				t.Errorf("%s: %U is written raw", args[0], c)
			}
		}
		var v any
		json.Unmarshal([]byte(r.stdout), &v)
		b, _ := json.Marshal(v)
		if args[0] != "identity" && !strings.Contains(string(b), key) {
			t.Errorf("%s: the key is not carried exactly:\n%s", args[0], r.stdout)
		}
		if args[0] == "identity" && !strings.Contains(string(b), "to\u202e") {
			t.Errorf("identity: the args path is not carried exactly:\n%s", r.stdout)
		}
	}
}

// The baseline file (stdout by default) escapes a key's C1 controls and
// bidi overrides as the JSON report does, and still suppresses its finding.
func TestBaselineEscapesC1AndInvisibleCharacters(t *testing.T) {
	dir := t.TempDir()
	key := "k\u009b2J\u202e"
	var lines strings.Builder
	for i := range 2 {
		rec, _ := json.Marshal(map[string]any{"ts": fmt.Sprintf("2026-11-16T09:00:%02dZ", i*10), "action_type": "charge\u009b31m",
			"idempotency_key": key, "response_id": fmt.Sprintf("r%d", i)})
		lines.Write(append(rec, '\n'))
	}
	p := writeFile(t, dir, "calls.jsonl", lines.String())
	db := filepath.Join(dir, "a.duckdb")
	if r := run(t, nil, "ingest", "-q", "--db", db, p); r.code != 0 {
		t.Fatal(r.stderr)
	}
	r := run(t, nil, "baseline", "--db", db)
	if r.code != 0 || !json.Valid([]byte(r.stdout)) {
		t.Fatalf("baseline: exit %d: %s", r.code, r.stderr)
	}
	for _, c := range []rune{0x9b, 0x202e} {
		if strings.ContainsRune(r.stdout, c) {
			t.Errorf("%U is written raw:\n%s", c, r.stdout)
		}
	}
	base := writeFile(t, dir, "baseline.json", r.stdout)
	rep := run(t, nil, "audit", "-f", "json", "--baseline", base, "--fail-on", "low", p)
	if rep.code != 0 {
		t.Errorf("the baseline no longer suppresses its findings: exit %d\n%s", rep.code, rep.stdout)
	}
}
