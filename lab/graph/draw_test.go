package graph

import (
	"bytes"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	labcompile "github.com/netlab/netlab/lab/compile"
	"github.com/netlab/netlab/lab/plan"
	"github.com/netlab/netlab/lab/topology"
)

// synthetic compiles a generated cluster of nodes x pods on a flannel
// backend: pods alternate between app web (behind a LoadBalancer with
// each traffic policy) and app api (a ClusterIP), and an outside client.
func synthetic(t testing.TB, nodes, pods int, backend string) (*topology.Topology, *plan.Plan) {
	t.Helper()
	name := fmt.Sprintf("big%dx%d", nodes, pods)
	var b strings.Builder
	fmt.Fprintf(&b, "name: %s\ncni: {plugin: flannel, backend: %s}\nkubeProxy: {mode: iptables, version: \"1.28\"}\n", name, backend)
	b.WriteString("network: {nodes: 10.0.0.0/16, pods: 10.128.0.0/9, services: 10.96.0.0/12}\nnodes:\n")
	for i := 0; i < nodes; i++ {
		fmt.Fprintf(&b, "  - {name: n%d}\n", i)
	}
	b.WriteString("pods:\n")
	for i := 0; i < nodes; i++ {
		for j := 0; j < pods; j++ {
			fmt.Fprintf(&b, "  - {name: p%d-%d, node: n%d, ports: [80], labels: {app: %s}}\n", i, j, i, []string{"web", "api"}[j%2])
		}
	}
	b.WriteString(`services:
  - {name: web, type: LoadBalancer, selector: {app: web}, ports: [{port: 80, nodePort: 30080}], loadBalancerIP: 203.0.113.10}
  - {name: web-local, type: LoadBalancer, selector: {app: web}, ports: [{port: 80, nodePort: 30081}], loadBalancerIP: 203.0.113.11, externalTrafficPolicy: Local}
  - {name: api, selector: {app: api}, ports: [{port: 80}]}
cloud:
  clients:
    - {name: internet, ip: 198.51.100.10}
`)
	topo, err := topology.Load(name+".yaml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	p, err := labcompile.Compile(topo, name)
	if err != nil {
		t.Fatal(err)
	}
	return topo, p
}

// syntheticPath is p0-1 on n0 to p5-5 on n5 (a pod its node box would
// summarise), across their tunnel.
func syntheticPath(t *testing.T, g *Graph) *Path {
	return &Path{From: "pod/p0-1", To: "pod/p5-5", Target: "10.128.5.7:80", Result: "connected", Server: "p5-5",
		Request: hopsOf(t, g, "p0-1:eth0", "n0:>p0-1", "n0:cni0", "n0:flannel.1", "n0:eth0", "vpc:>n0", "vpc:vswitch",
			"vpc:>n5", "n5:eth0", "n5:flannel.1", "n5:cni0", "n5:>p5-5", "p5-5:eth0")}
}

// TestGoldenSummary draws a 6-node cluster with 6 pods each and a path:
// every summary in one small file (grid, pod boxes, mesh, vSwitch ports,
// SLB, endpoints grouped on the node boxes).
func TestGoldenSummary(t *testing.T) {
	topo, p := synthetic(t, 6, 6, "vxlan")
	g := Build(topo, p)
	g.AddPath(syntheticPath(t, g))
	for _, format := range Formats {
		t.Run(format, func(t *testing.T) { checkGolden(t, "synthetic-6x6-path."+format, render(t, g, format)) })
	}
}

// podBoxesIn counts the pod boxes and summaries in each node box drawn.
func podBoxesIn(d *Graph) map[string]int {
	out := map[string]int{}
	for _, c := range d.Clusters {
		if c.Role == plan.RolePod {
			out[c.Parent]++
		}
	}
	for _, v := range d.Vertices {
		if v.Kind == KindPods {
			out[v.Cluster]++
		}
	}
	return out
}

// TestLargeGraphSummarises: at 30 nodes of 10 pods the drawing has at most
// PodsPerNode pod boxes per node (one naming the rest), no tunnel, no
// vSwitch port, no SLB or endpoint edge across the grid; -o json (the
// model) keeps all of it.
func TestLargeGraphSummarises(t *testing.T) {
	topo, p := synthetic(t, 30, 10, "vxlan")
	g := Build(topo, p)
	d := g.drawing()
	for node, n := range podBoxesIn(d) {
		if n != PodsPerNode {
			t.Errorf("%s: %d pod boxes, want %d", node, n, PodsPerNode)
		}
	}
	box := d.Vertex("ns_n4_pods")
	if box == nil || box.Label != "7 more pods\np4-3, p4-4, p4-5\np4-6, p4-7, p4-8\np4-9" {
		t.Fatalf("n4's summary: %+v", box)
	}
	if n := podBoxesIn(g)["ns_n4"]; n != 10 {
		t.Errorf("the model has %d of n4's pods, want all 10", n)
	}
	for _, kind := range []string{EdgeVXLAN, EdgeSLB, EdgeEndpoint} {
		if n := countKind(d, kind); n != 0 {
			t.Errorf("%d %s edges drawn", n, kind)
		}
	}
	if n, want := countKind(g, EdgeVXLAN), 30*29/2; n != want {
		t.Errorf("the model has %d tunnels, want %d", n, want)
	}
	if v := d.Vertex("vpc_port7"); v != nil {
		t.Error("vSwitch port boxes drawn")
	}
	checks := map[string]string{
		"n7_flannel_1": "tunnels to 29 of 29 nodes",
		"slb_eth0":     "203.0.113.10:80 → :30080 to all 30 nodes",
		"svc_web":      "150 endpoints on 30 nodes",
	}
	for id, want := range checks {
		if v := d.Vertex(id); v == nil || !strings.Contains(v.Label, want) {
			t.Errorf("%s label lacks %q: %+v", id, want, v)
		}
	}
	if c := d.Cluster("ns_n7"); !strings.Contains(c.Label, "\nsvc/web: 5 endpoints\nsvc/web-local: 5 endpoints\nsvc/api: 5 endpoints") {
		t.Errorf("n7's box title %q", c.Label)
	}
	if !strings.Contains(strings.Join(d.notes, "\n"), "VXLAN VNI 1 udp/8472: 435 tunnels (a full mesh) among 30 VTEPs") {
		t.Errorf("notes %q", d.notes)
	}
	if n, want := len(d.gridLinks()), 30-gridColumns(30); n != want {
		t.Errorf("%d grid links, want %d", n, want)
	}
}

// TestLargeGraphKeepsThePath: the pods, tunnel and SLB edge a path used
// stay drawn when everything around them is summarised.
func TestLargeGraphKeepsThePath(t *testing.T) {
	topo, p := synthetic(t, 30, 10, "vxlan")
	g := Build(topo, p)
	g.AddPath(syntheticPath(t, g))
	d := g.drawing()
	if d.Cluster("ns_p5_5") == nil {
		t.Error("p5-5, the path's server, is summarised")
	}
	if n := podBoxesIn(d)["ns_n5"]; n != PodsPerNode {
		t.Errorf("n5 has %d pod boxes, want %d", n, PodsPerNode)
	}
	if es := edges(d, EdgeVXLAN, d.Vertex("n0_flannel_1"), d.Vertex("n5_flannel_1")); len(es) != 1 || es[0].Path != PathRequest {
		t.Errorf("the tunnel n0-n5 the path used: %+v", es)
	}
	if n := countKind(d, EdgeVXLAN); n != 1 {
		t.Errorf("%d tunnels drawn, want the path's", n)
	}
	// The folded vSwitch ports: the cable from the vSwitch to n0 is marked.
	if es := edges(d, EdgeVeth, d.Vertex("vpc_vswitch"), d.Vertex("n0_eth0")); len(es) != 1 || es[0].Path != PathRequest || es[0].Label != "port0" {
		t.Errorf("vswitch to n0: %+v", es)
	}
}

// TestCutOffVTEPStillShows: a node no other node has an FDB entry for is
// visibly out of the summarised mesh.
func TestCutOffVTEPStillShows(t *testing.T) {
	topo, p := synthetic(t, 30, 1, "vxlan")
	cut := topo.Node("n3").Addr.String()
	for _, ns := range p.Namespaces {
		var keep []plan.FDB
		for _, f := range ns.FDB {
			if f.Dst != cut && ns.Owner != "n3" {
				keep = append(keep, f)
			}
		}
		ns.FDB = keep
	}
	d := Build(topo, p).drawing()
	if v := d.Vertex("n3_flannel_1"); !strings.HasSuffix(v.Label, "tunnels to 0 of 29 nodes") {
		t.Errorf("n3's flannel.1: %q", v.Label)
	}
	if v := d.Vertex("n4_flannel_1"); !strings.HasSuffix(v.Label, "tunnels to 28 of 29 nodes") {
		t.Errorf("n4's flannel.1: %q", v.Label)
	}
	if !strings.Contains(strings.Join(d.notes, "\n"), "406 tunnels (of a full mesh's 435) among 30 VTEPs") {
		t.Errorf("notes %q", d.notes)
	}
}

// TestEndpointsGroupedPerNode: a Service with more than Crowd endpoint
// edges on few nodes gets one edge per node box, counting them.
func TestEndpointsGroupedPerNode(t *testing.T) {
	topo, p := synthetic(t, 3, 6, "vxlan")
	d := Build(topo, p).drawing()
	svc := d.Vertex("svc_web")
	var got []string
	for _, e := range d.Edges {
		if e.From == svc.ID {
			got = append(got, e.To+"@"+e.toCluster+" "+e.Label)
		}
	}
	want := "n0_eth0@ns_n0 3 endpoints :80,n1_eth0@ns_n1 3 endpoints :80,n2_eth0@ns_n2 3 endpoints :80"
	if strings.Join(got, ",") != want {
		t.Errorf("web's edges %v, want %s", got, want)
	}
	out := render(t, Build(topo, p), "dot")
	if !strings.Contains(out, "compound=true;") || !strings.Contains(out, `svc_web -> n0_eth0 [style=dashed, color="#3c8a34", lhead=cluster_ns_n0, label="3 endpoints :80"];`) {
		t.Errorf("dot does not point web at the node boxes:\n%s", out)
	}
	if !strings.Contains(render(t, Build(topo, p), "mermaid"), `svc_web -.->|"3 endpoints :80"| ns_n0`) {
		t.Error("mermaid does not point web at the node boxes")
	}
}

func TestPodBoxes(t *testing.T) {
	for nodes, want := range map[int]int{1: 4, 30: 4, 31: 3, 40: 3, 60: 2, 100: 1, 1000: 1} {
		if got := podBoxes(nodes); got != want {
			t.Errorf("podBoxes(%d) = %d, want %d", nodes, got, want)
		}
	}
	for nodes, want := range map[int]int{5: 2, 9: 2, 10: 3, 30: 5, 100: 9} {
		if got := gridColumns(nodes); got != want {
			t.Errorf("gridColumns(%d) = %d, want %d", nodes, got, want)
		}
	}
}

// TestMermaidLinkLimit: 100 nodes stay within the 500 links Mermaid
// draws; a graph past them is refused with what to do instead.
func TestMermaidLinkLimit(t *testing.T) {
	topo, p := synthetic(t, 100, 10, "vpc-route")
	g := Build(topo, p)
	render(t, g, "mermaid")
	// Steps between distinct devices: no summary merges them.
	for i := 0; i < mermaidMaxLinks; i++ {
		g.Edges = append(g.Edges, &Edge{From: g.Vertices[i].ID, To: g.Vertices[i+1].ID, Kind: EdgePath})
	}
	err := Render(&bytes.Buffer{}, g, "mermaid")
	if err == nil || !strings.Contains(err.Error(), "Mermaid draws at most 500: use --format dot, or draw a part with --node or --service") {
		t.Errorf("err = %v", err)
	}
}

var svgSize = regexp.MustCompile(`<svg width="(\d+)pt" height="(\d+)pt"`)

// Drawing bounds, in points (dot's unit; a PNG at 96 dpi has 4/3 as many
// pixels). Before, 30 nodes of 10 pods were one column of node boxes,
// 2300 x 24020 pt (3066 x 32026 px), when dot did not fail outright.
const (
	// Sides stay under cairo's 32767 px bitmap limit at 96 dpi, past which
	// dot -Tpng shrinks the picture, fonts and all.
	maxSide = 24000
	// A node box (eth0, bridges, 3 pods and a summary at 10 pt) is about
	// 700 x 300 pt; with the gaps and the vSwitch's cables between boxes a
	// grid needs about twice that. The measured worst is 436000 pt² per
	// node (30 nodes on vpc-route); more means wasted or ragged space.
	maxAreaPerNode = 500000
	// Wider than tall, like a slide or a screen, but not a strip: the
	// bug was a column 10 times as tall as wide.
	minAspect, maxAspect = 1.0, 3.0
)

// TestDotRendersLargeGraphs renders 30 and 100 nodes of 10 pods on both
// kinds of flannel backend with dot, which must succeed without a warning
// and keep the picture within the bounds above.
func TestDotRendersLargeGraphs(t *testing.T) {
	dot, err := exec.LookPath("dot")
	if err != nil {
		t.Skip("graphviz (dot) is not installed here: apt-get install graphviz (scripts/setup.sh --test installs it, as CI does)")
	}
	for _, size := range []int{30, 100} {
		for _, backend := range []string{"vxlan", "vpc-route"} {
			t.Run(fmt.Sprintf("%d/%s", size, backend), func(t *testing.T) {
				topo, p := synthetic(t, size, 10, backend)
				cmd := exec.Command(dot, "-Tsvg")
				cmd.Stdin = strings.NewReader(render(t, Build(topo, p), "dot"))
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				start := time.Now()
				if err := cmd.Run(); err != nil || stderr.Len() > 0 {
					t.Fatalf("dot -Tsvg: %v\n%s", err, stderr.String())
				}
				m := svgSize.FindSubmatch(stdout.Bytes())
				if m == nil {
					t.Fatalf("no size in the SVG: %.300s", stdout.String())
				}
				w, _ := strconv.Atoi(string(m[1]))
				h, _ := strconv.Atoi(string(m[2]))
				t.Logf("%d nodes on %s: %d x %d pt (%d x %d px at 96 dpi), %d pt² per node, dot took %v",
					size, backend, w, h, w*4/3, h*4/3, w*h/size, time.Since(start).Round(time.Millisecond))
				aspect := float64(w) / float64(h)
				if w > maxSide || h > maxSide || w*h/size > maxAreaPerNode || aspect < minAspect || aspect > maxAspect {
					t.Errorf("%d x %d pt: want sides under %d, at most %d pt² per node, width/height %.1f-%.1f (got %.2f)",
						w, h, maxSide, maxAreaPerNode, minAspect, maxAspect, aspect)
				}
			})
		}
	}
}
