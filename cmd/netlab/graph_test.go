package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/netlab/netlab/internal/testenv"
	"github.com/netlab/netlab/lab/compile"
	"github.com/netlab/netlab/lab/plan"
	"github.com/netlab/netlab/lab/state"
	"github.com/netlab/netlab/lab/topology"
	"github.com/netlab/netlab/topologies"
)

// isolateState points lab state at an empty directory, so that a lab left
// on this machine never stands in for the scenario of the same name.
func isolateState(t *testing.T) {
	t.Helper()
	old := state.Dir
	state.Dir = t.TempDir()
	t.Cleanup(func() { state.Dir = old })
}

// TestGraphScenarioNeedsNoRoot draws built-in scenarios in both formats
// and as JSON; nothing here touches a namespace.
func TestGraphScenarioNeedsNoRoot(t *testing.T) {
	isolateState(t)
	code, out, stderr := cli(t, "graph", "flannel-vxlan")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"flowchart LR\n", `subgraph ns_node_1["node node-1, pods 10.244.0.0/24"]`,
		`node_1_flannel_1 -.-|"VXLAN VNI 1 udp/8472"| node_2_flannel_1`} {
		if !strings.Contains(out, want) {
			t.Errorf("mermaid lacks %q", want)
		}
	}
	code, out, _ = cli(t, "graph", "flannel-cluster-mode", "--format", "dot")
	if code != 0 || !strings.HasPrefix(out, `digraph "flannel-cluster-mode" {`) || !strings.Contains(out, "subgraph cluster_ns_slb {") {
		t.Errorf("dot: exit %d\n%s", code, out)
	}
	code, out, _ = cli(t, "graph", "flannel-vxlan", "-o", "json")
	var g struct {
		Lab   string
		Edges []struct{ Kind string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &g) != nil || g.Lab != "flannel-vxlan" {
		t.Fatalf("-o json: exit %d\n%s", code, out)
	}
	vxlan := 0
	for _, e := range g.Edges {
		if e.Kind == "vxlan" {
			vxlan++
		}
	}
	if vxlan != 3 {
		t.Errorf("-o json: %d vxlan edges, want 3", vxlan)
	}
}

func TestGraphKubeProxyOverride(t *testing.T) {
	isolateState(t)
	code, out, stderr := cli(t, "graph", "flannel-services", "--kube-proxy", "ipvs@1.28")
	if code != 0 || !strings.Contains(out, "kube-ipvs0 (down)") || !strings.Contains(out, "kube-proxy ipvs 1.28") {
		t.Errorf("exit %d: %s\n%s", code, stderr, out)
	}
}

func TestGraphErrors(t *testing.T) {
	isolateState(t)
	code, _, stderr := cli(t, "graph", "flannel-vxlan", "--format", "svg")
	if code != 1 || !strings.Contains(stderr, `unknown graph format "svg" (use mermaid or dot)`) {
		t.Errorf("--format svg: exit %d, %q", code, stderr)
	}
	code, _, stderr = cli(t, "graph", "flannel-vxlan", "-o", "yaml")
	if code != 1 || !strings.Contains(stderr, `unknown output format "yaml"`) {
		t.Errorf("-o yaml: exit %d, %q", code, stderr)
	}
	code, _, stderr = cli(t, "graph", "no-such-thing")
	if code != 1 || !strings.Contains(stderr, `no scenario "no-such-thing"`) {
		t.Errorf("unknown scenario: exit %d, %q", code, stderr)
	}
}

// TestGraphRunningLab draws a lab from its recorded scenario and the plan
// up stored, under the lab's own name; only the state is needed, no
// namespace. A device only the stored plan has is drawn: graph does not
// compile the scenario again. A lab without a stored plan is refused.
func TestGraphRunningLab(t *testing.T) {
	isolateState(t)
	data, _ := topologies.Get("flannel-vxlan")
	st := &state.State{Lab: "mylab", Scenario: "flannel-vxlan", Source: "builtin:flannel-vxlan.yaml", Topology: string(data),
		Phase: state.PhaseReady, Created: time.Now().UTC()}
	if err := state.Create(st); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := cli(t, "graph", "mylab")
	if code != 1 || !strings.Contains(stderr, "brought up by an older netlab") {
		t.Errorf("no stored plan: exit %d, %q", code, stderr)
	}
	topo, err := topology.Load("flannel-vxlan.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	p, err := compile.ForHost(topo, "mylab")
	if err != nil {
		t.Fatal(err)
	}
	node := p.Namespace("mylab-node-1")
	node.Links = append(node.Links, plan.Link{Name: "only-stored", Kind: plan.KindDummy})
	if err := state.SavePlan("mylab", p); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := cli(t, "graph", "mylab", "-o", "json")
	var g struct {
		Lab      string
		Clusters []struct{ Namespace string }
		Vertices []struct{ Namespace, Name string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &g) != nil || g.Lab != "mylab" || len(g.Clusters) == 0 || g.Clusters[0].Namespace != "mylab-vpc" {
		t.Errorf("exit %d: %s\n%s", code, stderr, out)
	}
	drawn := false
	for _, v := range g.Vertices {
		drawn = drawn || v.Namespace == "mylab-node-1" && v.Name == "only-stored"
	}
	if !drawn {
		t.Errorf("the stored plan's device only-stored is not drawn:\n%.2000s", out)
	}
	code, _, stderr = cli(t, "graph", "mylab", "--kube-proxy", "ipvs@1.28")
	if code != 1 || !strings.Contains(stderr, "--kube-proxy applies to a scenario") {
		t.Errorf("--kube-proxy on a lab: exit %d, %q", code, stderr)
	}
}

// graphJSON is what the CLI tests read of graph -o json.
type graphJSON struct {
	Lab      string
	Clusters []struct{ Owner, Role string }
	Vertices []struct{ ID, Kind, Name, Path string }
	Edges    []struct{ From, To, Kind, Path string }
	Path     *struct {
		Result, Server, Service string
		Request                 []struct{ Owner, Device string }
	}
	Selection *struct{ Nodes, Services []string }
}

func decodeGraph(t *testing.T, out string) graphJSON {
	t.Helper()
	var g graphJSON
	if err := json.Unmarshal([]byte(out), &g); err != nil {
		t.Fatalf("graph -o json: %v\n%.500s", err, out)
	}
	return g
}

func (g graphJSON) nodes() []string {
	var out []string
	for _, c := range g.Clusters {
		if c.Role == "node" {
			out = append(out, c.Owner)
		}
	}
	return out
}

// TestGraphFilters: --node takes a comma list or repeats, --service
// narrows to a Service, both are in -o json; an unknown name lists the
// valid ones.
func TestGraphFilters(t *testing.T) {
	isolateState(t)
	for _, args := range [][]string{{"--node", "node-1,node-3"}, {"--node", "node-1", "--node", "node-3"}} {
		code, out, stderr := cli(t, append([]string{"graph", "flannel-services", "-o", "json"}, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		g := decodeGraph(t, out)
		if got := strings.Join(g.nodes(), ","); got != "node-1,node-3" || g.Selection == nil || len(g.Selection.Nodes) != 2 {
			t.Errorf("%v: nodes %s, selection %+v", args, got, g.Selection)
		}
	}
	code, out, stderr := cli(t, "graph", "flannel-services", "--service", "local-web", "--format", "dot")
	if code != 0 || !strings.Contains(out, "only Service local-web and what connects to it") || strings.Contains(out, "cluster_ns_node_1 ") ||
		!strings.Contains(out, "svc_local_web [") || strings.Contains(out, "svc_web [") {
		t.Errorf("--service local-web: exit %d %s\n%s", code, stderr, out)
	}
	code, _, stderr = cli(t, "graph", "flannel-services", "--node", "node-9")
	if code != 1 || !strings.Contains(stderr, `--node: no node "node-9" in flannel-services (use one of: node-1, node-2, node-3)`) {
		t.Errorf("--node node-9: exit %d, %q", code, stderr)
	}
}

// TestGraphPathNeedsALab: --path fires a probe, so a scenario is refused
// with what to run instead, and FROM TO must both be there.
func TestGraphPathNeedsALab(t *testing.T) {
	isolateState(t)
	code, _, stderr := cli(t, "graph", "flannel-vxlan", "--path", "client-a", "pod/web-2")
	if code != 1 || !strings.Contains(stderr, "--path fires a probe, which needs a running lab; flannel-vxlan is a scenario, not a lab that is up (netlab up flannel-vxlan, then netlab graph flannel-vxlan --path client-a pod/web-2)") {
		t.Errorf("exit %d, %q", code, stderr)
	}
	code, _, stderr = cli(t, "graph", "flannel-vxlan", "--path", "client-a")
	if code != 1 || !strings.Contains(stderr, "--path takes FROM and TO after the lab: netlab graph LAB --path FROM TO (got 2 arguments)") {
		t.Errorf("one end: exit %d, %q", code, stderr)
	}
	code, _, stderr = cli(t, "graph", "flannel-vxlan", "client-a")
	if code != 1 || !strings.Contains(stderr, "graph takes one lab or scenario (got 2 arguments") {
		t.Errorf("no --path: exit %d, %q", code, stderr)
	}
}

// TestGraphPath brings up flannel-services (flannel vxlan, kube-proxy
// iptables) and draws a real probe to a ClusterIP whose only endpoint is
// on another node: the hops the capture saw are marked on the devices and
// cables they crossed, the tunnel between the two nodes, and the
// Service's edge to the pod that answered; --node keeps the path whole.
func TestGraphPath(t *testing.T) {
	testenv.RequireRoot(t)
	name := testenv.Prefix(t) + "-g"
	t.Cleanup(func() {
		cli(t, "down", name)
		if _, err := os.Stat("/run/netns/" + name + "-node-1"); err == nil {
			t.Errorf("lab %s left its namespaces", name)
		}
	})
	if code, _, stderr := cli(t, "up", "flannel-services", "--name", name); code != 0 {
		t.Fatalf("up: %s", stderr)
	}
	code, out, stderr := cli(t, "graph", name, "--path", "client", "svc/local-web", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	g := decodeGraph(t, out)
	if g.Path == nil || g.Path.Result != "connected" || g.Path.Server != "local-web" || g.Path.Service != "local-web" {
		t.Fatalf("path %+v", g.Path)
	}
	var hops []string
	for _, h := range g.Path.Request {
		hops = append(hops, h.Owner+":"+h.Device)
	}
	if !strings.Contains(strings.Join(hops, " "), "node-1:flannel.1 node-1:eth0 vpc:port0 vpc:vswitch vpc:port2 node-3:eth0 node-3:flannel.1") {
		t.Errorf("request hops %v", hops)
	}
	marked := map[string]string{}
	for _, e := range g.Edges {
		marked[e.From+"-"+e.To+":"+e.Kind] = e.Path
	}
	for _, want := range []string{"node_1_flannel_1-node_3_flannel_1:vxlan", "vpc_port2-node_3_eth0:veth", "svc_local_web-local_web_eth0:endpoint", "node_1_cni0-node_1_flannel_1:path"} {
		if marked[want] != "request" {
			t.Errorf("%s: path %q, want request", want, marked[want])
		}
	}
	for _, e := range g.Edges {
		if e.Path != "" && (strings.Contains(e.From, "node_2") || strings.Contains(e.To, "node_2")) {
			t.Errorf("%s -> %s on node-2 marked %s; the probe never went there", e.From, e.To, e.Path)
		}
	}
	code, out, stderr = cli(t, "graph", name, "--path", "client", "svc/local-web", "--node", "node-2", "--format", "dot")
	if code != 0 || !strings.Contains(out, `node_1_flannel_1 -> node_3_flannel_1 [dir=both, style=dashed, color="#d62728", penwidth=3, label="VXLAN VNI 1 udp/8472"]`) ||
		!strings.Contains(out, "cluster_ns_node_2 ") || strings.Contains(out, "cluster_ns_web_1 ") {
		t.Errorf("--node node-2 with the path: exit %d %s\n%s", code, stderr, out)
	}
	if dot, err := exec.LookPath("dot"); err == nil {
		cmd := exec.Command(dot, "-Tsvg", "-o", os.DevNull)
		cmd.Stdin = strings.NewReader(out)
		if b, err := cmd.CombinedOutput(); err != nil || len(b) > 0 {
			t.Errorf("dot: %v %s", err, b)
		}
	}
}
