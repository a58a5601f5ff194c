package rules

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
	"time"
)

// SuggestCall is what identity suggestions read of a call.
type SuggestCall struct {
	Action  string
	Session string
	TS      int64  // ns since the epoch
	Args    []byte // canonical args JSON
}

// PathEvidence is one args path of an action, with the evidence for or
// against it being part of the operation's identity.
type PathEvidence struct {
	Path string
	// ConstantChains counts the chains (repeats of the action in one
	// session within the window: likely retries) in which every call has
	// the same value at the path (missing counts as null).
	ConstantChains int
	// Distinct counts the values seen at the path across all the action's
	// calls (capped at DistinctCap): 1 means it never varies.
	Distinct int
	Suggest  bool // constant within chains, varying across calls
}

// DistinctCap bounds the distinct values counted per path.
const DistinctCap = 1000

// ActionSuggestion is the evidence for one action type.
type ActionSuggestion struct {
	Action   string
	Calls    int
	Chains   int // chains of two or more calls
	Paths    []PathEvidence
	Identity []string // the suggested paths; nil when there is no chain to learn from
	// Coarse holds the paths that passed one by one but together take too
	// few values to tell the action's operations apart (more than
	// CoarseCalls calls a value: currency and a constant description, say);
	// then nothing is suggested. Values: how many they take together.
	Coarse []string
	Values int
}

// CoarseCalls is the most calls an identity value may cover on average:
// retries make two or three calls of one operation, not dozens.
const CoarseCalls = 10

// SuggestThreshold is the share of chains in which a path must stay
// constant to be suggested: a chain may hold two different operations (two
// bookings in one session), so a true identity path is not constant in all.
const SuggestThreshold = 0.8

// SuggestIdentities proposes, per action type, the args paths that stay
// constant across the calls of a chain (the same action in the same
// session, each gap at most window: retries, mostly) but vary across the
// action's calls. Paths are the leaves of the args objects and the objects
// below the top, each compared whole; an array is one value. Calls without
// ts or args are not used.
func SuggestIdentities(calls []SuggestCall, window time.Duration) []ActionSuggestion {
	byAction := map[string][]int{}
	for i, c := range calls {
		if c.Args != nil {
			byAction[c.Action] = append(byAction[c.Action], i)
		}
	}
	actions := make([]string, 0, len(byAction))
	for a := range byAction {
		actions = append(actions, a)
	}
	sort.Strings(actions)
	var out []ActionSuggestion
	for _, a := range actions {
		idx := byAction[a]
		flat := make([]map[string]string, len(idx))
		paths := map[string]map[string]bool{}
		for j, i := range idx {
			flat[j] = flatten(calls[i].Args)
			for p, v := range flat[j] {
				if paths[p] == nil {
					paths[p] = map[string]bool{}
				}
				if len(paths[p]) < DistinctCap {
					paths[p][v] = true
				}
			}
		}
		for p := range paths { // a path missing from some calls has null there
			for j := range flat {
				if _, ok := flat[j][p]; !ok && len(paths[p]) < DistinctCap {
					paths[p]["null"] = true
					break
				}
			}
		}
		// chains: per session, by ts
		bySession := map[string][]int{}
		for j, i := range idx {
			bySession[calls[i].Session] = append(bySession[calls[i].Session], j)
		}
		var chains [][]int
		for _, js := range bySession {
			sort.SliceStable(js, func(x, y int) bool { return calls[idx[js[x]]].TS < calls[idx[js[y]]].TS })
			var cur []int
			for _, j := range js {
				if len(cur) > 0 && calls[idx[j]].TS-calls[idx[cur[len(cur)-1]]].TS > window.Nanoseconds() {
					if len(cur) >= 2 {
						chains = append(chains, cur)
					}
					cur = nil
				}
				cur = append(cur, j)
			}
			if len(cur) >= 2 {
				chains = append(chains, cur)
			}
		}
		s := ActionSuggestion{Action: a, Calls: len(idx), Chains: len(chains)}
		names := make([]string, 0, len(paths))
		for p := range paths {
			names = append(names, p)
		}
		sort.Strings(names)
		for _, p := range names {
			ev := PathEvidence{Path: p, Distinct: len(paths[p])}
			for _, ch := range chains {
				v0, same := value(flat[ch[0]], p), true
				for _, j := range ch[1:] {
					if value(flat[j], p) != v0 {
						same = false
						break
					}
				}
				if same {
					ev.ConstantChains++
				}
			}
			ev.Suggest = len(chains) > 0 && ev.Distinct >= 2 && float64(ev.ConstantChains) >= SuggestThreshold*float64(len(chains))
			if ev.Suggest {
				s.Identity = append(s.Identity, p)
			}
			s.Paths = append(s.Paths, ev)
		}
		// an object suggested whole covers its own paths: they go
		kept := s.Identity[:0]
		for _, p := range s.Identity {
			covered := false
			for _, q := range s.Identity {
				covered = covered || (q != p && strings.HasPrefix(p, q+"."))
			}
			if !covered {
				kept = append(kept, p)
			}
		}
		s.Identity = kept
		if len(s.Identity) > 0 {
			combos := map[string]bool{}
			for j := range flat {
				var k strings.Builder
				for _, p := range s.Identity {
					k.WriteString(value(flat[j], p))
					k.WriteByte(0)
				}
				combos[k.String()] = true
			}
			s.Values = len(combos)
			if len(flat) > CoarseCalls*len(combos) {
				s.Coarse, s.Identity = s.Identity, nil
				for i := range s.Paths {
					s.Paths[i].Suggest = false
				}
			}
		}
		out = append(out, s)
	}
	return out
}

func value(m map[string]string, p string) string {
	if v, ok := m[p]; ok {
		return v
	}
	return "null"
}

// flatten maps each path of canonical args to its canonical value: the
// leaves, arrays, and each object below the top as one value too (an
// identity path may name an object: it is compared whole). Args that are
// not an object are one path, "".
func flatten(args []byte) map[string]string {
	out := map[string]string{}
	dec := json.NewDecoder(bytes.NewReader(args))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return out
	}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if m, ok := v.(map[string]any); ok && len(m) > 0 {
			for k, x := range m {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				walk(p, x)
			}
			if prefix != "" {
				b, _ := json.Marshal(m)
				out[prefix] = string(b)
			}
			return
		}
		b, _ := json.Marshal(v) // maps marshal with sorted keys: canonical enough to compare
		out[prefix] = string(b)
	}
	if _, ok := v.(map[string]any); !ok {
		b, _ := json.Marshal(v)
		out[""] = string(b)
		return out
	}
	walk("", v)
	return out
}
