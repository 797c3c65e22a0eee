package kubeproxy

import (
	"slices"
	"strings"
	"testing"
)

// interfacesNode is a node with one NodePort Service and the interfaces
// given; nil interfaces is the oracle's fake node.
func interfacesNode(ifaces []Interface) Node {
	return Node{Name: "n1", IPs: []string{"10.0.0.10"}, ClusterCIDR: "10.244.0.0/16", Interfaces: ifaces,
		Services: []Service{{Namespace: "default", Name: "web", Type: "NodePort", ClusterIP: "10.96.0.10",
			Ports:     []Port{{Port: 80, TargetPort: 80, NodePort: 30080, Protocol: "TCP"}},
			Endpoints: []Endpoint{{IP: "10.244.1.2", NodeName: "n2", Ports: []EndpointPort{{Port: 80, Protocol: "TCP"}}}}}}}
}

func nodePortAddrs(t *testing.T, v Version, n Node) []string {
	t.Helper()
	res, err := IPVS(v, n)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, vs := range res.VirtualServers {
		if vs.Port == 30080 {
			out = append(out, vs.Addr)
		}
	}
	return out
}

// TestIPVSNodeInterfaces: NodePort virtual servers go to every IPv4 address
// of every interface but lo's and kube-ipvs0's (IPv4 link-local included:
// isValidForSet skips only IPv6 link-local), and before 1.10 to eth*'s only.
// Without interfaces the node is the oracle's: eth0 with the node IP.
func TestIPVSNodeInterfaces(t *testing.T) {
	ifaces := []Interface{
		{Name: "lo", Addrs: []string{"127.0.0.1/8"}},
		{Name: "eth0", Addrs: []string{"10.0.0.10/16", "fe80::1/64"}},
		{Name: "cni0", Addrs: []string{"10.244.0.1/24"}},
		{Name: "flannel.1", Addrs: []string{"10.244.0.0"}},
		{Name: "kube-ipvs0", Addrs: []string{"10.96.0.10/32"}},
		{Name: "ens5", Addrs: []string{"169.254.1.1/16"}},
	}
	for _, tc := range []struct {
		v      Version
		ifaces []Interface
		want   []string
	}{
		{Version{1, 31}, nil, []string{"10.0.0.10"}},
		{Version{1, 31}, ifaces, []string{"10.0.0.10", "10.244.0.0", "10.244.0.1", "169.254.1.1"}},
		{Version{1, 10}, ifaces, []string{"10.0.0.10", "10.244.0.0", "10.244.0.1", "169.254.1.1"}},
		{Version{1, 9}, ifaces, []string{"10.0.0.10"}},
	} {
		if got := nodePortAddrs(t, tc.v, interfacesNode(tc.ifaces)); !slices.Equal(got, tc.want) {
			t.Errorf("%s, %d interfaces: NodePorts on %v, want %v", tc.v, len(tc.ifaces), got, tc.want)
		}
	}
	if _, err := IPVS(Version{1, 31}, interfacesNode([]Interface{{Name: "eth0", Addrs: []string{"10.0.0.300/16"}}})); err == nil || !strings.Contains(err.Error(), `interface eth0: bad address "10.0.0.300/16"`) {
		t.Errorf("bad address: %v", err)
	}
}

// TestLocalhostNodePortsOff: --iptables-localhost-nodeports=false (1.26+)
// drops route_localnet and keeps NodePorts off 127.0.0.0/8; before 1.26
// the field has no effect (the flag does not exist).
func TestLocalhostNodePortsOff(t *testing.T) {
	off := false
	for _, tc := range []struct {
		v        Version
		localnet bool
	}{{Version{1, 31}, false}, {Version{1, 26}, false}, {Version{1, 25}, true}} {
		n := interfacesNode(nil)
		n.LocalhostNodePorts = &off
		res, err := IPTables(tc.v, n)
		if err != nil {
			t.Fatal(err)
		}
		localnet := false
		for _, s := range res.Sysctls {
			localnet = localnet || s.Key == "net.ipv4.conf.all.route_localnet"
		}
		blocked := strings.Contains(res.Rules.Restore(), "! -d 127.0.0.0/8 -j KUBE-NODEPORTS")
		if localnet != tc.localnet || blocked == tc.localnet {
			t.Errorf("%s: route_localnet %v, NodePorts kept off 127.0.0.0/8 %v; want %v, %v", tc.v, localnet, blocked, tc.localnet, !tc.localnet)
		}
	}
}
