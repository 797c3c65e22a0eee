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
		ns := p.Namespace(plan.NSName(p.Lab, n.Name))
		// The node's interfaces are read off its namespace before the mode
		// adds its own (kube-ipvs0): the cloud and the CNI have planned
		// theirs (Compile runs this step last), as kube-proxy finds them.
		kn := kubeProxyNode(t, &n, services)
		kn.Interfaces = nodeInterfaces(ns)
		st, err := kubeproxy.Render(kp.Mode, v, kn, opts)
		if err != nil {
			return fmt.Errorf("kube-proxy %s@%s on %s: %w", kp.Mode, kp.Version, n.Name, err)
		}
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

// kubeProxyNode is kube-proxy's view of one node: its address, its
// options (the cluster CIDR of --cluster-cidr, network.pods unless the
// scenario says otherwise, and the rest of the kubeProxy mapping) and every
// Service. The caller adds the interfaces.
func kubeProxyNode(t *topology.Topology, n *topology.Node, services []kubeproxy.Service) kubeproxy.Node {
	kp := t.KubeProxy
	kn := kubeproxy.Node{Name: n.Name, IPs: []string{n.Addr.String()}, ClusterCIDR: t.Network.PodsPrefix.String(), Services: services}
	if t.Network.ServicesPrefix.IsValid() {
		// The apiserver's default ServiceCIDR object ("kubernetes", for
		// --service-cluster-ip-range), which kube-proxy watches where
		// MultiCIDRServiceAllocator is on; only the nftables mode uses it.
		kn.ServiceCIDRs = []string{t.Network.ServicesPrefix.String()}
	}
	if kp == nil {
		return kn
	}
	if kp.ClusterCIDR != nil {
		kn.ClusterCIDR = *kp.ClusterCIDR // "": no local-traffic detector
	}
	kn.MasqueradeAll = kp.MasqueradeAll
	kn.IPVSScheduler = kp.Scheduler
	kn.LocalhostNodePorts = kp.LocalhostNodePorts
	kn.FeatureGates = kp.FeatureGates
	for _, a := range kp.NodePortAddresses {
		if a == topology.NodePortAddressesPrimary {
			// kube-proxy resolves "primary" at start-up to the Node
			// object's address (cmd/kube-proxy: nodeIP/32).
			a = n.Addr.String() + "/32"
		}
		kn.NodePortAddresses = append(kn.NodePortAddresses, a)
	}
	return kn
}

// nodeInterfaces lists the node namespace's interfaces that the plan gives
// an address, in the order of their first address, after lo with
// 127.0.0.1/8 (the kernel's, never in the plan): what net.Interfaces shows
// kube-proxy on the node.
func nodeInterfaces(ns *plan.Namespace) []kubeproxy.Interface {
	out := []kubeproxy.Interface{{Name: "lo", Addrs: []string{"127.0.0.1/8"}}}
	index := map[string]int{"lo": 0}
	for _, a := range ns.Addrs {
		i, ok := index[a.Dev]
		if !ok {
			i = len(out)
			index[a.Dev] = i
			out = append(out, kubeproxy.Interface{Name: a.Dev})
		}
		out[i].Addrs = append(out[i].Addrs, a.CIDR)
	}
	return out
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
		for _, in := range s.LBIngress {
			if CapturesLBIP(s, in, v) {
				ks.LoadBalancerIPs = append(ks.LoadBalancerIPs, in.Addr.String())
			}
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

// CapturesLBIP reports whether kube-proxy v sees one of the Service's LB
// IPs (an ingress of its status) and so captures it on every node
// (iptables KUBE-SERVICES rules, IPVS kube-ipvs0 binding). ACK's hostname
// annotation publishes a hostname instead of the IPs, hidden from every
// version; ipMode Proxy hides an ingress from 1.30, where the
// LoadBalancerIPMode gate is beta and on by default (pkg/proxy/service.go
// skips ingress that is not VIP mode; KEP-1860, the gate's beta is
// #123418). Either way the SLB still listens on the IP, so in-cluster
// clients reach it through the SLB.
func CapturesLBIP(s *topology.Service, in topology.LBIngress, v kubeproxy.Version) bool {
	if s.LoadBalancerHostname != "" {
		return false
	}
	return in.IPMode != topology.IPModeProxy || !v.AtLeast(30)
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
