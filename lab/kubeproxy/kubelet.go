package kubeproxy

import "fmt"

// The kubelet, not kube-proxy, owns nat KUBE-MARK-DROP and filter
// KUBE-FIREWALL (pkg/kubelet/kubelet_network_linux.go, syncNetworkUtil in
// v1.22.17/v1.24.17). kube-proxy 1.5-1.24 marks packets for dropping by
// jumping to KUBE-MARK-DROP, and only the kubelet's KUBE-FIREWALL turns the
// mark into a DROP; before 1.20 kube-proxy did not even create the chain, so
// its iptables-restore fails on a node without a kubelet ("Chain
// 'KUBE-MARK-DROP' does not exist", issues #80462 and #92275). A netlab node
// has no kubelet, so IPTables sets up what the kubelet of the same version
// has created by the time kube-proxy starts (the kubelet runs first: it
// starts the kube-proxy pod).
//
// Modelled for 1.5 (ESIPP, the first kube-proxy use of KUBE-MARK-DROP) to
// 1.26. From 1.27 kube-proxy writes the KUBE-FIREWALL localnet rule and its
// jumps itself (#114470) and no longer needs any kubelet chain
// (KEP-3178), so the kube-proxy-only state is what matters. The kubelet's
// KUBE-MARK-MASQ/KUBE-POSTROUTING copies are not modelled: kube-proxy's
// first restore replaces their content with identical rules. Its canary
// (KUBE-KUBELET-CANARY) and KUBE-IPTABLES-HINT chains carry no rules.
func kubeletChains(v Version, st *iptState) {
	if !v.hasESIPP() || v.ownsKubeFirewall() {
		return
	}
	// --iptables-drop-bit defaults to 15; the kubelet formats it "%#08x".
	drop := fmt.Sprintf("%#08x", 1<<15)
	st.ensureChain("nat", chainMarkDrop)
	if v.hasXorMark() { // the kubelet's rules changed with #92035 too
		st.ensureRule(false, "nat", chainMarkDrop, "-j", "MARK", "--or-mark", drop)
	} else {
		st.ensureRule(false, "nat", chainMarkDrop, "-j", "MARK", "--set-xmark", drop+"/"+drop)
	}
	st.ensureChain("filter", chainFirewall)
	st.ensureRule(false, "filter", chainFirewall, "-m", "comment", "--comment", "kubernetes firewall for dropping marked packets",
		"-m", "mark", "--mark", drop+"/"+drop, "-j", "DROP")
	if v.kubeletBlocksLocalnet() {
		st.ensureRule(false, "filter", chainFirewall, "-m", "comment", "--comment", "block incoming localnet connections",
			"--dst", "127.0.0.0/8", "!", "--src", "127.0.0.0/8",
			"-m", "conntrack", "!", "--ctstate", "RELATED,ESTABLISHED,DNAT", "-j", "DROP")
	}
	st.ensureRule(true, "filter", "OUTPUT", "-j", chainFirewall)
	st.ensureRule(true, "filter", "INPUT", "-j", chainFirewall)
}

// kubeletBlocksLocalnet: the kubelet's KUBE-FIREWALL drops non-local
// traffic to 127.0.0.0/8, the route_localnet mitigation for
// CVE-2020-8558 / issue #90259 (#91569; backported to 1.16.11, 1.17.7 and
// 1.18.4, so present in the latest patch of 1.16 on).
func (v Version) kubeletBlocksLocalnet() bool { return v.atLeast(16) }
