package rules

import (
	"fmt"
	"strconv"
	"time"
)

// patternRules are the rules whose findings are repeats of one operation.
var patternRules = map[string]bool{"same-key-different-response": true, "repeat-without-key": true,
	"unstable-key": true, "non-noop-replay": true, RetryAfterRejection: true}

// Patterns, in the order they are tried: the first that fits names the finding.
const (
	PatternRetryAfterError = "retry-after-error" // an earlier call failed or timed out
	PatternConcurrent      = "concurrent"        // calls overlap in time: parallel branches
	PatternReplay          = "replay"            // calls from different run ids: a crash-recovery replay
	PatternRetryStorm      = "retry-storm"       // three calls or more
	PatternRepeat          = "repeat"
)

// labelPattern says how a repeat came about, from its evidence (ordered by
// time): a call before the last one that failed (a status that says error,
// timeout or 5xx: outcome unknown with a status) → retry-after-error; a call
// that starts before the previous one ended (ts + duration_ms), on another
// span → concurrent; two run ids → replay; ≥ 3 calls → retry-storm. A
// finding that lists only its first calls is read from those, and counts
// them all for retry-storm.
func labelPattern(f *Finding) {
	if !patternRules[f.Rule] || max(len(f.Calls), f.Stats.Calls) < 2 {
		return
	}
	cs := f.Calls
	before := cs // the calls before the last one
	if len(cs) >= f.Stats.Calls && len(cs) > 0 {
		before = cs[:len(cs)-1]
	}
	for i, c := range before {
		if c.Outcome == Unknown && c.Status != nil {
			f.Pattern, f.patternAt = PatternRetryAfterError, i
			return
		}
	}
	for i := 1; i < len(cs); i++ {
		a, b := cs[i-1], cs[i]
		if a.TS == nil || b.TS == nil || a.DurationMS == nil {
			continue
		}
		end := a.TS.Add(time.Duration(*a.DurationMS * float64(time.Millisecond)))
		if b.TS.Before(end) && (a.SpanID == nil || b.SpanID == nil || *a.SpanID != *b.SpanID) {
			f.Pattern, f.patternAt = PatternConcurrent, i
			return
		}
	}
	runs := map[string]bool{}
	for _, c := range cs {
		if c.RunID != nil {
			runs[*c.RunID] = true
		}
	}
	switch {
	case len(runs) >= 2:
		f.Pattern = PatternReplay
	case max(len(cs), f.Stats.Calls) >= 3: // the calls not listed count too
		f.Pattern = PatternRetryStorm
	default:
		f.Pattern = PatternRepeat
	}
}

// PatternNote says in words what in the evidence shows the pattern, with
// log values passed through quote (as Message does); "" when there is
// nothing to add.
func PatternNote(f *Finding, quote func(string) string) string {
	cs := f.Calls
	at := func(c Call) string {
		s := quote(c.Source) + ":" + strconv.FormatInt(c.Line, 10)
		if c.SpanID != nil {
			s += " (span " + quote(*c.SpanID) + ")"
		}
		return s
	}
	switch f.Pattern {
	case PatternRetryAfterError:
		c := cs[f.patternAt]
		s := fmt.Sprintf("the call at %s ended with status %s", at(c), quote(*c.Status))
		if c.StatusNum {
			s = fmt.Sprintf("the call at %s answered %s", at(c), quote(*c.Status))
		}
		var took time.Duration
		if c.DurationMS != nil && *c.DurationMS > 0 {
			took = time.Duration(*c.DurationMS * float64(time.Millisecond))
			s += " after " + preciseDuration(took)
		}
		s += " and was retried"
		if f.patternAt+1 < len(cs) && c.TS != nil && cs[f.patternAt+1].TS != nil {
			next := cs[f.patternAt+1]
			gap := next.TS.Sub(*c.TS)
			if took > 0 {
				// "after 30s and was retried 31s later" read as 31s after
				// it ended; the gap runs from start to start
				s += " " + preciseDuration(gap) + " after it started"
			} else {
				s += " " + preciseDuration(gap) + " later"
			}
			// the retry followed the end of a long call at once: the
			// client gave up waiting, the call may well have gone through
			if took >= 5*time.Second && gap >= took && gap-took <= 5*time.Second {
				s += " (a client timeout: the retry came as soon as the caller stopped waiting)"
			}
		}
		if c.ResponseID != nil {
			s += fmt.Sprintf("; its response id %s shows it went through after all", quote(*c.ResponseID))
		}
		return s
	case PatternConcurrent:
		return fmt.Sprintf("the call at %s started before the one at %s had ended", at(cs[f.patternAt]), at(cs[f.patternAt-1]))
	case PatternReplay:
		runs := map[string]bool{}
		for _, c := range cs {
			if c.RunID != nil {
				runs[*c.RunID] = true
			}
		}
		return fmt.Sprintf("the calls come from %d run ids: a restarted process replayed the step", len(runs))
	case PatternRetryStorm:
		return fmt.Sprintf("%d calls in a row", max(len(cs), f.Stats.Calls))
	}
	return ""
}

// preciseDuration writes a time span to a tenth of a second under a minute
// (29.9s, not 29s: the timeline shows the same), to the second above.
func preciseDuration(d time.Duration) string {
	if d < time.Millisecond { // 0.0005s, as the timeline's gap (rounding would say 1ms, or 0s)
		return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
	}
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	if d < time.Minute {
		return strconv.FormatFloat(d.Round(100*time.Millisecond).Seconds(), 'f', -1, 64) + "s"
	}
	return d.Round(time.Second).String()
}
