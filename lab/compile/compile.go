// Package compile is the compile step: it turns a validated topology into
// the lab's plan (lab/plan) with the renderers (lab/cloud, lab/cni,
// lab/kubeproxy), and says what a scenario needs of the kernel. It is pure:
// no kernel access. Linking it also registers every kube-proxy mode and CNI
// plugin with the scenario loader (lab/topology).
package compile

import (
	"github.com/netlab/netlab/lab/cloud"
	"github.com/netlab/netlab/lab/cni"
	"github.com/netlab/netlab/lab/kernel"
	"github.com/netlab/netlab/lab/plan"
	"github.com/netlab/netlab/lab/topology"
)

// base sysctls are set in every namespace before any link exists, so links
// inherit them. No IPv6 means no router solicitations, MLD reports or DAD
// in the lab, which keeps interface counters exact for tracing and saves
// work. ICMP errors are not rate-limited (Linux allows a burst of 6, then
// one a second, per destination): probes fire faster than real clients,
// and a refusal or an "unreachable" must not turn into a timeout because
// the previous probe used up the budget.
var base = []plan.Sysctl{
	{Key: "net.ipv6.conf.all.disable_ipv6", Value: "1"},
	{Key: "net.ipv6.conf.default.disable_ipv6", Value: "1"},
	{Key: "net.ipv4.icmp_ratelimit", Value: "0"},
}

// Options are the facts of the machine a plan is for that are not in the
// scenario.
type Options struct {
	// KernelVersion is the kernel the lab runs on (every node shares it);
	// kube-proxy's IPVS mode writes conn_reuse_mode only on some kernels.
	// "" means 6.1, Debian 12's (and the test guest's) kernel.
	KernelVersion string
}

// Compile turns a validated topology into the plan for lab, for a 6.1
// kernel. It is pure: same input, same plan, no kernel access.
func Compile(t *topology.Topology, lab string) (*plan.Plan, error) {
	return CompileWith(t, lab, Options{})
}

// ForHost compiles for the machine netlab runs on (its kernel's version):
// the plan up applies here.
func ForHost(t *topology.Topology, lab string) (*plan.Plan, error) {
	return CompileWith(t, lab, Options{KernelVersion: kernel.Release()})
}

// CompileWith is Compile for the machine o describes.
func CompileWith(t *topology.Topology, lab string, o Options) (*plan.Plan, error) {
	p := &plan.Plan{Lab: lab}
	add := func(role, owner, node string) {
		p.Namespaces = append(p.Namespaces, &plan.Namespace{
			Name: plan.NSName(lab, owner), Role: role, Owner: owner, Node: node,
			Sysctls: append([]plan.Sysctl(nil), base...),
		})
	}
	add(plan.RoleVPC, "vpc", "")
	for _, n := range t.Nodes {
		add(plan.RoleNode, n.Name, "")
	}
	for _, pod := range t.Pods {
		if !pod.HostNetwork {
			add(plan.RolePod, pod.Name, pod.Node)
		}
	}
	for _, c := range t.Cloud.Clients {
		add(plan.RoleClient, c.Name, "")
	}
	slb := cloud.NeedsSLB(t)
	if slb {
		add(plan.RoleSLB, "slb", "")
	}
	cloud.Build(p, t)
	if slb {
		cloud.BuildSLB(p, t)
	}
	if err := cni.Build(p, t); err != nil {
		return nil, err
	}
	if err := kubeProxy(p, t, o); err != nil {
		return nil, err
	}
	return p, nil
}
