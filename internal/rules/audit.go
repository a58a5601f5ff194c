package rules

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zeebo/xxh3"

	"github.com/idemaudit/idemaudit/internal/config"
)

// Options parameterise an audit.
type Options struct {
	Window time.Duration // the chain gap for window rules
	// Period, when set, makes a period report: findings that happened in
	// [Start, End) (an offending call there: a chain's extra side effect, a
	// key's new response id; an untimed one counts in the period of its
	// group's first timed call), evaluated over all earlier calls, the
	// untimed ones and the calls up to one window past the end, so a key
	// reused across periods is seen.
	Period   *Span
	Trend    []Span               // earlier periods to sum up, oldest first (period reports)
	Baseline map[string]Baselined // findings to report as suppressed, by id, while no worse
	// Timing, when set, is told how long each rule and the summary took.
	Timing func(step string, d time.Duration)
	// Config gives per-action settings (read-only, repeatable, identity as
	// the report states it), the outcome statuses and compensating actions.
	// Fingerprints were computed at ingest with the same file. nil: defaults.
	Config *config.Config
	// QuietRejections leaves retry-after-rejection findings out.
	QuietRejections bool
	// MaxEvidence caps the calls a finding lists (its first ones); its
	// stats still count them all. 0: every call.
	MaxEvidence int
	// Explain, when set, is given each rule's whole query before it runs
	// (IDEMAUDIT_EXPLAIN=RULE prints its EXPLAIN ANALYZE: performance work).
	Explain func(rule, query string) error

	noops []string // the effects of the calls that are noop (IsNoop), set by Audit; nil: unknown
}

// MaxListed is the largest MaxEvidence (DuckDB's top-N aggregate takes
// fewer than a million); 0 lists every call.
const MaxListed = 999_999

// DefaultWindow is the chain gap when none is given.
const DefaultWindow = 10 * time.Minute

// Audit runs the whole catalogue over the calls in the database.
func Audit(ctx context.Context, conn *sql.Conn, o Options) (*Result, error) {
	if o.Window <= 0 {
		return nil, fmt.Errorf("the window must be positive, got %s", o.Window)
	}
	if o.MaxEvidence < 0 || o.MaxEvidence > MaxListed {
		return nil, fmt.Errorf("the calls a finding lists must be 0 (every call) to %d, got %d", MaxListed, o.MaxEvidence)
	}
	// audit_calls is what every rule reads: the calls with their source
	// path, which orders ties of equal ts the same way everywhere (ts, then
	// path, then line). period_calls is the part the report is about.
	auditWhere, periodWhere := "", ""
	// ingest_order orders the calls of a key for the key rules whose
	// findings do not depend on the order (two response ids, two args):
	// in a period report, untimed calls come first (when they happened is
	// unknown: as early as can be, so a finding is dated by the timed call
	// that made it, which the report of its period sees; non-noop-replay,
	// whose findings depend on the order, takes each at its ingest time,
	// the latest it can have happened), among themselves in the order
	// they were read (a finding only untimed calls make is placed at its
	// offending call's ingest time, so that call must be the one read last,
	// whatever its source's name or line: a log rotated in place is numbered
	// from line 1 again); in an audit, NULL: untimed calls come last, and
	// the output does not depend on when or in which order sources were read
	ingestOrder := "NULL::BIGINT"
	if p := o.Period; p != nil {
		ingestOrder = "CASE WHEN c.ts IS NULL THEN " + callIngestedNS + " END"
		if !p.Start.Before(p.End) {
			return nil, fmt.Errorf("the period is empty: %s to %s", p.Start.Format(time.RFC3339), p.End.Format(time.RFC3339))
		}
		// untimed calls too: the key rules see them (a key's second
		// response id may come from a call without ts)
		auditWhere = fmt.Sprintf(" WHERE (c.ts < %d OR c.ts IS NULL)", p.End.Add(o.Window).UnixNano())
		// a call without ts belongs to the period it was ingested in
		periodWhere = " WHERE " + p.contains("coalesce(ts, ingested_ns)")
	}
	cfg := o.Config
	if cfg == nil {
		cfg = &config.Config{}
	}
	settings, err := actionSettings(ctx, conn, cfg)
	if err != nil {
		return nil, err
	}
	if err := statusOutcomes(ctx, conn, cfg); err != nil {
		return nil, err
	}
	if o.noops, err = noopEffects(ctx, conn); err != nil {
		return nil, err
	}
	// read-only actions are not side effects: no rule sees them
	if auditWhere == "" {
		auditWhere = " WHERE NOT c.read_only"
	} else {
		auditWhere += " AND NOT c.read_only"
	}
	for _, q := range []string{
		// ties order by path; its rank is an integer, cheaper to sort than the path
		// (ingested_ns places the untimed calls of a period report: see evidence)
		"CREATE OR REPLACE TEMP TABLE audit_sources AS SELECT source_id, path, dense_rank() OVER (ORDER BY path) AS path_rank, epoch_ns(ingested_at) AS ingested_ns, " +
			"first_line + coalesce(reread_lines, 0) AS fresh_from, epoch_ns(reread_at) AS reread_ns FROM sources",
		// every call with its outcome and its action's settings
		`CREATE OR REPLACE TEMP VIEW classified_calls AS SELECT c.*, ` + callOutcomeSQL + ` AS outcome,
			coalesce(a.repeatable, false) AS repeatable, coalesce(a.read_only, false) AS read_only,
			` + identityFP + ` AS identity_fp
			FROM calls c LEFT JOIN action_settings a USING (action_type) LEFT JOIN status_outcomes so USING (status, status_num)`,
		// a line re-read whole (an unterminated tail) keeps its first reading's time
		"CREATE OR REPLACE TEMP VIEW audit_calls AS SELECT c.*, s.path, s.path_rank, " + callIngestedNS + " AS ingested_ns, " +
			ingestOrder + " AS ingest_order FROM classified_calls c JOIN audit_sources s USING (source_id)" + auditWhere,
		"CREATE OR REPLACE TEMP VIEW period_calls AS SELECT * FROM audit_calls" + periodWhere,
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return nil, err
		}
	}
	if o.Explain != nil {
		if err := o.Explain("candidates", candidateCalls); err != nil {
			return nil, err
		}
	}
	lap := time.Now()
	if _, err := conn.ExecContext(ctx, candidateCalls); err != nil {
		return nil, fmt.Errorf("candidate calls: %w", err)
	}
	if o.Timing != nil {
		o.Timing("candidate calls", time.Since(lap))
	}
	res := &Result{Window: o.Window, Summary: Summary{FindingsBySeverity: map[Severity]int{}}, Periodic: o.Period != nil, Config: cfg.Path}
	var all []Finding
	lap = time.Now()
	timing := func(step string) {
		if o.Timing != nil {
			o.Timing(step, time.Since(lap))
		}
		lap = time.Now()
	}
	if _, err := conn.ExecContext(ctx, ruleRowsTable); err != nil {
		return nil, err
	}
	for i := range catalogue {
		r := &catalogue[i]
		res.Rules = append(res.Rules, r.Doc)
		if r.SQL == "" {
			continue // found by the rule it names
		}
		err := r.collect(ctx, conn, o, i)
		timing("rule " + r.ID)
		if err != nil {
			return nil, fmt.Errorf("rule %s: %w", r.ID, err)
		}
	}
	all, err = evidence(ctx, conn, o)
	if err != nil {
		return nil, err
	}
	timing("evidence")
	if o.QuietRejections {
		kept := all[:0]
		for _, f := range all {
			if f.Rule == RetryAfterRejection {
				if o.Period == nil || f.happenedIn(len(o.Trend)) {
					res.Summary.QuietRejections++
				}
				continue
			}
			kept = append(kept, f)
		}
		all = kept
	}
	for i := range all {
		f := &all[i]
		f.Identity = settings.of(f.ActionType).IdentityList()
	}
	if err := compensate(ctx, conn, all, o.MaxEvidence); err != nil {
		return nil, err
	}
	for i := range all { // on the final severity: compensation may lower it
		f := &all[i]
		b, ok := o.Baseline[f.ID]
		f.Suppressed = ok && b.Covers(f)
	}
	if _, err := conn.ExecContext(ctx, "DROP TABLE evidence_rows"); err != nil { // a large finding's rows need not stay
		return nil, err
	}
	for i := range all {
		labelPattern(&all[i])
	}
	timing("compensations")
	for i := range all {
		f := &all[i]
		if f.Message, err = byID(f.Rule).render(f, verbatim); err != nil {
			return nil, err
		}
	}
	for _, f := range all {
		if o.Period != nil && !f.happenedIn(len(o.Trend)) {
			continue
		}
		if o.Period != nil {
			f.New = f.FirstSeen != nil && !f.FirstSeen.Before(o.Period.Start)
		}
		res.Findings = append(res.Findings, f)
	}
	sortFindings(res.Findings, catalogueIndex())
	for _, f := range res.Findings {
		if f.Suppressed {
			res.Summary.Suppressed++
			continue
		}
		res.Summary.FindingsBySeverity[f.Severity]++
		if f.New {
			res.Summary.NewFindings++
		}
	}
	if err := summarize(ctx, conn, res, o, settings); err != nil {
		return nil, err
	}
	timing("summary")
	if o.Period != nil {
		if err := trend(ctx, conn, res, o, all); err != nil {
			return nil, err
		}
	}
	timing("trend")
	return res, nil
}

// spans are the periods findings are placed in: the trend's, oldest
// first, then the report's period; none outside a period report.
func (o *Options) spans() []Span {
	if o.Period == nil {
		return nil
	}
	return append(append([]Span(nil), o.Trend...), *o.Period)
}

// callIngestedNS is when call c (of source s, a row of audit_sources) was
// ingested: its source's ingest time, or, for the first lines of a source
// that re-read another's unterminated tail, when they were first read.
const callIngestedNS = "CASE WHEN c.line < s.fresh_from THEN s.reread_ns ELSE s.ingested_ns END"

// contains is the SQL test of expr (epoch nanoseconds) being in the span.
func (s Span) contains(expr string) string {
	return fmt.Sprintf("%s >= %d AND %s < %d", expr, s.Start.UnixNano(), expr, s.End.UnixNano())
}

// happenedIn reports whether an offending call of the finding is in the
// i-th of the audit's spans.
func (f *Finding) happenedIn(i int) bool {
	return i < len(f.inSpans) && f.inSpans[i] == '1'
}

func catalogueIndex() map[string]int {
	m := map[string]int{}
	for i, r := range catalogue {
		m[r.ID] = i
	}
	return m
}

// sortFindings orders by severity, then the first call's time, source and
// line; rule order and the finding's own key make the order total.
func sortFindings(fs []Finding, ruleIdx map[string]int) {
	first := func(f *Finding) Call {
		if len(f.Calls) == 0 {
			return Call{}
		}
		return f.Calls[0]
	}
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := &fs[i], &fs[j]
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		ca, cb := first(a), first(b)
		if c := compareCalls(&ca, &cb); c != 0 {
			return c < 0
		}
		if ruleIdx[a.Rule] != ruleIdx[b.Rule] {
			return ruleIdx[a.Rule] < ruleIdx[b.Rule]
		}
		return a.ActionType < b.ActionType
	})
}

// compareCalls orders calls by time (a missing one last), then source,
// line and place on the line.
func compareCalls(a, b *Call) int {
	if c := compareTS(a.TS, b.TS); c != 0 {
		return c
	}
	if c := strings.Compare(a.Source, b.Source); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Line, b.Line); c != 0 {
		return c
	}
	return cmp.Compare(a.Pos, b.Pos)
}

// compareTS orders timestamps with a missing one last.
func compareTS(a, b *time.Time) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	return a.Compare(*b)
}

// identityFP (classified_calls.identity_fp) is the SQL condition that a call's fingerprint identifies its
// operation — its args, the configured identity, or a trace export's tool
// call id — and is not the fallback to its session (a call without args
// or tool call id), which groups a session's unrelated calls. Only calls
// without args ask the function, which recomputes the session's
// fingerprint (ingest.SessionFPFunc, registered on every connection
// ingest.Open makes): the calls table does not say which kind an fp is.
const identityFP = `(CASE WHEN c.args_fp IS NOT NULL THEN true WHEN c.fp IS NULL THEN false
				ELSE c.fp IS DISTINCT FROM idemaudit_session_fp(c.action_type, c.session_id) END)`

// candidateCalls keeps the calls the rules that compare calls with each
// other can use at all: every call of an (action, key) used twice or more,
// every keyed call whose args fingerprint occurs twice or more, every
// keyless call whose fingerprint occurs twice or more (timed, of an action
// that is not repeatable, as those rules ask). Counted on 64-bit hashes:
// a collision only keeps more calls, so the set holds every call those
// rules' exact groupings need, and each rule reads it instead of scanning
// and grouping every call again. Most operations happen once: it is small.
// Its columns are those the rules read.
const candidateCalls = `CREATE OR REPLACE TEMP TABLE candidate_calls AS
WITH h AS (
    SELECT CASE WHEN idempotency_key IS NOT NULL THEN hash(action_type, idempotency_key) END AS kh,
        CASE WHEN idempotency_key IS NULL AND fp IS NOT NULL AND ts IS NOT NULL AND NOT repeatable THEN hash(fp) END AS fh,
        CASE WHEN idempotency_key IS NOT NULL AND identity_fp AND ts IS NOT NULL AND NOT repeatable THEN hash(fp) END AS ah
    FROM audit_calls
), twice_keys AS (
    SELECT kh FROM h WHERE kh IS NOT NULL GROUP BY kh HAVING count(*) >= 2
), twice_fps AS (
    SELECT fh FROM h WHERE fh IS NOT NULL GROUP BY fh HAVING count(*) >= 2
), twice_args AS (
    SELECT ah FROM h WHERE ah IS NOT NULL GROUP BY ah HAVING count(*) >= 2
)
SELECT source_id, line, pos, path_rank, ingest_order, ts, action_type, idempotency_key, response_id, effect, outcome, repeatable, fp, args_fp, identity_fp
FROM audit_calls
WHERE CASE WHEN idempotency_key IS NOT NULL
    THEN hash(action_type, idempotency_key) IN (SELECT kh FROM twice_keys)
        OR (identity_fp AND ts IS NOT NULL AND NOT repeatable AND hash(fp) IN (SELECT ah FROM twice_args))
    ELSE fp IS NOT NULL AND ts IS NOT NULL AND NOT repeatable AND hash(fp) IN (SELECT fh FROM twice_fps)
END`

// A rule's query returns one row per evidence call: grp (the group's stable
// identity), severity, action_type, idempotency_key, source_id, line, pos
// and, optionally, rule (for a rule whose query finds another's findings
// too), group_calls (when it samples its evidence), offending (whether the
// call is one that makes the rule fire; default: the group's first call)
// and since (when the group first happened, for rules that read only the
// period's calls).
//
// Every rule's rows are gathered in the temp table rule_rows first; one
// query then joins them all with their calls' evidence columns: the
// evidence columns of the whole table are scanned once, not once a rule
// (the scan that dominates a large audit).
const ruleRowsTable = `CREATE OR REPLACE TEMP TABLE rule_rows (
	rule_no INTEGER, grp VARCHAR, severity VARCHAR, rule VARCHAR, action_type VARCHAR, idempotency_key VARCHAR,
	group_calls BIGINT, group_stats ` + groupStatsType + `, offending BOOLEAN, since BIGINT, source_id INTEGER, line BIGINT, pos INTEGER)`

// groupStatsType is the stats a rule that samples its evidence rows
// (group_calls) computes over every call of the group (group_stats): the
// evidence query reads its stats from the rows listed, which would count
// only the sample.
const groupStatsType = "STRUCT(applied BIGINT, rejected BIGINT, distinct_responses BIGINT, null_responses BIGINT, span_ns BIGINT)"

// query is the rule's SQL with the window filled in.
func (r *Rule) query(o Options) string {
	return strings.NewReplacer("{{window_ns}}", strconv.FormatInt(o.Window.Nanoseconds(), 10),
		"{{effect_is_noop}}", o.noopSQL("effect")).Replace(r.SQL)
}

// collect runs the rule's query into rule_rows as rule number no.
func (r *Rule) collect(ctx context.Context, conn *sql.Conn, o Options, no int) error {
	q := r.query(o)
	optional := func(col, typ string) string {
		if strings.Contains(q, " AS "+col) || strings.Contains(q, " "+col+",") {
			return "r." + col
		}
		return "NULL::" + typ
	}
	sel := `SELECT ` + strconv.Itoa(no) + `, r.grp, r.severity, ` + optional("rule", "VARCHAR") + `, r.action_type, r.idempotency_key, ` +
		optional("group_calls", "BIGINT") + `, ` + optional("group_stats", groupStatsType) + `, ` + optional("offending", "BOOLEAN") + `, ` + optional("since", "BIGINT") + `,
       r.source_id, r.line, r.pos
FROM (` + q + "\n) r"
	if o.Explain != nil {
		if err := o.Explain(r.ID, sel); err != nil {
			return err
		}
	}
	_, err := conn.ExecContext(ctx, "INSERT INTO rule_rows "+sel)
	return err
}

// ruleFindings builds one rule's findings from its evidence rows, which
// come ordered by group, then time, source and line.
type ruleFindings struct {
	r       *Rule
	no      int // its place in the catalogue (rule_no)
	out     []Finding
	lastGrp string
}

// evidenceRow is one row of the evidence query: a listed call, with its
// group's stats (the same on every row of the group).
type evidenceRow struct {
	grp, sev, action string
	ruleID           sql.NullString
	key              sql.NullString
	total            sql.NullInt64 // the rule's count when it samples its rows
	since, first     sql.NullInt64
	spans            string
	names            [3]sql.NullString // JSON lists: responses, keys, later effects
	laterEffects     sql.NullInt64
	st               Stats
	span             sql.NullInt64
	c                Call
	ts               sql.NullInt64
	outcome          string
}

func (b *ruleFindings) add(e *evidenceRow) error {
	c := e.c
	c.Outcome = Outcome(e.outcome)
	if e.ts.Valid {
		t := time.Unix(0, e.ts.Int64).UTC()
		c.TS = &t
	}
	c.ActionType = e.action
	if len(b.out) == 0 || e.grp != b.lastGrp {
		s, err := ParseSeverity(e.sev)
		if err != nil {
			return err
		}
		id := b.r.ID
		if e.ruleID.Valid {
			if byID(e.ruleID.String) == nil || byID(e.ruleID.String).From != b.r.ID && e.ruleID.String != b.r.ID {
				return fmt.Errorf("its query names rule %q, which does not say it comes from %s", e.ruleID.String, b.r.ID)
			}
			id = e.ruleID.String
		}
		f := Finding{ID: findingID(id, e.grp), Rule: id, Severity: s, ActionType: e.action, Stats: e.st, inSpans: e.spans,
			ruleNo: b.no, grp: e.grp}
		if e.key.Valid {
			k := e.key.String
			f.Key = &k
		}
		if e.total.Valid {
			f.Stats.Calls = int(e.total.Int64)
		}
		if e.span.Valid {
			f.Stats.Span = time.Duration(e.span.Int64)
		}
		if e.since.Valid {
			t := time.Unix(0, e.since.Int64).UTC()
			f.FirstSeen = &t
		} else if e.first.Valid {
			t := time.Unix(0, e.first.Int64).UTC()
			f.FirstSeen = &t
		}
		f.names = &messageNames{effectsTotal: int(e.laterEffects.Int64)}
		for i, l := range []*[]string{&f.names.responses, &f.names.keys, &f.names.effects} {
			if e.names[i].Valid {
				if err := json.Unmarshal([]byte(e.names[i].String), l); err != nil {
					return fmt.Errorf("names of group %s: %w", e.grp, err)
				}
			}
		}
		b.out = append(b.out, f)
		b.lastGrp = e.grp
	}
	f := &b.out[len(b.out)-1]
	f.Calls = append(f.Calls, c)
	return nil
}

func (b *ruleFindings) done() []Finding {
	for i := range b.out {
		f := &b.out[i]
		f.Sampled = f.Stats.Calls > len(f.Calls)
	}
	return b.out
}

// evidence reads the rows every rule put in rule_rows with their calls and
// returns the findings, rule by rule in catalogue order. A group's stats,
// when it first happened and the periods it happened in are computed in SQL
// over all its calls; its evidence is its first o.MaxEvidence calls (all
// when 0), so a runaway loop of millions of calls is one finding of
// bounded size, with exact stats.
func evidence(ctx context.Context, conn *sql.Conn, o Options) ([]Finding, error) {
	// A call is offending when its rule says so (offending true); when its
	// rule says nothing (NULL), the group's first call is; a rule that
	// reads only the period's calls makes every call offending. The first
	// call of a group is the least by order: time (NULLs last), path, line.
	var scoped []string
	for i := range catalogue {
		if r := &catalogue[i]; r.SQL != "" && strings.Contains(r.query(o), "period_calls") {
			scoped = append(scoped, strconv.Itoa(i))
		}
	}
	said := "offending"
	if len(scoped) > 0 {
		said = "(offending OR rule_no IN (" + strings.Join(scoped, ", ") + "))"
	}
	spans := "''"
	if sp := o.spans(); len(sp) > 0 {
		var in []string
		for _, s := range sp {
			// an untimed offending call counts in the period it was
			// ingested in (the key rules take untimed calls first, so one
			// is offending only when untimed calls make the finding among
			// themselves; non-noop-replay at their ingest time, after
			// every timed call it follows: either way the report of that
			// period sees every call that made the finding)
			at := s.contains("coalesce(ts, ingested_ns)")
			in = append(in, fmt.Sprintf("CASE WHEN coalesce(bool_or(%s) FILTER (WHERE %s), false) OR (min_by(offending IS NULL, k) AND min_by(%s, k)) THEN '1' ELSE '0' END",
				at, said, at))
		}
		spans = "concat(" + strings.Join(in, ", ") + ")"
	}
	// when a group first happened: its first offending call's time. For an
	// audit, an untimed offending call counts at the group's first timed
	// call (an audit's output does not depend on when it runs); for a
	// period report, at its ingest time, as it is placed above
	firstOffending := `CASE WHEN min_by(offending IS NULL, k) AND min(ts) IS NOT NULL THEN min(ts)
            ELSE least(min(ts) FILTER (WHERE ` + said + `),
                CASE WHEN bool_or(` + said + `) FILTER (WHERE ts IS NULL) THEN min(ts) END) END`
	if o.Period != nil {
		firstOffending = "CASE WHEN min_by(offending IS NULL, k) THEN min_by(coalesce(ts, ingested_ns), k) ELSE min(coalesce(ts, ingested_ns)) FILTER (WHERE " + said + ") END"
	}
	// the listed calls: every one, or the first MaxEvidence of each group
	// by a top-N aggregate (no sort of a whole large group)
	listed, first := "evidence_rows e", ""
	if o.MaxEvidence > 0 {
		first = fmt.Sprintf(",\n        min_by({'source_id': source_id, 'line': line, 'pos': pos}, k, %d) AS listed", o.MaxEvidence)
		listed = "(SELECT rule_no, grp, unnest(listed, recursive := true) FROM s) JOIN evidence_rows e USING (rule_no, grp, source_id, line, pos)"
	}
	// the calls' columns are read once, for the stats, the listing and the
	// compensations (evidence_rows stays until they are matched)
	if _, err := conn.ExecContext(ctx, `CREATE OR REPLACE TEMP TABLE evidence_rows AS
    SELECT r.rule_no, r.grp, r.severity, r.rule, r.action_type AS group_action, r.idempotency_key AS group_key, r.group_calls, r.group_stats,
        r.offending, r.since, r.source_id, r.line, r.pos, c.path, c.path_rank, c.ts, c.idempotency_key, c.response_id,
        c.status, c.status_num, c.effect, c.session_id, c.args_fp, c.outcome, c.span_id, c.run_id, c.duration_ms, c.ingested_ns,
        {'untimed': c.ts IS NULL, 'ts': coalesce(c.ts, 0), 'path_rank': c.path_rank, 'line': c.line, 'pos': c.pos, 'source_id': c.source_id} AS k
    FROM rule_rows r JOIN audit_calls c USING (source_id, line, pos)`); err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, "DROP TABLE rule_rows"); err != nil { // a large finding's rows need not stay twice
		return nil, err
	}
	q := `WITH s AS (
    SELECT rule_no, grp, count(*) AS calls,
        -- what may have happened (calls not rejected): their distinct response ids,
        -- and those without one unless their effect says noop; side_effects is the sum
        count(DISTINCT response_id) FILTER (WHERE outcome <> 'rejected') AS distinct_responses,
        count(*) FILTER (WHERE outcome <> 'rejected' AND response_id IS NULL AND NOT ` + o.noopSQL("effect") + `) AS null_responses,
        count(DISTINCT idempotency_key) AS distinct_keys, count(DISTINCT args_fp) AS distinct_args,
        least(max(ts)::HUGEINT - min(ts), 9223372036854775807)::BIGINT AS span_ns, -- time.Sub's cap: ts spans 1800-2199
        count(*) FILTER (WHERE outcome = 'applied') AS applied, count(*) FILTER (WHERE outcome = 'rejected') AS rejected,
        distinct_responses + null_responses AS side_effects,
        min(k) FILTER (WHERE outcome <> 'rejected') AS first_live_k,
        ` + firstOffending + ` AS first_offending,
        ` + spans + ` AS spans` + first + `
    FROM evidence_rows e
    GROUP BY rule_no, grp
), names AS ( -- what a message names: the first five distinct values by first call: response ids of
    -- calls not rejected; keys; effects other than noop of replays (calls not rejected after an earlier
    -- call not rejected: a rejected call stores no result to replay)
    SELECT rule_no, grp, kind, to_json(min_by(v, fk, 5))::VARCHAR AS l, count(*) AS total
    FROM (
        SELECT rule_no, grp, 0 AS kind, response_id AS v, min(k) AS fk FROM evidence_rows e
        WHERE response_id IS NOT NULL AND outcome <> 'rejected' GROUP BY ALL
        UNION ALL
        SELECT rule_no, grp, 1, idempotency_key, min(k) FROM evidence_rows e WHERE idempotency_key IS NOT NULL GROUP BY ALL
        UNION ALL
        SELECT e.rule_no, e.grp, 2, e.effect, min(e.k) FROM evidence_rows e JOIN s USING (rule_no, grp)
        WHERE e.k > s.first_live_k AND e.outcome <> 'rejected' AND e.effect IS NOT NULL AND NOT ` + o.noopSQL("e.effect") + ` GROUP BY ALL
    )
    GROUP BY ALL
), nm AS (
    SELECT rule_no, grp, max(l) FILTER (WHERE kind = 0) AS responses, max(l) FILTER (WHERE kind = 1) AS keys,
        max(l) FILTER (WHERE kind = 2) AS effects, max(total) FILTER (WHERE kind = 2) AS effects_total
    FROM names GROUP BY ALL
)
SELECT rule_no, grp, severity, rule, group_action, group_key, group_calls, since,
    -- a sampled group's stats are its rule's, over every call (group_stats)
    CASE WHEN group_stats IS NULL THEN s.calls ELSE group_calls END,
    coalesce(group_stats.distinct_responses, s.distinct_responses), coalesce(group_stats.null_responses, s.null_responses),
    s.distinct_keys, s.distinct_args, -- of the listed calls (shown by unstable-key only, which lists all)
    CASE WHEN group_stats IS NULL THEN s.span_ns ELSE group_stats.span_ns END,
    coalesce(group_stats.applied, s.applied), coalesce(group_stats.rejected, s.rejected),
    coalesce(group_stats.distinct_responses + group_stats.null_responses, s.side_effects), s.first_offending, s.spans, nm.responses, nm.keys, nm.effects, nm.effects_total,
    path, line, pos, ts, idempotency_key, response_id, status, status_num,
    effect, session_id, outcome, span_id, run_id, duration_ms
FROM ` + listed + ` JOIN s USING (rule_no, grp) LEFT JOIN nm USING (rule_no, grp)
ORDER BY rule_no, grp, k`
	if o.Explain != nil {
		if err := o.Explain("evidence", q); err != nil {
			return nil, err
		}
	}
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var all []Finding
	var cur *ruleFindings
	for rows.Next() {
		var no int
		var e evidenceRow
		c, st := &e.c, &e.st
		if err := rows.Scan(&no, &e.grp, &e.sev, &e.ruleID, &e.action, &e.key, &e.total, &e.since,
			&st.Calls, &st.DistinctResponses, &st.NullResponses, &st.DistinctKeys, &st.DistinctArgs, &e.span,
			&st.Applied, &st.Rejected, &st.SideEffects, &e.first, &e.spans, &e.names[0], &e.names[1], &e.names[2], &e.laterEffects,
			&c.Source, &c.Line, &c.Pos, &e.ts, &c.Key, &c.ResponseID, &c.Status, &c.StatusNum,
			&c.Effect, &c.SessionID, &e.outcome, &c.SpanID, &c.RunID, &c.DurationMS); err != nil {
			return nil, err
		}
		st.Unknown = st.Calls - st.Applied - st.Rejected
		if cur == nil || cur.r != &catalogue[no] {
			if cur != nil {
				all = append(all, cur.done()...)
			}
			cur = &ruleFindings{r: &catalogue[no], no: no}
		}
		if err := cur.add(&e); err != nil {
			return nil, fmt.Errorf("rule %s: %w", cur.r.ID, err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if cur != nil {
		all = append(all, cur.done()...)
	}
	return all, nil
}

// byID finds a rule of the catalogue.
func byID(id string) *Rule {
	for i := range catalogue {
		if catalogue[i].ID == id {
			return &catalogue[i]
		}
	}
	return nil
}

// findingID is stable across runs and databases: the rule and its group.
func findingID(rule, grp string) string {
	return fmt.Sprintf("%016x", xxh3.HashString(rule+"\x00"+grp))
}

func verbatim(s string) string { return s }

// noopSQL is true when the effect says nothing happened (IsNoop in SQL),
// false when it says something else or nothing (NULL). It tests the
// effects found noop (noopEffects): an IN list of constants, cheaper on
// every call than trimming and lowering each effect.
func (o Options) noopSQL(effect string) string {
	if o.noops == nil || len(o.noops) > maxNoops {
		return "coalesce(lower(" + trimSQL(effect) + ") IN ('noop', 'no-op', 'no_op', 'none'), false)"
	}
	if len(o.noops) == 0 {
		return "false"
	}
	in := make([]string, len(o.noops))
	for i, e := range o.noops {
		in[i] = sqlString(e)
	}
	return "coalesce(" + effect + " IN (" + strings.Join(in, ", ") + "), false)"
}

// maxNoops bounds the IN list of noopSQL (a log may spell noop with any
// number of spaces around it): beyond, each effect is trimmed.
const maxNoops = 64

// noopEffects lists the distinct effects of the calls that are noop.
func noopEffects(ctx context.Context, conn *sql.Conn) ([]string, error) {
	rows, err := conn.QueryContext(ctx, "SELECT DISTINCT effect FROM calls WHERE effect IS NOT NULL")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	noops := []string{}
	for rows.Next() {
		var e string
		if err := rows.Scan(&e); err != nil {
			return nil, err
		}
		if IsNoop(e) {
			noops = append(noops, e)
		}
	}
	return noops, rows.Err()
}
