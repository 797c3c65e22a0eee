package probes

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/netlab/netlab/lab"
	"github.com/netlab/netlab/lab/topology"
)

// Check is one scenario probe: what it expected, what each run observed,
// and every mismatch.
type Check struct {
	Name     string          `json:"name"`
	From     string          `json:"from"`
	To       string          `json:"to"`
	Expect   topology.Expect `json:"expect"`
	Results  []*Result       `json:"results"`
	Pass     bool            `json:"pass"`
	Failures []string        `json:"failures,omitempty"`
	Servers  map[string]int  `json:"servers,omitempty"`
	Line     int             `json:"line,omitempty"`
}

// RunScenario fires every probe of the lab's scenario (each Repeat times)
// and compares with its expectation.
func RunScenario(l *lab.Lab, o Options) ([]*Check, error) {
	if o.Tracer == nil && !o.NoHops {
		tr, err := NewTracer(l, false)
		if err != nil {
			return nil, err
		}
		defer tr.Close()
		o.Tracer = tr
	}
	var out []*Check
	for _, p := range l.Topology.Probes {
		c, err := RunCheck(l, p, o)
		if err != nil {
			return out, err
		}
		out = append(out, c)
	}
	return out, nil
}

// RunCheck runs one probe definition against its expectation.
func RunCheck(l *lab.Lab, p topology.Probe, o Options) (*Check, error) {
	want := p.Expected(l.Topology)
	c := &Check{Name: p.Name, From: p.From, To: p.To, Expect: want, Pass: true, Servers: map[string]int{}, Line: p.Line}
	repeat := max(want.Repeat, 1)
	if want.DecidedBy != "" {
		o.Rules = true
	}
	o.Protocol = p.Protocol
	for i := 0; i < repeat; i++ {
		r, err := Run(l, p.From, p.To, o)
		if err != nil {
			return nil, err
		}
		c.Results = append(c.Results, r)
		if r.Server != nil {
			c.Servers[r.Server.Pod]++
		}
		for _, f := range Compare(l.Topology, want, r) {
			c.fail("run %d: %s", i+1, f)
		}
	}
	if n := want.Servers; n > 0 && len(c.Servers) != n {
		c.fail("%d distinct servers answered %d probes (%v), want %d", len(c.Servers), repeat, c.Servers, n)
	}
	if repeat == 1 {
		// One run: drop the "run 1:" prefix for readability.
		for i, f := range c.Failures {
			c.Failures[i] = strings.TrimPrefix(f, "run 1: ")
		}
	}
	return c, nil
}

func (c *Check) fail(format string, args ...any) {
	c.Pass = false
	c.Failures = append(c.Failures, fmt.Sprintf(format, args...))
}

func pathString(p []string) string {
	if len(p) == 0 {
		return "(none seen)"
	}
	return strings.Join(p, " -> ")
}

// Compare lists how a result differs from an expectation.
func Compare(t *topology.Topology, e topology.Expect, r *Result) []string {
	var out []string
	if e.Result != "" && r.Result != e.Result {
		msg := fmt.Sprintf("result %s, want %s", r.Result, e.Result)
		if r.Error != "" {
			msg += " (" + r.Error + ")"
		}
		out = append(out, msg)
	}
	if e.Server != "" {
		got := "none"
		if r.Server != nil {
			got = r.Server.Pod
		}
		if got != e.Server {
			out = append(out, fmt.Sprintf("server %s, want %s", got, e.Server))
		}
	}
	if e.ClientIPPreserved != nil {
		switch {
		case r.ClientIPPreserved == nil:
			out = append(out, fmt.Sprintf("clientIPPreserved unknown (no answer), want %v", *e.ClientIPPreserved))
		case *r.ClientIPPreserved != *e.ClientIPPreserved:
			out = append(out, fmt.Sprintf("clientIPPreserved %v (server saw %s, client is %s), want %v", *r.ClientIPPreserved, r.ClientAddrSeen, r.ClientAddr, *e.ClientIPPreserved))
		}
	}
	if len(e.Hops) > 0 && !slices.Equal(e.Hops, r.Path) {
		out = append(out, fmt.Sprintf("path %s, want %s", pathString(r.Path), pathString(e.Hops)))
	}
	if e.DecidedBy != "" {
		switch {
		case r.Verdict == nil || r.Verdict.DecidedBy == nil:
			out = append(out, fmt.Sprintf("no deciding rule was observed, want one matching %q", e.DecidedBy))
		case !r.Verdict.Matches(e.DecidedBy):
			out = append(out, fmt.Sprintf("decided by %s, want %q", r.Verdict.DecidedBy, e.DecidedBy))
		}
	}
	if e.ClientIP != "" {
		want, err := t.ResolveAddr(e.ClientIP)
		seen, perr := netip.ParseAddrPort(r.ClientAddrSeen)
		switch {
		case err != nil:
			out = append(out, err.Error())
		case perr != nil:
			out = append(out, fmt.Sprintf("server saw no client address, want %s", want))
		case seen.Addr() != want:
			out = append(out, fmt.Sprintf("server saw %s, want %s (%s)", seen.Addr(), want, e.ClientIP))
		}
	}
	return out
}
