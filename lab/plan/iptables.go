package plan

import (
	"fmt"
	"strings"
)

// Ruleset is one namespace's iptables state, built up by the CNI and (later)
// kube-proxy renderers and applied with a single iptables-restore, as
// flanneld and kube-proxy do.
type Ruleset struct {
	Tables []*Table `json:"tables"`
}

// Table is one iptables table in the order it is restored.
type Table struct {
	Name   string   `json:"name"`
	Chains []*Chain `json:"chains"`
}

// Chain is a built-in chain (Policy set) or a user chain (Policy "-").
type Chain struct {
	Name   string   `json:"name"`
	Policy string   `json:"policy"`
	Rules  []string `json:"rules,omitempty"`
}

var builtins = map[string][]string{
	"raw":    {"PREROUTING", "OUTPUT"},
	"mangle": {"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"},
	"nat":    {"PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"},
	"filter": {"INPUT", "FORWARD", "OUTPUT"},
}

// Table returns the named table, adding it with its built-in chains.
func (r *Ruleset) Table(name string) *Table {
	for _, t := range r.Tables {
		if t.Name == name {
			return t
		}
	}
	t := &Table{Name: name}
	for _, c := range builtins[name] {
		t.Chains = append(t.Chains, &Chain{Name: c, Policy: "ACCEPT"})
	}
	r.Tables = append(r.Tables, t)
	return t
}

// Chain returns the named chain of a table, adding a user chain if needed.
func (t *Table) Chain(name string) *Chain {
	for _, c := range t.Chains {
		if c.Name == name {
			return c
		}
	}
	c := &Chain{Name: name, Policy: "-"}
	t.Chains = append(t.Chains, c)
	return c
}

// Append adds rules (the text after "-A CHAIN ") to a chain.
func (r *Ruleset) Append(table, chain string, rules ...string) {
	c := r.Table(table).Chain(chain)
	c.Rules = append(c.Rules, rules...)
}

// Restore renders iptables-restore input: every chain declared first, then
// the rules chain by chain, one COMMIT per table.
func (r *Ruleset) Restore() string {
	if r == nil {
		return ""
	}
	var b strings.Builder
	for _, t := range r.Tables {
		fmt.Fprintf(&b, "*%s\n", t.Name)
		for _, c := range t.Chains {
			fmt.Fprintf(&b, ":%s %s [0:0]\n", c.Name, c.Policy)
		}
		for _, c := range t.Chains {
			for _, rule := range c.Rules {
				fmt.Fprintf(&b, "-A %s %s\n", c.Name, rule)
			}
		}
		b.WriteString("COMMIT\n")
	}
	return b.String()
}

// Merge returns r with other's tables, chains and rules added after r's own
// (nil-safe on both sides). Chains keep r's order; new ones follow.
func (r *Ruleset) Merge(other *Ruleset) *Ruleset {
	if r == nil {
		return other
	}
	if other == nil {
		return r
	}
	for _, ot := range other.Tables {
		t := r.Table(ot.Name)
		for _, oc := range ot.Chains {
			c := t.Chain(oc.Name)
			if oc.Policy != "-" {
				c.Policy = oc.Policy
			}
			c.Rules = append(c.Rules, oc.Rules...)
		}
	}
	return r
}
