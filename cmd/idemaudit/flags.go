package main

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	_ "time/tzdata" // --tz works on machines without a zoneinfo database

	"github.com/spf13/pflag"

	"github.com/idemaudit/idemaudit/internal/config"
	"github.com/idemaudit/idemaudit/internal/ingest"
	"github.com/idemaudit/idemaudit/internal/report"
	"github.com/idemaudit/idemaudit/internal/rules"
)

// dbFlags open the database.
type dbFlags struct {
	path, memLimit, tempDir string
	threads                 int
	config                  string
	identity                []string
	exclude, include        []string
	withConfig              bool // addConfig was called: the command reads the configuration

	imp        importFlags
	withImport bool // addImport was called: the command reads logs
}

// importFlags say how sources are read.
type importFlags struct {
	from                string
	maps                []string
	keyPaths, respPaths []string
	toolSpans           []string
}

// addImport adds the flags of reading logs and trace exports.
func (f *dbFlags) addImport(fs *pflag.FlagSet) {
	f.withImport = true
	fs.StringVar(&f.imp.from, "from", "auto", "the input format: auto (told from each file's content), jsonl, otlp, langfuse, langsmith, openai-agents")
	fs.StringArrayVar(&f.imp.maps, "map", nil, "read JSON Lines of another shape: FIELD=PATH, e.g. action_type=tool.name (repeatable; fields: "+strings.Join(ingest.Fields, ", ")+")")
	fs.StringSliceVar(&f.imp.keyPaths, "key-path", nil, "trace imports: where the idempotency key is, as dotted `PATHS` into args, result, attributes/metadata (default: "+strings.Join(ingest.DefaultKeyPaths, ",")+" in args, then attributes)")
	fs.StringSliceVar(&f.imp.respPaths, "response-path", nil, "trace imports: where the response id is (default: "+strings.Join(ingest.DefaultResponsePaths, ",")+" in the result)")
	fs.StringSliceVar(&f.imp.toolSpans, "tool-spans", nil, "trace imports: also read spans (observations, runs) with these names as tool calls, e.g. charge_*,book_*")
}

// build checks the flags and makes the import settings.
func (f *importFlags) build() (*ingest.Import, error) {
	from, err := ingest.ParseFormat(f.from)
	if err != nil {
		return nil, usageError{err}
	}
	for flag, list := range map[string][]string{"--key-path": f.keyPaths, "--response-path": f.respPaths, "--tool-spans": f.toolSpans} {
		if list != nil && len(list) == 0 {
			list = []string{""} // given empty: --key-path=
		}
		for _, v := range list {
			// an empty path (--key-path=, or a trailing comma), or one ending in a dot, finds nothing
			if v = strings.TrimSpace(v); v == "" || strings.HasSuffix(v, ".") || strings.HasPrefix(v, ".") {
				return nil, usagef("%s %q: want names or dotted paths, e.g. %s", flag, strings.Join(list, ","),
					map[string]string{"--key-path": "idempotency_key,args.request.key", "--response-path": "id,result.charge.id", "--tool-spans": "charge_*,book_*"}[flag])
			}
		}
	}
	im := &ingest.Import{From: from, KeyPaths: f.keyPaths, ResponsePaths: f.respPaths, ToolSpans: f.toolSpans}
	for _, m := range f.maps {
		if err := im.AddMap(m); err != nil {
			return nil, usageError{err}
		}
	}
	if len(im.Map) > 0 && from != ingest.FormatAuto && from != ingest.FormatJSONL {
		return nil, usagef("--map reads JSON Lines of another shape; it does not apply to --from %s", from)
	}
	return im, nil // --map reads the JSON Lines sources: trace exports beside them are still told apart
}

func (f *dbFlags) add(fs *pflag.FlagSet, required bool) {
	help := "keep the calls in this DuckDB `FILE` (default: in memory); content already in it is not added twice"
	if required {
		help = "the DuckDB `FILE` that keeps the calls (ingest and weekly create it when missing)"
	}
	fs.StringVar(&f.path, "db", "", help)
	fs.StringVar(&f.memLimit, "memory-limit", "", "DuckDB memory limit, e.g. 4GB (default: a quarter of RAM, at most 1GB; DuckDB spills beyond it)")
	fs.StringVar(&f.tempDir, "temp-dir", "", "where DuckDB spills when over the memory limit (default: a private temporary directory, or FILE.tmp beside --db)")
	fs.IntVar(&f.threads, "threads", 0, "DuckDB threads (default: one per core)")
}

// addConfig adds --config and --identity (every command but prune).
func (f *dbFlags) addConfig(fs *pflag.FlagSet) {
	f.withConfig = true
	fs.StringVar(&f.config, "config", "", "configuration `FILE` (identity, repeatable and read-only actions, outcomes, compensations; default: idemaudit.toml or idemaudit.json in the working directory, if there)")
	fs.StringArrayVar(&f.identity, "identity", nil, "fingerprint ACTION (a name or glob) by these args paths, e.g. book_*=user_id,flights (repeatable; wins over the file)")
}

// addReads adds --exclude and --include (the commands that report).
func (f *dbFlags) addReads(fs *pflag.FlagSet) {
	fs.StringSliceVar(&f.exclude, "exclude", nil, "leave these actions (names or `GLOBS`) out of the audit: reads, not side effects (as read_only in the configuration)")
	fs.StringSliceVar(&f.include, "include", nil, "audit these actions (names or `GLOBS`) even if configured read-only or named like a read in a trace export ("+strings.Join(config.DefaultTraceReads, ",")+", also camelCase: getBalance)")
}

// loadConfig reads --config (or the default file) and --identity.
func (f *dbFlags) loadConfig() (*config.Config, error) {
	c, err := config.Load(f.config)
	if err != nil {
		return nil, err
	}
	for _, spec := range f.identity {
		if err := c.AddIdentity(spec); err != nil {
			return nil, usageError{err}
		}
	}
	if err := c.AddReadOnly(f.exclude, true); err != nil {
		return nil, usageError{err}
	}
	if err := c.AddReadOnly(f.include, false); err != nil {
		return nil, usageError{err}
	}
	return c, nil
}

func (e *env) openDB(f *dbFlags) (*ingest.DB, error) {
	return e.open(f, false)
}

// openDBReadOnly opens a kept database for a report: nothing is written.
func (e *env) openDBReadOnly(f *dbFlags) (*ingest.DB, error) {
	return e.open(f, true)
}

// open loads the configuration, opens the database and checks that it was
// built with the same fingerprint settings.
func (e *env) open(f *dbFlags, readOnly bool) (*ingest.DB, error) {
	var cfg *config.Config
	if f.withConfig {
		var err error
		if cfg, err = f.loadConfig(); err != nil {
			return nil, err
		}
	}
	var im *ingest.Import
	if f.withImport {
		var err error
		if im, err = f.imp.build(); err != nil {
			return nil, err
		}
	}
	if f.threads < 0 {
		return nil, usagef("--threads must be 0 (one per core) or more, got %d", f.threads)
	}
	if !validMemoryLimit(f.memLimit) {
		return nil, usagef("--memory-limit: want a size like 4GB, 512MB or 1.5GiB (units B, KB, MB, GB, TB or KiB, MiB, GiB, TiB), or none; got %q", f.memLimit)
	}
	db, err := ingest.Open(e.ctx, f.path, ingest.Options{MemoryLimit: f.memLimit, TempDir: f.tempDir, Threads: f.threads, ReadOnly: readOnly})
	if err != nil {
		return nil, err
	}
	db.Import = im
	db.Timing = e.timing()
	if cfg == nil {
		return db, nil // prune: fingerprints are not touched
	}
	if err := db.UseConfig(e.ctx, cfg, f.path, readOnly); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// memoryLimitRE is what DuckDB's memory_limit takes: a number and a unit
// (case-insensitive, spaces around). DuckDB reads it only when the database
// is open, and names no flag; anything after the unit it ignores (refused
// here: "4 GB extra" is a typo more likely than a wish).
var memoryLimitRE = regexp.MustCompile(`(?i)^\s*(\d+\.?\d*|\.\d+)(e-?\d+)?\s*(b|bytes?|k|kb|kib|kilobytes?|m|mb|mib|megabytes?|g|gb|gib|gigabytes?|t|tb|tib|terabytes?)\s*$`)

// validMemoryLimit reports whether DuckDB takes s as its memory limit: ""
// (the default), a size, or none or -1 (no limit).
func validMemoryLimit(s string) bool {
	return s == "" || s == "none" || s == "-1" || memoryLimitRE.MatchString(s)
}

// reportFlags choose what is written and when the exit code says findings.
type reportFlags struct {
	format, output, failOn, baseline string
	failOnNew, redact, quietRej      bool
	window                           time.Duration
	maxEvidence                      int

	rep       report.Reporter
	threshold rules.Severity
	base      map[string]rules.Baselined
}

func (f *reportFlags) add(fs *pflag.FlagSet, output bool) {
	fs.StringVarP(&f.format, "format", "f", "table", "report format: "+joinOr(report.Formats))
	if output {
		fs.StringVarP(&f.output, "output", "o", "", "write the report to `FILE` instead of stdout")
	}
	fs.DurationVar(&f.window, "window", rules.DefaultWindow, "largest gap between two calls of one retry chain")
	fs.IntVar(&f.maxEvidence, "max-evidence", 1000, "list at most the first `N` calls of a finding (its stats count them all); 0: every call")
	fs.StringVar(&f.failOn, "fail-on", "", "exit 1 when a finding is at or above `SEVERITY` (critical, high, medium, low); default: never")
	fs.BoolVar(&f.failOnNew, "fail-on-new", false, "--fail-on counts only findings new in the period (for cron)")
	fs.BoolVar(&f.redact, "redact", false, "for client reports: keys, response ids, session, span and run ids and finding ids become short stable tokens")
	fs.StringVar(&f.baseline, "baseline", "", "report the findings listed in this baseline `FILE` as suppressed, not counted for --fail-on")
	fs.BoolVar(&f.quietRej, "quiet-rejections", false, "leave out retry-after-rejection findings (retries of requests the downstream rejected)")
}

func (f *reportFlags) check() error {
	var err error
	if f.rep, err = report.New(f.format); err != nil {
		return usageError{err}
	}
	if f.window <= 0 {
		return usagef("--window must be positive, got %s", f.window)
	}
	if f.maxEvidence < 0 || f.maxEvidence > rules.MaxListed {
		return usagef("--max-evidence must be 0 (every call) to %d, got %d", rules.MaxListed, f.maxEvidence)
	}
	if f.failOn != "" {
		if f.threshold, err = rules.ParseSeverity(f.failOn); err != nil {
			return usageError{fmt.Errorf("--fail-on: %w", err)}
		}
	}
	if f.failOnNew && f.failOn == "" {
		return usagef("--fail-on-new needs --fail-on")
	}
	if f.baseline != "" {
		if f.base, err = readBaseline(f.baseline); err != nil {
			return err
		}
	}
	return checkOutput(f.output)
}

// processStart is when the process started, for IDEMAUDIT_TIMING.
var processStart = time.Now()

// lastCPU is the process's CPU time at the last timing line.
var lastCPU atomic.Int64

// timing prints how long each step took, and when it ended, on stderr when
// IDEMAUDIT_TIMING is set (for performance work); else it is nil. The CPU
// time is the whole process's since the previous line (every thread's:
// steps run one after the other), a measure that other jobs on the machine
// disturb less than the wall time.
func (e *env) timing() func(step string, d time.Duration) {
	if os.Getenv("IDEMAUDIT_TIMING") == "" {
		return nil
	}
	return func(step string, d time.Duration) {
		cpu := processCPU()
		prev := time.Duration(lastCPU.Swap(int64(cpu)))
		fmt.Fprintf(e.stderr, "timing: %-36s %6.2fs (at %.2fs) cpu %6.2fs\n", step, d.Seconds(), time.Since(processStart).Seconds(), (cpu - prev).Seconds())
	}
}

// timed reports the time since start as step, when timing is on.
func (e *env) timed(step string, start time.Time) {
	if t := e.timing(); t != nil {
		t(step, time.Since(start))
	}
}

// analyse runs the catalogue with the report flags (window, baseline) and
// applies --redact, ready to render.
func (e *env) analyse(f *reportFlags, db *ingest.DB, o rules.Options) (*rules.Result, error) {
	o.Window, o.Baseline, o.MaxEvidence = f.window, f.base, f.maxEvidence
	o.Config, o.QuietRejections = db.Config, f.quietRej
	o.Timing = e.timing()
	if rule := os.Getenv("IDEMAUDIT_EXPLAIN"); rule != "" { // for performance work
		known := rule == "candidates"
		for _, r := range rules.Catalogue() {
			known = known || r.ID == rule
		}
		if !known {
			fmt.Fprintf(e.stderr, "idemaudit: IDEMAUDIT_EXPLAIN=%q names no rule (a rule id of 'idemaudit rules', or candidates): nothing is explained\n", rule)
		}
		o.Explain = func(id, query string) error {
			if id != rule {
				return nil
			}
			var kind, plan string
			if err := db.Conn.QueryRowContext(e.ctx, "EXPLAIN ANALYZE "+query).Scan(&kind, &plan); err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "EXPLAIN ANALYZE of rule %s:\n%s\n", id, plan)
			return nil
		}
	}
	res, err := rules.Audit(e.ctx, db.Conn, o)
	if err != nil || !f.redact {
		return res, err
	}
	salt, err := db.Salt(e.ctx)
	if err != nil {
		return nil, err
	}
	rules.Redact(res, salt)
	return res, nil
}

// exitCode is 1 when a counted finding is at or above --fail-on.
func (f *reportFlags) exitCode(res *rules.Result) int {
	if f.threshold == 0 {
		return exitOK
	}
	for _, fd := range res.Findings {
		if fd.Severity >= f.threshold && !fd.Suppressed && (!f.failOnNew || fd.New) {
			return exitFindings
		}
	}
	return exitOK
}

// periodFlags pick the period of a report.
type periodFlags struct {
	week, since, until, tz, now string
	trend                       int
}

func (f *periodFlags) add(fs *pflag.FlagSet, choosable bool) {
	if choosable {
		fs.StringVar(&f.week, "week", "last", "the ISO week to report: 2026-W47, last (the last complete week) or this")
		fs.StringVar(&f.since, "since", "", "report from this `TIME` instead of a week (RFC 3339, or a date: 2026-11-16)")
		fs.StringVar(&f.until, "until", "", "report up to this `TIME`, excluded (default: now)")
	}
	fs.StringVar(&f.tz, "tz", "UTC", "the time zone weeks and dates are in, e.g. Europe/Berlin")
	now := "take this `TIME` as now (RFC 3339), for backfills and tests"
	if !choosable { // weekly: it ingests too
		now += "; also the ingest time stamped on the files read (it places their calls without ts)"
	}
	fs.StringVar(&f.now, "now", "", now)
	fs.IntVar(&f.trend, "trend", 8, "earlier weeks to show in the trend")
}

// parseNow reads --now; "" is the zero time (the clock).
func parseNow(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, usagef("--now: want RFC 3339 (2026-11-23T06:00:00Z), got %q", s)
	}
	return t, nil
}

// span resolves the flags into the period and the earlier weeks of the trend.
func (f *periodFlags) span() (rules.Span, []rules.Span, error) {
	loc, err := time.LoadLocation(f.tz)
	if err != nil {
		return rules.Span{}, nil, usagef("--tz: unknown time zone %q", f.tz)
	}
	now, err := parseNow(f.now)
	if err != nil {
		return rules.Span{}, nil, err
	}
	if now.IsZero() {
		now = time.Now()
	}
	if f.trend < 0 {
		return rules.Span{}, nil, usagef("--trend must be ≥ 0")
	}
	if f.since != "" || f.until != "" {
		if f.since == "" {
			return rules.Span{}, nil, usagef("--until needs --since")
		}
		start, err := parseTime(f.since, loc)
		if err != nil {
			return rules.Span{}, nil, usagef("--since: %v", err)
		}
		end := now
		if f.until != "" {
			if end, err = parseTime(f.until, loc); err != nil {
				return rules.Span{}, nil, usagef("--until: %v", err)
			}
		}
		if !start.Before(end) {
			return rules.Span{}, nil, usagef("--since must be before --until")
		}
		return rules.Span{Start: start, End: end}, nil, nil
	}
	var monday time.Time
	switch f.week {
	case "last", "":
		monday = mondayOf(now.In(loc)).AddDate(0, 0, -7)
	case "this":
		monday = mondayOf(now.In(loc))
	default:
		if monday, err = parseISOWeek(f.week, loc); err != nil {
			return rules.Span{}, nil, usagef("--week: %v", err)
		}
	}
	cur := weekSpan(monday)
	var trend []rules.Span
	for i := f.trend; i >= 1; i-- {
		trend = append(trend, weekSpan(monday.AddDate(0, 0, -7*i)))
	}
	return cur, trend, nil
}

// mondayOf is 00:00 of the Monday of t's ISO week, in t's location.
func mondayOf(t time.Time) time.Time {
	back := (int(t.Weekday()) + 6) % 7 // days since Monday
	return time.Date(t.Year(), t.Month(), t.Day()-back, 0, 0, 0, 0, t.Location())
}

// weekSpan is the ISO week starting on monday; days are calendar days, so a
// week with a daylight-saving change is 167 or 169 hours long.
func weekSpan(monday time.Time) rules.Span {
	y, w := monday.ISOWeek()
	return rules.Span{Start: monday, End: monday.AddDate(0, 0, 7), Label: fmt.Sprintf("%04d-W%02d", y, w)}
}

// parseISOWeek reads 2026-W47 (or 2026W47) into the Monday it starts on.
func parseISOWeek(s string, loc *time.Location) (time.Time, error) {
	y, w, ok := strings.Cut(strings.ToUpper(s), "W")
	y = strings.TrimSuffix(y, "-")
	year, err1 := strconv.Atoi(y)
	week, err2 := strconv.Atoi(w)
	if !ok || err1 != nil || err2 != nil || year < 1800 || year > 2199 || week < 1 || week > 53 {
		return time.Time{}, fmt.Errorf("want an ISO week like 2026-W47, last or this; got %q", s)
	}
	jan4 := time.Date(year, 1, 4, 0, 0, 0, 0, loc)
	monday := mondayOf(jan4).AddDate(0, 0, 7*(week-1))
	if yy, ww := monday.ISOWeek(); yy != year || ww != week {
		return time.Time{}, fmt.Errorf("%d has no week %d", year, week)
	}
	return monday, nil
}

// parseTime reads RFC 3339, or a date (midnight in loc).
func parseTime(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, loc); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("want RFC 3339 (2026-11-16T09:00:00Z) or a date (2026-11-16), got %q", s)
}

// baselineFile is what `idemaudit baseline` writes: the ids, with enough
// context for a person to review what is being suppressed.
type baselineFile struct {
	SchemaVersion int               `json:"schema_version"`
	Findings      []baselineFinding `json:"findings"`
}

type baselineFinding struct {
	ID         string  `json:"id"`
	Rule       string  `json:"rule"`
	Severity   string  `json:"severity"`
	ActionType string  `json:"action_type"`
	Key        *string `json:"idempotency_key"`
	// SideEffects is what the finding counted when the baseline was
	// written; it is suppressed while it counts no more (and its severity
	// is no higher). Baselines written before it have none.
	SideEffects *int `json:"side_effects,omitempty"`
}

func readBaseline(path string) (map[string]rules.Baselined, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f baselineFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("baseline %s: %w", path, err)
	}
	if f.SchemaVersion != 1 {
		return nil, fmt.Errorf("baseline %s: schema_version %d, want 1", path, f.SchemaVersion)
	}
	ids := map[string]rules.Baselined{}
	for _, x := range f.Findings {
		var b rules.Baselined
		if x.Severity != "" {
			s, err := rules.ParseSeverity(x.Severity)
			if err != nil {
				return nil, fmt.Errorf("baseline %s: finding %s: %w", path, x.ID, err)
			}
			b.Severity = &s
		}
		b.SideEffects = x.SideEffects
		ids[x.ID] = b
	}
	return ids, nil
}
