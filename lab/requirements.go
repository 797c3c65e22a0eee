package lab

import (
	"strings"

	"github.com/netlab/netlab/lab/kernel"
	"github.com/netlab/netlab/lab/plan"
)

// Requirements lists the kernel features and tools a plan needs.
func Requirements(p *plan.Plan) []kernel.Feature {
	need := []kernel.Feature{kernel.NetNS, kernel.Veth, kernel.Bridge, kernel.Conntrack}
	seen := map[kernel.Feature]bool{}
	for _, f := range need {
		seen[f] = true
	}
	add := func(f kernel.Feature) {
		if !seen[f] {
			seen[f] = true
			need = append(need, f)
		}
	}
	for _, ns := range p.Namespaces {
		for _, l := range ns.Links {
			if l.Kind == plan.KindVXLAN {
				add(kernel.VXLAN)
			}
		}
		if ns.IPTables != nil {
			add(kernel.Iptables)
		}
		if len(ns.Rules) > 0 {
			add(kernel.PolicyRouting)
		}
		for _, s := range ns.Sysctls {
			if strings.HasPrefix(s.Key, "net.bridge.") {
				add(kernel.BrNetfilter)
			}
		}
	}
	return need
}
