package rules

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// Redact replaces the identifiers a client report must not show — keys,
// response ids, session, span and run ids — with short tokens: HMAC-SHA256 under salt,
// so the same value always reads as the same token within a report and
// evidence still reads ("the same key, two responses"), while nobody
// without the salt can test a guess. Finding ids become tokens too. Args
// are never in a result.
func Redact(res *Result, salt []byte) {
	tok := func(kind string, s *string) *string {
		if s == nil {
			return nil
		}
		m := hmac.New(sha256.New, salt)
		m.Write([]byte(kind))
		m.Write([]byte{0})
		m.Write([]byte(*s))
		t := kind + "-" + hex.EncodeToString(m.Sum(nil))[:10]
		return &t
	}
	// a trace record's error names it by its span, observation or run id
	// ("span 5b8aa5a2d2c872e8: a function span without a name"): the id
	// reads as the token its calls' span id gets
	for i := range res.Malformed {
		m := &res.Malformed[i]
		for _, kind := range []string{"span ", "observation ", "run "} {
			if rest, ok := strings.CutPrefix(m.Error, kind); ok {
				if id, msg, ok := recordID(rest); ok {
					m.Error = kind + *tok("span", &id) + ": " + msg
				} else { // not the form ingest writes: nothing of it shows
					m.Error = kind + *tok("span", &rest)
				}
				break
			}
		}
	}
	for i := range res.Findings {
		f := &res.Findings[i]
		f.ID = *tok("id", &f.ID) // an id is a plain hash of the key: guessable keys would show through
		f.Key = tok("key", f.Key)
		for j := range f.Calls {
			c := &f.Calls[j]
			c.Key = tok("key", c.Key)
			c.ResponseID = tok("resp", c.ResponseID)
			c.SessionID = tok("sess", c.SessionID)
			c.SpanID = tok("span", c.SpanID) // a trace export's span, observation or run id names a vendor record
			c.RunID = tok("run", c.RunID)
		}
		if n := f.names; n != nil { // what the message names
			for j := range n.responses {
				n.responses[j] = *tok("resp", &n.responses[j])
			}
			for j := range n.keys {
				n.keys[j] = *tok("key", &n.keys[j])
			}
		}
		if n := f.compNames; n != nil {
			for j := range n.of {
				n.of[j] = *tok("resp", &n.of[j])
			}
		}
		for j := range f.Compensations {
			c := &f.Compensations[j]
			c.Key = tok("key", c.Key)
			c.ResponseID = tok("resp", c.ResponseID)
			c.SessionID = tok("sess", c.SessionID)
			c.SpanID = tok("span", c.SpanID) // a trace export's span, observation or run id names a vendor record
			c.RunID = tok("run", c.RunID)
			c.Of = *tok("resp", &c.Of)
		}
		f.Message = Message(f, verbatim)
	}
}

// recordID splits a trace record's error after its kind ("span ") into the
// record's id and the message: the id is Go-quoted when it holds ": " (see
// ingest's recordRef), else it ends at the first ": ".
func recordID(rest string) (id, msg string, ok bool) {
	if strings.HasPrefix(rest, `"`) {
		q, err := strconv.QuotedPrefix(rest)
		if err != nil {
			return "", "", false
		}
		msg, ok = strings.CutPrefix(rest[len(q):], ": ")
		if id, err = strconv.Unquote(q); err != nil || !ok {
			return "", "", false
		}
		return id, msg, true
	}
	return strings.Cut(rest, ": ")
}
