package graph

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/netlab/netlab/lab/plan"
)

// hopsOf turns steps into hops: "owner:device", or "owner:>other" for
// owner's end of the veth pair whose other end is in other's namespace
// (a pod's veth on its node, a node's vSwitch port), whose names the plan
// generates.
func hopsOf(t *testing.T, g *Graph, steps ...string) []Hop {
	t.Helper()
	var out []Hop
	for _, s := range steps {
		owner, dev, _ := strings.Cut(s, ":")
		ns := plan.NSName(g.Lab, owner)
		if other, ok := strings.CutPrefix(dev, ">"); ok {
			dev = ""
			for _, e := range g.Edges {
				a, b := g.Vertex(e.From), g.Vertex(e.To)
				if e.Kind != EdgeVeth {
					continue
				}
				if b.Namespace == ns {
					a, b = b, a
				}
				if a.Namespace == ns && b.Namespace == plan.NSName(g.Lab, other) {
					dev = a.Name
				}
			}
			if dev == "" {
				t.Fatalf("%s: no veth from %s to %s", s, owner, other)
			}
		}
		out = append(out, Hop{Namespace: ns, Owner: owner, Device: dev})
	}
	return out
}

// vxlanPath is client-a to web-2 across the tunnel, as the capture sees
// it: the encapsulated packet crosses node-1's eth0 and the vSwitch.
func vxlanPath(t *testing.T, g *Graph) *Path {
	return &Path{From: "pod/client-a", To: "pod/web-2", Target: "10.244.1.2:80", Result: "connected", Server: "web-2",
		Request: hopsOf(t, g, "client-a:eth0", "node-1:>client-a", "node-1:cni0", "node-1:flannel.1", "node-1:eth0",
			"vpc:>node-1", "vpc:vswitch", "vpc:>node-2", "node-2:eth0", "node-2:flannel.1", "node-2:cni0", "node-2:>web-2", "web-2:eth0")}
}

// asymmetricPath is the internet through the SLB to nginx1 on node-216
// (SNAT on node-180), answered straight back to the internet: a reply
// path of its own, as with direct server return.
func asymmetricPath(t *testing.T, g *Graph) *Path {
	return &Path{From: "client/internet", To: "svc/nginx1:loadbalancer@node-180", Target: "203.0.113.113:80", Result: "connected",
		Service: "nginx1", Server: "nginx1-s6z79",
		Request: hopsOf(t, g, "internet:eth0", "vpc:client0", "vpc:slb", "slb:eth0", "vpc:slb", "vpc:vswitch", "vpc:>node-180",
			"node-180:eth0", "vpc:>node-180", "vpc:vswitch", "vpc:>node-216", "node-216:eth0", "node-216:cni0",
			"node-216:>nginx1-s6z79", "nginx1-s6z79:eth0"),
		Reply: hopsOf(t, g, "nginx1-s6z79:eth0", "node-216:>nginx1-s6z79", "node-216:cni0", "node-216:eth0",
			"vpc:>node-216", "vpc:vswitch", "vpc:client0", "internet:eth0")}
}

// TestGoldenPath draws a probe's hops on the graph: a VXLAN crossing, and
// a request and answer that took different ways.
func TestGoldenPath(t *testing.T) {
	for name, mk := range map[string]struct {
		scenario string
		path     func(*testing.T, *Graph) *Path
	}{"flannel-vxlan-path": {"flannel-vxlan", vxlanPath}, "flannel-cluster-mode-path": {"flannel-cluster-mode", asymmetricPath}} {
		topo, p := compile(t, mk.scenario)
		g := Build(topo, p)
		g.AddPath(mk.path(t, g))
		for _, format := range Formats {
			t.Run(name+"/"+format, func(t *testing.T) { checkGolden(t, name+"."+format, render(t, g, format)) })
		}
	}
}

// onPath lists "from-to:kind" of the edges marked way.
func onPath(g *Graph, way string) map[string]bool {
	out := map[string]bool{}
	for _, e := range g.Edges {
		if e.Path == way {
			out[e.From+"-"+e.To+":"+e.Kind] = true
		}
	}
	return out
}

// TestAddPathMarksWhatTheHopsCrossed: each cable between consecutive hops
// is marked, steps inside a namespace become path edges, the tunnel the
// packet went through is marked although no hop goes from one VTEP
// straight to the other.
func TestAddPathMarksWhatTheHopsCrossed(t *testing.T) {
	topo, p := compile(t, "flannel-vxlan")
	g := Build(topo, p)
	edgesBefore := len(g.Edges)
	g.AddPath(vxlanPath(t, g))
	req := onPath(g, PathRequest)
	for _, want := range []string{
		"node_1_vethe0b107f9-client_a_eth0:veth", "node_1_cni0-node_1_vethe0b107f9:bridge",
		"node_1_cni0-node_1_flannel_1:path", "node_1_flannel_1-node_1_eth0:path",
		"vpc_port0-node_1_eth0:veth", "vpc_vswitch-vpc_port0:bridge", "vpc_vswitch-vpc_port1:bridge", "vpc_port1-node_2_eth0:veth",
		"node_2_eth0-node_2_flannel_1:path", "node_1_flannel_1-node_2_flannel_1:vxlan",
	} {
		if !req[want] {
			t.Errorf("request does not mark %s; marked %v", want, req)
		}
	}
	if len(req) != 13 {
		t.Errorf("%d edges marked, want 13: the 12 steps between the 13 hops and the tunnel; %v", len(req), req)
	}
	if added := len(g.Edges) - edgesBefore; added != 4 {
		t.Errorf("%d path edges added, want 4 (cni0-flannel.1-eth0 on both nodes)", added)
	}
	if v := g.Vertex("node_1_flannel_1"); v.Path != PathRequest {
		t.Errorf("flannel.1 path %q", v.Path)
	}
	if v := g.Vertex("node_3_flannel_1"); v.Path != "" {
		t.Errorf("node-3's flannel.1 is marked %q, the probe never went there", v.Path)
	}
}

// TestAddPathReply: an answer's own way is marked reply, what both
// crossed both; the Service's endpoint edge to the server is marked.
func TestAddPathReply(t *testing.T) {
	topo, p := compile(t, "flannel-cluster-mode")
	g := Build(topo, p)
	g.AddPath(asymmetricPath(t, g))
	for id, want := range map[string]string{"slb_eth0": PathRequest, "vpc_client0": PathBoth, "node_216_cni0": PathBoth,
		"node_180_eth0": PathRequest, "svc_nginx1": PathRequest, "node_206_eth0": ""} {
		if got := g.Vertex(id).Path; got != want {
			t.Errorf("%s: path %q, want %q", id, got, want)
		}
	}
	// vswitch to client0 is routing inside the VPC: only the answer went so.
	if !onPath(g, PathReply)["node_216_eth0-vpc_client0:path"] && !onPath(g, PathReply)["vpc_vswitch-vpc_client0:path"] {
		t.Errorf("the answer's step vswitch -> client0 is not marked reply: %v", onPath(g, PathReply))
	}
	es := edges(g, EdgeEndpoint, g.Vertex("svc_nginx1"), device(t, g, "nginx1-s6z79", "eth0"))
	if len(es) != 1 || es[0].Path != PathRequest {
		t.Errorf("endpoint edge to the server: %+v", es)
	}
	for _, e := range g.Edges {
		if e.Kind == EdgeEndpoint && e.Path != "" && e.To != device(t, g, "nginx1-s6z79", "eth0").ID {
			t.Errorf("endpoint edge %s -> %s marked; only the server's is", e.From, e.To)
		}
	}
}

// TestAddPathSkipsUnknownDevices: a userspace proxy's relay hop has no
// vertex; the devices on either side are still joined.
func TestAddPathSkipsUnknownDevices(t *testing.T) {
	topo, p := compile(t, "flannel-vxlan")
	g := Build(topo, p)
	hops := hopsOf(t, g, "node-1:cni0", "node-1:proxy", "node-1:flannel.1")
	g.AddPath(&Path{Request: hops})
	if !onPath(g, PathRequest)["node_1_cni0-node_1_flannel_1:path"] {
		t.Errorf("cni0 and flannel.1 not joined across the relay: %v", onPath(g, PathRequest))
	}
}

var mermaidLinkRE = regexp.MustCompile(`^  (\w+) (===|---|-\.-|-->|==>|-\.->|~~~)(\|.*\|)? (\w+)$`)

// TestMermaidLinkStyleIndexes: linkStyle numbers links in the order they
// are written; the styled ones must be exactly the path's.
func TestMermaidLinkStyleIndexes(t *testing.T) {
	topo, p := compile(t, "flannel-cluster-mode")
	g := Build(topo, p)
	g.AddPath(asymmetricPath(t, g))
	var links [][2]string
	styled := map[string][]string{}
	for _, line := range strings.Split(render(t, g, "mermaid"), "\n") {
		if m := mermaidLinkRE.FindStringSubmatch(line); m != nil {
			links = append(links, [2]string{m[1], m[4]})
		}
		if rest, ok := strings.CutPrefix(line, "  linkStyle "); ok {
			nums, style, _ := strings.Cut(rest, " ")
			styled[style] = append(styled[style], strings.Split(nums, ",")...)
		}
	}
	want := map[string]string{PathRequest: "stroke:#d62728,stroke-width:4px", PathReply: "stroke:#17a2a2,stroke-width:4px"}
	for way, style := range want {
		marked := map[[2]string]bool{}
		for _, e := range g.Edges {
			// Mermaid has one colour per link: the request's for both.
			if e.Path == way || e.Path == PathBoth && way == PathRequest {
				marked[[2]string{e.From, e.To}] = true
			}
		}
		if len(styled[style]) != len(marked) {
			t.Errorf("%s: %d links styled, %d edges marked", way, len(styled[style]), len(marked))
		}
		for _, n := range styled[style] {
			i, err := strconv.Atoi(n)
			if err != nil || i >= len(links) || !marked[links[i]] {
				t.Errorf("%s: linkStyle %s is not a marked edge", way, n)
			}
		}
	}
}
