package cloud

import (
	"fmt"
	"sort"
	"strings"

	"github.com/netlab/netlab/lab/plan"
	"github.com/netlab/netlab/lab/topology"
)

// ENI is an elastic network interface as the VPC sees it: the VPC-side
// port of its veth, the addresses it holds (primary and secondary), and
// its security groups. A CNI plugin that gives nodes ENIs lists them for
// SecurityGroupRules.
type ENI struct {
	Name string // how rule comments name it: "node-1/eth1"
	// Port is its end in the VPC namespace; "" for an ENI whose groups
	// are not enforced here but whose addresses are members of them (a
	// node's primary ENI, on the vSwitch bridge).
	Port   string
	Addrs  []string
	Groups []string
}

// SecurityGroupRules is what the VPC enforces on the ENIs, as iptables
// rules of the VPC namespace's FORWARD chain (so traffic between two ENIs
// of one node never meets them, as in the cloud: it does not leave the
// node). Security groups are stateful: replies pass. A packet leaving an
// ENI meets the egress rules of its groups (allowed: on to the next
// check; outbound is allowed by default), a packet for an ENI the ingress
// rules of its groups (inbound is denied by default); members of a group
// that allows intra-group traffic reach each other first. Each rule's
// comment names the group, direction and rule, so a trace's verdict says
// which one dropped a probe. Nil when no ENI is in a group.
func SecurityGroupRules(t *topology.Topology, enis []ENI) *plan.Ruleset {
	members := map[string][]string{} // group -> every address of its ENIs
	inGroup := false
	for _, e := range enis {
		for _, g := range e.Groups {
			members[g] = append(members[g], e.Addrs...)
			inGroup = true
		}
	}
	if !inGroup {
		return nil
	}
	r := &plan.Ruleset{}
	r.Append("filter", "FORWARD", `-m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "security groups are stateful" -j ACCEPT`)
	for i, e := range enis {
		if len(e.Groups) == 0 || e.Port == "" {
			continue
		}
		out, in := fmt.Sprintf("SG-EGRESS-%d", i), fmt.Sprintf("SG-INGRESS-%d", i)
		r.Append("filter", "FORWARD",
			fmt.Sprintf("-i %s -m comment --comment %q -j %s", e.Port, "leaving "+e.Name, out),
			fmt.Sprintf("-o %s -m comment --comment %q -j %s", e.Port, "for "+e.Name, in))
		groups := strings.Join(e.Groups, ", ")
		// Egress: an allowed packet returns to FORWARD for the
		// destination's ingress check.
		r.Append("filter", out, sgRules(t, e.Groups, "egress", "-d", "RETURN")...)
		r.Append("filter", out, fmt.Sprintf(`-m comment --comment "%s: outbound traffic is allowed by default" -j RETURN`, groups))
		for _, g := range e.Groups {
			if sg := t.SecurityGroup(g); sg != nil && sg.AllowsIntraGroup() {
				for _, a := range members[g] {
					r.Append("filter", in, fmt.Sprintf(`-s %s/32 -m comment --comment "%s: intra-group traffic is allowed" -j ACCEPT`, a, g))
				}
			}
		}
		r.Append("filter", in, sgRules(t, e.Groups, "ingress", "-s", "ACCEPT")...)
		r.Append("filter", in, fmt.Sprintf(`-m comment --comment "%s: inbound traffic is denied by default" -j DROP`, groups))
	}
	return r
}

// sgRule is one rule of a group, for sorting.
type sgRule struct {
	group string
	index int
	rule  topology.SGRule
}

// sgRules are the rules of the groups in one direction, in the order the
// cloud applies them (priority, then drop before accept), as iptables
// rules; peer is -s (ingress) or -d (egress), allow the target of accept.
func sgRules(t *topology.Topology, groups []string, dir, peer, allow string) []string {
	var all []sgRule
	for _, g := range groups {
		sg := t.SecurityGroup(g)
		if sg == nil {
			continue
		}
		rules := sg.Ingress
		if dir == "egress" {
			rules = sg.Egress
		}
		for i, rule := range rules {
			all = append(all, sgRule{g, i + 1, rule})
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i].rule, all[j].rule
		if a.Priority != b.Priority {
			return a.Priority < b.Priority
		}
		return a.Action == "drop" && b.Action != "drop"
	})
	out := make([]string, 0, len(all))
	for _, s := range all {
		r := s.rule
		var b strings.Builder
		if r.Protocol != "all" {
			b.WriteString("-p " + r.Protocol + " ")
			if r.PortMax != 0 {
				fmt.Fprintf(&b, "--dport %d:%d ", r.PortMin, r.PortMax)
			}
		}
		if r.Prefix.Bits() != 0 {
			b.WriteString(peer + " " + r.Prefix.String() + " ")
		}
		what := r.Protocol // icmp
		switch {
		case r.Protocol == "all":
			what = "all traffic"
		case r.PortMax != 0:
			what += fmt.Sprintf(" %d/%d", r.PortMin, r.PortMax)
		case r.Protocol != "icmp":
			what += " (all ports)"
		}
		way := "from"
		if dir == "egress" {
			way = "to"
		}
		comment := fmt.Sprintf("%s %s rule %d (priority %d): %s %s %s %s", s.group, dir, s.index, r.Priority, r.Action, what, way, r.Prefix)
		target := allow
		if r.Action == "drop" {
			target = "DROP"
		}
		fmt.Fprintf(&b, "-m comment --comment %q -j %s", comment, target)
		out = append(out, b.String())
	}
	return out
}
