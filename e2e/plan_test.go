package e2e

import (
	"bytes"
	"context"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/netlab/netlab/internal/testenv"
	"github.com/netlab/netlab/internal/textdiff"
	"github.com/netlab/netlab/lab"
	"github.com/netlab/netlab/lab/compile"
	"github.com/netlab/netlab/lab/kernel"
	"github.com/netlab/netlab/lab/netns"
	"github.com/netlab/netlab/lab/plan"
	"github.com/netlab/netlab/topologies"
)

// TestPlanScriptMatchesApply holds netlab to "what is printed is what is
// applied": the plan's text, run as a shell script, must build the same
// kernel state (links, addresses, routes, neighbours, FDB, iptables,
// nftables) as netlab's own netlink applier; kube-proxy's nftables mode
// (its table loaded with nft -f) included.
func TestPlanScriptMatchesApply(t *testing.T) {
	for _, tc := range []struct {
		scenario, kubeProxy string
		needs               []kernel.Feature // where set, runs in the guest only
	}{
		{"flannel-vxlan", "", nil}, {"flannel-vpc-route", "", nil}, {"flannel-services", "nftables@1.37", nil},
		// VLAN sub-interfaces, clsact and tc vlan filters, IPVS.
		{"terway-trunking", "", []kernel.Feature{kernel.VLAN, kernel.ActVlan, kernel.IPVS, kernel.Dummy, kernel.Ipset}},
	} {
		scenario := tc.scenario
		t.Run(scenario+tc.kubeProxy, func(t *testing.T) {
			testenv.RequireRoot(t)
			testenv.RequireFeatures(t, tc.needs...)
			if testenv.InGuest() && tc.needs == nil {
				// Text against netlink on the same kinds of objects: the
				// guest's kernel adds nothing to it, and under TCG it is
				// its slowest test. It runs natively.
				t.Skip("runs natively only")
			}
			data, _ := topologies.Get(scenario)
			sc, err := lab.LoadScenario("builtin:"+scenario+".yaml", data, tc.kubeProxy)
			if err != nil {
				t.Fatal(err)
			}
			applied := up(t, sc, "ap")
			script := testenv.Prefix(t) + "-sh"
			p, err := compile.CompileWith(sc.Topology, script, compile.Options{KernelVersion: kernel.Release()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				for _, ns := range p.Names() {
					_ = netns.Delete(ns)
				}
			})
			var text bytes.Buffer
			if err := p.Render(&text); err != nil {
				t.Fatal(err)
			}
			cmd := exec.CommandContext(context.Background(), "bash", "-e")
			cmd.Stdin = &text
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("the plan script failed: %v\n%s", err, out)
			}
			ap := appliedPlan(t, applied)
			for _, ns := range ap.Namespaces {
				want := snapshot(t, ns.Name, ap.Lab, ns.Role)
				got := snapshot(t, plan.NSName(script, ns.Owner), script, ns.Role)
				if got != want {
					t.Errorf("%s: the script built something else than apply:\n%s", ns.Owner, textdiff.Unified(want, got, "apply", "script"))
				}
			}
		})
	}
}

var (
	ifRef    = regexp.MustCompile(`@if\d+`)
	counters = regexp.MustCompile(`\[\d+:\d+\]|\w+_timer +[\d.]+`)
)

// snapshot is a namespace's kernel state as text, with the lab name and
// interface indexes (which differ between two labs) taken out.
func snapshot(t *testing.T, ns, labName, role string) string {
	cmds := [][]string{
		{"ip", "-br", "link"}, {"ip", "-br", "addr"}, {"ip", "route"},
		{"ip", "neigh", "show", "nud", "permanent"}, {"ip", "rule"}, {"iptables-save"},
	}
	if role == plan.RoleNode {
		cmds = append(cmds, []string{"bridge", "fdb", "show", "dev", "flannel.1"},
			[]string{"ip", "-d", "link", "show", "cni0"}, []string{"nft", "list", "table", "ip", "kube-proxy"},
			[]string{"tc", "filter", "show", "dev", "eth1", "egress"}, []string{"tc", "filter", "show", "dev", "eth1", "ingress"})
	}
	var b strings.Builder
	for _, c := range cmds {
		var out []byte
		_ = netns.Do(ns, func() error {
			var err error
			out, err = exec.Command(c[0], c[1:]...).CombinedOutput()
			if err != nil && c[0] == "nft" {
				out = nil // no kube-proxy table: not the nftables mode
			}
			return nil
		})
		s := strings.ReplaceAll(string(out), labName+"-", "LAB-")
		s = regexp.MustCompile(`(?m)^\d+: `).ReplaceAllString(s, "")
		s = ifRef.ReplaceAllString(s, "@if")
		s = counters.ReplaceAllString(s, "")
		var keep []string
		for _, line := range strings.Split(s, "\n") {
			if strings.HasPrefix(line, "#") || strings.Contains(line, "does not exist") || strings.Contains(line, "Cannot find device") {
				continue
			}
			keep = append(keep, line)
		}
		// Parallel creation orders links differently; the set is what
		// counts. Rule order is meaningful, so iptables-save and nft stay
		// as they are.
		if c[0] != "iptables-save" && c[0] != "nft" && c[0] != "tc" && !(c[0] == "ip" && c[1] == "rule") {
			sort.Strings(keep)
		}
		b.WriteString("$ " + strings.Join(c, " ") + "\n" + strings.Join(keep, "\n") + "\n")
	}
	return b.String()
}
