package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/zeebo/xxh3"

	"github.com/idemaudit/idemaudit/internal/config"
)

// maxDepth bounds nesting anywhere in a line: deeper input is reported as a
// malformed line instead of growing the stack without limit.
const maxDepth = 512

// Record is one call parsed from a log line. Empty strings mean absent: the
// format treats null, missing and "" alike for every optional string field.
type Record struct {
	TS          int64 // nanoseconds since the Unix epoch, UTC
	HasTS       bool
	Action      string
	Key         string
	Response    string
	Session     string
	Trace       string
	Span        string
	Run         string
	Parent      string // the span holding this one (trace exports)
	Status      string
	StatusNum   bool // status was a JSON number; Status holds its literal text
	Effect      string
	Duration    float64
	HasDuration bool
	HasArgs     bool
	ArgsFP      [16]byte // hash of action_type + canonical args, when HasArgs
	FP          [16]byte // the operation's fingerprint: ArgsFP, else (trace exports) hash of action + session + tool call id, else hash of action + session
	HasFP       bool
	ArgStrings  string // the args' string values, each followed by ArgSep, for calls that may compensate others
	Args        []byte // canonical args, only when the parser keeps them (ReadCalls)
}

// Parser turns one log line into a Record. It validates the whole line as
// strict JSON (RFC 8259) and valid UTF-8, because encoding/json silently
// accepts invalid UTF-8 and we must report, never repair, such lines.
// A Parser reuses its buffers and is not safe for concurrent use.
type Parser struct {
	b     []byte
	pos   int
	depth int
	canon []byte   // canonical args being built
	tmp   []byte   // scratch for reordering object members
	str   []byte   // scratch for decoded strings
	spans []member // members of the objects being canonicalised (a stack)
	fpbuf []byte

	cfg   *config.Config       // identity settings; nil: whole args
	cache map[string]*actionFP // cfg resolved per action type
	sub   *Parser              // walks canonical args for identity paths
	out   []byte               // sub's output

	ign      [][]string // paths the canonical args being built leave out (see onlyIgnores)
	subs     [][]string // a stack of the paths below the members being read (see underName)
	keepArgs bool       // copy the canonical args into Record.Args
	raw      bool       // the last string str2 read held no escape: its bytes are the line's
	arena    []byte     // the strings of records (see keep)

	strp    *Parser // canonicalises JSON held in a string
	intern  map[string]string
	conv    *converter   // set: lines are records of a trace export (or --map), converted first
	convBuf bytes.Buffer // a converted call
}

type parseError struct{ msg string }

func (e *parseError) Error() string { return e.msg }

func (p *Parser) fail(format string, a ...any) error {
	return &parseError{fmt.Sprintf(format, a...)}
}

// field ids of the top-level members we read; everything else is validated and skipped.
const (
	fNone = iota
	fTS
	fAction
	fKey
	fResponse
	fSession
	fTrace
	fSpan
	fRun
	fArgs
	fStatus
	fEffect
	fDuration
	fParent
	fToolCall // a trace export's tool call id: read only from converted records
)

func fieldOf(name []byte) int {
	switch string(name) { // the compiler does not allocate for this conversion
	case "ts":
		return fTS
	case "action_type":
		return fAction
	case "idempotency_key":
		return fKey
	case "response_id":
		return fResponse
	case "session_id":
		return fSession
	case "trace_id":
		return fTrace
	case "span_id":
		return fSpan
	case "run_id":
		return fRun
	case "args":
		return fArgs
	case "status":
		return fStatus
	case "effect":
		return fEffect
	case "duration_ms":
		return fDuration
	case "parent_span_id":
		return fParent
	case "tool_call_id":
		return fToolCall
	}
	return fNone
}

// Parse parses one line (without its line terminator). Duplicate members
// follow JSON.parse and encoding/json: the last one wins.
func (p *Parser) Parse(line []byte, r *Record) error {
	*r = Record{}
	if !utf8.Valid(line) {
		return &parseError{fmt.Sprintf("invalid UTF-8 at byte %d", invalidUTF8At(line))}
	}
	p.b, p.pos, p.depth, p.spans, p.subs = line, 0, 0, p.spans[:0], p.subs[:0]
	p.ws()
	if p.pos >= len(p.b) || p.b[p.pos] != '{' {
		if bytes.HasPrefix(p.b[p.pos:], []byte("\xef\xbb\xbf")) {
			return p.fail("not a JSON object: a byte order mark at byte %d", p.pos+1)
		}
		return p.fail("not a JSON object")
	}
	var argsCanon []byte
	var toolCall string
	haveArgs, haveAction := false, false
	argsAt, strippedFor := -1, "" // where the args value starts; the action whose ignored paths it left out
	err := p.object(func(name []byte) error {
		f := fieldOf(name)
		switch f {
		case fNone:
			return p.skip()
		case fToolCall:
			if p.conv == nil || !p.conv.format.Imported() {
				return p.skip() // not a field of idemaudit's own log format: ignored like any unknown one
			}
			s, _, err := p.scalarIn(nil)
			toolCall = s
			return err
		case fArgs:
			// a later args member replaces an earlier one whole, with how
			// it was read (one pass or two)
			argsAt, strippedFor = -1, ""
			if p.peekNull() {
				haveArgs = false
				return p.skip()
			}
			p.canon = p.canon[:0]
			if p.pos < len(p.b) && p.b[p.pos] == '"' {
				// args logged as a string: when it holds a JSON object or
				// array (a tool's arguments as the model wrote them), that
				// value is the args
				s, err := p.str2()
				if err != nil {
					return err
				}
				if c, ok := p.jsonInString(s); ok {
					p.canon = append(p.canon, c...)
				} else {
					p.canon = appendQuoted(p.canon, s)
				}
				haveArgs, argsCanon = true, p.canon
				return nil
			}
			// an action whose settings only ignore paths: they are left
			// out while the args are canonicalised (one pass, not a
			// second walk of the canonical args; see fingerprints)
			argsAt = p.pos
			if r.Action != "" && !p.keepArgs && p.onlyIgnores(r.Action) {
				p.ign, strippedFor = p.settings(r.Action).ignore, r.Action
			}
			err := p.canonValue()
			p.ign = nil
			if err != nil {
				return err
			}
			haveArgs, argsCanon = true, p.canon
			return nil
		case fTS:
			return p.ts(r)
		case fDuration:
			return p.duration(r)
		case fAction:
			s, kind, err := p.scalarIn(p.interned())
			if err != nil {
				return err
			}
			if kind != kString && kind != kNull {
				return p.fail("action_type must be a string")
			}
			r.Action, haveAction = s, s != ""
			return nil
		}
		var intern map[string]string
		if f == fStatus || f == fEffect {
			intern = p.interned()
		}
		s, kind, err := p.scalarIn(intern)
		if err != nil {
			return err
		}
		if kind == kNumber && (f == fKey || f == fResponse || f == fSession) {
			// an id logged as a number: one text per numeric value, as in
			// the args (100, 1e2 and 100.0 are one response id); a string
			// stays as written, so 42 and "42" are one id, "1e2" another
			s = canonID(s)
		}
		switch f {
		case fKey:
			r.Key = s
		case fResponse:
			r.Response = s
		case fSession:
			r.Session = s
		case fTrace:
			r.Trace = s
		case fSpan:
			r.Span = s
		case fRun:
			r.Run = s
		case fParent:
			r.Parent = s
		case fStatus:
			r.Status, r.StatusNum = s, kind == kNumber
		case fEffect:
			r.Effect = s
		}
		return nil
	})
	if err != nil {
		return err
	}
	p.ws()
	if p.pos != len(p.b) {
		return p.fail("unexpected %s after the JSON object at byte %d", describe(p.b[p.pos]), p.pos+1)
	}
	if !haveAction {
		return p.fail("action_type is missing, null or empty")
	}
	if haveArgs && strippedFor != "" && strippedFor != r.Action {
		// a later duplicate action_type member changed the action: the
		// args again, whole (they were valid: no error)
		strippedFor = ""
		p.pos, p.spans, p.canon = argsAt, p.spans[:0], p.canon[:0]
		p.depth = 1
		_ = p.canonValue()
		argsCanon = p.canon
	}
	if haveArgs && strippedFor != "" {
		r.HasArgs, r.HasFP = true, true
		r.ArgsFP = p.hash('a', r.Action, argsCanon)
		r.FP = r.ArgsFP
	} else if haveArgs {
		r.HasArgs, r.HasFP = true, true
		p.fingerprints(r, argsCanon)
		if p.keepArgs {
			r.Args = append([]byte(nil), argsCanon...)
		}
	} else if toolCall != "" && (r.Session != "" || r.Trace != "") {
		// a trace export that left the args out (GenAI conventions: they are
		// opt-in) but names the tool call: a retry of one tool call keeps its
		// id, two tool calls of the model are two operations. Ids are unique
		// within a conversation only (some servers number them per
		// response: call_0), so the session is part of it, else the trace;
		// with neither, the id identifies nothing.
		// (the scope's length first: no two pairs give one payload; a trace
		// scope is marked, so it never equals a session's)
		scope := r.Session
		var payload []byte
		if scope == "" {
			scope, payload = r.Trace, []byte{'t'}
		}
		payload = append(strconv.AppendInt(payload, int64(len(scope)), 10), ':')
		payload = append(append(payload, scope...), toolCall...)
		r.HasFP = true
		r.FP = p.hash('c', r.Action, payload)
	} else if r.Session != "" {
		r.HasFP = true
		r.FP = p.hash('s', r.Action, []byte(r.Session))
	}
	return nil
}

// onlyIgnores says whether the action's fingerprint is its args less some
// ignored paths (no identity paths, no args strings kept).
func (p *Parser) onlyIgnores(action string) bool {
	s := p.settings(action)
	return s != &noSettings && s.identity == nil && !s.compensates && len(s.ignore) > 0
}

// hash gives a 128-bit fingerprint; the kind byte keeps an args hash from
// ever equalling a session hash, the NUL keeps action and payload apart.
func (p *Parser) hash(kind byte, action string, payload []byte) [16]byte {
	p.fpbuf = append(p.fpbuf[:0], kind)
	p.fpbuf = append(p.fpbuf, action...)
	p.fpbuf = append(p.fpbuf, 0)
	p.fpbuf = append(p.fpbuf, payload...)
	return xxh3.Hash128(p.fpbuf).Bytes()
}

// CanonicalArgs returns the canonical JSON text of one JSON value: object
// members sorted (duplicates: last wins), no insignificant whitespace,
// strings re-escaped minimally, numbers in one normal form. For tests and tools.
func CanonicalArgs(v []byte) (string, error) {
	var p Parser
	if !utf8.Valid(v) {
		return "", errors.New("invalid UTF-8")
	}
	p.b = v
	p.ws()
	if err := p.canonValue(); err != nil {
		return "", err
	}
	p.ws()
	if p.pos != len(p.b) {
		return "", p.fail("trailing data at byte %d", p.pos+1)
	}
	return string(p.canon), nil
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i + 1
		}
		i += n
	}
	return len(b)
}

func describe(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return strconv.QuoteRune(rune(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

// jsonInString returns the canonical form of a JSON object or array held
// in a (decoded) string; ok is false for any other string.
func (p *Parser) jsonInString(s []byte) ([]byte, bool) {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	if i == len(s) || (s[i] != '{' && s[i] != '[') || !utf8.Valid(s) {
		return nil, false
	}
	if p.strp == nil {
		p.strp = &Parser{}
	}
	q := p.strp
	q.b, q.pos, q.depth, q.canon, q.spans = s, i, p.depth, q.canon[:0], q.spans[:0]
	if q.canonValue() != nil {
		return nil, false
	}
	q.ws()
	return q.canon, q.pos == len(q.b)
}

// interned is the parser's table of low-cardinality strings.
func (p *Parser) interned() map[string]string {
	if p.intern == nil {
		p.intern = make(map[string]string, 64)
	}
	return p.intern
}
