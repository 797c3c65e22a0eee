package e2e

import (
	"strings"
	"testing"

	"github.com/netlab/netlab/internal/testenv"
	"github.com/netlab/netlab/lab"
	"github.com/netlab/netlab/lab/kernel"
	"github.com/netlab/netlab/probes"
	"github.com/netlab/netlab/topologies"
)

// upWith brings up a built-in scenario with a --kube-proxy override.
func upWith(t *testing.T, scenario, kubeProxy, suffix string) *lab.Lab {
	t.Helper()
	data, _ := topologies.Get(scenario)
	sc, err := lab.LoadScenario("builtin:"+scenario+".yaml", data, kubeProxy)
	if err != nil {
		t.Fatal(err)
	}
	return up(t, sc, suffix)
}

func runChecks(t *testing.T, l *lab.Lab) {
	t.Helper()
	checks, err := probes.RunScenario(l, probeOptions())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		if !c.Pass {
			t.Errorf("probe %q (%s -> %s): %s", c.Name, c.From, c.To, strings.Join(c.Failures, "; "))
		}
	}
}

// TestServicesIPTables runs the iptables smoke set against each kube-proxy
// layout: ClusterIP from a pod (client IP kept) and a node, NodePort and
// SLB from outside with both traffic policies, affinity, no endpoints,
// hairpin and source ranges, each asserting the server's view of the
// client address.
//
// The sweep proves nothing the guest's kernel adds (iptables mode needs
// none of IPVS, ipvlan, 802.1Q or dummy), so the guest runs its oldest and
// newest layouts only and the native run the whole sweep.
func TestServicesIPTables(t *testing.T) {
	versions := []string{"1.2", "1.10", "1.18", "1.22", "1.24", "1.25", "1.28", "1.31"}
	if testenv.InGuest() {
		versions = []string{"1.2", "1.31"}
	}
	for _, v := range versions {
		t.Run(v, func(t *testing.T) {
			l := upWith(t, "flannel-services", "iptables@"+v, "s")
			runChecks(t, l)
		})
	}
}

// TestServicesIPVS and TestServicesUserspace run the same smoke set under the other kube-proxy modes: the "when" entries hold what
// each does differently (no real servers instead of REJECT, #97081, the
// 1.8 alpha's broken hairpin, the userspace proxy hiding every client).
func TestServicesIPVS(t *testing.T) {
	testenv.RequireFeatures(t, kernel.IPVS, kernel.Dummy, kernel.Ipset)
	for _, v := range []string{"1.8", "1.10", "1.22", "1.24", "1.31"} {
		t.Run(v, func(t *testing.T) {
			runChecks(t, upWith(t, "flannel-services", "ipvs@"+v, "s"))
		})
	}
}

// TestServicesBackends runs the smoke set on the other flannel backends
// (the "cni" when entries hold what differs).
func TestServicesBackends(t *testing.T) {
	data, _ := topologies.Get("flannel-services")
	for _, b := range []string{"host-gw", "vpc-route"} {
		t.Run(b, func(t *testing.T) {
			text := strings.Replace(string(data), "backend: vxlan", "backend: "+b, 1)
			if text == string(data) {
				t.Fatal("flannel-services no longer names its backend as expected")
			}
			sc, err := lab.LoadScenario("builtin:flannel-services.yaml", []byte(text), "iptables@1.28")
			if err != nil {
				t.Fatal(err)
			}
			runChecks(t, up(t, sc, "b"))
		})
	}
}

func TestServicesUserspace(t *testing.T) {
	for _, v := range []string{"1.2", "1.25"} {
		t.Run(v, func(t *testing.T) {
			runChecks(t, upWith(t, "flannel-services", "userspace@"+v, "s"))
		})
	}
}

// TestServiceConntrackShowsDNAT: a pod's probe to a ClusterIP leaves a
// conntrack entry on its node with the Service IP as original destination
// and the endpoint as reply source; the endpoint's node sees only pod to
// pod.
func TestServiceConntrackShowsDNAT(t *testing.T) {
	l := upWith(t, "flannel-services", "", "ct")
	for i := 0; i < 20; i++ {
		r := probe(t, l, "client", "svc/web")
		if r.Server == nil || r.Server.Pod != "web-2" {
			continue // want the cross-node endpoint
		}
		f := r.Conntrack["node-1"]
		if len(f) != 1 || f[0].Orig.Dst != "10.96.0.10:80" || !strings.HasPrefix(f[0].Reply.Src, "10.244.1.2:80") || f[0].NAT != "dnat" {
			t.Fatalf("node-1 conntrack: %+v", f)
		}
		g := r.Conntrack["node-2"]
		if len(g) != 1 || g[0].Orig.Dst != "10.244.1.2:80" || g[0].NAT != "none" {
			t.Fatalf("node-2 conntrack: %+v", g)
		}
		return
	}
	t.Fatal("20 probes never reached web-2")
}

// TestACKFlannelIPTables runs the seed-000 scenarios (A1-A5, Link 2) with
// kube-proxy in iptables mode; their conntrack expectations are the ones
// the article prints (the same as IPVS shows).
func TestACKFlannelIPTables(t *testing.T) {
	for _, sc := range []string{"flannel-cluster-mode", "flannel-local-mode"} {
		t.Run(sc, func(t *testing.T) {
			runChecks(t, upWith(t, sc, "iptables@1.28", "a"))
		})
	}
}

// TestACKFlannelIPVS runs the seed-000 scenarios with kube-proxy's IPVS mode
// before and after kubernetes#97081 (1.24), in the guest (IPVS, dummy).
func TestACKFlannelIPVS(t *testing.T) {
	testenv.RequireFeatures(t, kernel.IPVS, kernel.Dummy, kernel.Ipset)
	for _, sc := range []string{"flannel-cluster-mode", "flannel-local-mode"} {
		for _, v := range []string{"1.22", "1.24"} {
			t.Run(sc+"/"+v, func(t *testing.T) {
				l := upWith(t, sc, "ipvs@"+v, "v")
				runChecks(t, l)
			})
		}
	}
}

// TestSeed002IPTables runs the seed-002 scenarios (C1-C13) under kube-proxy's
// iptables mode, which never binds LB IPs and treats a node's own traffic as
// eTP=Cluster: the "when: iptables" expectations.
func TestSeed002IPTables(t *testing.T) {
	for _, sc := range []string{"seed002-clb", "seed002-local-flannel", "seed002-local-hostnetwork"} {
		t.Run(sc, func(t *testing.T) {
			runChecks(t, upWith(t, sc, "iptables@1.22", "a"))
		})
	}
}

// TestSeed002IPVS runs C1-C13 under IPVS before and after kubernetes#97081
// (and at 1.31 for ipMode Proxy), in the guest. The conntrack expectations
// hold C8 and C11-C13 to what the article prints; C12's also to the reason
// it gives for the timeout: node-141 sends the SYN with the SLB IP (its
// kube-ipvs0 address) as source, and nothing SNATs it.
func TestSeed002IPVS(t *testing.T) {
	testenv.RequireFeatures(t, kernel.IPVS, kernel.Dummy, kernel.Ipset)
	runs := map[string][]string{
		"seed002-clb":               {"1.22", "1.24", "1.31"},
		"seed002-local-flannel":     {"1.22", "1.24"},
		"seed002-local-hostnetwork": {"1.22", "1.24"},
	}
	for _, sc := range []string{"seed002-clb", "seed002-local-flannel", "seed002-local-hostnetwork"} {
		for _, v := range runs[sc] {
			t.Run(sc+"/"+v, func(t *testing.T) {
				runChecks(t, upWith(t, sc, "ipvs@"+v, "v"))
			})
		}
	}
}

// TestSeed003Userspace runs seed 003 (flannel 0.5 layout on docker0,
// kube-proxy userspace 1.1) and the same cluster under iptables 1.22. A
// trace of a pod's ClusterIP connection shows kube-proxy's REDIRECT to its
// own socket (the proxy's port on docker0's address), the relay, and the
// proxy's own connection to the backend from flannel.1's address.
func TestSeed003Userspace(t *testing.T) {
	for _, kp := range []string{"userspace@1.1", "iptables@1.22"} {
		t.Run(kp, func(t *testing.T) {
			l := upWith(t, "seed003-flannel-userspace", kp, "d")
			runChecks(t, l)
			if kp != "userspace@1.1" {
				return
			}
			r := trace(t, l, "sshd-2", "svc/my-nginx-service")
			if r.Server == nil {
				t.Fatalf("no answer: %s", r.Error)
			}
			want := []string{"sshd-2:eth0", "kube-node1:veth", "kube-node1:docker0", "kube-node1:proxy", "kube-node1:flannel.1", "kube-node1:eth0", "vpc",
				"kube-node2:eth0", "kube-node2:flannel.1", "kube-node2:docker0", "kube-node2:veth", r.Server.Pod + ":eth0"}
			wantPath(t, "D2 through the userspace proxy", r, want...)
			if h := r.Hops[2]; h.Dst != "172.16.28.1:20000" || !strings.HasPrefix(r.Hops[4].Src, "172.16.28.0:") {
				t.Errorf("REDIRECT to %s, relay from %s", h.Dst, r.Hops[4].Src)
			}
			if len(r.Rewrites) != 1 || len(r.Rewrites[0].By) != 1 || !strings.Contains(r.Rewrites[0].By[0].Rule, "-j REDIRECT --to-ports 20000") {
				t.Errorf("rewrites %+v", r.Rewrites)
			}
		})
	}
}
