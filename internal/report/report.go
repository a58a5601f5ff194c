// Package report renders an audit result. Every renderer draws the same
// rules.Result, already sorted by the rules package; none of them queries,
// filters or reorders findings.
package report

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/idemaudit/idemaudit/internal/rules"
)

// Reporter writes one result in one format.
type Reporter interface {
	Write(w io.Writer, r *rules.Result) error
}

// Formats lists every format, for flag help and validation.
var Formats = []string{"table", "markdown", "json"}

// New returns the reporter of a format; an unknown format is an error.
func New(format string) (Reporter, error) {
	switch format {
	case "table":
		return Table{}, nil
	case "markdown":
		return Markdown{}, nil
	case "json":
		return JSON{}, nil
	}
	return nil, fmt.Errorf("unknown format %q (want %s)", format, strings.Join(Formats, ", "))
}

var (
	_ Reporter = Table{}
	_ Reporter = Markdown{}
	_ Reporter = JSON{}
)

// stamp prints a time for people: UTC, with milli-, micro- or nanoseconds
// as far as the log gave them.
func stamp(t *time.Time) string {
	if t == nil {
		return "—"
	}
	layout := "2006-01-02 15:04:05Z"
	switch ns := t.Nanosecond(); {
	case ns == 0:
	case ns%1e6 == 0:
		layout = "2006-01-02 15:04:05.000Z"
	case ns%1e3 == 0:
		layout = "2006-01-02 15:04:05.000000Z"
	default:
		layout = "2006-01-02 15:04:05.000000000Z"
	}
	return t.UTC().Format(layout)
}

// docOf finds a rule's documentation in the result's catalogue.
func docOf(r *rules.Result, id string) rules.Doc {
	for _, d := range r.Rules {
		if d.ID == id {
			return d
		}
	}
	return rules.Doc{ID: id, Title: id}
}

func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
