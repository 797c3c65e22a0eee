package topology

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a scenario file: where, what, and how to
// fix it.
type Problem struct {
	File  string `json:"file"`
	Line  int    `json:"line,omitempty"`
	Field string `json:"field,omitempty"`
	Msg   string `json:"message"`
	Fix   string `json:"fix,omitempty"`
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	if p.Fix != "" {
		b.WriteString(" (fix: ")
		b.WriteString(p.Fix)
		b.WriteString(")")
	}
	return b.String()
}

// Problems is every problem found in one file; it is the error Load returns.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// collector accumulates problems for one file.
type collector struct {
	file string
	ps   Problems
}

func (c *collector) add(line int, field, fix, format string, args ...any) {
	c.ps = append(c.ps, Problem{File: c.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...), Fix: fix})
}

// maxProblems bounds what one Load reports: past it, a file is more likely
// the wrong file than a scenario with that many mistakes.
const maxProblems = 100

func (c *collector) err() error {
	if len(c.ps) == 0 {
		return nil
	}
	if n := len(c.ps) - maxProblems; n > 0 {
		c.ps = append(c.ps[:maxProblems:maxProblems], Problem{File: c.file, Msg: fmt.Sprintf("and %d more problems", n), Fix: "fix the ones above first"})
	}
	return c.ps
}
