package cloud

import (
	"fmt"

	"github.com/netlab/netlab/lab/plan"
)

// SourceCheckRules is the VPC's source check on ENIs: a packet an ENI
// sends must come from one of the addresses the ENI holds, or the VPC
// drops it (the ENI's source/destination check). It is what keeps a
// Terway trunk ENI's member ENIs apart: a member pod's frame that leaves
// the trunk without its VLAN tag arrives on the trunk ENI, which does not
// hold the pod's address, and is dropped, where it would otherwise reach
// its destination by the trunk ENI's groups. The checks are stateless, so
// they come before the security groups' stateful accept: merge them
// first. Nil when no ENI has a VPC port.
func SourceCheckRules(enis []ENI) *plan.Ruleset {
	var r *plan.Ruleset
	for i, e := range enis {
		if e.Port == "" {
			continue
		}
		if r == nil {
			r = &plan.Ruleset{}
		}
		chain := fmt.Sprintf("ENI-SOURCE-%d", i)
		r.Append("filter", "FORWARD", fmt.Sprintf("-i %s -m comment --comment %q -j %s", e.Port, "source check of "+e.Name, chain))
		for _, a := range e.Addrs {
			r.Append("filter", chain, fmt.Sprintf("-s %s/32 -j RETURN", a))
		}
		r.Append("filter", chain, fmt.Sprintf(`-m comment --comment "source check: %s does not hold the packet's source address" -j DROP`, e.Name))
	}
	return r
}
