package kubeproxy

import (
	"fmt"
	"strings"

	"github.com/netlab/netlab/lab/plan"
)

// iptState models the iptables state kube-proxy builds on a fresh node,
// directly in a plan.Ruleset: EnsureChain / EnsureRule (Append or Prepend,
// no duplicates) as kube-proxy calls them outside iptables-restore, and the
// "--noflush" restore of the chains it declares (a declared chain is
// flushed and refilled; other chains are left alone).
//
// Chains are indexed per table because plan.Table.Chain is a linear search
// and a large node has tens of thousands of chains.
type iptState struct {
	rs  *plan.Ruleset
	idx map[string]map[string]*plan.Chain
}

func newIPTState() *iptState {
	return &iptState{rs: &plan.Ruleset{}, idx: map[string]map[string]*plan.Chain{}}
}

// table returns the index of a table, adding the table (with its built-in
// chains) to the ruleset on first use.
func (s *iptState) table(name string) map[string]*plan.Chain {
	if ix, ok := s.idx[name]; ok {
		return ix
	}
	t := s.rs.Table(name)
	ix := make(map[string]*plan.Chain, len(t.Chains))
	for _, c := range t.Chains {
		ix[c.Name] = c
	}
	s.idx[name] = ix
	return ix
}

// ensureChain is iptables.EnsureChain: create the user chain if missing.
func (s *iptState) ensureChain(table, chain string) *plan.Chain {
	ix := s.table(table)
	if c, ok := ix[chain]; ok {
		return c
	}
	c := &plan.Chain{Name: chain, Policy: "-"}
	t := s.rs.Table(table)
	t.Chains = append(t.Chains, c)
	ix[chain] = c
	return c
}

// ensureRule is iptables.EnsureRule: add the rule (args as passed to
// iptables) at the front or the end of the chain unless it is already
// there. Arguments with spaces are quoted so the text stays valid
// iptables-restore input.
func (s *iptState) ensureRule(prepend bool, table, chain string, args ...string) {
	c := s.table(table)[chain]
	if c == nil {
		panic(fmt.Sprintf("kubeproxy: EnsureRule on missing chain %s/%s", table, chain))
	}
	rule := joinArgs(args)
	for _, r := range c.Rules {
		if r == rule {
			return
		}
	}
	if prepend {
		c.Rules = append([]string{rule}, c.Rules...)
	} else {
		c.Rules = append(c.Rules, rule)
	}
}

// joinArgs renders an argument list as one restore line body, quoting the
// arguments that contain spaces (comments).
func joinArgs(args []string) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(quote(a))
	}
	return b.String()
}

func quote(s string) string {
	if s == "" || strings.ContainsAny(s, " \t") {
		return `"` + s + `"`
	}
	return s
}

// restoreTable collects one table of a kube-proxy iptables-restore input:
// the chains it declares (":CHAIN - [0:0]") and their rules in order.
type restoreTable struct {
	name  string
	order []string
	bufs  map[string]*chainBuf
}

type chainBuf struct {
	rules    []string
	declared bool
}

func (b *chainBuf) add(rules ...string) { b.rules = append(b.rules, rules...) }

func newRestoreTable(name string, sizeHint int) *restoreTable {
	return &restoreTable{name: name, bufs: make(map[string]*chainBuf, sizeHint)}
}

// chain returns the buffer of a chain (rules may be written before the
// chain is declared, as kube-proxy writes its chain and rule lines into
// separate buffers).
func (t *restoreTable) chain(name string) *chainBuf {
	b := t.bufs[name]
	if b == nil {
		b = &chainBuf{}
		t.bufs[name] = b
		t.order = append(t.order, name)
	}
	return b
}

// declare writes the chain's ":NAME - [0:0]" line.
func (t *restoreTable) declare(name string) *chainBuf {
	b := t.chain(name)
	b.declared = true
	return b
}

// restore applies a restoreTable like "iptables-restore --noflush": every
// declared chain is created if needed and its rules replaced. A rule for an
// undeclared chain would fail in iptables-restore; here it is a bug.
func (s *iptState) restore(t *restoreTable) {
	for _, name := range t.order {
		b := t.bufs[name]
		if !b.declared {
			panic(fmt.Sprintf("kubeproxy: rules for undeclared chain %s/%s", t.name, name))
		}
		c := s.ensureChain(t.name, name)
		c.Rules = b.rules
	}
}
