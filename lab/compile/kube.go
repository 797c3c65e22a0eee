package compile

import (
	"fmt"
	"strconv"

	"github.com/netlab/netlab/lab/kubeproxy"
	"github.com/netlab/netlab/lab/plan"
	"github.com/netlab/netlab/lab/topology"
)

// kubeProxy renders each node's kube-proxy state in the scenario's mode and
// puts it into the node's namespace, its rules in front of the CNI's
// (kube-proxy prepends its jumps to the built-in chains).
func kubeProxy(p *plan.Plan, t *topology.Topology, o Options) error {
	kp := t.KubeProxy
	if kp == nil {
		return nil
	}
	v, err := kubeproxy.ParseVersion(kp.Version)
	if err != nil {
		return err
	}
	services := KubeProxyServices(t, v)
	opts := kubeproxy.Options{KernelVersion: o.KernelVersion, StrictARP: kp.StrictARP}
	for _, n := range t.Nodes {
		st, err := kubeproxy.Render(kp.Mode, v, kubeProxyNode(t, &n, services), opts)
		if err != nil {
			return fmt.Errorf("kube-proxy %s@%s on %s: %w", kp.Mode, kp.Version, n.Name, err)
		}
		ns := p.Namespace(plan.NSName(p.Lab, n.Name))
		ns.Links = append(ns.Links, st.Links...)
		ns.Addrs = append(ns.Addrs, st.Addrs...)
		ns.IPSets, ns.IPVS = st.IPSets, st.IPVS
		ns.Sysctls = append(ns.Sysctls, st.Sysctls...)
		ns.NFAcct = append(ns.NFAcct, st.NFAcct...)
		// The lab daemon opens these (lab/daemon.Run), from the plan up
		// stored: the proxies of the rules applied.
		ns.UserspaceProxies = st.Proxies
		// Bridged pod-to-pod traffic on cni0 must cross iptables for a
		// same-node Service reply to be un-DNATed (kubeadm checks this;
		// kube-proxy 1.1 set it itself).
		if !hasSysctl(ns.Sysctls, bridgeNF) {
			ns.Sysctls = append(ns.Sysctls, plan.Sysctl{Key: bridgeNF, Value: "1"})
		}
		ns.IPTables = st.Rules.Merge(ns.IPTables)
		ns.NFTables = st.NFTables
	}
	return nil
}

// kubeProxyNode is kube-proxy's view of one node: its address, the
// cluster CIDR (--cluster-cidr) and every Service.
func kubeProxyNode(t *topology.Topology, n *topology.Node, services []kubeproxy.Service) kubeproxy.Node {
	return kubeproxy.Node{Name: n.Name, IPs: []string{n.Addr.String()}, ClusterCIDR: t.Network.PodsPrefix.String(), Services: services}
}

// KubeProxyServices turns the topology's Services and the pods their
// selectors match into what kube-proxy v sees: Services with EndpointSlice
// endpoints (a pod's readiness and termination become its conditions),
// and only the LB IPs it captures (CapturesLBIP).
func KubeProxyServices(t *topology.Topology, v kubeproxy.Version) []kubeproxy.Service {
	var out []kubeproxy.Service
	for i := range t.Services {
		s := &t.Services[i]
		ks := kubeproxy.Service{
			Namespace: s.Namespace, Name: s.Name, Type: s.Type, ClusterIP: s.ClusterAddr.String(),
			ExternalIPs: s.ExternalIPs, LoadBalancerSourceRanges: s.LoadBalancerSourceRanges,
			ExternalTrafficPolicy: s.ExternalTrafficPolicy, InternalTrafficPolicy: s.InternalTrafficPolicy,
			HealthCheckNodePort: s.HealthCheckNodePort, SessionAffinity: s.SessionAffinity,
			SessionAffinityTimeoutSeconds: s.SessionAffinityTimeout,
		}
		if s.Type == topology.TypeClusterIP {
			ks.ExternalTrafficPolicy = ""
		}
		if s.LBAddr.IsValid() && CapturesLBIP(s, v) {
			ks.LoadBalancerIPs = []string{s.LBAddr.String()}
		}
		for _, sp := range s.Ports {
			kp := kubeproxy.Port{Name: sp.Name, Port: sp.Port, NodePort: sp.NodePort, Protocol: sp.Protocol, TargetPort: sp.TargetPort}
			if n, err := strconv.Atoi(sp.TargetPort); err == nil {
				kp.TargetPort = n
			}
			ks.Ports = append(ks.Ports, kp)
		}
		for _, pod := range t.Endpoints(s) {
			ep := kubeproxy.Endpoint{IP: pod.Addr.String(), NodeName: pod.Node}
			ready, serving, term := pod.IsReady(), pod.Serving(), pod.Terminating
			ep.Ready, ep.Serving, ep.Terminating = &ready, &serving, &term
			for _, sp := range s.Ports {
				if port := sp.TargetOn(pod); port != 0 {
					ep.Ports = append(ep.Ports, kubeproxy.EndpointPort{Name: sp.Name, Port: port, Protocol: sp.Protocol})
				}
			}
			if len(ep.Ports) > 0 {
				ks.Endpoints = append(ks.Endpoints, ep)
			}
		}
		out = append(out, ks)
	}
	return out
}

// CapturesLBIP reports whether kube-proxy v sees the Service's LB IP in its
// status and so captures it on every node (iptables KUBE-SERVICES rules,
// IPVS kube-ipvs0 binding). ACK's hostname annotation publishes a hostname
// instead of the IP, hidden from every version; ipMode Proxy hides it from
// 1.30, where the LoadBalancerIPMode gate is beta and on by default
// (pkg/proxy/service.go skips ingress that is not VIP mode; KEP-1860, the
// gate's beta is #123418). Either way the SLB still listens on the IP, so
// in-cluster clients reach it through the SLB.
func CapturesLBIP(s *topology.Service, v kubeproxy.Version) bool {
	if s.LoadBalancerHostname != "" {
		return false
	}
	return s.LoadBalancerIPMode != topology.IPModeProxy || !v.AtLeast(30)
}

const bridgeNF = "net.bridge.bridge-nf-call-iptables"

func hasSysctl(ss []plan.Sysctl, key string) bool {
	for _, s := range ss {
		if s.Key == key {
			return true
		}
	}
	return false
}
