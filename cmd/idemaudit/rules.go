package main

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/idemaudit/idemaudit/internal/rules"
)

func (e *env) rules(args []string) (int, error) {
	fs := pflag.NewFlagSet("rules", pflag.ContinueOnError)
	if help, err := e.parseFlags(fs, args, "idemaudit rules [RULE]\n\nLists every rule with its severity, what it groups, what it means and the fix;\nwith RULE, only that one."); help || err != nil {
		return exitOK, err
	}
	cat := rules.Catalogue()
	want := fs.Args()
	if len(want) > 1 {
		return exitError, usagef("at most one RULE")
	}
	var ids []string
	for _, r := range cat {
		ids = append(ids, r.ID)
		if len(want) == 1 && r.ID != want[0] {
			continue
		}
		fmt.Fprintf(e.stdout, "%s (%s)\n  %s\n  groups: %s\n\n%s\n\n  Fix: %s\n\n  Example: %s\n\n",
			r.ID, r.Severity, r.Title, r.Group, indent(r.Description), r.Fix, r.Example)
		if len(want) == 1 {
			return exitOK, nil
		}
	}
	if len(want) == 1 {
		return exitError, usagef("unknown rule %q (rules: %s)", want[0], strings.Join(ids, ", "))
	}
	return exitOK, nil
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}
