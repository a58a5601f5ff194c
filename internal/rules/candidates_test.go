package rules

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/idemaudit/idemaudit/internal/config"
	"github.com/idemaudit/idemaudit/internal/ingest"
)

// candidateCorpus is n random calls over three files: untimed, repeatable,
// read-only, rejected, keyless, argless calls and shared keys, responses
// and args, so every rule fires.
func candidateCorpus(seed int64, n int) map[string][]string {
	r := rand.New(rand.NewSource(seed))
	base, _ := time.Parse(time.RFC3339, "2026-11-02T00:00:00Z")
	pick := func(xs ...string) string { return xs[r.Intn(len(xs))] }
	files := map[string][]string{}
	for i := 0; i < n; i++ {
		var m []string
		if r.Intn(8) != 0 { // 1 in 8 untimed
			t := base.Add(time.Duration(r.Intn(60)) * 8 * time.Hour).Add(time.Duration(r.Intn(30)) * time.Minute)
			m = append(m, fmt.Sprintf(`"ts":%q`, t.Format(time.RFC3339Nano)))
		}
		m = append(m, fmt.Sprintf(`"action_type":%q`, pick("charge", "charge", "send", "refund_charge", "poll", "lookup")))
		if r.Intn(5) < 3 {
			m = append(m, fmt.Sprintf(`"idempotency_key":"k%d"`, r.Intn(n/3)))
		}
		if r.Intn(4) != 0 {
			m = append(m, fmt.Sprintf(`"response_id":"r%d"`, r.Intn(n/2)))
		}
		switch r.Intn(4) {
		case 0:
			m = append(m, fmt.Sprintf(`"args":{"to":"u%d"}`, r.Intn(30)))
		case 1:
			m = append(m, fmt.Sprintf(`"args":{"id":"r%d"}`, r.Intn(n/2)))
		case 2:
			m = append(m, fmt.Sprintf(`"session_id":"s%d"`, r.Intn(10)))
		}
		if s := pick("", "", "ok", "409", "500", "rejected", "timeout"); s != "" {
			m = append(m, fmt.Sprintf(`"status":%q`, s))
		}
		if e := pick("", "", "noop", "created", "none"); e != "" {
			m = append(m, fmt.Sprintf(`"effect":%q`, e))
		}
		f := pick("a.jsonl", "b.jsonl", "c.jsonl")
		files[f] = append(files[f], "{"+strings.Join(m, ",")+"}")
	}
	return files
}

// The rules reading candidate_calls give exactly what they give reading
// every call (audit_calls): the whole result, findings, evidence, offending
// calls, first seen and trends, with and without configuration and periods.
func TestCandidateCallsChangeNothing(t *testing.T) {
	ctx := context.Background()
	yes := true
	cfg := &config.Config{Actions: map[string]config.Action{"poll": {Repeatable: &yes}, "lookup": {ReadOnly: &yes}}}
	for _, seed := range []int64{1, 2, 3} {
		dir := t.TempDir()
		db, err := ingest.Open(ctx, "", ingest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		files := candidateCorpus(seed, 1500)
		for _, name := range []string{"a.jsonl", "b.jsonl", "c.jsonl"} {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, []byte(strings.Join(files[name], "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := db.IngestFile(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		mid, _ := time.Parse(time.RFC3339, "2026-11-09T00:00:00Z")
		period := &Span{Start: mid, End: mid.Add(7 * 24 * time.Hour), Label: "W46"}
		rulesSeen := map[string]int{}
		for _, o := range []Options{
			{Window: 10 * time.Minute, Config: cfg},
			{Window: time.Hour, Config: cfg},
			{Window: 10 * time.Minute},
			{Window: 10 * time.Minute, Config: cfg, Period: period,
				Trend: []Span{{Start: mid.Add(-7 * 24 * time.Hour), End: mid, Label: "W45"}}},
		} {
			got, err := Audit(ctx, db.Conn, o)
			if err != nil {
				t.Fatal(err)
			}
			saved := catalogue
			catalogue = append([]Rule(nil), saved...)
			for i := range catalogue {
				catalogue[i].SQL = strings.ReplaceAll(catalogue[i].SQL, "candidate_calls", "audit_calls")
			}
			want, err := Audit(ctx, db.Conn, o)
			catalogue = saved
			if err != nil {
				t.Fatal(err)
			}
			if len(want.Findings) < 20 {
				t.Fatalf("seed %d: only %d findings: the corpus proves little", seed, len(want.Findings))
			}
			for _, f := range want.Findings {
				rulesSeen[f.Rule]++
			}
			if !reflect.DeepEqual(got, want) {
				n := 0
				for i := 0; i < len(got.Findings) || i < len(want.Findings); i++ {
					var g, w Finding
					if i < len(got.Findings) {
						g = got.Findings[i]
					}
					if i < len(want.Findings) {
						w = want.Findings[i]
					}
					if !reflect.DeepEqual(g, w) && n < 5 {
						t.Errorf("seed %d window %s period %v: finding %d\n candidate_calls: %+v\n audit_calls:     %+v", seed, o.Window, o.Period != nil, i, g, w)
						n++
					}
				}
				if n == 0 {
					t.Errorf("seed %d window %s period %v: results differ outside the findings", seed, o.Window, o.Period != nil)
				}
			}
		}
		if len(rulesSeen) < 7 {
			t.Errorf("seed %d: only rules %v fire", seed, rulesSeen)
		}
		db.Close()
	}
}
