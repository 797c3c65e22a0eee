package graph

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	labcompile "github.com/netlab/netlab/lab/compile"
	"github.com/netlab/netlab/lab/plan"
	"github.com/netlab/netlab/lab/topology"
	"github.com/netlab/netlab/topologies"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the renderers")

// goldenScenarios are drawn into testdata/<scenario>.<format>.golden: one
// overlay with a VXLAN mesh, one VPC-routed cluster with an SLB and IPVS.
var goldenScenarios = []string{"flannel-vxlan", "flannel-cluster-mode"}

func compile(t *testing.T, name string) (*topology.Topology, *plan.Plan) {
	t.Helper()
	data, ok := topologies.Get(name)
	if !ok {
		t.Fatalf("no built-in scenario %s", name)
	}
	topo, err := topology.Load(name+".yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	p, err := labcompile.Compile(topo, name)
	if err != nil {
		t.Fatal(err)
	}
	return topo, p
}

func render(t *testing.T, g *Graph, format string) string {
	t.Helper()
	var b bytes.Buffer
	if err := Render(&b, g, format); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestGolden compares both drawings of the golden scenarios with
// testdata. Run go test ./lab/graph -update after an intended change and
// review the diff.
func TestGolden(t *testing.T) {
	for _, name := range goldenScenarios {
		topo, p := compile(t, name)
		for _, format := range Formats {
			t.Run(name+"/"+format, func(t *testing.T) {
				got := render(t, Build(topo, p), format)
				if again := render(t, Build(topo, p), format); again != got {
					t.Fatal("two builds of the same plan render differently")
				}
				checkGolden(t, name+"."+format, got)
			})
		}
	}
}

// checkGolden compares text with testdata/<name>.golden (rewriting it
// under -update).
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	golden := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./lab/graph -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s; run go test ./lab/graph -update and review the diff.\n%s", name, golden, firstDiff(string(want), got))
	}
}

func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d:\n  want: %s\n  got:  %s", i+1, w, g)
		}
	}
	return ""
}

// device returns the vertex of a device in an object's namespace.
func device(t *testing.T, g *Graph, owner, dev string) *Vertex {
	t.Helper()
	ns := plan.NSName(g.Lab, owner)
	for _, v := range g.Vertices {
		if v.Namespace == ns && v.Name == dev {
			return v
		}
	}
	t.Fatalf("no vertex for %s in %s", dev, ns)
	return nil
}

// edges lists the edges of a kind that join a and b, either way round.
func edges(g *Graph, kind string, a, b *Vertex) []*Edge {
	var out []*Edge
	for _, e := range g.Edges {
		if e.Kind == kind && (e.From == a.ID && e.To == b.ID || e.From == b.ID && e.To == a.ID) {
			out = append(out, e)
		}
	}
	return out
}

// neighbours are the vertices joined to v by edges of a kind.
func neighbours(g *Graph, kind string, v *Vertex) []*Vertex {
	var out []*Vertex
	for _, e := range g.Edges {
		switch {
		case e.Kind != kind:
		case e.From == v.ID:
			out = append(out, g.Vertex(e.To))
		case e.To == v.ID:
			out = append(out, g.Vertex(e.From))
		}
	}
	return out
}

func countKind(g *Graph, kind string) int {
	n := 0
	for _, e := range g.Edges {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

// TestVXLANMesh: flanneld gives every node an FDB entry for every other
// node's VTEP, so the tunnels form a full mesh of flannel.1 devices.
func TestVXLANMesh(t *testing.T) {
	topo, p := compile(t, "flannel-vxlan")
	g := Build(topo, p)
	for i, a := range topo.Nodes {
		for _, b := range topo.Nodes[i+1:] {
			es := edges(g, EdgeVXLAN, device(t, g, a.Name, "flannel.1"), device(t, g, b.Name, "flannel.1"))
			if len(es) != 1 || es[0].Label != "VXLAN VNI 1 udp/8472" {
				t.Errorf("%s-%s: VXLAN edges %+v, want one labelled VXLAN VNI 1 udp/8472", a.Name, b.Name, es)
			}
		}
	}
	if n, want := countKind(g, EdgeVXLAN), len(topo.Nodes)*(len(topo.Nodes)-1)/2; n != want {
		t.Errorf("%d VXLAN edges, want %d", n, want)
	}
	if n := countKind(g, EdgeRoute); n != 0 {
		t.Errorf("%d route edges: the onlink routes over flannel.1 are the tunnels, not routes", n)
	}
}

// TestVXLANNeedsFDB: the tunnels come from the FDB, not from the mere
// presence of flannel.1; a node nobody has an entry for is cut off.
func TestVXLANNeedsFDB(t *testing.T) {
	topo, p := compile(t, "flannel-vxlan")
	cut := topo.Node("node-3").Addr.String()
	for _, ns := range p.Namespaces {
		var keep []plan.FDB
		for _, f := range ns.FDB {
			if f.Dst != cut {
				keep = append(keep, f)
			}
		}
		ns.FDB = keep
		if ns.Owner == "node-3" {
			ns.FDB = nil
		}
	}
	g := Build(topo, p)
	if n := len(neighbours(g, EdgeVXLAN, device(t, g, "node-3", "flannel.1"))); n != 0 {
		t.Errorf("node-3 without FDB entries has %d tunnels", n)
	}
	if n := countKind(g, EdgeVXLAN); n != 1 {
		t.Errorf("%d VXLAN edges, want 1 (node-1 to node-2)", n)
	}
}

// TestPodsHangOffTheirNodesBridge: every pod's eth0 is one end of a veth
// whose other end is a port of its own node's cni0, and the pod's box is
// inside its node's.
func TestPodsHangOffTheirNodesBridge(t *testing.T) {
	for _, name := range goldenScenarios {
		topo, p := compile(t, name)
		g := Build(topo, p)
		for _, pod := range topo.Pods {
			eth0 := device(t, g, pod.Name, "eth0")
			cni0 := device(t, g, pod.Node, "cni0")
			if got, want := g.Cluster(eth0.Cluster).Parent, cni0.Cluster; got != want {
				t.Errorf("%s: pod box inside %q, want its node's %q", pod.Name, got, want)
			}
			peers := neighbours(g, EdgeVeth, eth0)
			if len(peers) != 1 || peers[0].Kind != plan.KindVeth || peers[0].Cluster != cni0.Cluster {
				t.Errorf("%s: eth0's veth peers %+v, want one veth on %s", pod.Name, peers, pod.Node)
				continue
			}
			if len(edges(g, EdgeBridge, cni0, peers[0])) != 1 {
				t.Errorf("%s: %s is not a port of %s's cni0", pod.Name, peers[0].Name, pod.Node)
			}
		}
	}
}

// TestClusterModeRoutesSLBAndServices checks the cloud side of ACK
// Flannel: the VPC route table, what the SLB sends where (eTP=Local only to
// nodes with an endpoint) and the Services' endpoints.
func TestClusterModeRoutesSLBAndServices(t *testing.T) {
	topo, p := compile(t, "flannel-cluster-mode")
	g := Build(topo, p)
	vswitch, slb := device(t, g, "vpc", "vswitch"), device(t, g, "slb", "eth0")
	for _, n := range topo.Nodes {
		eth0 := device(t, g, n.Name, "eth0")
		if es := edges(g, EdgeRoute, vswitch, eth0); len(es) != 1 || es[0].Label != n.PodNet.String() || es[0].From != vswitch.ID {
			t.Errorf("%s: VPC route edges %+v, want vswitch -> eth0 labelled %s", n.Name, es, n.PodNet)
		}
		es := edges(g, EdgeSLB, slb, eth0)
		if len(es) != 1 {
			t.Fatalf("%s: %d SLB edges, want 1", n.Name, len(es))
		}
		// nginx-local (eTP=Local) has its only endpoint on node-180.
		if local := strings.Contains(es[0].Label, "203.0.113.25:80 → :30081"); local != (n.Name == "node-180") {
			t.Errorf("%s: SLB edge %q: nginx-local backend %v", n.Name, es[0].Label, local)
		}
		if !strings.Contains(es[0].Label, "203.0.113.113:80 → :30875") {
			t.Errorf("%s: SLB edge %q lacks nginx1 (eTP=Cluster: every node)", n.Name, es[0].Label)
		}
	}
	if es := edges(g, EdgeRoute, device(t, g, "vpc", "slb"), slb); len(es) != 1 || strings.Count(es[0].Label, "\n") != 4 {
		t.Errorf("LB IP routes to the SLB: %+v, want one edge with 5 addresses", es)
	}
	svc := g.Vertex("svc_nginx1")
	if svc == nil || svc.Kind != KindService {
		t.Fatal("no Service vertex svc_nginx1")
	}
	for _, want := range []string{"ClusterIP 192.168.13.23:80", "NodePort 30875", "LB IP 203.0.113.113:80"} {
		if !strings.Contains(svc.Label, want) {
			t.Errorf("svc_nginx1 label %q lacks %q", svc.Label, want)
		}
	}
	var got []string
	for _, v := range neighbours(g, EdgeEndpoint, svc) {
		got = append(got, v.Namespace+"/"+v.Name)
	}
	want := []string{"flannel-cluster-mode-nginx1-7plsr/eth0", "flannel-cluster-mode-nginx1-4zsdj/eth0", "flannel-cluster-mode-nginx1-s6z79/eth0"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("nginx1 endpoints %v, want %v", got, want)
	}
}

// TestHostNetworkEndpoint: a hostNetwork pod has no namespace; its Service
// points at its node's eth0 and says which pod it is.
func TestHostNetworkEndpoint(t *testing.T) {
	topo, p := compile(t, "seed002-local-hostnetwork")
	g := Build(topo, p)
	es := edges(g, EdgeEndpoint, g.Vertex("svc_nginx"), device(t, g, "node-77", "eth0"))
	if len(es) != 1 || es[0].Label != ":80 nginx-8vctc (hostNetwork)" {
		t.Errorf("endpoint edges %+v", es)
	}
}

var idRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// keywords may not be bare identifiers in Mermaid or dot.
var keywords = map[string]bool{"end": true, "graph": true, "subgraph": true, "flowchart": true, "node": true, "edge": true,
	"digraph": true, "strict": true, "style": true, "class": true, "classdef": true, "click": true, "default": true}

// TestEveryScenarioIsConsistent builds every built-in scenario: IDs are
// valid and unique across clusters and vertices, every reference resolves,
// and every namespace and device of the plan is drawn.
func TestEveryScenarioIsConsistent(t *testing.T) {
	for _, name := range topologies.Names() {
		t.Run(name, func(t *testing.T) {
			topo, p := compile(t, name)
			g := Build(topo, p)
			seen := map[string]bool{}
			check := func(id string) {
				if !idRE.MatchString(id) || keywords[strings.ToLower(id)] || seen[id] {
					t.Errorf("bad or duplicate ID %q", id)
				}
				seen[id] = true
			}
			namespaces := 0
			for _, c := range g.Clusters {
				check(c.ID)
				if c.Parent != "" && g.Cluster(c.Parent) == nil {
					t.Errorf("cluster %s: no parent %s", c.ID, c.Parent)
				}
				if c.Namespace != "" {
					namespaces++
				}
			}
			devices := 0
			for _, v := range g.Vertices {
				check(v.ID)
				if g.Cluster(v.Cluster) == nil {
					t.Errorf("vertex %s: no cluster %s", v.ID, v.Cluster)
				}
				if v.Kind != KindService {
					devices++
				}
			}
			for _, e := range g.Edges {
				if g.Vertex(e.From) == nil || g.Vertex(e.To) == nil {
					t.Errorf("edge %+v: an end is missing", e)
				}
			}
			links := 0
			for _, ns := range p.Namespaces {
				for _, l := range ns.Links {
					links++
					if l.Peer != nil {
						links++
					}
				}
			}
			if namespaces != len(p.Namespaces) || devices != links {
				t.Errorf("%d boxes for %d namespaces, %d device vertices for %d devices", namespaces, len(p.Namespaces), devices, links)
			}
			d := g.drawing()
			for _, e := range d.Edges {
				if d.Vertex(e.From) == nil || d.Vertex(e.To) == nil || e.toCluster != "" && d.Cluster(e.toCluster) == nil {
					t.Errorf("drawn edge %+v: an end is missing", e)
				}
			}
		})
	}
}

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"flannel.1": "flannel_1", "node-1": "node_1", "kube-ipvs0": "kube_ipvs0", "veth0a1b": "veth0a1b",
		"10-pods": "n10_pods", "": "n", "a b\"c": "a_b_c", "é": "_",
	} {
		if got := Sanitize(in); got != want {
			t.Errorf("Sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestIDsStayUnique: names that sanitize alike still get distinct IDs.
func TestIDsStayUnique(t *testing.T) {
	b := &builder{ids: map[string]bool{}}
	if a, c := b.id("node-1"), b.id("node_1"); a == c {
		t.Errorf("both got %q", a)
	}
}

func TestLabelsAreQuoted(t *testing.T) {
	if got := mermaidText("a \"b\"\nc"); got != `"a #quot;b#quot;<br>c"` {
		t.Errorf("mermaidText: %s", got)
	}
	if got := dotText("a \"b\"\nc\\"); got != `"a \"b\"\nc\\"` {
		t.Errorf("dotText: %s", got)
	}
}

func TestUnknownFormat(t *testing.T) {
	err := Render(&bytes.Buffer{}, &Graph{}, "svg")
	if err == nil || err.Error() != `unknown graph format "svg" (use mermaid or dot)` {
		t.Errorf("err = %v", err)
	}
}

// TestDotAccepts runs Graphviz over every dot drawing in testdata where
// it is installed: no error, no warning.
func TestDotAccepts(t *testing.T) {
	dot, err := exec.LookPath("dot")
	if err != nil {
		t.Skip("graphviz (dot) is not installed here: apt-get install graphviz (scripts/setup.sh --test installs it, as CI does)")
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "*.dot.golden"))
	if len(files) < len(goldenScenarios) {
		t.Fatalf("only %d dot drawings in testdata", len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(dot, "-Tcanon")
		cmd.Stdin = bytes.NewReader(data)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil || stderr.Len() > 0 {
			t.Errorf("%s: dot: %v %s", f, err, stderr.String())
		}
	}
}
