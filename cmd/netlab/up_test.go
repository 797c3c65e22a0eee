package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/netlab/netlab/internal/testenv"
	"github.com/netlab/netlab/lab"
	"github.com/netlab/netlab/lab/kernel"
	"github.com/netlab/netlab/lab/state"
)

const (
	ipvs135Warning = "warning: kube-proxy 1.35 (ipvs): The ipvs proxier is now deprecated and may be removed in a future release. Please use 'nftables' instead.\n"
	ipvs137Warning = "warning: kube-proxy 1.37 (ipvs): The ipvs proxier has been deprecated and will be disabled by default in Kubernetes 1.40 and removed in Kubernetes 1.43. Migrate to the 'nftables' proxier instead.\n"
)

// TestUpPrintsKubeProxyWarning: up (and test, when it brings a scenario
// up) prints on stderr what the scenario's kube-proxy logs when it starts,
// before building anything: the IPVS deprecation from 1.35, nothing for
// 1.34 or the iptables mode. Whatever up does next (on a host without
// IPVS its preflight refuses the scenario; without root it stops there),
// the lab is taken down.
func TestUpPrintsKubeProxyWarning(t *testing.T) {
	name := testenv.Prefix(t) + "-kpw"
	t.Cleanup(func() { cli(t, "down", name, "--force", "--ignore-not-found") })
	for _, c := range []struct {
		cmd, kubeProxy, want string
	}{
		{"up", "ipvs@1.35", ipvs135Warning},
		{"up", "ipvs@v1.37.2", ipvs137Warning},
		{"up", "ipvs@1.34", ""},
		{"up", "iptables@1.37", ""},
		{"test", "ipvs@1.36", strings.Replace(ipvs135Warning, "1.35", "1.36", 1)},
		{"test", "ipvs@1.34", ""},
	} {
		if c.cmd == "test" && os.Geteuid() != 0 {
			continue // test asks for root before it loads the scenario
		}
		_, _, stderr := cli(t, c.cmd, "flannel-services", "--kube-proxy", c.kubeProxy, "--name", name)
		cli(t, "down", name, "--force", "--ignore-not-found")
		got := ""
		for _, l := range strings.SplitAfter(stderr, "\n") {
			if strings.HasPrefix(l, "warning: kube-proxy ") {
				got += l
			}
		}
		if got != c.want {
			t.Errorf("%s --kube-proxy %s: warning %q, want %q (stderr:\n%s)", c.cmd, c.kubeProxy, got, c.want, stderr)
		}
	}
}

// TestKubeProxyWarningInJSON: status and up -o json carry the warning as
// kubeProxy.warning, and leave the key out when there is none.
func TestKubeProxyWarningInJSON(t *testing.T) {
	for _, c := range []struct{ kubeProxy, want string }{
		{"ipvs@1.35", strings.TrimSuffix(strings.TrimPrefix(ipvs135Warning, "warning: kube-proxy 1.35 (ipvs): "), "\n")},
		{"ipvs@1.34", ""},
		{"iptables@1.37", ""},
	} {
		sc, err := loadScenario("flannel-services", c.kubeProxy)
		if err != nil {
			t.Fatal(err)
		}
		l := &lab.Lab{Topology: sc.Topology, State: &state.State{Lab: "x", Scenario: sc.Topology.Name}}
		b, err := json.Marshal(describe(l))
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			KubeProxy map[string]any `json:"kubeProxy"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		got, present := v.KubeProxy["warning"]
		switch {
		case c.want == "" && present:
			t.Errorf("%s: kubeProxy.warning %q, want none", c.kubeProxy, got)
		case c.want != "" && got != c.want:
			t.Errorf("%s: kubeProxy.warning %q, want %q", c.kubeProxy, got, c.want)
		}
	}
}

// TestUpRefusesTrunkingWithoutVLAN: on a kernel without 802.1Q or the tc
// vlan action (this host), up terway-trunking names both, does not offer
// the iptables mode (trunking itself needs them), and creates nothing.
func TestUpRefusesTrunkingWithoutVLAN(t *testing.T) {
	testenv.RequireRoot(t)
	if len(kernel.Missing(kernel.VLAN, kernel.ActVlan)) == 0 {
		t.Skip("this kernel has 802.1Q and act_vlan: the refusal is for kernels without them")
	}
	name := testenv.Prefix(t) + "-trk"
	t.Cleanup(func() { cli(t, "down", name, "--force", "--ignore-not-found") })
	code, _, stderr := cli(t, "up", "terway-trunking", "--name", name)
	if code == 0 || !strings.Contains(stderr, "cannot run scenario terway-trunking") || !strings.Contains(stderr, "  - vlan: ") || !strings.Contains(stderr, "  - act_vlan: ") {
		t.Errorf("up terway-trunking: exit %d, stderr:\n%s", code, stderr)
	}
	if strings.Contains(stderr, "--kube-proxy iptables") {
		t.Errorf("offers the iptables mode, which needs 802.1Q too:\n%s", stderr)
	}
	if left := labNamespaces(name); len(left) > 0 {
		t.Errorf("up left namespaces: %v", left)
	}
}

// TestRulesShowPolicyRules: on a Terway ENIIP node, rules lists the
// node's policy rules (the pod's 512 and 2048) before iptables-save, and
// -o json carries them as a view; a flannel node, which has none, gets
// no such view.
func TestRulesShowPolicyRules(t *testing.T) {
	name := upCLI(t, "terway-eniip", "-rr")
	_, out, _ := cli(t, "rules", name, "node-1")
	if !strings.HasPrefix(out, "# ip rule show\n") || !strings.Contains(out, "2048:\tfrom 192.168.16.2 lookup 1003") || !strings.Contains(out, "\n# iptables-save\n") {
		t.Errorf("rules node-1:\n%s", out)
	}
	_, js, _ := cli(t, "rules", name, "node-1", "-o", "json")
	var v rulesView
	if err := json.Unmarshal([]byte(js), &v); err != nil || len(v.Views) != 1 || v.Views[0].Name != "policy rules" {
		t.Errorf("rules -o json: views %+v (%v)", v.Views, err)
	}
	flannel := upCLI(t, "flannel-vxlan", "-rf")
	if _, out, _ := cli(t, "rules", flannel, "node-1"); strings.Contains(out, "ip rule") {
		t.Errorf("a flannel node lists policy rules:\n%s", out)
	}
}
