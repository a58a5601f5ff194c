// Package sample writes synthetic, realistic logs of agent tool calls with
// planted anomalies (one of each rule at least) and legitimate repeats that
// must not be reported. The same options write the same bytes; memory stays
// constant however many calls are asked for.
package sample

import (
	"bufio"
	"compress/gzip"
	"container/heap"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Options shape a sample.
type Options struct {
	Calls       int   // valid lines (calls) to write, exactly
	Seed        int64 // the same seed writes the same bytes
	Files       int   // number of files
	Gzip        bool  // gzip every file
	GzipOne     bool  // gzip only the last file
	Start       time.Time
	Days        int
	Malformed   int     // malformed lines to plant, spread over the files
	AnomalyRate float64 // fraction of operations with a planted anomaly
	// Planted, when set, receives every planted operation once its lines
	// are written: the ground truth a test compares an audit with.
	Planted func(Planted)
}

// Planted is one planted operation and the findings it must cause.
type Planted struct {
	Kind   string
	Action string
	Expect []Expect // the findings this operation causes; none for a legitimate repeat
	// ExpectConfigured, when not nil, replaces Expect under the sample
	// configuration (SampleConfig: identities that see near-duplicates).
	ExpectConfigured []Expect
	Calls            []LineRef // its calls (the finding's evidence), in the order they were generated
}

// SampleConfig is the configuration the checked-in sample-logs/ ship with
// (sample-logs/idemaudit.toml): ExpectConfigured is what it makes the
// audit find.
const SampleConfig = `# idemaudit configuration for sample-logs/ (see README "Configuration").
# Try: bin/idemaudit audit --config sample-logs/idemaudit.toml sample-logs/

# Every tool: a request id the agent makes up per attempt is no part of the
# operation. (Left out of the fingerprints, and of the arguments compared by
# key-payload-mismatch.)
[actions."*"]
ignore = ["metadata.request_id"]

# A calendar event is the same event when it has the same attendees and
# start, whatever its title says: retries that reword the title are caught.
[actions.create_calendar_event]
identity = ["attendees", "start"]

# Reads are not side effects: none in these logs, shown for the syntax.
[actions."get_*"]
read_only = true

# A status word this downstream uses for a refused request.
[outcomes]
rejected = ["card_declined"]

# The default list, written out: calls of these actions whose args name a
# duplicate's response id undo it.
[compensations]
actions = ["cancel_*", "refund_*", "void_*", "delete_*", "revert_*", "undo_*"]
`

// Expect is one finding a planted operation causes.
type Expect struct{ Rule, Severity string }

// LineRef is a written line: the file's index in Write's result and its 1-based line.
type LineRef struct {
	File int
	Line int64
}

// expectations maps each kind to the findings it causes.
var expectations = map[string][]Expect{
	KindDoubleCharge:      {{"same-key-different-response", "critical"}, {"non-noop-replay", "high"}},
	KindReplayExecuted:    {{"non-noop-replay", "high"}},
	KindFreshKeyPerRetry:  {{"unstable-key", "high"}},
	KindKeyReusedForOther: {{"key-payload-mismatch", "medium"}},
	KindTimeoutRetry:      {{"repeat-without-key", "high"}},
	KindDoublePost:        {{"repeat-without-key", "high"}},
	KindDedupedRetry:      {{"repeat-without-key", "low"}},
	KindSessionRepeat:     {{"repeat-without-key", "high"}},
	KindRejectedRetry:     {{"retry-after-rejection", "low"}},
	KindRefundedDouble:    {{"same-key-different-response", "low"}, {"non-noop-replay", "high"}},
	KindNearDuplicate:     {},
}

// expectationsConfigured are the kinds the sample configuration changes.
var expectationsConfigured = map[string][]Expect{
	KindNearDuplicate: {{"repeat-without-key", "high"}},
}

// DefaultOptions is the checked-in sample-logs/ week.
func DefaultOptions() Options {
	return Options{Calls: 3000, Seed: 1, Files: 4, GzipOne: true,
		Start: time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC), Days: 7, Malformed: 6, AnomalyRate: 0.006}
}

// Kinds of planted operations. The anomalies each make one rule fire; the
// legitimate repeats must make none fire.
const (
	KindDoubleCharge      = "double-charge"       // same-key-different-response (+ non-noop-replay)
	KindReplayExecuted    = "replay-executed"     // non-noop-replay
	KindFreshKeyPerRetry  = "fresh-key-per-retry" // unstable-key
	KindKeyReusedForOther = "key-reused"          // key-payload-mismatch
	KindTimeoutRetry      = "timeout-retry"       // repeat-without-key, high (unknown outcome)
	KindDoublePost        = "double-post"         // repeat-without-key, high (two response ids)
	KindDedupedRetry      = "deduped-retry"       // repeat-without-key, low (one response id)
	KindSessionRepeat     = "session-repeat"      // repeat-without-key by session (no args)
	KindRejectedRetry     = "rejected-retry"      // retry-after-rejection: a 422, then ok
	KindRefundedDouble    = "refunded-double"     // a double charge whose extra charge was refunded: compensated, low (+ non-noop-replay)
	KindNearDuplicate     = "near-duplicate"      // the same calendar event with a reworded title: only an identity sees it
	// legitimate: nothing may fire
	KindNoopRetry   = "noop-retry"   // keyed retry answered with the same response, effect noop
	KindHoursApart  = "hours-apart"  // the same keyless args again hours later
	KindSameSession = "same-session" // the same session, other args
)

// Anomalies lists the planted anomaly kinds, in planting order.
var Anomalies = []string{KindDoubleCharge, KindReplayExecuted, KindFreshKeyPerRetry, KindKeyReusedForOther,
	KindTimeoutRetry, KindDoublePost, KindDedupedRetry, KindSessionRepeat, KindRejectedRetry, KindRefundedDouble, KindNearDuplicate}

type tool struct {
	name  string
	agent int     // index into agents: which service logs it
	keyed float64 // share of calls that carry a key
	// effect: share of calls that report an effect
	effect float64
	verb   string // effect of a first execution
	prefix string // response id prefix
}

var agents = []string{"billing-agent", "support-agent", "scheduler-agent", "ops-agent"}

var tools = []tool{
	{"charge_card", 0, 1, 1, "created", "ch_"},
	{"refund_payment", 0, 1, 1, "created", "re_"},
	{"send_email", 1, 0, 0, "", "msg_"},
	{"create_ticket", 1, 1, 1, "created", "tkt_"},
	{"create_calendar_event", 2, 0.8, 0.6, "created", "evt_"},
	{"post_slack_message", 2, 0, 0, "", "slk_"},
	{"update_crm_contact", 3, 0.5, 1, "updated", "crm_"},
	{"provision_vm", 3, 1, 1, "created", "vm_"},
}

func toolNamed(name string) int {
	for i, t := range tools {
		if t.name == name {
			return i
		}
	}
	panic(name)
}

// Write writes the sample into dir (created if needed) and returns the paths.
func Write(dir string, o Options) ([]string, error) {
	if o.Files < 1 || o.Days < 1 || o.Calls < 0 || o.Malformed < 0 {
		return nil, fmt.Errorf("sample: need files ≥ 1, days ≥ 1, calls and malformed ≥ 0")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	g := &gen{o: o, rng: rand.New(rand.NewPCG(uint64(o.Seed), uint64(o.Seed)^0x9e3779b97f4a7c15))}
	var paths []string
	for i := 0; i < o.Files; i++ {
		name := fmt.Sprintf("agents-%02d.jsonl", i+1)
		if o.Files == len(agents) {
			name = agents[i] + ".jsonl"
		}
		gz := o.Gzip || (o.GzipOne && i == o.Files-1)
		if gz {
			name += ".gz"
		}
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			g.close()
			return nil, err
		}
		out := &output{f: f}
		var w io.Writer = f
		if gz {
			out.gz = gzip.NewWriter(f)
			w = out.gz
		}
		out.w = bufio.NewWriterSize(w, 1<<20)
		out.crlf = i == 1 && !gz && o.Files > 1 // one file with CRLF line endings
		g.out = append(g.out, out)
		paths = append(paths, p)
	}
	err := g.run()
	if cerr := g.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return paths, nil
}

type output struct {
	f    *os.File
	gz   *gzip.Writer
	w    *bufio.Writer
	crlf bool
	line int64 // lines written
}

// pending is a line waiting in time order to be written.
type pending struct {
	ts   time.Time
	seq  int64
	file int
	line string
	op   *planted // the planted operation this call belongs to, if any
	idx  int      // the call's index in op
}

type planted struct {
	Planted
	left int // calls not yet written
}

type queue []pending

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if !q[i].ts.Equal(q[j].ts) {
		return q[i].ts.Before(q[j].ts)
	}
	return q[i].seq < q[j].seq
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(pending)) }
func (q *queue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

type gen struct {
	o       Options
	rng     *rand.Rand
	out     []*output
	q       queue
	seq     int64
	calls   int // calls generated so far
	ops     int
	planted int // guaranteed anomalies planted so far
	bad     int // malformed lines planted so far
	session struct {
		id    string
		until time.Time
	}
	run_    string
	current *planted // the planted operation being written
	kind    string   // its kind
}

func (g *gen) close() error {
	var first error
	for _, o := range g.out {
		errs := []error{o.w.Flush()}
		if o.gz != nil {
			errs = append(errs, o.gz.Close())
		}
		errs = append(errs, o.f.Close())
		for _, e := range errs {
			if e != nil && first == nil {
				first = e
			}
		}
	}
	g.out = nil
	return first
}

func (g *gen) hex(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[g.rng.IntN(16)]
	}
	return string(b)
}

func (g *gen) run() error {
	o := g.o
	span := time.Duration(o.Days) * 24 * time.Hour
	g.run_ = "run_" + g.hex(8)
	for g.calls < o.Calls {
		// operations spread evenly over the period, in call order
		at := o.Start.Add(time.Duration(float64(span) * float64(g.calls) / float64(max(o.Calls, 1))))
		at = at.Add(time.Duration(g.rng.IntN(30_000)) * time.Millisecond).Truncate(time.Millisecond)
		if err := g.flush(at.Add(-20 * time.Minute)); err != nil {
			return err
		}
		g.op(at, o.Calls-g.calls)
	}
	return g.flush(time.Time{})
}

// flush writes the lines older than before (everything when zero).
func (g *gen) flush(before time.Time) error {
	for len(g.q) > 0 && (before.IsZero() || g.q[0].ts.Before(before)) {
		p := heap.Pop(&g.q).(pending)
		out := g.out[p.file]
		eol := "\n"
		if out.crlf {
			eol = "\r\n"
		}
		if _, err := out.w.WriteString(p.line + eol); err != nil {
			return err
		}
		out.line++
		if p.op != nil {
			p.op.Calls[p.idx] = LineRef{p.file, out.line}
			if p.op.left--; p.op.left == 0 && g.o.Planted != nil {
				g.o.Planted(p.op.Planted)
			}
		}
	}
	return nil
}

func (g *gen) emit(ts time.Time, file int, line string, op *planted, idx int) {
	g.seq++
	heap.Push(&g.q, pending{ts, g.seq, file, line, op, idx})
}

// fileOf spreads an agent's operations over the files.
func (g *gen) fileOf(agent int) int {
	n := len(g.out)
	if n <= len(agents) {
		return agent % n
	}
	per := n / len(agents)
	return (agent*per + g.ops%per) % n
}

// op generates one logical operation: its first call and any retries.
func (g *gen) op(at time.Time, room int) {
	g.ops++
	if at.After(g.session.until) || g.rng.IntN(8) == 0 {
		g.session.id = "sess_" + g.hex(12)
		g.session.until = at.Add(time.Duration(10+g.rng.IntN(40)) * time.Minute)
	}
	if g.rng.IntN(500) == 0 {
		g.run_ = "run_" + g.hex(8) // a worker restarted
	}
	kind := ""
	// one of each anomaly, spread over the period, then at the anomaly rate
	if g.planted < len(Anomalies) && g.calls >= (2*g.planted+1)*g.o.Calls/(2*len(Anomalies)) {
		kind = Anomalies[g.planted]
		g.planted++
	} else if g.rng.Float64() < g.o.AnomalyRate {
		kind = Anomalies[g.rng.IntN(len(Anomalies))]
	} else if r := g.rng.Float64(); r < 0.04 {
		kind = KindNoopRetry
	} else if r < 0.045 {
		kind = KindHoursApart
	} else if r < 0.06 {
		kind = KindSameSession
	}
	end := g.o.Start.Add(time.Duration(g.o.Days) * 24 * time.Hour)
	if room < 3 || ((kind == KindHoursApart || kind == KindKeyReusedForOther) && at.Add(8*time.Hour).After(end)) {
		kind = "" // no room left, or the repeat would fall after the period
	}
	g.current, g.kind = nil, kind
	g.plant(kind, at)
}

// call is one line to write; nil pointers are left out or written as null.
type call struct {
	tool      int
	ts        time.Time
	key       string
	resp      string
	args      *obj
	noArgs    bool
	session   string
	noSession bool
	status    string
	statusNum int
	effect    string
	duration  int
}

func (g *gen) plant(kind string, at time.Time) {
	sec := func(n int) time.Duration {
		return time.Duration(n)*time.Second + time.Duration(g.rng.IntN(1000))*time.Millisecond
	}
	switch kind {
	case KindDoubleCharge:
		c := g.normal(toolNamed("charge_card"), at)
		c.status = "timeout"
		r := c
		r.ts = at.Add(sec(20 + g.rng.IntN(60)))
		r.resp = g.respID(c.tool)
		r.status = "ok"
		g.write(c, r)
	case KindReplayExecuted:
		c := g.normal(toolNamed("create_ticket"), at)
		r := c
		r.ts = at.Add(sec(5 + g.rng.IntN(120)))
		g.write(c, r)
	case KindFreshKeyPerRetry:
		c := g.normal(toolNamed("provision_vm"), at)
		c.key = g.uuid()
		c.status, c.statusNum, c.resp = "", 504, ""
		r := c
		r.ts = at.Add(sec(30 + g.rng.IntN(200)))
		r.key = g.uuid()
		r.resp, r.status, r.statusNum = g.respID(c.tool), "ok", 0
		g.write(c, r)
	case KindKeyReusedForOther:
		c := g.normal(toolNamed("create_ticket"), at)
		r := c
		r.ts = at.Add(time.Duration(1+g.rng.IntN(5)) * time.Hour)
		r.args = c.args.with("priority", str("urgent"))
		r.effect = "noop"
		g.write(c, r)
	case KindTimeoutRetry:
		c := g.normal(toolNamed("send_email"), at)
		c.resp, c.status = "", "timeout"
		r := c
		r.ts = at.Add(sec(30 + g.rng.IntN(90)))
		r.resp, r.status = g.respID(c.tool), "ok"
		g.write(c, r)
	case KindDoublePost:
		c := g.normal(toolNamed("post_slack_message"), at)
		r := c
		r.ts = at.Add(sec(2 + g.rng.IntN(30)))
		r.resp = g.respID(c.tool)
		r2 := r
		r2.ts = r.ts.Add(sec(5 + g.rng.IntN(60)))
		r2.resp = g.respID(c.tool)
		g.write(c, r, r2)
	case KindDedupedRetry:
		c := g.normal(toolNamed("send_email"), at)
		c.statusNum, c.status = 502, ""
		r := c
		r.ts = at.Add(sec(10 + g.rng.IntN(60)))
		r.statusNum, r.status = 0, "ok"
		g.write(c, r)
	case KindSessionRepeat:
		c := g.normal(toolNamed("create_calendar_event"), at)
		c.noArgs, c.key = true, ""
		c.session = "sess_" + g.hex(12) // its own session: no other call shares the fingerprint
		r := c
		r.ts = at.Add(sec(40 + g.rng.IntN(120)))
		r.resp = g.respID(c.tool)
		g.write(c, r)
	case KindNoopRetry:
		t := []string{"charge_card", "refund_payment", "create_ticket", "provision_vm"}[g.rng.IntN(4)]
		c := g.normal(toolNamed(t), at)
		r := c
		r.ts = at.Add(sec(3 + g.rng.IntN(100)))
		r.effect = "noop"
		g.write(c, r)
	case KindHoursApart:
		c := g.normal(toolNamed("send_email"), at)
		r := c
		r.ts = at.Add(time.Duration(2+g.rng.IntN(6))*time.Hour + sec(0))
		r.resp = g.respID(c.tool)
		g.write(c, r)
	case KindRejectedRetry:
		c := g.normal(toolNamed("send_email"), at)
		c.key, c.resp, c.status, c.statusNum, c.effect = "", "", "", 422, ""
		r := c
		r.ts = at.Add(sec(5 + g.rng.IntN(60)))
		r.resp, r.status, r.statusNum = g.respID(c.tool), "ok", 0
		g.write(c, r)
	case KindRefundedDouble:
		c := g.normal(toolNamed("charge_card"), at)
		c.status, c.statusNum = "timeout", 0
		r := c
		r.ts = at.Add(sec(20 + g.rng.IntN(60)))
		r.resp = g.respID(c.tool)
		r.status = "ok"
		g.write(c, r)
		// later, the agent (or a human) refunds the extra charge: an
		// ordinary operation of its own, not part of the finding's evidence
		g.current, g.kind = nil, ""
		ref := g.normal(toolNamed("refund_payment"), r.ts.Add(time.Duration(5+g.rng.IntN(30))*time.Minute))
		ref.args = (&obj{}).add("charge", str(r.resp)).add("reason", str("duplicate")).add("metadata", c.args.get("metadata"))
		ref.key = keyFor("refund_payment", ref.args)
		ref.status, ref.statusNum = "ok", 0
		g.write(ref)
	case KindNearDuplicate:
		c := g.normal(toolNamed("create_calendar_event"), at)
		c.key, c.status, c.statusNum = "", "ok", 0
		r := c
		r.ts = at.Add(sec(20 + g.rng.IntN(120)))
		r.args = c.args.with("title", str("Meeting: "+strings.TrimPrefix(string(c.args.get("title").(str)), "Call with ")))
		r.args = r.args.with("metadata", c.args.get("metadata").(*obj).with("request_id", str("req_"+g.hex(12))))
		r.resp = g.respID(c.tool)
		g.write(c, r)
	case KindSameSession:
		t := toolNamed([]string{"send_email", "post_slack_message", "create_calendar_event"}[g.rng.IntN(3)])
		c := g.normal(t, at)
		c.key = ""
		r := g.normal(t, at.Add(sec(10+g.rng.IntN(120))))
		r.key, r.session = "", c.session
		g.write(c, r)
	default:
		t := g.rng.IntN(len(tools))
		c := g.normal(t, at)
		if tools[t].name == "update_crm_contact" && g.rng.IntN(10) == 0 {
			c.noArgs, c.noSession = true, true // logs neither args nor session: unfingerprinted
		}
		if g.rng.IntN(100) == 0 { // the downstream refused it: nothing happened
			c.resp = ""
			if c.effect != "" {
				c.effect = "none"
			}
			c.status, c.statusNum = []string{"invalid", "", "card_declined"}[g.rng.IntN(3)], 0
			if c.status == "" {
				c.statusNum = 400 + 22*g.rng.IntN(2)
			}
		}
		g.write(c)
	}
}

func (g *gen) uuid() string {
	return g.hex(8) + "-" + g.hex(4) + "-4" + g.hex(3) + "-a" + g.hex(3) + "-" + g.hex(12)
}

func (g *gen) respID(t int) string { return tools[t].prefix + g.hex(14) }

// normal builds an ordinary first call of a tool.
func (g *gen) normal(t int, at time.Time) call {
	tl := tools[t]
	c := call{tool: t, ts: at, session: g.session.id, args: g.args(t), duration: 40 + g.rng.IntN(2000)}
	if g.rng.Float64() < tl.keyed {
		c.key = keyFor(tl.name, c.args)
	}
	c.resp = g.respID(t)
	switch r := g.rng.IntN(100); {
	case r < 80:
		c.status = "ok"
	case r < 95:
		c.statusNum = 200 + g.rng.IntN(2)
	default:
		c.status = "error"
	}
	if g.rng.Float64() < tl.effect {
		c.effect = tl.verb
	}
	return c
}

// keyFor derives a deterministic key from the operation's identity, as a
// well-behaved client does (FNV-1a over the canonical args).
func keyFor(action string, args *obj) string {
	h := uint64(14695981039346656037)
	for _, b := range []byte(action + "\x00" + args.canonical()) {
		h ^= uint64(b)
		h *= 1099511628211
	}
	return fmt.Sprintf("%s_%016x", strings.SplitN(action, "_", 2)[0], h)
}

var firstNames = []string{"Zoë", "Müller", "Ana", "José", "Li", "Søren", "Amélie", "Priya", "Chidi", "Olga", "Kenji", "Fatima"}
var lastNames = []string{"Müller", "García", "Chen", "Okafor", "Novák", "Ivanova", "Tanaka", "Haddad", "Smith", "Dubois"}

// args builds realistic nested arguments, unique per operation.
func (g *gen) args(t int) *obj {
	first, last := firstNames[g.rng.IntN(len(firstNames))], lastNames[g.rng.IntN(len(lastNames))]
	email := strings.ToLower(fmt.Sprintf("%s.%s%d@example.com", asciiOnly(first), asciiOnly(last), g.rng.IntN(1000)))
	customer := &obj{}
	customer.add("id", str("cus_"+g.hex(10))).add("name", str(first+" "+last)).add("email", str(email))
	customer.add("address", (&obj{}).add("city", str([]string{"Berlin", "Lisboa", "São Paulo", "Tōkyō", "Lagos", "Austin"}[g.rng.IntN(6)])).add("country", str([]string{"DE", "PT", "BR", "JP", "NG", "US"}[g.rng.IntN(6)])))
	meta := &obj{}
	meta.add("request_id", str(fmt.Sprintf("req_%s%06d", g.hex(6), g.ops))).add("agent_version", str("2.4."+strconv.Itoa(g.rng.IntN(9)))).add("model", str([]string{"gpt-4.1", "claude-sonnet-4", "gemini-2.5-pro"}[g.rng.IntN(3)]))
	a := &obj{}
	switch tools[t].name {
	case "charge_card", "refund_payment":
		items := arr{}
		for i := 0; i < 1+g.rng.IntN(3); i++ {
			items = append(items, (&obj{}).add("sku", str("sku_"+g.hex(6))).add("quantity", num(strconv.Itoa(1+g.rng.IntN(3)))).add("unit_amount", num(strconv.Itoa(500+g.rng.IntN(20000)))))
		}
		a.add("customer", customer).add("amount", num(strconv.Itoa(100*(5+g.rng.IntN(500))))).add("currency", str("eur")).add("invoice", str(fmt.Sprintf("inv_%07d", g.ops))).add("line_items", items).add("metadata", meta)
	case "send_email":
		a.add("to", str(email)).add("subject", str("Your order #"+strconv.Itoa(10000+g.ops)+" — update")).add("template", str("order_update_v3")).add("variables", (&obj{}).add("name", str(first)).add("order", num(strconv.Itoa(10000+g.ops))).add("eta_days", num(strconv.Itoa(1+g.rng.IntN(9))))).add("metadata", meta)
	case "create_ticket":
		a.add("requester", customer).add("subject", str("Refund request for order "+strconv.Itoa(10000+g.ops))).add("priority", str([]string{"low", "normal", "high"}[g.rng.IntN(3)])).add("tags", arr{str("billing"), str("agent")}).add("metadata", meta)
	case "create_calendar_event":
		start := g.o.Start.Add(time.Duration(g.rng.IntN(30*24)) * time.Hour).UTC()
		a.add("title", str("Call with "+first+" "+last)).add("start", str(start.Format(time.RFC3339))).add("duration_minutes", num(strconv.Itoa(15*(1+g.rng.IntN(4))))).add("attendees", arr{str(email), str("sales@example.com")}).add("metadata", meta)
	case "post_slack_message":
		a.add("channel", str([]string{"#billing-alerts", "#support", "#ops"}[g.rng.IntN(3)])).add("text", str(fmt.Sprintf("Order %d for %s %s needs a look: refund of %d.%02d € pending", 10000+g.ops, first, last, g.rng.IntN(500), g.rng.IntN(100)))).add("metadata", meta)
	case "update_crm_contact":
		a.add("contact", customer).add("fields", (&obj{}).add("stage", str([]string{"lead", "qualified", "customer"}[g.rng.IntN(3)])).add("score", num(fmt.Sprintf("%d.%d", g.rng.IntN(100), g.rng.IntN(10)))).add("opt_in", lit([]string{"true", "false"}[g.rng.IntN(2)]))).add("metadata", meta)
	case "provision_vm":
		a.add("project", str("proj-"+g.hex(6))).add("region", str([]string{"eu-west-1", "us-east-2", "ap-northeast-1"}[g.rng.IntN(3)])).add("machine_type", str([]string{"e2-standard-2", "n2-highmem-4"}[g.rng.IntN(2)])).add("disk_gb", num(strconv.Itoa(20*(1+g.rng.IntN(10))))).add("labels", (&obj{}).add("owner", str(email)).add("ticket", num(strconv.Itoa(10000+g.ops)))).add("metadata", meta)
	}
	return a
}

func asciiOnly(s string) string {
	r := strings.NewReplacer("ë", "e", "ü", "u", "é", "e", "ø", "o", "á", "a", "í", "i", "ō", "o", "ã", "a")
	return r.Replace(s)
}

// write renders the calls of one operation. Retries show their args with
// another member order and spacing: the same operation, another surface.
func (g *gen) write(cs ...call) {
	file := g.fileOf(tools[cs[0].tool].agent)
	if g.kind != "" {
		g.current = &planted{Planted: Planted{Kind: g.kind, Action: tools[cs[0].tool].name,
			Expect: expectations[g.kind], ExpectConfigured: expectationsConfigured[g.kind], Calls: make([]LineRef, len(cs))}, left: len(cs)}
	}
	for i, c := range cs {
		if g.calls >= g.o.Calls {
			return
		}
		g.calls++
		g.maybeMalformed(c.ts, file)
		g.emit(c.ts, file, g.line(c, i > 0), g.current, i)
		if g.rng.IntN(700) == 0 {
			g.emit(c.ts, file, []string{"", "   ", "\t"}[g.rng.IntN(3)], nil, 0) // a blank line
		}
	}
}

// maybeMalformed plants the malformed lines evenly over the calls.
func (g *gen) maybeMalformed(ts time.Time, file int) {
	if g.bad >= g.o.Malformed || g.calls < (g.bad+1)*g.o.Calls/(g.o.Malformed+1) {
		return
	}
	kind := g.bad % 6
	g.bad++
	var line string
	switch kind {
	case 0: // cut off mid-write; the next line is valid and must survive
		full := g.line(g.normal(toolNamed("send_email"), ts), false)
		line = full[:len(full)/2]
	case 1:
		line = `["not","an","object"]`
	case 2:
		line = `{"ts":"` + ts.UTC().Format(time.RFC3339) + `","action_type":"send_email","args":{"to":"caf` + "\xe9" + `@example.com"}}`
	case 3:
		line = `{"ts":"` + ts.UTC().Format(time.RFC3339) + `","idempotency_key":"orphan_1","response_id":"x_1"}`
	case 4:
		line = `{"ts":"` + ts.UTC().Format(time.RFC3339) + `","action_type":"","response_id":"x_2"}`
	case 5:
		line = `{"ts":"yesterday","action_type":"post_slack_message","response_id":"x_3"}`
	}
	g.emit(ts, file, line, nil, 0)
}

// line renders one call as JSON, in one of the surface forms real loggers use.
func (g *gen) line(c call, retry bool) string {
	tl := tools[c.tool]
	var b strings.Builder
	sp := ""
	if g.rng.IntN(4) == 0 {
		sp = " "
	}
	b.WriteString("{")
	n := 0
	field := func(k, v string) {
		if n > 0 {
			b.WriteString("," + sp)
		}
		n++
		b.WriteString(`"` + k + `":` + sp + v)
	}
	field("ts", g.tsForm(c.ts))
	field("action_type", quote(tl.name))
	if c.key != "" {
		field("idempotency_key", quote(c.key))
	} else if g.rng.IntN(2) == 0 {
		field("idempotency_key", "null")
	}
	if c.resp != "" {
		field("response_id", quote(c.resp))
	} else if g.rng.IntN(2) == 0 {
		field("response_id", "null")
	}
	if !c.noSession {
		field("session_id", quote(c.session))
		field("trace_id", quote("tr_"+g.hex(16)))
		field("span_id", quote("sp_"+g.hex(8)))
	}
	field("run_id", quote(g.run_))
	if !c.noArgs {
		order := 0
		if retry {
			order = 1 + g.rng.IntN(2)
		}
		field("args", c.args.render(order, sp != "" || (retry && g.rng.IntN(2) == 0)))
	}
	switch {
	case c.statusNum != 0:
		field("status", strconv.Itoa(c.statusNum))
	case c.status != "":
		field("status", quote(c.status))
	}
	if c.effect != "" {
		field("effect", quote(c.effect))
	}
	field("duration_ms", strconv.Itoa(c.duration))
	b.WriteString("}")
	return b.String()
}

// tsForm writes a timestamp as RFC 3339 (Z or an offset, with or without a
// fraction) or as epoch seconds or milliseconds; all are exact.
func (g *gen) tsForm(t time.Time) string {
	switch g.rng.IntN(6) {
	case 0:
		return quote(t.UTC().Format("2006-01-02T15:04:05.000Z"))
	case 1:
		return quote(t.In(time.FixedZone("", 2*3600)).Format("2006-01-02T15:04:05.000-07:00"))
	case 2:
		if t.Nanosecond() == 0 {
			return strconv.FormatInt(t.Unix(), 10)
		}
		return strconv.FormatInt(t.UnixMilli(), 10)
	case 3:
		return strconv.FormatInt(t.UnixMilli(), 10)
	case 4:
		return quote(t.In(time.FixedZone("", -5*3600)).Format(time.RFC3339Nano))
	}
	return quote(t.UTC().Format(time.RFC3339Nano))
}
