package main

import (
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
