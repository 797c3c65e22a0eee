package topology_test

import (
	"fmt"
	_ "github.com/netlab/netlab/lab/cni"
	_ "github.com/netlab/netlab/lab/kubeproxy"
	"github.com/netlab/netlab/lab/topology"
	"reflect"
	"strings"
	"testing"
	"time"
)

// labelsScenario is a scenario whose one pod has n labels.
func labelsScenario(n int) string {
	var b strings.Builder
	b.WriteString("name: t\nnodes: [{name: n1}]\npods:\n  - name: p\n    node: n1\n    labels:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "      k%d: v\n", i)
	}
	return b.String()
}

// loadQuickly loads data and fails the test if that takes more than a few
// seconds (yaml.v3's duplicate-key check took 6.6 s for 40,000 keys and
// never finished 500,000).
func loadQuickly(t *testing.T, data string) error {
	t.Helper()
	start := time.Now()
	_, err := topology.Load("big.yaml", []byte(data))
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Load took %v", d)
	}
	return err
}

func wantOnly(t *testing.T, err error, want string) {
	t.Helper()
	ps, ok := err.(topology.Problems)
	if !ok || len(ps) != 1 || ps[0].String() != want {
		t.Errorf("error\n  %v\nwant only\n  %s", err, want)
	}
}

func TestMappingKeyLimit(t *testing.T) {
	if _, err := topology.Load("ok.yaml", []byte(labelsScenario(topology.MaxMappingKeys))); err != nil {
		t.Errorf("%d labels: %v", topology.MaxMappingKeys, err)
	}
	for _, n := range []int{topology.MaxMappingKeys + 1, 40_000} {
		wantOnly(t, loadQuickly(t, labelsScenario(n)), fmt.Sprintf("big.yaml:7: pods[0].labels: the mapping has %d keys, more than 1000 (fix: no scenario needs more than 1000 keys in one mapping (fields, labels or selector): check that this is the file you meant)", n))
	}
	// 500,000 keys do not fit in topology.MaxScenarioBytes in any form that keeps
	// them distinct; refused on size, quickly.
	wantOnly(t, loadQuickly(t, labelsScenario(500_000)), "big.yaml: the file is larger than 2 MiB, the most a scenario may be (fix: check that this is the scenario you meant: a 5,000-pod scenario is about 215 KB)")
	// The same count of keys, all "a" (2 bytes each), does fit.
	wantOnly(t, loadQuickly(t, "name: t\nnodes: [{name: n1}]\npods: [{name: p, node: n1, labels: {"+strings.Repeat("a,", 500_000)+"}}]\n"),
		"big.yaml:3: pods[0].labels: the mapping has 500000 keys, more than 1000 (fix: no scenario needs more than 1000 keys in one mapping (fields, labels or selector): check that this is the file you meant)")
}

func TestNodeLimit(t *testing.T) {
	wantOnly(t, loadQuickly(t, "name: t\nnodes: [{name: n1}]\ndescription: ["+strings.Repeat("a,", topology.MaxYAMLNodes)+"]\n"),
		"big.yaml: the file has more than 500000 YAML nodes (keys, values and list entries) (fix: check that this is the scenario you meant: a 5,000-pod scenario has about 40,000)")
}

// laughs is "billion laughs": each level a list of ten aliases of the one
// before, 10^levels strings in all.
func laughs(levels int) string {
	var b strings.Builder
	b.WriteString("name: t\nnodes: [{name: n1}]\nprobes:\n  - from: n1\n    to: 10.0.0.1:80\n    expect:\n      hops: &l0 [a, a, a, a, a, a, a, a, a, a]\nx:\n")
	for i := 1; i <= levels; i++ {
		fmt.Fprintf(&b, "  l%d: &l%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 10), ", "))
	}
	fmt.Fprintf(&b, "pods: *l%d\n", levels)
	return b.String()
}

func TestAliasExpansion(t *testing.T) {
	wantOnly(t, loadQuickly(t, laughs(9)), "big.yaml:9: aliases expand the file to more than 500000 YAML nodes (fix: write the repeated parts out or use fewer aliases (*name): a 5,000-pod scenario has about 40,000 nodes)")
	wantOnly(t, loadQuickly(t, "name: t\nnodes: &n [{name: n1, x: *n}]\n"), "big.yaml:2: alias *n refers to the value that contains it (fix: an anchor (&name) cannot be used (*name) inside its own value)")
	// Below the bound, the walks that follow aliases stay linear in what
	// the aliases expand to, and yaml.v3's duplicate-key check in
	// proportion: 240 pods share one anchored mapping of 1,000 labels.
	var b strings.Builder
	b.WriteString("name: t\nnodes: [{name: n1}]\nx: &l {")
	for i := 0; i < topology.MaxMappingKeys; i++ {
		fmt.Fprintf(&b, "k%d: v, ", i)
	}
	b.WriteString("}\npods:\n")
	for i := 0; i < 240; i++ {
		fmt.Fprintf(&b, "  - {name: p%d, node: n1, labels: *l}\n", i)
	}
	wantOnly(t, loadQuickly(t, b.String()), `big.yaml:3: x: unknown field "x" (fix: known fields here: cloud, cni, description, kubeProxy, name, network, nodes, pods, probes, services)`)
	if err := loadQuickly(t, strings.Replace(b.String(), "x: &l", "description: &l", 1)); err == nil || !strings.Contains(err.Error(), "description: expected a single value") {
		t.Errorf("anchored labels as the description: %v", err)
	}
	// Decoded: 120 aliases of the labels load; at 240, yaml.v3's own
	// bound on alias expansion refuses them, and the message says so.
	for _, tc := range []struct {
		pods int
		want string
	}{{120, ""}, {240, "big.yaml: the aliases (*name) expand to too much for the YAML decoder: document contains excessive aliasing (fix: write the repeated parts out or use fewer aliases)"}} {
		b.Reset()
		b.WriteString("name: t\nnodes: [{name: n1}]\npods:\n  - name: p\n    node: n1\n    labels: &l {")
		for i := 0; i < topology.MaxMappingKeys; i++ {
			fmt.Fprintf(&b, "k%d: v, ", i)
		}
		b.WriteString("}\n")
		for i := 0; i < tc.pods; i++ {
			fmt.Fprintf(&b, "  - {name: p%d, node: n1, labels: *l}\n", i)
		}
		if err := loadQuickly(t, b.String()); tc.want == "" && err != nil {
			t.Errorf("%d aliases: %v", tc.pods, err)
		} else if tc.want != "" {
			wantOnly(t, err, tc.want)
		}
	}
}

// TestAliasesAndMerges: anchors, aliases and merge keys are YAML a scenario
// may use; lines are the anchored mapping's where a struct came from one.
func TestAliasesAndMerges(t *testing.T) {
	topo, err := topology.Load("m.yaml", []byte(`name: t
nodes: [{name: n1}, {name: n2}]
pods:
  - &web {name: web-1, node: n1, labels: {app: web}, ports: [80]}
  - <<: *web
    name: web-2
    node: n2
  - {<<: [*web], name: web-3}
`))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []struct {
		name, node string
		line       int
	}{{"web-1", "n1", 4}, {"web-2", "n2", 5}, {"web-3", "n1", 8}} {
		p := topo.Pods[i]
		if p.Name != want.name || p.Node != want.node || p.Line != want.line || p.Labels["app"] != "web" || len(p.Ports) != 1 || p.Ports[0].Port != 80 {
			t.Errorf("pod %d: %s on %s line %d %v %v; want %+v", i, p.Name, p.Node, p.Line, p.Labels, p.Ports, want)
		}
	}
}

// TestProblemCap: a file with thousands of mistakes gets a hundred of them
// and a count of the rest.
func TestProblemCap(t *testing.T) {
	var b strings.Builder
	b.WriteString("name: t\nnodes:\n")
	for i := 0; i < 500; i++ {
		fmt.Fprintf(&b, "  - {name: n%d, ipp: x}\n", i)
	}
	_, err := topology.Load("many.yaml", []byte(b.String()))
	ps, _ := err.(topology.Problems)
	if len(ps) != topology.MaxProblems+1 || ps[topology.MaxProblems].String() != "many.yaml: and 400 more problems (fix: fix the ones above first)" {
		t.Errorf("%d problems, last %v", len(ps), ps[len(ps)-1])
	}
}

// TestNodePortExhaustion: defaults never run past the NodePort range.
func TestNodePortExhaustion(t *testing.T) {
	var b strings.Builder
	b.WriteString("name: t\nnetwork: {services: 10.96.0.0/12}\nnodes: [{name: n1}]\nservices:\n")
	n := topology.NodePortMax - topology.NodePortMin + 2
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - {name: s%d, type: NodePort, ports: [{port: 80}]}\n", i)
	}
	_, err := topology.Load("np.yaml", []byte(b.String()))
	wantOnly(t, err, fmt.Sprintf("np.yaml:%d: services[%d].ports[0].nodePort: no free nodePort is left in 30000-32767 (fix: give some ports an explicit nodePort, or use fewer NodePort / LoadBalancer ports)", 4+n, n-1))
}

// TestClientDefaultAddresses: the default addresses end at .254.
func TestClientDefaultAddresses(t *testing.T) {
	var b strings.Builder
	b.WriteString("name: t\nnodes: [{name: n1}]\ncloud:\n  clients:\n")
	for i := 0; i < 246; i++ {
		fmt.Fprintf(&b, "    - {name: c%d}\n", i)
	}
	_, err := topology.Load("c.yaml", []byte(b.String()))
	wantOnly(t, err, "c.yaml:250: cloud.clients[245].ip: no default address is left (the defaults are 198.51.100.10 to 198.51.100.254) (fix: give the client an ip)")
}

// TestPodCIDRSizeNeverPanics: every size a YAML int can be ends in a
// topology or a message (33 to 78 used to shift by a negative count).
func TestPodCIDRSizeNeverPanics(t *testing.T) {
	for size := -70; size <= 100; size++ {
		y := fmt.Sprintf("name: t\nnetwork: {pods: 10.128.0.0/9, podCIDRSize: %d}\nnodes: [{name: n1}, {name: n2}]\npods: [{name: p, node: n2}]\n", size)
		topo, err := topology.Load("s.yaml", []byte(y))
		ok := size == 0 || size >= 10 && size <= topology.MaxPodCIDRSize // a /9 has no second /9
		if ok != (err == nil) {
			t.Errorf("podCIDRSize %d: %v", size, err)
		}
		if err == nil {
			want := size
			if size == 0 {
				want = topology.DefaultPodCIDRSize
			}
			if n := topo.Node("n2"); n.PodNet.Bits() != want || !n.PodNet.Contains(topo.Pod("p").Addr) {
				t.Errorf("podCIDRSize %d: n2 %s, pod %s", size, n.PodNet, topo.Pod("p").Addr)
			}
		}
	}
}

func TestParseKubeProxy(t *testing.T) {
	const modes = "(modes: iptables, ipvs, nftables, userspace)"
	for _, tc := range []struct{ in, want string }{
		{"", "--kube-proxy is empty; write MODE@VERSION such as iptables@1.28 " + modes},
		{"@", `--kube-proxy "@": no mode and no version; write MODE@VERSION such as iptables@1.28 ` + modes},
		{"@1.22", `--kube-proxy "@1.22": no mode before "@"; write MODE@1.22 such as iptables@1.22 ` + modes},
		{"iptables@", `--kube-proxy iptables@: no version after "@"; write iptables@1.28, or iptables alone for 1.28`},
		{"iptables@1.x", `--kube-proxy iptables@1.x: "1.x" is not a Kubernetes version; write 1.MINOR such as 1.28 or v1.28.15`},
		{"iptables@ 1.22", `--kube-proxy iptables@ 1.22: " 1.22" is not a Kubernetes version; write 1.MINOR such as 1.28 or v1.28.15`},
		{"iptables@1.99999999999999999999", `--kube-proxy iptables@1.99999999999999999999: "1.99999999999999999999" is not a Kubernetes version`},
		{"ebpf@1.28", `--kube-proxy ebpf@1.28: unknown mode "ebpf" ` + modes},
		{" ipvs", `--kube-proxy  ipvs: unknown mode " ipvs" ` + modes},
		{"ipvs@1.7", "--kube-proxy ipvs@1.7: kube-proxy 1.7 has no IPVS mode: it arrived as alpha in 1.8 (#46580)"},
	} {
		kp, err := topology.ParseKubeProxy(tc.in)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("ParseKubeProxy(%q) = %+v, %v\n  want %s", tc.in, kp, err, tc.want)
		}
	}
	for in, want := range map[string]topology.KubeProxy{
		"ipvs":             {Mode: "ipvs", Version: "1.28"},
		"iptables@1.22":    {Mode: "iptables", Version: "1.22"},
		"ipvs@v1.28.15":    {Mode: "ipvs", Version: "v1.28.15"},
		"userspace@1.25":   {Mode: "userspace", Version: "1.25"},
		"iptables@1.1":     {Mode: "iptables", Version: "1.1"},
		"iptables@v1.28.0": {Mode: "iptables", Version: "v1.28.0"},
	} {
		if kp, err := topology.ParseKubeProxy(in); err != nil || !reflect.DeepEqual(*kp, want) {
			t.Errorf("ParseKubeProxy(%q) = %+v, %v", in, kp, err)
		}
	}
}
