package e2e

import (
	"strings"
	"testing"

	"github.com/netlab/netlab/internal/testenv"
	"github.com/netlab/netlab/lab"
	"github.com/netlab/netlab/lab/cni"
	"github.com/netlab/netlab/topologies"
)

// TestServicesNFTables runs the smoke set under kube-proxy's nftables
// mode at each of its layouts: the 1.29 alpha (behind its gate), the 1.30
// rework, 1.33's post-DNAT filter chains, 1.36's direct DNAT with the
// hairpin set and 1.37's single-endpoint DNAT. This host has nftables, so
// the sweep runs natively; the guest runs the newest layout only, which
// is all its kernel adds nothing to.
func TestServicesNFTables(t *testing.T) {
	versions := []string{"1.29", "1.30", "1.33", "1.36", "1.37"}
	if testenv.InGuest() {
		versions = []string{"1.37"}
	}
	data, _ := topologies.Get("flannel-services")
	for _, v := range versions {
		t.Run(v, func(t *testing.T) {
			text, override := string(data), "nftables@"+v
			if v == "1.29" || v == "1.30" {
				// --kube-proxy replaces the whole mapping, gates too.
				override = ""
				// The alpha needs its gate, as kube-proxy did.
				text = strings.Replace(text, "\nkubeProxy: ", "\nkubeProxy: {mode: nftables, version: \""+v+"\", featureGates: {NFTablesProxyMode: true}}\n# was: ", 1)
				if text == string(data) {
					t.Fatal("flannel-services no longer has a kubeProxy line to replace")
				}
			}
			sc, err := lab.LoadScenario("builtin:flannel-services.yaml", []byte(text), override)
			if err != nil {
				t.Fatal(err)
			}
			runChecks(t, up(t, sc, "n"))
		})
	}
}

// TestACKFlannelNFTables runs the seed-000 scenarios under nftables 1.33,
// where a pod's connection to an eTP=Local LB IP without a local endpoint
// is short-circuited to the Service (A3 connected, as in iptables mode).
func TestACKFlannelNFTables(t *testing.T) {
	for _, sc := range []string{"flannel-cluster-mode", "flannel-local-mode"} {
		t.Run(sc, func(t *testing.T) {
			runChecks(t, upWith(t, sc, "nftables@1.33", "a"))
		})
	}
}

// TestSeed002NFTables runs C1-C13 under nftables before and after
// kubernetes#132456 (1.33): before it, a node's own connection to the SLB
// IP of an eTP=Local Service without a local endpoint is dropped by
// no-endpoint-services in filter-output, which ran ahead of the DNAT.
func TestSeed002NFTables(t *testing.T) {
	for _, sc := range []string{"seed002-clb", "seed002-local-flannel", "seed002-local-hostnetwork"} {
		for _, v := range []string{"1.31", "1.33"} {
			t.Run(sc+"/"+v, func(t *testing.T) {
				runChecks(t, upWith(t, sc, "nftables@"+v, "n"))
			})
		}
	}
}

// TestKubeProxyOptionsNFTables holds the nftables mode's documented
// differences from iptables where the kernel shows them: NodePorts only
// on the node's primary address by default (never cni0's, never
// 127.0.0.1), ClusterIPs rejecting ports no Service has, addresses of the
// service CIDR that no Service has dropped, and the options on top.
func TestKubeProxyOptionsNFTables(t *testing.T) {
	for _, tc := range []struct {
		name, kubeProxy, probes string
	}{
		{"defaults", `{mode: nftables, version: "1.33"}`, `
  - {name: pod to a remote ClusterIP keeps its IP, from: client, to: svc/far, expect: {server: web-2, clientIP: client}}
  - {name: "pod to an eTP=Local LB IP without a local endpoint is short-circuited", from: client, to: "svc/local:loadbalancer", expect: {server: web-2, clientIP: client}}
  - {name: "node to that LB IP: masqueraded and short-circuited (after #132456)", from: node-1, to: "svc/local:loadbalancer", expect: {server: web-2}}
  - {name: NodePort answers on the primary address, from: client, to: "svc/far:nodeport@node-2", expect: {server: web-2}}
  - {name: "NodePort does not answer on cni0 (primary only by default)", from: client, to: "10.244.1.1:30080", expect: {result: refused}}
  - {name: "NodePort does not answer on 127.0.0.1 (no localhost NodePorts)", from: node-1, to: "127.0.0.1:30080", expect: {result: refused}}
  - {name: "a ClusterIP refuses a port no Service has", from: client, to: "10.96.0.10:81", expect: {result: refused, decidedBy: Reject traffic to invalid ports of ClusterIPs}}
  - {name: "an address of the service CIDR that no Service has is dropped", from: client, to: "10.96.0.200:80", expect: {result: timeout, decidedBy: Drop traffic to unallocated ClusterIPs}}
`},
		{"at 1-31", `{mode: nftables, version: "1.31"}`, `
  - {name: "node to an eTP=Local LB IP without a local endpoint: dropped before the DNAT", from: node-1, to: "svc/local:loadbalancer", expect: {result: timeout, decidedBy: "drop in map no-endpoint-services"}}
  - {name: "no ServiceCIDR drop before MultiCIDRServiceAllocator is on (1.33): the node routes it, and has no route", from: client, to: "10.96.0.200:80", expect: {result: unreachable}}
`},
		{"all addresses", `{mode: nftables, version: "1.33", nodePortAddresses: [0.0.0.0/0]}`, `
  - {name: NodePort answers on cni0, from: client, to: "10.244.1.1:30080", expect: {server: web-2}}
  - {name: NodePort answers on flannel.1, from: client, to: "10.244.1.0:30080", expect: {server: web-2}}
  - {name: "but never on 127.0.0.1", from: node-1, to: "127.0.0.1:30080", expect: {result: refused}}
`},
		{"masqueradeAll", `{mode: nftables, version: "1.37", masqueradeAll: true}`, `
  - {name: "other node: masqueraded to flannel.1's address", from: client, to: svc/far, expect: {server: web-2, clientIP: 10.244.0.0}}
  - {name: "a pod reaching the pod directly is not masqueraded", from: client, to: pod/web-2, expect: {server: web-2, clientIP: client}}
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "knobs-nft-" + strings.ToLower(strings.ReplaceAll(tc.name, " ", "-"))
			runChecks(t, up(t, scenario(t, name+".yaml", []byte(knobsScenario(name, tc.kubeProxy, tc.probes))), "n"))
		})
	}
}

// TestNFTablesTableOnNode: in nftables mode a node holds kube-proxy's
// "ip kube-proxy" table and no kube-proxy iptables chain, while flannel's
// own rules stay in iptables (iptables-nft), as on a real node.
func TestNFTablesTableOnNode(t *testing.T) {
	l := upWith(t, "flannel-services", "nftables@1.33", "t")
	table := nsExec(t, l, "node-1", "nft", "list", "table", "ip", "kube-proxy")
	for _, want := range []string{"chain services", "map service-ips", "set cluster-ips", "chain reject-chain"} {
		if !strings.Contains(table, want) {
			t.Errorf("nft list table ip kube-proxy has no %q:\n%s", want, table)
		}
	}
	save := nsExec(t, l, "node-1", "iptables-save")
	if strings.Contains(save, "KUBE-SERVICES") || strings.Contains(save, "KUBE-SVC-") {
		t.Errorf("kube-proxy iptables chains on an nftables node:\n%s", save)
	}
	if !strings.Contains(save, "FLANNEL") {
		t.Errorf("flannel's iptables rules are gone:\n%s", save)
	}
}

// TestCatalogNFTables holds every built-in scenario's expectations under
// nftables 1.31 and 1.37 (each holds or has a "when: nftables" entry that
// says why not). Natively only: nftables needs nothing of the guest's
// kernel, and the smoke set runs there (TestServicesNFTables).
func TestCatalogNFTables(t *testing.T) {
	if testenv.InGuest() {
		t.Skip("runs natively only")
	}
	for _, sc := range topologies.Names() {
		for _, v := range []string{"1.31", "1.37"} {
			t.Run(sc+"/"+v, func(t *testing.T) {
				// What the CNI needs beyond nftables (Terway trunking's
				// VLANs) is the guest's.
				testenv.RequireFeatures(t, cni.Needs(builtin(t, sc).Topology.CNI)...)
				runChecks(t, upWith(t, sc, "nftables@"+v, "c"))
			})
		}
	}
}
