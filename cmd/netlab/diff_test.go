package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netlab/netlab/lab/compile"
	"github.com/netlab/netlab/lab/dataplane"
	"github.com/netlab/netlab/lab/plan"
	"github.com/netlab/netlab/lab/topology"
)

// summaryLines keeps the "#" lines of diff's text output: the Service
// summary and the parts line, without the parts' diffs (their text
// follows the renderers, which other tests hold).
func summaryLines(out string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(out, "\n") {
		if strings.HasPrefix(l, "#") {
			b.WriteString(l)
		}
	}
	return b.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	file := filepath.Join("testdata", "diff", name)
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (go test ./cmd/netlab -run %s -update writes it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs (go test ./cmd/netlab -run %s -update rewrites it)\ngot:\n%s\nwant:\n%s", file, t.Name(), got, want)
	}
}

// TestDiffIPTablesAgainstIPVS: two unrelated rule languages compare
// Service by Service. On flannel-services the one behaviour that differs is
// eTP=Local on the nodes without the endpoint: iptables drops an outside
// client there, IPVS (1.24+) forwards it to the remote endpoint, losing
// its address on the way; node-3, with the endpoint, is the same.
func TestDiffIPTablesAgainstIPVS(t *testing.T) {
	code, out, stderr := cli(t, "diff", "flannel-services", "iptables@1.31", "ipvs@1.31")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	sum := summaryLines(out)
	golden(t, "iptables-1.31-ipvs-1.31.txt", sum)
	for _, want := range []string{
		"# node-1: services: 2 of 17 addresses behave differently (- iptables@1.31, + ipvs@1.31)\n",
		"#   default/local-web:http node port 10.0.0.10:30081/tcp\n#     outside   - dropped\n#               + 10.244.2.2:8080 (SNAT)\n",
		"# node-3: services: all 17 addresses behave the same\n",
		"ipvs only in ipvs@1.31 (64 lines)",
		"nftables in neither",
		"\n--- iptables@1.31 node-1 iptables\n+++ ipvs@1.31 node-1 iptables\n",
		"\n--- iptables@1.31 node-1 ipvs\n+++ ipvs@1.31 node-1 ipvs\n@@ -0,0 +1,64 @@\n+-A -t 10.0.0.10:30080 -s rr\n",
		"\n--- iptables@1.31 node-1 ipsets\n+++ ipvs@1.31 node-1 ipsets\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("diff lacks %q", want)
		}
	}
	if strings.Contains(out, "node-1 nftables") {
		t.Error("a part neither side has got a diff")
	}
}

// TestDiffIPVS97081: between 1.23 and 1.24 an eTP=Local virtual server on
// a node without a local endpoint gets the cluster's endpoints instead of
// none (PR #97081, lab/kubeproxy/ipvs_versions.go
// ipvsFallbackToClusterEndpoints): refused before, forwarded after. The
// node with the endpoint does not change.
func TestDiffIPVS97081(t *testing.T) {
	code, out, stderr := cli(t, "diff", "flannel-services", "ipvs@1.23", "ipvs@1.24")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	golden(t, "ipvs-1.23-ipvs-1.24.txt", summaryLines(out))
	for _, want := range []string{
		"#   default/local-web:http node port 10.0.0.10:30081/tcp\n" +
			"#     pod       - rejected\n#               + 10.244.2.2:8080\n" +
			"#     node      - rejected\n#               + 10.244.2.2:8080\n" +
			"#     outside   - rejected\n#               + 10.244.2.2:8080 (SNAT)\n",
		"#   default/local-web:http load balancer IP 203.0.113.11:80/tcp\n",
		"# node-3: services: all 17 addresses behave the same\n",
		// The virtual servers themselves, in the ipvs part.
		"\n--- ipvs@1.23 node-1 ipvs\n+++ ipvs@1.24 node-1 ipvs\n",
		"\n -A -t 10.0.0.10:30081 -s rr\n+-a -t 10.0.0.10:30081 -r 10.244.2.2:8080 -m -w 1\n",
		"\n -A -t 203.0.113.11:80 -s rr\n+-a -t 203.0.113.11:80 -r 10.244.2.2:8080 -m -w 1\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("diff lacks %q", want)
		}
	}
	if strings.Contains(out, "node-3 ipvs") {
		t.Error("node-3 (it has the endpoint) shows an IPVS change")
	}

	code, out, _ = cli(t, "diff", "flannel-services", "ipvs@1.23", "ipvs@1.24", "--node", "node-2", "-o", "json")
	var got []nodeDiff
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil || len(got) != 1 {
		t.Fatalf("exit %d, %v: %s", code, err, out)
	}
	for _, s := range got[0].Services {
		if s.Address != "10.0.0.11:30081/tcp" {
			continue
		}
		for _, c := range s.Clients {
			if c.From == dataplane.FromOutside && (c.A.Text != "rejected" || strings.Join(c.B.Endpoints, ",") != "10.244.2.2:8080" || strings.Join(c.B.SNAT, ",") != "10.244.2.2:8080") {
				t.Errorf("node-2 NodePort from outside: a %+v, b %+v", c.A, c.B)
			}
		}
	}
}

// TestDiffNFTablesPart: a side whose node carries an nftables table
// (kube-proxy's, beside flannel's own iptables rules) shows it as its own
// labelled part, only on that side, with the parts neither side has said
// so. What the table does to each Service address is lab/dataplane's
// TestNFTablesAgainstIPTables.
func TestDiffNFTablesPart(t *testing.T) {
	sc, err := loadScenario("flannel-services")
	if err != nil {
		t.Fatal(err)
	}
	topo := sc.Topology
	n := &topo.Nodes[0]
	ipt := nodeNS(t, topo, "iptables@1.31", n.Name)
	nft := nodeNS(t, topo, "", n.Name)
	nft.NFTables = "add table ip kube-proxy { comment \"rules for kube-proxy\" ; }\n" +
		"add map ip kube-proxy no-endpoint-nodeports { type inet_proto . inet_service : verdict ; }\n" +
		"add element ip kube-proxy no-endpoint-nodeports { tcp . 30081 comment \"default/local-web:http\" : drop }\n"

	ps := compareParts(parts(ipt), parts(nft), "iptables@1.31", "nftables@1.33", n.Name)
	line := partsLine(ps, "iptables@1.31", "nftables@1.33")
	if !strings.Contains(line, "nftables only in nftables@1.33 (3 lines)") || !strings.Contains(line, "ipvs, ipsets in neither") {
		t.Errorf("parts line %q", line)
	}
	var nftPart string
	for _, p := range ps {
		if p.Part == partNFTables {
			nftPart = p.Diff
		}
	}
	if !strings.HasPrefix(nftPart, "--- iptables@1.31 node-1 nftables\n+++ nftables@1.33 node-1 nftables\n@@ -0,0 +1,3 @@\n") ||
		!strings.Contains(nftPart, "\n+add element ip kube-proxy no-endpoint-nodeports { tcp . 30081 comment \"default/local-web:http\" : drop }\n") {
		t.Errorf("nftables part diff:\n%s", nftPart)
	}
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

// TestDiffSameVersionIsSame: a version against itself differs nowhere,
// in the summary or the parts, and says so in one line a node.
func TestDiffSameVersionIsSame(t *testing.T) {
	for _, kp := range []string{"iptables@1.2", "iptables@1.31", "ipvs@1.8", "ipvs@1.31", "userspace@1.2"} {
		code, out, stderr := cli(t, "diff", "flannel-services", kp, kp)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", kp, code, stderr)
		}
		if want := "# node-1: no difference\n# node-2: no difference\n# node-3: no difference\n"; out != want {
			t.Errorf("%s against itself:\n%s", kp, out)
		}
	}
}

// TestDiffReadsEveryRule: the summary understands every rule each mode
// writes for the catalog's scenarios (an outcome it is not sure of would
// say "uncertain"), across the layouts of kube-proxy's history.
func TestDiffReadsEveryRule(t *testing.T) {
	for _, sc := range []string{"flannel-services", "seed002-clb", "seed003-flannel-userspace", "flannel-host-gw"} {
		for _, kp := range []string{"iptables@1.1", "iptables@1.4", "iptables@1.10", "iptables@1.20", "iptables@1.31", "ipvs@1.8", "ipvs@1.12", "ipvs@1.22", "ipvs@1.31", "iptables@1.37", "ipvs@1.37", "userspace@1.1", "userspace@1.10"} {
			code, out, stderr := cli(t, "diff", sc, kp, kp, "-o", "json")
			if code != 0 {
				t.Fatalf("%s %s: exit %d: %s", sc, kp, code, stderr)
			}
			if strings.Contains(out, `"uncertain"`) {
				t.Errorf("%s %s: rules not understood:\n%s", sc, kp, out)
			}
		}
	}
}

// TestDiffListenersAreCompared: seed 002's CLB also listens on 443 for a
// host outside the cluster. IPVS binds the LB IP on every node, so a node's
// connection to that listener never leaves it; iptables lets it through.
func TestDiffListenersAreCompared(t *testing.T) {
	code, out, stderr := cli(t, "diff", "seed002-clb", "iptables@1.22", "ipvs@1.22", "--node", "node-1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := "#   SLB (backend ecs-web) listener 192.168.1.200:443/tcp\n" +
		"#     pod     - not captured (routed on via eth0)\n" +
		"#             + delivered to the node itself\n" +
		"#     node    - not captured (routed on via eth0)\n" +
		"#             + delivered to the node itself\n"
	if !strings.Contains(out, want) {
		t.Errorf("diff lacks\n%s\ngot\n%s", want, summaryLines(out))
	}
}

func TestDiffUnknownNode(t *testing.T) {
	code, out, _ := cli(t, "diff", "flannel-services", "iptables@1.31", "ipvs@1.31", "--node", "node-9")
	if code != 1 || out != "" {
		t.Errorf("exit %d, stdout %q", code, out)
	}
}

// TestDiffAllListsEveryAddress: --all also lists what both sides agree
// on, "=" a client, so a version's whole Service picture shows.
func TestDiffAllListsEveryAddress(t *testing.T) {
	code, out, stderr := cli(t, "diff", "flannel-services", "iptables@1.31", "iptables@1.31", "--node", "node-1", "--all")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"# node-1: services: all 17 addresses behave the same (= both)\n",
		"#   default/web cluster IP 10.96.0.10:80/tcp\n#     pod       = 10.244.0.3:80, 10.244.1.2:80\n#     node      = 10.244.0.3:80, 10.244.1.2:80\n",
		"#   default/empty cluster IP 10.96.0.15:80/tcp\n#     pod       = rejected\n",
		"# node-1: parts: iptables identical; nftables, ipvs, ipsets in neither\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("diff --all lacks %q\n%s", want, out)
		}
	}
}
