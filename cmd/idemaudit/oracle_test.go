package main

// An independent, brute-force implementation of the rule catalogue in plain
// Go (encoding/json, maps and sorts; no DuckDB, no shared code), run against
// the binary's JSON report on generated corpora: every finding, its
// severity and its exact evidence lines must agree.

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

type oCall struct {
	src               string
	line              int
	ts                *int64
	action, key, resp string
	session, effect   string
	status            string  // a number's literal text
	args              *string // canonical args
	hasResp           bool
	outcome           string   // applied, rejected, unknown (README "Outcomes")
	argStrings        []string // string values of the args, for compensating actions
}

// oOutcome classes a call after the README's table, written anew here.
func oOutcome(c oCall) string {
	st := strings.ToLower(strings.TrimSpace(c.status))
	if code := strings.TrimSpace(c.status); len(code) == 3 && strings.Trim(code, "0123456789") == "" && code >= "100" && code <= "599" {
		switch {
		case code[0] == '2':
			return "applied"
		case code == "408":
			return "unknown"
		case code[0] == '4':
			return "rejected"
		}
		return "unknown"
	}
	words := map[string]string{}
	for _, w := range strings.Fields("ok success succeeded successful completed complete done created applied accepted executed") {
		words[w] = "applied"
	}
	for _, w := range strings.Fields(`rejected invalid invalid_request invalid_argument invalid_params validation_error validation_failed
		bad_request unauthorized unauthenticated forbidden permission_denied not_found conflict already_exists failed_precondition
		precondition_failed out_of_range unprocessable unprocessable_entity denied refused declined rate_limited too_many_requests resource_exhausted`) {
		words[w] = "rejected"
	}
	for _, w := range strings.Fields(`timeout timed_out deadline_exceeded error failed failure unavailable internal internal_error
		server_error unknown aborted cancelled canceled pending in_progress`) {
		words[w] = "unknown"
	}
	if o, ok := words[st]; ok && c.status != "" {
		return o
	}
	if c.hasResp || c.effect != "" {
		return "applied"
	}
	return "unknown"
}

// oStrings collects every string value of decoded args that can be a
// response id, as the README says ingest keeps them: 1 to 128 bytes, no
// whitespace or control character.
func oStrings(v any, out []string) []string {
	switch x := v.(type) {
	case string:
		if x != "" && len(x) <= 128 && !strings.ContainsFunc(x, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			out = append(out, x)
		}
	case []any:
		for _, e := range x {
			out = oStrings(e, out)
		}
	case map[string]any:
		for _, e := range x {
			out = oStrings(e, out)
		}
	}
	return out
}

func (c oCall) ref() string { return fmt.Sprintf("%s:%d", c.src, c.line) }

// oRead parses one source the way the format defines it.
func oRead(t *testing.T, path string) []oCall {
	t.Helper()
	file := path
	if !filepath.IsAbs(file) {
		file = filepath.Join(repoRoot, path) // the binary runs in the repository root
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		if r, err = gzip.NewReader(f); err != nil {
			t.Fatal(err)
		}
	}
	var out []oCall
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<26)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSuffix(sc.Bytes(), []byte("\r"))
		if len(bytes.TrimSpace(line)) == 0 || !utf8.Valid(line) {
			continue
		}
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(line))
		if d.Decode(&m) != nil || d.More() {
			continue
		}
		str := func(k string) string { s, _ := m[k].(string); return s }
		c := oCall{src: path, line: n, action: str("action_type"), key: str("idempotency_key"),
			resp: str("response_id"), session: str("session_id"), effect: str("effect")}
		c.hasResp = c.resp != ""
		if c.action == "" {
			continue
		}
		switch v := m["ts"].(type) {
		case string:
			tm, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				continue
			}
			ns := tm.UnixNano()
			c.ts = &ns
		case float64:
			ns := int64(v * 1e9)
			if v >= 1e12 {
				ns = int64(v * 1e6)
			}
			c.ts = &ns
		case nil:
		default:
			continue
		}
		if a, ok := m["args"]; ok && a != nil {
			b, _ := json.Marshal(a) // maps marshal with sorted keys
			s := string(b)
			c.args = &s
			for _, p := range []string{"cancel_", "refund_", "void_", "delete_", "revert_", "undo_"} {
				if strings.HasPrefix(c.action, p) {
					c.argStrings = oStrings(a, nil)
				}
			}
		}
		switch v := m["status"].(type) {
		case string:
			c.status = v
		case float64:
			c.status = strconv.FormatFloat(v, 'f', -1, 64)
		case bool:
			c.status = strconv.FormatBool(v)
		}
		c.outcome = oOutcome(c)
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

type oFinding struct {
	Rule, Severity, Action, Key string
	Calls                       []string
}

func (f oFinding) String() string {
	return fmt.Sprintf("%s %s %s key=%q %v", f.Severity, f.Rule, f.Action, f.Key, f.Calls)
}

func oLess(a, b oCall) bool {
	switch {
	case a.ts == nil && b.ts != nil:
		return false
	case a.ts != nil && b.ts == nil:
		return true
	case a.ts != nil && *a.ts != *b.ts:
		return *a.ts < *b.ts
	case a.src != b.src:
		return a.src < b.src
	}
	return a.line < b.line
}

func refs(cs []oCall) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.ref())
	}
	return out
}

// chains splits time-ordered calls where a gap exceeds the window.
func chains(cs []oCall, window int64) [][]oCall {
	var out [][]oCall
	start := 0
	for i := 1; i <= len(cs); i++ {
		if i == len(cs) || *cs[i].ts-*cs[i-1].ts > window {
			out = append(out, cs[start:i])
			start = i
		}
	}
	return out
}

func oAudit(calls []oCall, window time.Duration) []oFinding {
	sort.SliceStable(calls, func(i, j int) bool { return oLess(calls[i], calls[j]) })
	w := window.Nanoseconds()
	var out []oFinding
	byKey := map[[2]string][]oCall{}
	byFP := map[string][]oCall{}
	byArgs := map[string][]oCall{}
	keyless := map[string][]oCall{}
	var keyOrder [][2]string
	for _, c := range calls {
		if c.key != "" {
			k := [2]string{c.action, c.key}
			if byKey[k] == nil {
				keyOrder = append(keyOrder, k)
			}
			byKey[k] = append(byKey[k], c)
			if c.args != nil && c.ts != nil {
				id := c.action + "\x00" + *c.args
				byArgs[id] = append(byArgs[id], c)
			}
			continue
		}
		keyless[c.action] = append(keyless[c.action], c)
		if c.ts == nil {
			continue
		}
		switch {
		case c.args != nil:
			byFP["a"+c.action+"\x00"+*c.args] = append(byFP["a"+c.action+"\x00"+*c.args], c)
		case c.session != "":
			byFP["s"+c.action+"\x00"+c.session] = append(byFP["s"+c.action+"\x00"+c.session], c)
		}
	}
	for _, k := range keyOrder {
		cs := byKey[k]
		resp, args, accepted := map[string]bool{}, map[string]bool{}, map[string]bool{}
		replay, executed := false, false
		for _, c := range cs {
			if c.hasResp && c.outcome != "rejected" {
				resp[c.resp] = true
			}
			if c.args != nil {
				args[*c.args] = true
				if c.outcome != "rejected" {
					accepted[*c.args] = true
				}
			}
			if executed && c.outcome != "rejected" && c.effect != "" && !map[string]bool{"noop": true, "no-op": true, "no_op": true, "none": true}[strings.ToLower(c.effect)] {
				replay = true
			}
			executed = executed || c.outcome != "rejected"
		}
		if len(resp) >= 2 {
			out = append(out, oCompensate(oFinding{"same-key-different-response", "critical", k[0], k[1], refs(cs)}, cs, calls))
		}
		if len(args) >= 2 {
			sev := "medium"
			if len(accepted) < 2 {
				sev = "low"
			}
			out = append(out, oFinding{"key-payload-mismatch", sev, k[0], k[1], refs(cs)})
		}
		if replay {
			out = append(out, oFinding{"non-noop-replay", "high", k[0], k[1], refs(cs)})
		}
	}
	for _, cs := range byFP {
		for _, ch := range chains(cs, w) {
			if len(ch) < 2 {
				continue
			}
			effects, rejected, wentThrough, rejectedFirst := oEffects(ch), 0, 0, true
			for _, c := range ch { // in chain order
				if c.outcome == "rejected" {
					rejected++
					rejectedFirst = rejectedFirst && wentThrough == 0
				} else {
					wentThrough++
				}
			}
			switch {
			case effects >= 2:
				out = append(out, oCompensate(oFinding{"repeat-without-key", "high", ch[0].action, "", refs(ch)}, ch, calls))
			case rejected > 0 && rejectedFirst:
				out = append(out, oFinding{"retry-after-rejection", "low", ch[0].action, "", refs(ch)})
			default:
				out = append(out, oFinding{"repeat-without-key", "low", ch[0].action, "", refs(ch)})
			}
		}
	}
	for _, cs := range byArgs {
		for _, ch := range chains(cs, w) {
			keys := map[string]bool{}
			for _, c := range ch {
				keys[c.key] = true
			}
			if len(keys) >= 2 {
				if oEffects(ch) >= 2 {
					out = append(out, oCompensate(oFinding{"unstable-key", "high", ch[0].action, "", refs(ch)}, ch, calls))
				} else {
					out = append(out, oFinding{"unstable-key", "medium", ch[0].action, "", refs(ch)})
				}
			}
		}
	}
	for action, cs := range keyless {
		if len(cs) > 20 {
			cs = cs[:20]
		}
		out = append(out, oFinding{"missing-key", "low", action, "", refs(cs)})
	}
	return out
}

// oEffects counts what may have happened: distinct response ids of calls
// not rejected, plus each such call without one.
// oNoop: an effect that says nothing happened (README "Rules").
func oNoop(e string) bool {
	switch strings.ToLower(strings.Trim(e, " ")) {
	case "noop", "no-op", "no_op", "none":
		return true
	}
	return false
}

func oEffects(cs []oCall) int {
	ids, n := map[string]bool{}, 0
	for _, c := range cs {
		switch {
		case c.outcome == "rejected":
		case c.hasResp:
			ids[c.resp] = true
		case oNoop(c.effect): // nothing happened, it says
		default:
			n++
		}
	}
	return n + len(ids)
}

// oCompensate lowers a duplicate finding to low when later applied calls of
// compensating actions name every extra side effect's response id.
func oCompensate(f oFinding, ev []oCall, all []oCall) oFinding {
	effects := oEffects(ev)
	if effects < 2 {
		return f
	}
	own := map[string]bool{}
	first := map[string]int64{}
	for _, c := range ev {
		own[c.ref()] = true
		if c.outcome != "rejected" && c.hasResp && c.ts != nil {
			if t, ok := first[c.resp]; !ok || *c.ts < t {
				first[c.resp] = *c.ts
			}
		}
	}
	undone := 0
	for id, t := range first {
		for _, c := range all {
			if c.outcome != "applied" || c.ts == nil || *c.ts <= t || own[c.ref()] {
				continue
			}
			found := false
			for _, s := range c.argStrings {
				found = found || s == id
			}
			if found {
				undone++
				break
			}
		}
	}
	if undone > 0 && effects-1-undone <= 0 {
		f.Severity = "low"
	}
	return f
}

func sortFindings(fs []oFinding) {
	sort.Slice(fs, func(i, j int) bool { return fs[i].String() < fs[j].String() })
}

// auditFindings runs the binary and converts its JSON findings.
func auditFindings(t *testing.T, window time.Duration, paths ...string) []oFinding {
	t.Helper()
	args := append([]string{"audit", "-f", "json", "--window", window.String()}, paths...)
	r := run(t, nil, args...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var rep struct {
		Findings []struct {
			Rule, Severity string
			ActionType     string  `json:"action_type"`
			Key            *string `json:"idempotency_key"`
			Calls          []struct {
				Source string
				Line   int
			}
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	var out []oFinding
	for _, f := range rep.Findings {
		o := oFinding{Rule: f.Rule, Severity: f.Severity, Action: f.ActionType}
		if f.Key != nil && (f.Rule == "same-key-different-response" || f.Rule == "key-payload-mismatch" || f.Rule == "non-noop-replay") {
			o.Key = *f.Key
		}
		for _, c := range f.Calls {
			o.Calls = append(o.Calls, c.Source+":"+strconv.Itoa(c.Line))
		}
		out = append(out, o)
	}
	return out
}

func compareWithOracle(t *testing.T, window time.Duration, files []string) {
	t.Helper()
	var calls []oCall
	for _, f := range files {
		calls = append(calls, oRead(t, f)...)
	}
	want := oAudit(calls, window)
	got := auditFindings(t, window, files...)
	sortFindings(want)
	sortFindings(got)
	if reflect.DeepEqual(got, want) {
		if len(want) == 0 {
			t.Fatal("the corpus produced no finding at all: the comparison proves nothing")
		}
		return
	}
	gs, ws := map[string]bool{}, map[string]bool{}
	for _, f := range got {
		gs[f.String()] = true
	}
	for _, f := range want {
		ws[f.String()] = true
	}
	n := 0
	for _, f := range want {
		if !gs[f.String()] && n < 10 {
			t.Errorf("missed: %s", f)
			n++
		}
	}
	for _, f := range got {
		if !ws[f.String()] && n < 20 {
			t.Errorf("wrong:  %s", f)
			n++
		}
	}
	t.Errorf("%d findings, the oracle expects %d", len(got), len(want))
}

func TestOracleSampleLogs(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repoRoot, "sample-logs", "*.jsonl*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no sample logs: %v", err)
	}
	for i, f := range files {
		files[i], _ = filepath.Rel(repoRoot, f)
	}
	sort.Strings(files)
	compareWithOracle(t, 10*time.Minute, files)
}

func TestOracleGeneratedCorpora(t *testing.T) {
	for _, tc := range []struct {
		seed   int
		calls  int
		rate   string
		window time.Duration
	}{
		{7, 20000, "0.05", 10 * time.Minute},
		{8, 20000, "0.2", 90 * time.Second},
		{9, 5000, "0.5", time.Hour},
	} {
		t.Run(fmt.Sprintf("seed%d-w%s", tc.seed, tc.window), func(t *testing.T) {
			dir := t.TempDir()
			r := run(t, nil, "sample", "--seed", strconv.Itoa(tc.seed), "--calls", strconv.Itoa(tc.calls), "--anomaly-rate", tc.rate, dir)
			if r.code != 0 {
				t.Fatalf("sample: exit %d %s", r.code, r.stderr)
			}
			files := strings.Fields(r.stdout)
			compareWithOracle(t, tc.window, files)
		})
	}
}

// TestGroundTruth generates corpora whose planted anomalies are known and
// checks the audit finds exactly them, each with exactly its lines, and
// nothing else but the coverage findings (missing-key).
func TestGroundTruth(t *testing.T) {
	for _, tc := range []struct{ seed, calls, files, rate string }{
		{"11", "30000", "4", "0.01"},
		{"12", "20000", "7", "0.1"},
	} {
		t.Run("seed"+tc.seed, func(t *testing.T) {
			dir := t.TempDir()
			truth := filepath.Join(dir, "truth.jsonl")
			logs := filepath.Join(dir, "logs")
			r := run(t, nil, "sample", "--seed", tc.seed, "--calls", tc.calls, "--files", tc.files, "--anomaly-rate", tc.rate, "--truth", truth, logs)
			if r.code != 0 {
				t.Fatalf("sample: %s", r.stderr)
			}
			b, err := os.ReadFile(truth)
			if err != nil {
				t.Fatal(err)
			}
			// without a configuration, then with the one sample writes
			// beside the logs (identities that see near-duplicates)
			for _, configured := range []bool{false, true} {
				var want []string
				legit := 0
				for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
					var p struct {
						Kind       string `json:"kind"`
						Action     string `json:"action_type"`
						Expect     []struct{ Rule, Severity string }
						Configured []struct{ Rule, Severity string } `json:"expect_configured"`
						Calls      []struct {
							Source string
							Line   int
						}
					}
					if err := json.Unmarshal([]byte(l), &p); err != nil {
						t.Fatal(err)
					}
					exp := p.Expect
					if configured {
						exp = p.Configured
					}
					if len(exp) == 0 {
						legit++
					}
					var refs []string
					for _, c := range p.Calls {
						refs = append(refs, fmt.Sprintf("%s:%d", c.Source, c.Line))
					}
					for _, e := range exp {
						want = append(want, fmt.Sprintf("%s %s %s %v", e.Severity, e.Rule, p.Action, refs))
					}
				}
				if legit == 0 || len(want) < 11 {
					t.Fatalf("the corpus plants %d anomalies and %d legitimate repeats: too few to prove anything", len(want), legit)
				}
				var extra []string
				if configured {
					extra = []string{"--config", filepath.Join(logs, "idemaudit.toml")}
				}
				var got []string
				for _, f := range auditFindings(t, 10*time.Minute, append(extra, strings.Fields(r.stdout)...)...) {
					if f.Rule != "missing-key" {
						got = append(got, fmt.Sprintf("%s %s %s %v", f.Severity, f.Rule, f.Action, f.Calls))
					}
				}
				sort.Strings(want)
				sort.Strings(got)
				if !reflect.DeepEqual(got, want) {
					gs := map[string]bool{}
					for _, g := range got {
						gs[g] = true
					}
					ws := map[string]bool{}
					for _, w := range want {
						ws[w] = true
						if !gs[w] {
							t.Errorf("configured=%v: missed: %s", configured, w)
						}
					}
					for _, g := range got {
						if !ws[g] {
							t.Errorf("configured=%v: not planted: %s", configured, g)
						}
					}
				}
			}
		})
	}
}
