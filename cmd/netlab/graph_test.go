package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/netlab/netlab/lab/state"
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

// TestGraphRunningLab draws a lab from its recorded scenario under the
// lab's own name; only the state file is needed, no namespace.
func TestGraphRunningLab(t *testing.T) {
	isolateState(t)
	data, _ := topologies.Get("flannel-vxlan")
	st := &state.State{Lab: "mylab", Scenario: "flannel-vxlan", Source: "builtin:flannel-vxlan.yaml", Topology: string(data),
		Phase: state.PhaseReady, Created: time.Now().UTC()}
	if err := state.Create(st); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := cli(t, "graph", "mylab", "-o", "json")
	var g struct {
		Lab      string
		Clusters []struct{ Namespace string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &g) != nil || g.Lab != "mylab" || len(g.Clusters) == 0 || g.Clusters[0].Namespace != "mylab-vpc" {
		t.Errorf("exit %d: %s\n%s", code, stderr, out)
	}
	code, _, stderr = cli(t, "graph", "mylab", "--kube-proxy", "ipvs@1.28")
	if code != 1 || !strings.Contains(stderr, "--kube-proxy applies to a scenario") {
		t.Errorf("--kube-proxy on a lab: exit %d, %q", code, stderr)
	}
}
