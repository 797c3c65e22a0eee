package kubeproxy

import (
	"strings"
	"testing"
)

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]string{
		"1.28": "1.28", "v1.28.15": "1.28", "1.2": "1.2", "v1.31.14": "1.31", "1.1": "1.1", "v1.22": "1.22", "1.24.0-rc.1": "1.24",
		"1.32": "1.32", "v1.35.4": "1.35", "1.37": "1.37", "v1.37.2": "1.37",
	} {
		v, err := ParseVersion(in)
		if err != nil || v.String() != want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %s", in, v, err, want)
		}
	}
	for _, in := range []string{"1.38", "v1.38.0-beta.0", "1.0", "2.0", "0.9", "", "abc", "1", "1.x"} {
		_, err := ParseVersion(in)
		if err == nil {
			t.Errorf("ParseVersion(%q) succeeded", in)
			continue
		}
		if !strings.Contains(err.Error(), "1.1 to 1.37") {
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
		// 1.32-1.37: TopologyAwareHints GA and locked in 1.33 (#130742),
		// gone in 1.36 (#136112); AllowServiceExternalIPs new in 1.36
		// (#137293); KubeProxyIPVS new in 1.37 (#139397).
		{"1.32", map[string]bool{"TopologyAwareHints": false}, ""},
		{"1.33", map[string]bool{"TopologyAwareHints": false}, "locked"},
		{"1.35", map[string]bool{"TopologyAwareHints": true}, ""},
		{"1.36", map[string]bool{"TopologyAwareHints": true}, "not known"},
		{"1.35", map[string]bool{"AllowServiceExternalIPs": false}, "not known"},
		{"1.36", map[string]bool{"AllowServiceExternalIPs": false}, ""},
		{"1.37", map[string]bool{"AllowServiceExternalIPs": true}, ""},
		{"1.36", map[string]bool{"KubeProxyIPVS": true}, "not known"},
		{"1.37", map[string]bool{"KubeProxyIPVS": false}, ""}, // iptables mode does not care
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
	for ver, want := range map[string]int{"1.28": 0, "1.30": 1, "1.31": 2, "1.37": 2} {
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
		{"1.31", 333, true}, {"1.31", 334, false}, {"1.37", 334, false}, {"1.22", 334, false}, {"1.11", 334, true},
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

// TestNodePortAddressKeywords: "primary" alone from 1.31 (#123105);
// "primary", "localhost" and "all" in any combination, each once, from
// 1.37 (#138427), expanded as cmd/kube-proxy does before the proxier
// sees them.
func TestNodePortAddressKeywords(t *testing.T) {
	const last = `-m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain"`
	dispatch := func(ver string, npa ...string) ([]string, error) {
		n := loadCase(t, "nodeports")
		n.NodePortAddresses = npa
		r, err := IPTables(mustVersion(t, ver), n)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, l := range strings.Split(r.Rules.Restore(), "\n") {
			if strings.HasPrefix(l, "-A KUBE-SERVICES "+last) {
				out = append(out, strings.TrimPrefix(l, "-A KUBE-SERVICES "+last+" "))
			}
		}
		return out, nil
	}
	for _, c := range []struct {
		ver  string
		npa  []string
		want string // the dispatch rules' matches, or the error
	}{
		{"1.30", []string{"primary"}, "error: no 'primary' keyword"},
		{"1.31", []string{"primary"}, "-d 192.168.0.2 -j KUBE-NODEPORTS"},
		{"1.36", []string{"primary", "127.0.0.0/8"}, "error: can't use both 'primary' and CIDRs"},
		{"1.36", []string{"localhost"}, `error: no "localhost" keyword`},
		{"1.36", []string{"all"}, `error: no "all" keyword`},
		{"1.37", []string{"primary", "localhost"}, "-d 127.0.0.1 -j KUBE-NODEPORTS|-d 192.168.0.2 -j KUBE-NODEPORTS"},
		{"1.37", []string{"primary", "10.0.0.0/8"}, "-d 192.168.0.2 -j KUBE-NODEPORTS"},
		{"1.37", []string{"all", "primary"}, "-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS"},
		{"1.37", []string{"localhost", "localhost"}, `error: "localhost" is listed twice`},
		{"1.37", []string{"nonsense"}, "error: invalid CIDR address"},
	} {
		got, err := dispatch(c.ver, c.npa...)
		want, wantErr := strings.CutPrefix(c.want, "error: ")
		s := strings.Join(got, "|")
		if err != nil {
			s = err.Error()
		}
		if (err != nil) != wantErr || (wantErr && !strings.Contains(s, want)) || (!wantErr && s != want) {
			t.Errorf("%s %v: %s, want %s", c.ver, c.npa, s, c.want)
		}
	}
}

// TestZeroCIDRSwitches pins the two 1.34 switches (#132722) on the
// renderer itself; the zero-cidrs case shows them against the oracle.
func TestZeroCIDRSwitches(t *testing.T) {
	has := func(ver, line string) bool {
		return strings.Contains(renderCase(t, "zero-cidrs", ver).Rules.Restore(), line)
	}
	// lb-any's only range and one of lb-mixed's are 0.0.0.0/0: firewall
	// chains before 1.34, none from 1.34 (as if the field were empty);
	// lb-ranges keeps its (trimmed) ranges.
	fwAny := ":" + prefixFW + ChainHash("zero/lb-any:http", "tcp")
	fwMixed := ":" + prefixFW + ChainHash("zero/lb-mixed:http", "tcp")
	fwRanges := ":" + prefixFW + ChainHash("zero/lb-ranges:http", "tcp")
	// --nodeport-addresses 10.0.0.0/0: one dispatch rule per node address
	// before 1.34, "every local address" from 1.34.
	const perIP = "-d 192.168.0.2 -j KUBE-NODEPORTS"
	for _, c := range []struct {
		ver       string
		zeroFW    bool
		perNodeIP bool
	}{{"1.31", true, true}, {"1.33", true, true}, {"1.34", false, false}, {"1.37", false, false}} {
		if got := has(c.ver, fwAny) && has(c.ver, fwMixed); got != c.zeroFW {
			t.Errorf("%s: firewall chains of lb-any/lb-mixed %v, want %v", c.ver, got, c.zeroFW)
		}
		if !has(c.ver, fwRanges) || !has(c.ver, "-s 198.51.100.0/24 -j KUBE-EXT-") {
			t.Errorf("%s: lb-ranges lost its trimmed source ranges", c.ver)
		}
		if got := has(c.ver, perIP); got != c.perNodeIP {
			t.Errorf("%s: per-address NodePort dispatch for 10.0.0.0/0 %v, want %v", c.ver, got, c.perNodeIP)
		}
	}
}
