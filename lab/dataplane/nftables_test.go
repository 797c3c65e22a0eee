package dataplane

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netlab/netlab/lab/compile"
	"github.com/netlab/netlab/lab/plan"
	"github.com/netlab/netlab/lab/topology"
	"github.com/netlab/netlab/topologies"
)

// loadTopology loads a scenario of the catalog.
func loadTopology(t *testing.T, name string) *topology.Topology {
	t.Helper()
	data, ok := topologies.Get(name)
	if !ok {
		t.Fatalf("no scenario %s", name)
	}
	topo, err := topology.Load("builtin:"+name+".yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// nodeNS compiles a scenario's node under a kube-proxy ("": none, the
// CNI's rules only).
func nodeNS(t *testing.T, topo *topology.Topology, kp string, node string) *plan.Namespace {
	t.Helper()
	c := *topo
	c.KubeProxy = nil
	if kp != "" {
		k, err := topology.ParseKubeProxy(kp)
		if err != nil {
			t.Fatal(err)
		}
		c.KubeProxy = k
	}
	p, err := compile.ForHost(&c, c.Name)
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range p.Namespaces {
		if ns.Role == plan.RoleNode && ns.Owner == node {
			return ns
		}
	}
	t.Fatalf("no node %s", node)
	return nil
}

// nftFixture is kube-proxy's nftables table for flannel-services node-1,
// as the plan carries it (no comment lines).
func nftFixture(t *testing.T, version string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "nftables-"+version+"-node-1.nft"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, l := range strings.SplitAfter(string(data), "\n") {
		if !strings.HasPrefix(l, "#") {
			b.WriteString(l)
		}
	}
	return b.String()
}

// answer is one client's outcome on two dataplanes.
type answer struct {
	address, from string
	a, b          Outcome
}

// askBoth asks two dataplanes of node n every question of the scenario.
func askBoth(topo *topology.Topology, n *topology.Node, a, b *plan.Namespace) (fronts []Frontend, answers []answer) {
	da, db := Read(a), Read(b)
	fronts = Frontends(topo, n)
	for _, f := range fronts {
		for _, c := range f.Clients {
			answers = append(answers, answer{f.Address(), c.Kind, da.Connect(c, f), db.Connect(c, f)})
		}
	}
	return fronts, answers
}

// differing counts the addresses where some client's outcome differs.
func differing(answers []answer) int {
	addrs := map[string]bool{}
	for _, x := range answers {
		if x.a.Text != x.b.Text {
			addrs[x.address] = true
		}
	}
	return len(addrs)
}

// TestNFTablesAgainstIPTables: kube-proxy's nftables table (what the real
// kube-proxy 1.33 and 1.37 write for flannel-services node-1, beside
// flannel's own iptables rules) behaves like the iptables mode's rules for
// every Service address and client. A table with one element taken out
// differs exactly there.
func TestNFTablesAgainstIPTables(t *testing.T) {
	topo := loadTopology(t, "flannel-services")
	n := &topo.Nodes[0]
	ipt := nodeNS(t, topo, "iptables@1.31", n.Name)
	for _, v := range []string{"1.33", "1.37"} {
		nft := nodeNS(t, topo, "", n.Name)
		nft.NFTables = nftFixture(t, v)
		fronts, answers := askBoth(topo, n, ipt, nft)
		if len(fronts) != 17 {
			t.Fatalf("%s: %d addresses, want 17", v, len(fronts))
		}
		for _, x := range answers {
			if x.a.Text != x.b.Text {
				t.Errorf("nftables %s: %s from %s: iptables %q, nftables %q", v, x.address, x.from, x.a.Text, x.b.Text)
			}
			if len(x.b.Uncertain) > 0 {
				t.Errorf("nftables %s: %s from %s: not understood: %v", v, x.address, x.from, x.b.Uncertain)
			}
		}
		// The nftables side did the work: the same outcomes with the
		// table left out are different ones.
		bare := nodeNS(t, topo, "", n.Name)
		if _, bareAnswers := askBoth(topo, n, ipt, bare); differing(bareAnswers) < 10 {
			t.Errorf("without kube-proxy's table only %d addresses differ", differing(bareAnswers))
		}
		want := map[string]string{
			"10.0.0.10:30081/tcp outside":         "dropped",
			"203.0.113.11:80/tcp pod":             "10.244.2.2:8080",
			"203.0.113.12:80/tcp pod":             "dropped",
			"203.0.113.12:80/tcp outsideInRanges": "10.244.0.3:80, 10.244.1.2:80 (SNAT)",
			"10.96.0.15:80/tcp pod":               "rejected",
			"10.96.0.19:53/udp node":              "rejected",
			"10.96.0.11:80/tcp pod":               "10.244.0.3:80, 10.244.1.2:80; ClientIP affinity 10800s",
			"10.96.0.17:9100/tcp pod":             "10.0.0.11:9100 (SNAT)",
			"10.0.0.10:30053/udp outside":         "10.244.0.3:80, 10.244.1.2:80 (SNAT)",
		}
		for _, x := range answers {
			if w, ok := want[x.address+" "+x.from]; ok && x.b.Text != w {
				t.Errorf("nftables %s: %s from %s: %q, want %q", v, x.address, x.from, x.b.Text, w)
			}
			delete(want, x.address+" "+x.from)
		}
		for k := range want {
			t.Errorf("nftables %s: no outcome for %s", v, k)
		}

		// Take the eTP=Local NodePort's "no endpoints here" drop out: an
		// outside client then reaches the node itself, and only there.
		broken := nodeNS(t, topo, "", n.Name)
		broken.NFTables = strings.Replace(nft.NFTables, "add element ip kube-proxy no-endpoint-nodeports { tcp . 30081 comment \"default/local-web:http\" : drop }\n", "", 1)
		if broken.NFTables == nft.NFTables {
			t.Fatalf("nftables %s: the fixture lacks the no-endpoint-nodeports element", v)
		}
		var diffs []string
		_, brokenAnswers := askBoth(topo, n, nft, broken)
		for _, x := range brokenAnswers {
			if x.a.Text != x.b.Text {
				diffs = append(diffs, x.address+" "+x.from+": "+x.a.Text+" / "+x.b.Text)
			}
		}
		if want := "10.0.0.10:30081/tcp outside: dropped / delivered to the node itself"; strings.Join(diffs, "\n") != want {
			t.Errorf("nftables %s without the drop element: differences\n%s\nwant\n%s", v, strings.Join(diffs, "\n"), want)
		}
	}
}
