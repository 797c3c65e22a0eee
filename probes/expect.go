package probes

import (
	"errors"
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
	picked := map[string]int{}
	for i := 0; i < repeat; i++ {
		r, err := Run(l, p.From, p.To, o)
		var pe *PinError
		if errors.As(err, &pe) {
			// The probe cannot run as written; the scenario's other probes
			// still can.
			c.fail("%v", pe)
			return c, nil
		}
		if err != nil {
			return nil, err
		}
		c.Results = append(c.Results, r)
		if r.Server != nil {
			c.Servers[r.Server.Pod]++
		}
		if r.SLBBackend != "" {
			picked[r.SLBBackend]++
		}
		for _, f := range Compare(l.Topology, want, r) {
			c.fail("run %d: %s", i+1, f)
		}
	}
	if n := want.Servers; n > 0 && len(c.Servers) != n {
		c.fail("%d distinct servers answered %d probes (%v), want %d", len(c.Servers), repeat, c.Servers, n)
	}
	if repeat > 1 {
		for _, b := range want.SLBBackends {
			if picked[b] == 0 {
				c.fail("the SLB never forwarded to %s in %d probes (it picked %v)", b, repeat, picked)
			}
		}
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
	out = append(out, compareSLB(e, r)...)
	out = append(out, compareConntrack(t, e, r)...)
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

// compareSLB checks the SLB's choice of backend: the pinned node, if the
// probe pinned one (a pin that did not hold is a failure whatever else is
// expected; an SLB that forwarded nothing, its ACL or a listener without
// backends, broke no pin), and one of the expected backends.
func compareSLB(e topology.Expect, r *Result) []string {
	if len(r.Hops) == 0 {
		return nil // nothing was traced: the SLB's choice is unknown
	}
	reached := slices.ContainsFunc(r.Hops, func(h Hop) bool { return h.Owner == "slb" })
	got := r.SLBBackend
	switch {
	case got != "":
	case reached:
		got = "nowhere (the SLB did not forward it)"
	default:
		got = "nowhere (the request never reached the SLB)"
	}
	var out []string
	if r.Pinned != "" && r.SLBBackend != r.Pinned && (r.SLBBackend != "" || !reached) {
		out = append(out, fmt.Sprintf("pinned to %s, but the SLB forwarded it to %s", r.Pinned, got))
	}
	if len(e.SLBBackends) > 0 && !slices.Contains(e.SLBBackends, r.SLBBackend) {
		out = append(out, fmt.Sprintf("the SLB forwarded it to %s, want one of %s", got, strings.Join(e.SLBBackends, ", ")))
	}
	return out
}

// compareConntrack checks, on each node an expectation names, that the
// flow's entries there are exactly the expected ones.
func compareConntrack(t *topology.Topology, e topology.Expect, r *Result) []string {
	var out []string
	var server netip.Addr
	serverNode := ""
	if r.Server != nil {
		server, _ = t.ResolveAddr(r.Server.Pod)
		serverNode = r.Server.Node
	}
	byNode := map[string][]topology.ConntrackEntry{}
	var nodes []string
	for _, ct := range e.Conntrack {
		n := ct.Node
		if n == topology.ServerRef || ct.Pattern.UsesServer() {
			if r.Server == nil {
				out = append(out, fmt.Sprintf("conntrack: no server answered, so %q cannot be checked", ct.Entry))
				continue
			}
			if n == topology.ServerRef {
				n = serverNode
			}
		}
		if _, ok := byNode[n]; !ok {
			nodes = append(nodes, n)
		}
		byNode[n] = append(byNode[n], ct)
	}
	for _, n := range nodes {
		got := r.Conntrack[n]
		matched := make([]bool, len(got))
		for _, want := range byNode[n] {
			found := false
			for i, f := range got {
				if want.Pattern.Match(f.Proto, f.Orig.Src, f.Orig.Dst, f.Reply.Src, f.Reply.Dst, server) {
					found, matched[i] = true, true
				}
			}
			if !found {
				out = append(out, fmt.Sprintf("conntrack on %s: no entry %q (has %s)", n, want.Entry, flowList(got)))
			}
		}
		for i, f := range got {
			if !matched[i] {
				out = append(out, fmt.Sprintf("conntrack on %s: unexpected entry %q", n, f.Entry()))
			}
		}
	}
	return out
}

func flowList(fs []Flow) string {
	if len(fs) == 0 {
		return "none"
	}
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = fmt.Sprintf("%q", f.Entry())
	}
	return strings.Join(s, ", ")
}
