package main

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/netlab/netlab/lab/topology"
	"github.com/netlab/netlab/probes"
)

// testReport is what test -o json prints.
type testReport struct {
	Lab    string          `json:"lab"`
	Passed int             `json:"passed"`
	Failed int             `json:"failed"`
	Checks []*probes.Check `json:"checks"`
}

func newTestReport(lab string, checks []*probes.Check) testReport {
	r := testReport{Lab: lab, Checks: append([]*probes.Check{}, checks...)}
	for _, c := range checks {
		if c.Pass {
			r.Passed++
		} else {
			r.Failed++
		}
	}
	return r
}

// The test table's indent for a row's continuation lines: under PROBE.
const (
	noteIndent    = "      "
	labelExpected = "expected: "
	labelObserved = "observed: "
)

// printChecks prints the test table fitted to width (0: every cell whole,
// -o wide), then each failure with the path and verdict of the run that
// failed first. When EXPECTED and OBSERVED do not fit beside the probe
// they go on lines of their own under it.
func printChecks(t *topology.Topology, checks []*probes.Check, width int) {
	wide := newTable(column{Header: "PASS"}, column{Header: "PROBE"}, column{Header: "FROM -> TO"},
		column{Header: "EXPECTED"}, column{Header: "OBSERVED"})
	for _, c := range checks {
		wide.add(passMark(c), c.Name, c.From+" -> "+c.To, expected(c), observed(c, shownRun(t, c)))
	}
	if width <= 0 || wide.naturalWidth() <= width {
		wide.write(os.Stdout, width)
	} else {
		narrowChecks(t, checks, width).write(os.Stdout, width)
	}
	for _, c := range checks {
		for _, f := range c.Failures {
			fmt.Printf("FAIL %s: %s\n", c.Name, f)
		}
		if c.Pass || len(c.Results) == 0 {
			continue
		}
		i := shownRun(t, c)
		r, run := c.Results[i], ""
		if len(c.Results) > 1 {
			run = fmt.Sprintf(" (run %d)", i+1)
		}
		if len(r.Path) > 0 {
			fmt.Printf("     path%s: %s\n", run, strings.Join(r.Path, " -> "))
		}
		if r.Verdict != nil {
			fmt.Printf("     verdict%s: %s\n", run, r.Verdict.Summary)
		}
	}
}

// narrowChecks is the test table for a terminal too narrow for five
// columns: PASS, PROBE (cut with "…" if need be) and FROM -> TO, each row
// followed by its expectation and observation, wrapped to width.
func narrowChecks(t *topology.Topology, checks []*probes.Check, width int) *table {
	tb := newTable(column{Header: "PASS"}, column{Header: "PROBE", Flex: true, Min: 16}, column{Header: "FROM -> TO"})
	for _, c := range checks {
		tb.add(passMark(c), c.Name, c.From+" -> "+c.To)
		tb.note(labelled(labelExpected, expected(c), width)...)
		tb.note(labelled(labelObserved, observed(c, shownRun(t, c)), width)...)
	}
	return tb
}

// labelled wraps text after an indented label, continuation lines aligned
// with the text.
func labelled(label, text string, width int) []string {
	pad := noteIndent + strings.Repeat(" ", len(label))
	lines := wrap(text, max(width-len(pad), 20))
	for i := range lines {
		if i == 0 {
			lines[i] = noteIndent + label + lines[i]
		} else {
			lines[i] = pad + lines[i]
		}
	}
	return lines
}

func passMark(c *probes.Check) string {
	if c.Pass {
		return "ok"
	}
	return "FAIL"
}

// shownRun is the run a check's row and explanation show: the first that
// failed, so that --explain with repeats shows the failure rather than a
// later success; the last run when none failed on its own (a failed
// "servers" count, or a pass).
func shownRun(t *topology.Topology, c *probes.Check) int {
	if !c.Pass {
		for i, r := range c.Results {
			if len(probes.Compare(t, c.Expect, r)) > 0 {
				return i
			}
		}
	}
	return len(c.Results) - 1
}

func expected(c *probes.Check) string {
	e := c.Expect
	parts := []string{e.Result}
	if e.Server != "" {
		parts = append(parts, "by "+e.Server)
	}
	if e.ClientIP != "" {
		parts = append(parts, "sees "+e.ClientIP)
	}
	if e.ClientIPPreserved != nil {
		parts = append(parts, fmt.Sprintf("client IP kept=%v", *e.ClientIPPreserved))
	}
	if e.Repeat > 1 {
		parts = append(parts, fmt.Sprintf("x%d", e.Repeat))
	}
	if e.Servers > 0 {
		parts = append(parts, fmt.Sprintf("%d distinct servers", e.Servers))
	}
	s := strings.Join(parts, ", ")
	if e.When != "" {
		s += " (when " + e.When + ")"
	}
	return s
}

// observed is what run i saw and, over repeats, how many answered from
// each server.
func observed(c *probes.Check, i int) string {
	if i < 0 || i >= len(c.Results) {
		return "-"
	}
	r := c.Results[i]
	parts := []string{r.Result}
	if len(c.Results) > 1 && i != len(c.Results)-1 {
		parts[0] = fmt.Sprintf("run %d: %s", i+1, r.Result)
	}
	if r.Server != nil {
		parts = append(parts, "by "+r.Server.Pod)
	}
	if r.ClientAddrSeen != "" {
		parts = append(parts, "saw "+r.ClientAddrSeen)
	}
	if len(c.Results) > 1 {
		var servers []string
		for s, n := range c.Servers {
			servers = append(servers, fmt.Sprintf("%s:%d", s, n))
		}
		slices.Sort(servers)
		parts = append(parts, fmt.Sprintf("x%d (%s)", len(c.Results), strings.Join(servers, " ")))
	}
	return strings.Join(parts, ", ")
}
