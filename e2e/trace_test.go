package e2e

import (
	"slices"
	"strings"
	"testing"

	"github.com/netlab/netlab/internal/testenv"
	"github.com/netlab/netlab/lab"
	"github.com/netlab/netlab/lab/kernel"
	"github.com/netlab/netlab/probes"
)

// trace fires one probe with rule counters, as netlab trace does.
func trace(t *testing.T, l *lab.Lab, from, to string) *probes.Result {
	t.Helper()
	o := probeOptions()
	o.Rules = true
	r, err := probes.Run(l, from, to, o)
	if err != nil {
		t.Fatalf("trace %s -> %s: %v", from, to, err)
	}
	return r
}

func wantPath(t *testing.T, what string, r *probes.Result, want ...string) {
	t.Helper()
	if !slices.Equal(r.Path, want) {
		t.Errorf("%s: path\n  %s\nwant\n  %s\nhops:\n%s", what, strings.Join(r.Path, " -> "), strings.Join(want, " -> "), probes.FormatHops(r.Hops))
	}
}

// TestTraceHopsACKFlannel holds the hop lists of seed 000 (A1 and A2 in flannel-cluster-mode) to
// a real capture: same node (bridged, and routed through cni0 for a
// ClusterIP) and across the VPC route table, with the Service's DNAT seen
// as the destination changing on node-180's cni0.
func TestTraceHopsACKFlannel(t *testing.T) {
	l := upWith(t, "flannel-cluster-mode", "iptables@1.28", "t")
	sameNode := []string{"centos:eth0", "node-180:veth", "node-180:cni0", "node-180:veth", "nginx-6jkfg:eth0"}

	r := trace(t, l, "centos", "pod/nginx-6jkfg")
	wantPath(t, "A1 pod IP", r, sameNode...)
	if h := r.Hops[2]; h.Dir != "bridged" {
		t.Errorf("A1 pod IP: cni0 should only switch the frame, got %+v", h)
	}

	r = trace(t, l, "centos", "svc/nginx")
	wantPath(t, "A1 ClusterIP", r, sameNode...)
	// br_netfilter DNATs the frame on the bridge and, the new destination
	// being on the same bridge, sends it out of cni0 without routing it.
	if h := r.Hops[2]; h.Dir == "bridged" || !strings.HasPrefix(h.Dst, "172.23.96.24:") || r.Hops[1].Dst != r.Target {
		t.Errorf("A1 ClusterIP: want %s on the veth and the pod's address after cni0 (DNAT), got %+v then %+v", r.Target, r.Hops[1], h)
	}
	if len(r.ReplyHops) != 0 {
		t.Errorf("A1 ClusterIP: the answer should take the same devices back, got %s", probes.FormatHops(r.ReplyHops))
	}

	r = trace(t, l, "centos", "pod/nginx1-s6z79")
	wantPath(t, "A2 pod IP", r, "centos:eth0", "node-180:veth", "node-180:cni0", "node-180:eth0", "vpc",
		"node-216:eth0", "node-216:cni0", "node-216:veth", "nginx1-s6z79:eth0")

	// nginx1 has endpoints on node-206 and node-216: the path ends where
	// the answer came from.
	r = trace(t, l, "centos", "svc/nginx1")
	if r.Server == nil {
		t.Fatalf("A2 ClusterIP: no answer: %s", r.Error)
	}
	n, p := r.Server.Node, r.Server.Pod
	wantPath(t, "A2 ClusterIP", r, "centos:eth0", "node-180:veth", "node-180:cni0", "node-180:eth0", "vpc",
		n+":eth0", n+":cni0", n+":veth", p+":eth0")
	if !hasRule(r, "node-180", "nat", "-j DNAT") {
		t.Errorf("A2 ClusterIP: no DNAT rule moved on node-180:\n%v", r.Decisions)
	}
	// The one rewrite: node-180's DNAT of the ClusterIP to the endpoint,
	// attributed to the KUBE-SEP rule; the pod's address is kept.
	if rw := r.Rewrites; len(rw) != 1 || rw[0].Owner != "node-180" || rw[0].NAT != "dnat" || !strings.HasPrefix(rw[0].Before, "172.23.96.23:") ||
		!strings.HasSuffix(rw[0].Before, " > 192.168.13.23:80") || len(rw[0].By) != 1 || !strings.Contains(rw[0].By[0].Chain, "KUBE-SEP-") {
		t.Errorf("A2 ClusterIP rewrites: %+v", rw)
	}
}

// TestTraceVXLAN: a cross-node probe over flannel's VXLAN must show
// flannel.1 on both nodes, the encapsulation on the NICs and the VPC.
func TestTraceVXLAN(t *testing.T) {
	l := upWith(t, "flannel-vxlan", "", "t")
	r := trace(t, l, "client-a", "pod/web-2")
	wantPath(t, "vxlan", r, "client-a:eth0", "node-1:veth", "node-1:cni0", "node-1:flannel.1", "node-1:eth0", "vpc",
		"node-2:eth0", "node-2:flannel.1", "node-2:cni0", "node-2:veth", "web-2:eth0")
	for _, h := range r.Hops {
		encap := h.Device == "eth0" && (h.Owner == "node-1" || h.Owner == "node-2") || h.Owner == "vpc" && h.Dir != "bridged"
		if encap != strings.HasSuffix(h.Encap, ":8472") {
			t.Errorf("hop %s %s: encapsulation %q", h.Owner, h.Device, h.Encap)
		}
	}
}

// TestTraceVerdicts: a refusal names the REJECT rule and its Service; a
// NodePort probe dropped under externalTrafficPolicy Local names the DROP
// rule (and, where kube-proxy drops by mark, the rule that marked it).
func TestTraceVerdicts(t *testing.T) {
	t.Run("reject", func(t *testing.T) {
		l := upWith(t, "flannel-services", "iptables@1.28", "t")
		r := trace(t, l, "client", "svc/empty")
		d := r.Verdict.DecidedBy
		if r.Result != "refused" || d == nil || d.Owner != "node-1" || d.Chain != "KUBE-SERVICES" ||
			!strings.Contains(d.Rule, `"default/empty has no endpoints"`) || !strings.Contains(d.Rule, "-j REJECT") {
			t.Errorf("refused by %+v; verdict %s", d, r.Verdict.Summary)
		}
	})
	t.Run("udp", func(t *testing.T) {
		l := upWith(t, "flannel-services", "iptables@1.28", "u")
		r := trace(t, l, "client", "svc/dns-empty")
		if d := r.Verdict.DecidedBy; r.Protocol != "udp" || r.Result != "refused" || d == nil || !strings.Contains(d.Rule, `"default/dns-empty has no endpoints"`) {
			t.Errorf("UDP without endpoints: %s, %+v", r.Result, r.Verdict)
		}
		// A datagram through a ClusterIP: DNAT on node-1, delivered to a
		// web pod, the client's address kept, the answer back the same way.
		r = trace(t, l, "client", "svc/dns")
		if r.Result != "connected" || r.Server == nil || len(r.Hops) < 5 || r.Hops[len(r.Hops)-1].Owner != r.Server.Pod ||
			len(r.Rewrites) != 1 || r.Rewrites[0].NAT != "dnat" || len(r.ReplyHops) != 0 || len(r.Conntrack["node-1"]) != 1 {
			t.Errorf("UDP ClusterIP: %s, server %+v\n%s\nrewrites %+v\nconntrack %+v", r.Result, r.Server, probes.FormatHops(r.Hops), r.Rewrites, r.Conntrack)
		}
	})
	for _, tc := range []struct{ v, chain, marked string }{
		{"1.22", "KUBE-FIREWALL", "has no local endpoints"},
		{"1.28", "KUBE-EXTERNAL-SERVICES", ""},
	} {
		t.Run("drop@"+tc.v, func(t *testing.T) {
			l := upWith(t, "flannel-local-mode", "iptables@"+tc.v, "t")
			r := trace(t, l, "internet", "svc/nginx1:nodeport@node-180")
			v := r.Verdict
			if r.Result != "timeout" || v.DecidedBy == nil || v.DecidedBy.Owner != "node-180" || v.DecidedBy.Chain != tc.chain || !strings.HasSuffix(v.DecidedBy.Rule, "-j DROP") {
				t.Fatalf("result %s, verdict %+v", r.Result, v)
			}
			if tc.marked != "" && (v.MarkedBy == nil || !strings.Contains(v.MarkedBy.Rule, tc.marked)) {
				t.Errorf("marked by %+v", v.MarkedBy)
			}
			if last := r.Hops[len(r.Hops)-1]; last.Owner != "node-180" || last.Device != "eth0" {
				t.Errorf("last hop %+v, want node-180 eth0", last)
			}
		})
	}
}

// TestTraceIPVS: under IPVS the decisions are IPVS's: the connection
// entry with the real server, and for eTP=Local before 1.24 the virtual
// server without real servers that refused the probe.
func TestTraceIPVS(t *testing.T) {
	testenv.RequireFeatures(t, kernel.IPVS, kernel.Dummy, kernel.Ipset)
	l := upWith(t, "flannel-local-mode", "ipvs@1.22", "t")
	r := trace(t, l, "internet", "svc/nginx1:nodeport@node-180")
	if d := r.Verdict.DecidedBy; r.Result != "refused" || d == nil || d.Kind != "ipvs" || !strings.Contains(d.Rule, "10.0.0.180:32580 has no real servers") {
		t.Errorf("result %s, verdict %+v", r.Result, r.Verdict)
	}
	r = trace(t, l, "centos", "svc/nginx1")
	found := false
	for _, d := range r.Decisions {
		found = found || d.Kind == "ipvs" && d.Owner == "node-180" && strings.Contains(d.Rule, "virtual server 192.168.13.23:80")
	}
	if r.Result != "connected" || !found {
		t.Errorf("result %s; no IPVS connection on node-180 among %v", r.Result, r.Decisions)
	}
	// IPVS serves node-180's own connection in OUTPUT: no proxy relay.
	assertNoRelay(t, l)
}

func hasRule(r *probes.Result, owner, table, part string) bool {
	for _, d := range r.Decisions {
		if d.Owner == owner && d.Table == table && strings.Contains(d.Rule, part) {
			return true
		}
	}
	return false
}
