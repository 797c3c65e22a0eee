package compile

import (
	"slices"

	"github.com/netlab/netlab/lab/cloud"
	"github.com/netlab/netlab/lab/cni"
	"github.com/netlab/netlab/lab/kernel"
	"github.com/netlab/netlab/lab/kubeproxy"
	"github.com/netlab/netlab/lab/topology"
)

// Requirements lists the kernel features and tools a scenario needs. It
// works from the topology alone, so that doctor and up can say what is
// missing before anything is compiled or created.
func Requirements(t *topology.Topology) []kernel.Feature {
	need := []kernel.Feature{kernel.NetNS, kernel.Veth, kernel.Bridge, kernel.Conntrack, kernel.Iptables}
	need = append(need, cni.Needs(t.CNI)...)
	if kp := t.KubeProxy; kp != nil {
		// Same-node Service replies cross cni0 and must see iptables.
		need = append(need, kernel.BrNetfilter)
		if m, ok := kubeproxy.Lookup(kp.Mode); ok {
			need = append(need, m.Needs...)
		}
	}
	if cloud.NeedsSLB(t) {
		// The VPC router hands the SLB's replies back from its iptables
		// (CONNMARK and TEE), also those its vSwitch bridge switches.
		if !slices.Contains(need, kernel.BrNetfilter) {
			need = append(need, kernel.BrNetfilter)
		}
		need = append(need, kernel.TEE)
	}
	return need
}
