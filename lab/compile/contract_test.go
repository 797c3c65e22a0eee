package compile

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/netlab/netlab/lab/cni"
	"github.com/netlab/netlab/lab/kernel"
	"github.com/netlab/netlab/lab/kubeproxy"
	"github.com/netlab/netlab/lab/plan"
	"github.com/netlab/netlab/lab/topology"
)

// TestToyKubeProxyMode is ARCHITECTURE.md's "adding a kube-proxy mode" in
// one place: a mode registered from one file is accepted by scenarios in
// its version window only, refused outside it with its PR, rendered on
// every node, and its kernel needs reach the preflight; nothing else in
// netlab was told about it.
func TestToyKubeProxyMode(t *testing.T) {
	kubeproxy.Register(kubeproxy.Mode{
		Name: "toy", Since: 20, SincePR: "#99999", SinceStage: "alpha",
		Needs: []kernel.Feature{kernel.Nftables},
		Render: func(v kubeproxy.Version, n kubeproxy.Node, _ kubeproxy.Options) (*kubeproxy.NodeState, error) {
			rs := &plan.Ruleset{}
			rs.Append("nat", "PREROUTING", "-m comment --comment \"toy "+v.String()+" on "+n.Name+"\" -j ACCEPT")
			return &kubeproxy.NodeState{Rules: rs, Sysctls: []plan.Sysctl{{Key: "net.ipv4.vs.toy", Value: "1"}}}, nil
		}})
	const scenario = `name: toy
nodes: [{name: node-1}, {name: node-2}]
pods: [{name: web, node: node-2, ports: [80], labels: {app: web}}]
kubeProxy: {mode: toy, version: "1.24"}
services: [{name: web, selector: {app: web}, ports: [{port: 80}]}]
`
	topo, err := topology.Load("toy.yaml", []byte(scenario))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(topo, "toy")
	if err != nil {
		t.Fatal(err)
	}
	for _, node := range []string{"node-1", "node-2"} {
		ns := p.Namespace(plan.NSName("toy", node))
		if rules := ns.IPTables.Restore(); !strings.Contains(rules, `toy 1.24 on `+node) {
			t.Errorf("%s: the toy mode's rule is missing:\n%s", node, rules)
		}
		if !hasSysctl(ns.Sysctls, "net.ipv4.vs.toy") {
			t.Errorf("%s: the toy mode's sysctl is missing", node)
		}
	}
	if need := Requirements(topo); !slices.Contains(need, kernel.Nftables) {
		t.Errorf("requirements %v lack the toy mode's nftables", need)
	}
	_, err = topology.Load("toy.yaml", []byte(strings.Replace(scenario, `"1.24"`, `"1.19"`, 1)))
	if err == nil || !strings.Contains(err.Error(), "kube-proxy 1.19 has no toy mode: it arrived as alpha in 1.20 (#99999)") {
		t.Errorf("toy@1.19: %v", err)
	}
	// The versions netlab models bound every mode's window, at load time
	// with the file and line (they used to fail only at compile time).
	_, err = topology.Load("toy.yaml", []byte(strings.Replace(scenario, `"1.24"`, `"1.40"`, 1)))
	if err == nil || !strings.Contains(err.Error(), "toy.yaml:4: kubeProxy.version: kube-proxy 1.40 is outside what netlab models, 1.1 to 1.37 (fix: pick a version that has the mode)") {
		t.Errorf("toy@1.40: %v", err)
	}
	if kp, err := topology.ParseKubeProxy("toy"); err != nil || kp.Version != kubeproxy.DefaultVersion {
		t.Errorf("--kube-proxy toy = %+v, %v", kp, err)
	}
}

// TestToyCNIPlugin: a plugin registered from one file gets its backends
// checked and defaulted, its own field checks run, and its Build wires the
// plan.
func TestToyCNIPlugin(t *testing.T) {
	cni.Register(cni.Plugin{Name: "toy", Backends: []string{"wire", "air"},
		Validate: func(r topology.Reporter, c *topology.CNI) {
			if c.Version == "0" {
				r(c.Line, "cni.version", "use 1", "toy version 0 does not exist")
			}
		},
		Build: func(p *plan.Plan, topo *topology.Topology) error {
			for _, n := range topo.Nodes {
				ns := p.Namespace(plan.NSName(p.Lab, n.Name))
				ns.Links = append(ns.Links, plan.Link{Name: "toy0", Kind: plan.KindBridge, MAC: plan.MAC("toy", n.Name)})
			}
			return nil
		}})
	topo, err := topology.Load("t.yaml", []byte("name: t\ncni: {plugin: toy}\nnodes: [{name: node-1}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if topo.CNI.Backend != "wire" {
		t.Errorf("default backend %q, want the first, wire", topo.CNI.Backend)
	}
	p, err := Compile(topo, "t")
	if err != nil {
		t.Fatal(err)
	}
	if l := p.Namespace("t-node-1").Links; len(l) == 0 || l[len(l)-1].Name != "toy0" {
		t.Errorf("the toy plugin did not wire node-1: %+v", l)
	}
	for yaml, want := range map[string]string{
		"name: t\ncni: {plugin: toy, backend: water}\nnodes: [{name: node-1}]\n":             `t.yaml:2: cni.backend: unknown toy backend "water" (fix: toy backends: wire, air)`,
		"name: t\ncni: {plugin: toy, version: \"0\"}\nnodes: [{name: node-1}]\n":             `t.yaml:2: cni.version: toy version 0 does not exist (fix: use 1)`,
		"name: t\ncni: {plugin: calico}\nnodes: [{name: node-1}]\n":                          `t.yaml:2: cni.plugin: unknown CNI plugin "calico" (fix: supported plugins: flannel, terway, toy)`,
		"name: t\nkubeProxy: {mode: ebpf}\nnodes: [{name: node-1}]\n":                        `unknown kube-proxy mode "ebpf"`,
		"name: t\nkubeProxy: {mode: nftables, version: \"1.28\"}\nnodes: [{name: node-1}]\n": `kube-proxy 1.28 has no nftables mode: it arrived as alpha in 1.29 (#121046)`,
	} {
		if _, err := topology.Load("t.yaml", []byte(yaml)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v\n want %s", yaml, err, want)
		}
	}
}

// TestNoModeOrPluginNamedElsewhere holds the contracts' promise: outside a
// mode's or plugin's own package, no source file compares anything with
// the name of a kube-proxy mode, a CNI plugin or one of its backends (a
// `== "ipvs"`, a `case "vxlan":`). Such a decision belongs in the mode or
// plugin, behind its registry entry.
func TestNoModeOrPluginNamedElsewhere(t *testing.T) {
	names := topology.KubeProxyModeNames()
	for _, n := range topology.CNIPluginNames() {
		p, _ := topology.CNIPlugin(n)
		names = append(append(names, n), p.Backends...)
	}
	var alt []string
	for _, n := range names {
		alt = append(alt, regexp.QuoteMeta(n))
	}
	rawString := regexp.MustCompile("`[^`]*`")
	decision := regexp.MustCompile(`(==|!=|case)\s*"(` + strings.Join(alt, "|") + `)"`)
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() && (rel == filepath.Join("lab", "kubeproxy") || rel == filepath.Join("lab", "cni") || strings.HasPrefix(d.Name(), ".")) && rel != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		// Raw strings are text (help examples, YAML), not code: blank them
		// out, keeping the line numbers.
		code := rawString.ReplaceAllStringFunc(string(data), func(r string) string { return strings.Repeat("\n", strings.Count(r, "\n")) })
		for i, line := range strings.Split(code, "\n") {
			if m := decision.FindString(line); m != "" {
				t.Errorf("%s:%d: %s: a decision on a mode or plugin outside its own package", rel, i+1, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
