package topology_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	// The modes and plugins register themselves with topology.
	_ "github.com/netlab/netlab/lab/cni"
	_ "github.com/netlab/netlab/lab/kubeproxy"
	"github.com/netlab/netlab/lab/topology"
	"github.com/netlab/netlab/topologies"
)

// FuzzLoad: whatever the input, Load returns quickly, never panics, and
// either a topology that holds what validation promises or Problems that
// each name the file and say how to fix them. Seeds: every built-in
// scenario and the bad files in testdata/fuzz-seeds (crashers the fuzzer
// finds go to testdata/fuzz/FuzzLoad, where go test replays them).
//
//	make fuzz    # go test -run '^$' -fuzz '^FuzzLoad$' -fuzztime 20s ./lab/topology
func FuzzLoad(f *testing.F) {
	for _, name := range topologies.Names() {
		data, _ := topologies.Get(name)
		f.Add(data)
	}
	seeds, err := filepath.Glob("testdata/fuzz-seeds/*.yaml")
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seeds in testdata/fuzz-seeds: %v", err)
	}
	for _, path := range seeds {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		topo, err := topology.Load("fuzz.yaml", data)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Load took %v", d)
		}
		if err != nil {
			checkProblems(t, topo, err)
			return
		}
		checkTopology(t, topo)
	})
}

func checkProblems(t *testing.T, topo *topology.Topology, err error) {
	var ps topology.Problems
	if !errors.As(err, &ps) || len(ps) == 0 {
		t.Fatalf("error %T is not Problems: %v", err, err)
	}
	if topo != nil {
		t.Errorf("a topology and an error: %v", err)
	}
	for _, p := range ps {
		if p.File != "fuzz.yaml" || !strings.HasPrefix(p.String(), "fuzz.yaml") || p.Msg == "" || p.Fix == "" {
			t.Errorf("problem without file, message or fix: %+v", p)
		}
	}
}

// checkTopology checks what validation promises of a loaded scenario.
func checkTopology(t *testing.T, topo *topology.Topology) {
	n := topo.Network
	if len(topo.Nodes) == 0 || topology.ValidName(topo.Name) != nil {
		t.Fatalf("name %q, %d nodes", topo.Name, len(topo.Nodes))
	}
	size := n.PodCIDRSize
	if size < n.PodsPrefix.Bits() || size > topology.MaxPodCIDRSize {
		t.Errorf("podCIDRSize %d with pods %s", size, n.PodsPrefix)
	}
	for _, nd := range topo.Nodes {
		if !n.NodesPrefix.Contains(nd.Addr) || !nd.PodNet.IsValid() || !n.PodsPrefix.Contains(nd.PodNet.Addr()) || !nd.PodNet.Contains(nd.Gateway) {
			t.Errorf("node %s: %s, pod CIDR %s, gateway %s (networks %s, %s)", nd.Name, nd.Addr, nd.PodNet, nd.Gateway, n.NodesPrefix, n.PodsPrefix)
		}
	}
	for _, p := range topo.Pods {
		nd := topo.Node(p.Node)
		if nd == nil || !p.Addr.IsValid() || !p.HostNetwork && !nd.PodNet.Contains(p.Addr) {
			t.Errorf("pod %s on %q: %s", p.Name, p.Node, p.Addr)
		}
		checkPorts(t, "pod "+p.Name, p.PortNumbers())
	}
	for _, c := range topo.Cloud.Clients {
		checkPorts(t, "client "+c.Name, c.PortNumbers())
	}
	for _, s := range topo.Services {
		for _, p := range s.Ports {
			checkPorts(t, "service "+s.Name, []int{p.Port})
			if p.NodePort != 0 && (p.NodePort < topology.NodePortMin || p.NodePort > topology.NodePortMax) {
				t.Errorf("service %s: nodePort %d", s.Name, p.NodePort)
			}
		}
		if hc := s.HealthCheckNodePort; hc != 0 && (hc < topology.NodePortMin || hc > topology.NodePortMax) {
			t.Errorf("service %s: healthCheckNodePort %d", s.Name, hc)
		}
	}
	for _, l := range topo.Cloud.Listeners {
		checkPorts(t, "listener "+l.IP, []int{l.Port, l.BackendPort})
	}
	for _, pr := range topo.Probes {
		if _, err := topo.ResolveTarget(pr.To); err != nil {
			t.Errorf("probe %s: %v", pr.Name, err)
		}
		if _, err := topo.ResolveSource(pr.From); err != nil {
			t.Errorf("probe %s: %v", pr.Name, err)
		}
		if e := pr.Expect; e.Repeat < 1 || e.Servers < 0 || e.Servers > e.Repeat {
			t.Errorf("probe %s: repeat %d servers %d", pr.Name, e.Repeat, e.Servers)
		}
	}
}

func checkPorts(t *testing.T, owner string, ports []int) {
	for _, p := range ports {
		if p < 1 || p > 65535 {
			t.Errorf("%s: port %d", owner, p)
		}
	}
}

// FuzzParseKubeProxy: an override either parses to a known mode and a
// version that parses again to the same, or is refused naming the flag.
func FuzzParseKubeProxy(f *testing.F) {
	for _, s := range []string{"", "@", "iptables", "ipvs@1.22", "@1.22", "iptables@", "iptables@1.x", "iptables@ 1.22", "userspace@1.26", "nftables@v1.31.2", "ipvs@1.99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		kp, err := topology.ParseKubeProxy(s)
		if err != nil {
			if kp != nil || !strings.HasPrefix(err.Error(), "--kube-proxy") {
				t.Errorf("ParseKubeProxy(%q) = %v, %v", s, kp, err)
			}
			return
		}
		if _, ok := topology.KubeProxyMode(kp.Mode); !ok {
			t.Errorf("ParseKubeProxy(%q): mode %q", s, kp.Mode)
		}
		again, err := topology.ParseKubeProxy(kp.Mode + "@" + kp.Version)
		if err != nil || !reflect.DeepEqual(*again, *kp) {
			t.Errorf("ParseKubeProxy(%q) = %+v, but %s@%s gives %+v, %v", s, kp, kp.Mode, kp.Version, again, err)
		}
	})
}

// BenchmarkLoad5000Pods loads a 5,000-pod scenario (100 nodes x 50 pods).
func BenchmarkLoad5000Pods(b *testing.B) {
	data := topologies.Synthetic("bench", 100, 50)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := topology.Load("bench.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}
