// Package kubeproxy renders the rules a given kube-proxy mode and version
// installs on one node: one file per mode, versions.go for the behaviour
// switches (each named after its upstream PR or KEP). The sources are
// kubernetes/kubernetes pkg/proxy/{iptables,ipvs,userspace}/proxier.go and
// pkg/proxy/{service,endpoints,topology}.go at the releases and commits the
// switches cite, and the CHANGELOG-1.x entries and PR threads where a
// switch's release is placed without its code.
//
// The input types mirror the scenario JSON of the kube-proxy oracle (see
// docs/testing.md, "The oracle") field for field, so that a renderer's
// output can be checked against what the real kube-proxy writes for the
// same input.
package kubeproxy

// Node is what kube-proxy knows about the node it runs on.
type Node struct {
	Name string   `json:"nodeName"`
	IPs  []string `json:"nodeIPs"`
	// ClusterCIDR drives the local-traffic detector (--cluster-cidr); ""
	// means no detector, as in real kube-proxy.
	ClusterCIDR       string          `json:"clusterCIDR"`
	MasqueradeAll     bool            `json:"masqueradeAll,omitempty"`
	MasqueradeBit     *int            `json:"masqueradeBit,omitempty"`
	NodePortAddresses []string        `json:"nodePortAddresses,omitempty"`
	IPVSScheduler     string          `json:"ipvsScheduler,omitempty"`
	FeatureGates      map[string]bool `json:"featureGates,omitempty"`
	// ServiceCIDRs are the cluster's ServiceCIDR objects' CIDRs, which
	// kube-proxy watches when the MultiCIDRServiceAllocator gate is on
	// (GA from 1.33): the nftables mode drops traffic to addresses in them
	// that no Service has. The other modes ignore them.
	ServiceCIDRs []string  `json:"serviceCIDRs,omitempty"`
	Services     []Service `json:"services"`
	// NFAcct says whether the kernel lets kube-proxy 1.30+ create its
	// nfacct counters (nil = yes, the oracle's and kube-proxy's default on
	// a kernel with nfnetlink_acct); with them, the INVALID-drop and
	// localhost-NodePort rules carry "-m nfacct" matches. Mirrors the
	// oracle's "nfacct" key.
	NFAcct *bool `json:"nfacct,omitempty"`

	// Interfaces are the node's network interfaces with their addresses,
	// as kube-proxy discovers them on the host (net.Interfaces): in IPVS
	// mode the addresses NodePort virtual servers are bound to (every one
	// but loopback's and kube-ipvs0's) and the node addresses it leaves off
	// kube-ipvs0; in iptables mode the addresses --nodeport-addresses
	// selects. Not part of the oracle's JSON: the oracle's fake node has
	// lo with 127.0.0.1/8 and eth0 with IPs, and an empty list means
	// exactly that, so the oracle cases render as the oracle does.
	Interfaces []Interface `json:"-"`
	// LocalhostNodePorts is --iptables-localhost-nodeports (1.26+, #108250):
	// nil is its default, true. false drops NodePorts on 127.0.0.0/8 and
	// route_localnet. Not part of the oracle's JSON: the oracle runs with
	// the default.
	LocalhostNodePorts *bool `json:"-"`
}

// Interface is one of the node's network interfaces and its addresses
// ("10.244.0.1/24", or a bare address), in the order the kernel lists them.
type Interface struct {
	Name  string
	Addrs []string
}

// Service is one Service with its endpoints (the EndpointSlices' content).
type Service struct {
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	// Type is ClusterIP, NodePort or LoadBalancer.
	Type      string `json:"type,omitempty"`
	ClusterIP string `json:"clusterIP,omitempty"`
	Ports     []Port `json:"ports"`

	ExternalIPs              []string `json:"externalIPs,omitempty"`
	LoadBalancerIPs          []string `json:"loadBalancerIPs,omitempty"`
	LoadBalancerSourceRanges []string `json:"loadBalancerSourceRanges,omitempty"`
	// ExternalTrafficPolicy / InternalTrafficPolicy: Cluster or Local.
	ExternalTrafficPolicy string `json:"externalTrafficPolicy,omitempty"`
	InternalTrafficPolicy string `json:"internalTrafficPolicy,omitempty"`
	HealthCheckNodePort   int    `json:"healthCheckNodePort,omitempty"`
	// SessionAffinity is None or ClientIP.
	SessionAffinity               string `json:"sessionAffinity,omitempty"`
	SessionAffinityTimeoutSeconds int    `json:"sessionAffinityTimeoutSeconds,omitempty"`

	Endpoints []Endpoint `json:"endpoints,omitempty"`
}

// Port is a Service port. TargetPort is a number or a port name.
type Port struct {
	Name       string `json:"name,omitempty"`
	Port       int    `json:"port"`
	TargetPort any    `json:"targetPort,omitempty"`
	NodePort   int    `json:"nodePort,omitempty"`
	Protocol   string `json:"protocol,omitempty"`
}

// Endpoint is one EndpointSlice endpoint. Nil conditions take the oracle's
// defaults: ready true, serving = ready, terminating false.
type Endpoint struct {
	IP          string         `json:"ip"`
	NodeName    string         `json:"nodeName,omitempty"`
	Zone        string         `json:"zone,omitempty"`
	Ready       *bool          `json:"ready,omitempty"`
	Serving     *bool          `json:"serving,omitempty"`
	Terminating *bool          `json:"terminating,omitempty"`
	Ports       []EndpointPort `json:"ports,omitempty"`
}

// EndpointPort is a port an endpoint serves, matched to Service ports by
// name.
type EndpointPort struct {
	Name     string `json:"name,omitempty"`
	Port     int    `json:"port"`
	Protocol string `json:"protocol,omitempty"`
}
