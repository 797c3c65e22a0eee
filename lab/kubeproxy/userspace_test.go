package kubeproxy

import (
	"strings"
	"testing"
)

// TestUserspaceMatchesSeed003 renders seed 003's cluster and compares
// with the iptables-save lines the article shows from the real kube-proxy
// (1.1, userspace mode) on kube-node1, proxy ports aside: kube-proxy took
// random ports (50948), netlab numbers them from 20000.
func TestUserspaceMatchesSeed003(t *testing.T) {
	ready := true
	node := Node{Name: "kube-node1", IPs: []string{"172.17.42.31"}, ClusterCIDR: "172.16.0.0/12", Services: []Service{{
		Namespace: "default", Name: "my-nginx-service", Type: "ClusterIP", ClusterIP: "10.254.247.121",
		Ports: []Port{{Port: 8080, TargetPort: 80, Protocol: "TCP"}},
		Endpoints: []Endpoint{
			{IP: "172.16.78.10", Ready: &ready, Ports: []EndpointPort{{Port: 80, Protocol: "TCP"}}},
			{IP: "172.16.78.9", Ready: &ready, Ports: []EndpointPort{{Port: 80, Protocol: "TCP"}}},
		},
	}}}
	res, err := Userspace(Version{1, 1}, node)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(res.Rules.Restore(), "20000", "50948")
	for _, want := range []string{
		`-A KUBE-PORTALS-CONTAINER -d 10.254.247.121/32 -p tcp -m comment --comment "default/my-nginx-service:" -m tcp --dport 8080 -j REDIRECT --to-ports 50948`,
		`-A KUBE-PORTALS-HOST -d 10.254.247.121/32 -p tcp -m comment --comment "default/my-nginx-service:" -m tcp --dport 8080 -j DNAT --to-destination 172.17.42.31:50948`,
		`-A PREROUTING -m comment --comment "handle ClusterIPs; NOTE: this must be before the NodePort rules" -j KUBE-PORTALS-CONTAINER`,
		`-A OUTPUT -m addrtype --dst-type LOCAL -m comment --comment "handle service NodePorts; NOTE: this must be the last rule in the chain" -j KUBE-NODEPORT-HOST`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("missing\n  %s\nin\n%s", want, text)
		}
	}
	if len(res.Proxies) != 1 || res.Proxies[0].Port != UserspaceProxyPortBase || strings.Join(res.Proxies[0].Endpoints, " ") != "172.16.78.10:80 172.16.78.9:80" {
		t.Errorf("proxies %+v", res.Proxies)
	}
}

// TestUserspaceNodePortAndAffinity: a NodePort gets the NODEPORT chains and
// the INPUT accept on the proxy port; ClientIP affinity carries its timeout;
// 1.26 has no userspace mode.
func TestUserspaceNodePortAndAffinity(t *testing.T) {
	node := Node{Name: "n1", IPs: []string{"10.0.0.10"}, Services: []Service{{
		Namespace: "default", Name: "web", Type: "NodePort", ClusterIP: "10.96.0.10", SessionAffinity: "ClientIP",
		Ports: []Port{{Name: "http", Port: 80, NodePort: 30080, Protocol: "TCP"}, {Name: "dns", Port: 53, Protocol: "UDP"}},
	}}}
	res, err := Userspace(Version{1, 22}, node)
	if err != nil {
		t.Fatal(err)
	}
	text := res.Rules.Restore()
	for _, want := range []string{
		`-A KUBE-NODEPORT-CONTAINER -p tcp -m comment --comment "default/web:http" -m tcp --dport 30080 -j REDIRECT --to-ports 20001`,
		`-A KUBE-NODEPORT-HOST -p tcp -m comment --comment "default/web:http" -m tcp --dport 30080 -j DNAT --to-destination 10.0.0.10:20001`,
		`-A KUBE-NODEPORT-NON-LOCAL -p tcp -m comment --comment "default/web:http" -m tcp --dport 20001 -m state --state NEW -j ACCEPT`,
		`-A KUBE-PORTALS-CONTAINER -d 10.96.0.10/32 -p udp -m comment --comment "default/web:dns" -m udp --dport 53 -j REDIRECT --to-ports 20000`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("missing\n  %s\nin\n%s", want, text)
		}
	}
	if len(res.Proxies) != 2 || res.Proxies[0].Protocol != "UDP" || res.Proxies[1].AffinitySeconds != 10800 {
		t.Errorf("proxies %+v", res.Proxies)
	}
	if _, err := Userspace(Version{1, 26}, node); err == nil || !strings.Contains(err.Error(), "#112133") {
		t.Errorf("1.26: %v", err)
	}
}
