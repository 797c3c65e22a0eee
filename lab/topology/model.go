// Package topology is the scenario model: what a user writes in a
// topologies/*.yaml file, the defaults netlab fills in, and the validation
// that turns bad input into one message per problem with file and line.
//
// The model is deliberately Kubernetes-like (names, labels, ports) so that a
// support engineer can transcribe a customer's cluster by hand.
package topology

import (
	"net/netip"
	"strconv"

	"gopkg.in/yaml.v3"
)

// Topology is one scenario: a cluster, how it is wired, and the probes that
// must hold on it. Fields tagged `yaml:"-"` are derived by Load.
type Topology struct {
	Name        string     `yaml:"name"`
	Description string     `yaml:"description"`
	CNI         CNI        `yaml:"cni"`
	Network     Network    `yaml:"network"`
	Nodes       []Node     `yaml:"nodes"`
	Pods        []Pod      `yaml:"pods"`
	KubeProxy   *KubeProxy `yaml:"kubeProxy"`
	Services    []Service  `yaml:"services"`
	Cloud       Cloud      `yaml:"cloud"`
	Probes      []Probe    `yaml:"probes"`

	// File is where the scenario came from, for messages.
	File string `yaml:"-"`
	Line int    `yaml:"-"`
}

// CNI selects the plugin and its backend, e.g. flannel/vxlan.
type CNI struct {
	Plugin  string `yaml:"plugin"`
	Backend string `yaml:"backend"`
	// Version of the plugin, where the layout changed with it: flannel
	// before 0.9 ("0.7") is the old VXLAN layout with pods on Docker's
	// docker0 (seed 003). Empty means current.
	Version string `yaml:"version"`
	Line    int    `yaml:"-"`
}

// Network holds the cluster's address plan.
type Network struct {
	// Nodes is the VPC / vSwitch CIDR the node NICs live in.
	Nodes string `yaml:"nodes"`
	// Pods is the cluster CIDR (flannel's "Network").
	Pods string `yaml:"pods"`
	// PodCIDRSize is the per-node block prefix length (kube-controller-manager
	// --node-cidr-mask-size); 24 by default.
	PodCIDRSize int `yaml:"podCIDRSize"`
	// Services is the Service CIDR; used by kube-proxy (later) and checked
	// for overlap now.
	Services string `yaml:"services"`
	Line     int    `yaml:"-"`

	NodesPrefix    netip.Prefix `yaml:"-"`
	PodsPrefix     netip.Prefix `yaml:"-"`
	ServicesPrefix netip.Prefix `yaml:"-"`
	// Gateway is the VPC router's address on the node segment: the
	// third-from-last address of the CIDR, as on an Alibaba Cloud vSwitch.
	Gateway netip.Addr `yaml:"-"`
}

// Node is one Kubernetes node (an ECS instance): a network namespace.
type Node struct {
	Name    string `yaml:"name"`
	IP      string `yaml:"ip"`
	PodCIDR string `yaml:"podCIDR"`
	// SecurityGroups of the node's ENIs that the CNI plugin adds (Terway's
	// pod ENIs), by name (cloud.securityGroups).
	SecurityGroups []string `yaml:"securityGroups"`
	Line           int      `yaml:"-"`

	Addr    netip.Addr   `yaml:"-"`
	PodNet  netip.Prefix `yaml:"-"`
	Index   int          `yaml:"-"`
	Gateway netip.Addr   `yaml:"-"` // the pod bridge's address (.1)
}

// Pod is one pod: a network namespace behind the node's CNI, running an app
// server on each of its ports.
type Pod struct {
	Name   string            `yaml:"name"`
	Node   string            `yaml:"node"`
	IP     string            `yaml:"ip"`
	Labels map[string]string `yaml:"labels"`
	// Ports are the container ports the pod's app server listens on:
	// a number, or {name, port} for a named port.
	Ports       []PodPort `yaml:"ports"`
	HostNetwork bool      `yaml:"hostNetwork"`
	// SecurityGroups give the pod an ENI of its own in these groups where
	// the CNI mode has pod ENIs (Terway ENI trunking's member ENI, as a
	// PodNetworking assigns it; Terway ENI's exclusive ENI).
	SecurityGroups []string `yaml:"securityGroups"`
	// VLAN is the VLAN id of a trunking pod's member ENI on its node's
	// trunk ENI, as its PodENI shows it (status.eniInfos[].vid); 0
	// numbers the node's member ENIs from 1027 up.
	VLAN int `yaml:"vlan"`
	// Ready (default true) and Terminating set the pod's endpoint
	// conditions; a terminating pod is not ready but still serving.
	Ready       *bool `yaml:"ready"`
	Terminating bool  `yaml:"terminating"`
	Line        int   `yaml:"-"`

	Addr netip.Addr `yaml:"-"`
}

// PodPort is a container port, optionally named (for a Service's named
// targetPort). In YAML: 80, or {name: http, port: 80}.
type PodPort struct {
	Name string `yaml:"name"`
	Port int    `yaml:"port"`
	// Protocol of the container port (TCP, the default, or UDP): a named
	// targetPort matches a port of that name and the Service port's
	// protocol, as Kubernetes' FindPort does.
	Protocol string `yaml:"protocol"`
	Line     int    `yaml:"-"`
}

// UnmarshalYAML accepts a bare number as well as the mapping.
func (p *PodPort) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		return n.Decode(&p.Port)
	}
	type plain PodPort
	return n.Decode((*plain)(p))
}

// IsReady is the pod's readiness (default true; false while terminating).
func (p *Pod) IsReady() bool { return !p.Terminating && p.Serving() }

// Serving is the pod's Ready condition, terminating or not: the
// EndpointSlice controller publishes it as the endpoint's serving condition
// (pkg/controller/endpointslice podToEndpoint: serving = IsPodReady,
// ready = serving && !terminating), so a terminating pod that fails its
// readiness probe is neither ready nor serving.
func (p *Pod) Serving() bool { return p.Ready == nil || *p.Ready }

// PortNumbers lists the pod's ports.
func (p *Pod) PortNumbers() []int { return portNumbers(p.Ports) }

// PortNumbers lists the ports the host serves.
func (c *Client) PortNumbers() []int { return portNumbers(c.Ports) }

func portNumbers(ps []PodPort) []int {
	out := make([]int, len(ps))
	for i, x := range ps {
		out[i] = x.Port
	}
	return out
}

// Load balancer IP modes (status.loadBalancer.ingress[].ipMode).
const (
	IPModeVIP   = "VIP"
	IPModeProxy = "Proxy"
)

// KubeProxy selects kube-proxy's mode and version, and the options of its
// configuration a cluster may have changed.
type KubeProxy struct {
	// Mode is a registered mode: iptables, ipvs, userspace, nftables.
	Mode    string `yaml:"mode"`
	Version string `yaml:"version"`
	// StrictARP is --ipvs-strict-arp (IPVS mode, 1.14+): arp_ignore=1 and
	// arp_announce=2, so that nodes do not answer ARP for kube-ipvs0's
	// addresses (MetalLB's L2 mode needs it).
	StrictARP bool `yaml:"strictARP"`
	// MasqueradeAll is --masquerade-all: every connection to a ClusterIP
	// is masqueraded, pods' own included.
	MasqueradeAll bool `yaml:"masqueradeAll"`
	// ClusterCIDR is --cluster-cidr, the local-traffic detector's CIDR:
	// nil means network.pods, "" none (Terway clusters run without one).
	ClusterCIDR *string `yaml:"clusterCIDR"`
	// NodePortAddresses is --nodeport-addresses (1.10+): IPv4 CIDRs, or the
	// single value "primary" (1.31+) for the node's own address.
	NodePortAddresses []string `yaml:"nodePortAddresses"`
	// Scheduler is --ipvs-scheduler (IPVS mode; default rr).
	Scheduler string `yaml:"scheduler"`
	// LocalhostNodePorts is --iptables-localhost-nodeports (iptables mode,
	// 1.26+; default true).
	LocalhostNodePorts *bool `yaml:"localhostNodePorts"`
	// FeatureGates are kube-proxy's --feature-gates overrides (e.g.
	// NFTablesProxyMode for the nftables alpha of 1.29 and 1.30); the
	// mode's registry entry checks them against the version.
	FeatureGates map[string]bool `yaml:"featureGates"`
	Line         int             `yaml:"-"`
}

// NodePortAddressesPrimary is the nodePortAddresses value for the node's
// primary address (kube-proxy's "primary", #123105).
const NodePortAddressesPrimary = "primary"

// Service is a Kubernetes Service; its endpoints are the pods its selector
// matches.
type Service struct {
	Name      string            `yaml:"name"`
	Namespace string            `yaml:"namespace"`
	Type      string            `yaml:"type"`
	ClusterIP string            `yaml:"clusterIP"`
	Selector  map[string]string `yaml:"selector"`
	Ports     []ServicePort     `yaml:"ports"`

	ExternalIPs              []string `yaml:"externalIPs"`
	LoadBalancerIP           string   `yaml:"loadBalancerIP"`
	LoadBalancerSourceRanges []string `yaml:"loadBalancerSourceRanges"`
	ExternalTrafficPolicy    string   `yaml:"externalTrafficPolicy"`
	InternalTrafficPolicy    string   `yaml:"internalTrafficPolicy"`
	HealthCheckNodePort      int      `yaml:"healthCheckNodePort"`
	SessionAffinity          string   `yaml:"sessionAffinity"`
	SessionAffinityTimeout   int      `yaml:"sessionAffinityTimeoutSeconds"`
	// LoadBalancerIPMode is status.loadBalancer.ingress[].ipMode: VIP (the
	// default; kube-proxy captures the LB IP on every node) or Proxy
	// (KEP-1860: kube-proxy leaves the LB IP alone, so in-cluster traffic
	// to it goes out to the load balancer). kube-proxy honours it from
	// 1.30, when the LoadBalancerIPMode gate went beta.
	LoadBalancerIPMode string `yaml:"loadBalancerIPMode"`
	// LoadBalancerHostname is ACK's
	// service.beta.kubernetes.io/alibaba-cloud-loadbalancer-hostname
	// annotation (seed 002): the cloud controller publishes this hostname
	// instead of the IP in the Service status, so no kube-proxy version
	// ever sees the LB IP. The SLB still listens on loadBalancerIP.
	LoadBalancerHostname string `yaml:"loadBalancerHostname"`
	// LoadBalancerIngress is status.loadBalancer.ingress[] when the load
	// balancer has several addresses, each with its own ipMode; instead of
	// loadBalancerIP and loadBalancerIPMode.
	LoadBalancerIngress []LBIngress `yaml:"loadBalancerIngress"`
	// AllocateLoadBalancerNodePorts is spec.allocateLoadBalancerNodePorts
	// (1.20+, KEP-1864): false leaves a LoadBalancer's ports without a
	// nodePort unless the port names one.
	AllocateLoadBalancerNodePorts *bool `yaml:"allocateLoadBalancerNodePorts"`
	Line                          int   `yaml:"-"`

	ClusterAddr netip.Addr `yaml:"-"`
	// LBAddr is the first load balancer address (loadBalancerIP, or the
	// first of loadBalancerIngress); LBIngress holds them all.
	LBAddr    netip.Addr  `yaml:"-"`
	LBIngress []LBIngress `yaml:"-"`
}

// LBIngress is one load balancer address of a Service's status.
type LBIngress struct {
	IP string `yaml:"ip"`
	// IPMode is VIP (the default) or Proxy, as loadBalancerIPMode.
	IPMode string `yaml:"ipMode"`
	Line   int    `yaml:"-"`

	Addr netip.Addr `yaml:"-"`
}

// ServicePort is one port of a Service. TargetPort is a number or the name
// of a pod port; it defaults to Port.
type ServicePort struct {
	Name       string `yaml:"name"`
	Port       int    `yaml:"port"`
	TargetPort string `yaml:"targetPort"`
	NodePort   int    `yaml:"nodePort"`
	Protocol   string `yaml:"protocol"`
	Line       int    `yaml:"-"`
}

// Service types and policies.
const (
	TypeClusterIP    = "ClusterIP"
	TypeNodePort     = "NodePort"
	TypeLoadBalancer = "LoadBalancer"
	PolicyCluster    = "Cluster"
	PolicyLocal      = "Local"
)

// Cloud is what sits outside the nodes: outside hosts that reach the
// cluster only through the VPC router, and SLB listeners that are not a
// Service's (seed 002's CLB also listens on 443 for a host outside the
// cluster).
type Cloud struct {
	Clients   []Client   `yaml:"clients"`
	Listeners []Listener `yaml:"listeners"`
	// SecurityGroups are enforced by the VPC on the ENIs in them (the
	// CNI plugin's ENIs, e.g. a node's Terway ENI), never on a node.
	SecurityGroups []SecurityGroup `yaml:"securityGroups"`
	Line           int             `yaml:"-"`
}

// SecurityGroup is an Alibaba Cloud (basic) security group: stateful,
// inbound denied and outbound allowed unless a rule says otherwise, its
// members reaching each other unless intraGroup is false.
type SecurityGroup struct {
	Name string `yaml:"name"`
	// IntraGroup: the members' ENIs reach each other whatever the rules
	// (default true, a basic group's "intranet interconnection").
	IntraGroup *bool    `yaml:"intraGroup"`
	Ingress    []SGRule `yaml:"ingress"`
	Egress     []SGRule `yaml:"egress"`
	Line       int      `yaml:"-"`
}

// AllowsIntraGroup reports the group's intraGroup setting (default true).
func (g *SecurityGroup) AllowsIntraGroup() bool { return g.IntraGroup == nil || *g.IntraGroup }

// SGRule is one security group rule: traffic of Protocol to Ports, from
// (ingress) or to (egress) CIDR, is accepted or dropped. The rules of all
// the groups of an ENI apply in Priority order (1 first), drop before
// accept at the same priority.
type SGRule struct {
	Priority int    `yaml:"priority"` // 1 to 100, default 1
	Action   string `yaml:"action"`   // accept (default) or drop
	Protocol string `yaml:"protocol"` // tcp, udp, icmp or all (default)
	Ports    string `yaml:"ports"`    // "80" or "8000/8080"; tcp and udp only; default all
	CIDR     string `yaml:"cidr"`     // the peer: source (ingress) or destination (egress); default 0.0.0.0/0
	Line     int    `yaml:"-"`

	PortMin, PortMax int          `yaml:"-"` // 0, 0: every port
	Prefix           netip.Prefix `yaml:"-"`
}

// SecurityGroup returns the named security group, or nil.
func (t *Topology) SecurityGroup(name string) *SecurityGroup {
	for i := range t.Cloud.SecurityGroups {
		if t.Cloud.SecurityGroups[i].Name == name {
			return &t.Cloud.SecurityGroups[i]
		}
	}
	return nil
}

// Listener is an SLB listener the cloud controller does not manage: IP:Port
// is forwarded to an outside host's BackendPort, keeping the client's
// address.
type Listener struct {
	IP          string `yaml:"ip"`
	Port        int    `yaml:"port"`
	Backend     string `yaml:"backend"`
	BackendPort int    `yaml:"backendPort"`
	Line        int    `yaml:"-"`

	Addr netip.Addr `yaml:"-"`
}

// Client is a host outside the cluster behind the VPC router: a host on
// the internet, or a VM on another vSwitch of the VPC (seed 002's
// 192.168.3.100). Either reaches the nodes, the SLB and, where the VPC
// route table has them, pod IPs; the name and address say which it is.
type Client struct {
	Name string `yaml:"name"`
	IP   string `yaml:"ip"`
	// Ports the host serves (the lab daemon answers on them as it does
	// for pods), e.g. the backend of an SLB listener.
	Ports []PodPort `yaml:"ports"`
	Line  int       `yaml:"-"`

	Addr netip.Addr `yaml:"-"`
	// Gateway is the VPC router's address on the client's /24.
	Gateway netip.Addr `yaml:"-"`
}

// Probe is one connection the scenario fires, and what it must show.
type Probe struct {
	Name string `yaml:"name"`
	From string `yaml:"from"`
	To   string `yaml:"to"`
	// Protocol is TCP or UDP; by default a Service target's port protocol,
	// else TCP.
	Protocol string `yaml:"protocol"`
	Expect   Expect `yaml:"expect"`
	// When overrides Expect for some kube-proxy modes and versions: the
	// first entry whose kubeProxy pattern matches wins.
	When []When `yaml:"when"`
	Line int    `yaml:"-"`
}

// When is an expectation that holds for kube-proxy modes and versions
// matching KubeProxy ("MODE", "MODE@1.22", "MODE@<1.24", "MODE@>=1.24")
// and, if CNI is set, for that CNI backend ("vxlan", "host-gw", ...).
// At least one of the two is given.
type When struct {
	KubeProxy string `yaml:"kubeProxy"`
	CNI       string `yaml:"cni"`
	Expect    Expect `yaml:"expect"`
	Line      int    `yaml:"-"`
}

// String is the entry's condition: "ipvs@<1.24", "host-gw", or both as
// "ipvs@<1.24 on host-gw".
func (w When) String() string {
	switch {
	case w.CNI == "":
		return w.KubeProxy
	case w.KubeProxy == "":
		return w.CNI
	}
	return w.KubeProxy + " on " + w.CNI
}

// ProtocolOf is the protocol a probe to target uses: its own, else the
// Service port's, else TCP.
func ProtocolOf(probe string, target Ref) string {
	switch {
	case probe != "":
		return probe
	case target.Protocol != "":
		return target.Protocol
	}
	return "TCP"
}

// Expected returns the expectation that applies to the probe in topology
// t (its kube-proxy and CNI backend): the first matching when, else
// Expect.
func (p *Probe) Expected(t *Topology) Expect {
	for _, w := range p.When {
		if w.CNI != "" && w.CNI != t.CNI.Backend {
			continue
		}
		if ok, _ := MatchKubeProxy(w.KubeProxy, t.KubeProxy); ok || w.KubeProxy == "" {
			e := w.Expect
			e.When = w.String()
			return e
		}
	}
	return p.Expect
}

// Expect is what a probe must observe. Unset fields are not checked.
type Expect struct {
	// Result is connected | refused | timeout | unreachable.
	Result string `yaml:"result" json:"result,omitempty"`
	// Server is the pod (or outside host) that must answer (every answer
	// when Repeat > 1).
	Server string `yaml:"server" json:"server,omitempty"`
	// ClientIPPreserved: the server saw the client's own source address.
	ClientIPPreserved *bool `yaml:"clientIPPreserved" json:"clientIPPreserved,omitempty"`
	// ClientIP is the address the server must see: an IP, or the name of a
	// node, pod or client whose address it is.
	ClientIP string `yaml:"clientIP" json:"clientIP,omitempty"`
	// Repeat fires the probe this many times (default 1).
	Repeat int `yaml:"repeat" json:"repeat,omitempty"`
	// Servers is how many distinct pods must have answered over the
	// repeats: 1 for session affinity, the endpoint count for balancing.
	Servers int `yaml:"servers" json:"servers,omitempty"`
	// Hops is the way the request must take, as a trace's path prints it:
	// OWNER:DEVICE per device ("veth" or "cali" for a pod's host-side
	// veth), and
	// "vpc" / "slb" for each pass through those namespaces.
	Hops []string `yaml:"hops" json:"hops,omitempty"`
	// DecidedBy must appear in the rule (or IPVS / kernel decision) that
	// refused or dropped the probe: a Service's comment, a chain name.
	DecidedBy string `yaml:"decidedBy" json:"decidedBy,omitempty"`
	// Conntrack are entries the flow must leave, per node: on each node
	// named, the flow's entries are exactly these (every one listed is
	// there, and there is no other), every run.
	Conntrack []ConntrackEntry `yaml:"conntrack" json:"conntrack,omitempty"`
	// SLBBackends are the nodes (or outside hosts) the SLB may forward the
	// request to: every run must go to one of them, and over repeats each
	// of them must be picked at least once.
	SLBBackends []string `yaml:"slbBackends" json:"slbBackends,omitempty"`
	Line        int      `yaml:"-" json:"line,omitempty"`
	// When names the when entry this expectation came from ("ipvs@<1.24",
	// "host-gw", "ipvs on host-gw"); empty for the probe's own expect.
	When string `yaml:"-" json:"when,omitempty"`
}

// Probe results.
const (
	ResultConnected   = "connected"
	ResultRefused     = "refused"
	ResultTimeout     = "timeout"
	ResultUnreachable = "unreachable"
)

// Node returns the node with that name, or nil.
func (t *Topology) Node(name string) *Node {
	for i := range t.Nodes {
		if t.Nodes[i].Name == name {
			return &t.Nodes[i]
		}
	}
	return nil
}

// Pod returns the pod with that name, or nil.
func (t *Topology) Pod(name string) *Pod {
	for i := range t.Pods {
		if t.Pods[i].Name == name {
			return &t.Pods[i]
		}
	}
	return nil
}

// Client returns the outside client with that name, or nil.
func (t *Topology) Client(name string) *Client {
	for i := range t.Cloud.Clients {
		if t.Cloud.Clients[i].Name == name {
			return &t.Cloud.Clients[i]
		}
	}
	return nil
}

// PodsOn returns the pods scheduled on a node, in file order.
func (t *Topology) PodsOn(node string) []*Pod {
	var out []*Pod
	for i := range t.Pods {
		if t.Pods[i].Node == node {
			out = append(out, &t.Pods[i])
		}
	}
	return out
}

// Service returns the Service with that name, or nil.
func (t *Topology) Service(name string) *Service {
	for i := range t.Services {
		if t.Services[i].Name == name {
			return &t.Services[i]
		}
	}
	return nil
}

// Endpoints are the pods a Service selects, in file order. A Service
// without a selector has none.
func (t *Topology) Endpoints(s *Service) []*Pod {
	if len(s.Selector) == 0 {
		return nil
	}
	var out []*Pod
	for i := range t.Pods {
		p := &t.Pods[i]
		match := true
		for k, v := range s.Selector {
			if p.Labels[k] != v {
				match = false
				break
			}
		}
		if match {
			out = append(out, p)
		}
	}
	return out
}

// TargetOn resolves a Service port's target on a pod: the number, or the
// pod's port of that name and the Service port's protocol (0 if the pod
// has none).
func (sp *ServicePort) TargetOn(p *Pod) int {
	if n, err := strconv.Atoi(sp.TargetPort); err == nil {
		return n
	}
	for _, pp := range p.Ports {
		if pp.Name == sp.TargetPort && pp.Protocol == sp.Protocol {
			return pp.Port
		}
	}
	return 0
}
