package kubeproxy

import (
	"strings"
	"testing"
)

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]string{
		"1.28": "1.28", "v1.28.15": "1.28", "1.2": "1.2", "v1.31.14": "1.31", "1.1": "1.1", "v1.22": "1.22", "1.24.0-rc.1": "1.24",
	} {
		v, err := ParseVersion(in)
		if err != nil || v.String() != want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %s", in, v, err, want)
		}
	}
	for _, in := range []string{"1.32", "1.0", "2.0", "0.9", "", "abc", "1", "1.x"} {
		_, err := ParseVersion(in)
		if err == nil {
			t.Errorf("ParseVersion(%q) succeeded", in)
			continue
		}
		if !strings.Contains(err.Error(), "1.1 to 1.31") {
			t.Errorf("ParseVersion(%q) error does not name the supported range: %v", in, err)
		}
	}
	if _, err := IPTables(Version{1, 40}, Node{}); err == nil {
		t.Error("IPTables accepted 1.40")
	}
}

// Chain names checked against real iptables-save dumps: the well-known
// KUBE-SVC- chains of default/kubernetes and kube-dns, and published dumps
// of default/test-svc (ishswar/katacoda-scenarios,
// cka-cluster-with-kind/step3.md) and default/nginx (VijayRod/demo,
// container-storage/logs/tcp-k8s-service_externalTrafficPolicy_Cluster.md).
func TestChainNames(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{ChainHash("default/kubernetes:https", "tcp"), "NPX46M4PTMTKRN6Y"},
		{ServicePortChainName("default/kubernetes:https", "tcp"), "KUBE-SVC-NPX46M4PTMTKRN6Y"},
		{ServicePortChainName("kube-system/kube-dns:dns", "udp"), "KUBE-SVC-TCOU7JCQXEZGVUNU"},
		{ChainHash("default/test-svc", "tcp"), "QKNQQNIN727HO3XU"},
		{EndpointChainName("default/test-svc", "tcp", "10.244.1.3:80"), "KUBE-SEP-SQEBHSRBMT4ZUBXZ"},
		{ChainHash("default/nginx", "tcp"), "2CMXP7HKUVJN7L6M"},
		{EndpointChainName("default/nginx", "tcp", "10.244.2.5:80"), "KUBE-SEP-XW6I7J74P22Q2AZM"},
	} {
		if c.got != c.want {
			t.Errorf("got %s, want %s", c.got, c.want)
		}
	}
}

func TestFeatureGates(t *testing.T) {
	node := func(g map[string]bool) Node { return Node{FeatureGates: g} }
	for _, c := range []struct {
		ver   string
		gates map[string]bool
		err   string
	}{
		{"1.22", map[string]bool{"ProxyTerminatingEndpoints": true}, ""},
		{"1.28", map[string]bool{"ProxyTerminatingEndpoints": true}, ""}, // locked, same value
		{"1.28", map[string]bool{"ProxyTerminatingEndpoints": false}, "locked"},
		{"1.31", map[string]bool{"ProxyTerminatingEndpoints": true}, "not known"},
		{"1.20", map[string]bool{"ProxyTerminatingEndpoints": true}, "not known"},
		{"1.24", map[string]bool{"NoSuchGate": true}, "not known"},
		{"1.21", map[string]bool{"ServiceInternalTrafficPolicy": true}, ""},
	} {
		_, err := IPTables(mustVersion(t, c.ver), node(c.gates))
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s %v: %v", c.ver, c.gates, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s %v: error %v, want %q", c.ver, c.gates, err, c.err)
		}
	}
}

func TestSysctlsAndNFAcct(t *testing.T) {
	routeLocalnet := func(ver string, npa []string) bool {
		r, err := IPTables(mustVersion(t, ver), Node{NodePortAddresses: npa})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range r.Sysctls {
			if s.Key == "net.ipv4.conf.all.route_localnet" && s.Value == "1" {
				return true
			}
		}
		return false
	}
	noLo := []string{"192.168.0.0/24"}
	for _, c := range []struct {
		ver  string
		npa  []string
		want bool
	}{
		{"1.2", nil, true}, {"1.23", noLo, true}, // unconditional before 1.24
		{"1.24", nil, true}, {"1.24", noLo, false}, // #107684
		{"1.28", nil, true}, {"1.28", noLo, false}, {"1.28", []string{"127.0.0.0/8"}, true},
	} {
		if got := routeLocalnet(c.ver, c.npa); got != c.want {
			t.Errorf("%s nodePortAddresses=%v: route_localnet=%v, want %v", c.ver, c.npa, got, c.want)
		}
	}

	n := loadCase(t, "basic")
	for ver, want := range map[string]int{"1.28": 0, "1.30": 1, "1.31": 2} {
		r := renderCase(t, "basic", ver)
		if len(r.NFAcctCounters) != want {
			t.Errorf("%s: nfacct counters %v, want %d", ver, r.NFAcctCounters, want)
		}
	}
	off := false
	n.NFAcct = &off
	r, err := IPTables(mustVersion(t, "1.31"), n)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.NFAcctCounters) != 0 || strings.Contains(r.Rules.Restore(), "nfacct") {
		t.Error("NFAcct=false still uses nfacct")
	}
}

// TestLargeClusterMode: above 1000 endpoints the per-endpoint rules lose
// their comments (#65755); the oracle comparison of a 5,000-Service node
// is in the report, this pins the switch.
func TestLargeClusterMode(t *testing.T) {
	for _, c := range []struct {
		ver      string
		services int
		comments bool
	}{
		{"1.31", 333, true}, {"1.31", 334, false}, {"1.22", 334, false}, {"1.11", 334, true},
	} {
		r, err := IPTables(mustVersion(t, c.ver), benchNode(c.services))
		if err != nil {
			t.Fatal(err)
		}
		has := false
		for _, tb := range r.Rules.Tables {
			for _, ch := range tb.Chains {
				if strings.HasPrefix(ch.Name, prefixSEP) && len(ch.Rules) > 0 {
					has = strings.Contains(ch.Rules[0], "--comment")
				}
			}
		}
		if has != c.comments {
			t.Errorf("%s with %d endpoints: SEP comments %v, want %v", c.ver, 3*c.services, has, c.comments)
		}
	}
}

func TestBadInput(t *testing.T) {
	v := mustVersion(t, "1.28")
	for name, n := range map[string]Node{
		"named targetPort without endpoint ports": {Services: []Service{{Name: "a", ClusterIP: "10.96.0.5",
			Ports: []Port{{Port: 80, TargetPort: "web"}}, Endpoints: []Endpoint{{IP: "10.244.1.1"}}}}},
		"IPv6 clusterIP": {Services: []Service{{Name: "a", ClusterIP: "fd00::1", Ports: []Port{{Port: 80}}}}},
		"bad node IP":    {IPs: []string{"nope"}},
		"bad policy": {Services: []Service{{Name: "a", Type: "NodePort", ClusterIP: "10.96.0.5",
			ExternalTrafficPolicy: "Nearby", Ports: []Port{{Port: 80}}}}},
	} {
		if _, err := IPTables(v, n); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
