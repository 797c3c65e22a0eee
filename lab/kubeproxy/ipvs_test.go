package kubeproxy

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// ipvsGoldenVersions are the minors where an IPVS behaviour switch (or a
// shared one of versions.go that IPVS uses) flips; every other minor must
// render exactly like the golden version before it
// (TestIPVSEveryMinorIsCovered). 1.31 is there for the oracle.
var ipvsGoldenVersions = []string{
	"1.8", "1.9", "1.10", "1.11", "1.13", "1.14", "1.16", "1.18", "1.19", "1.21",
	"1.22", "1.24", "1.25", "1.26", "1.27", "1.28", "1.29", "1.31",
	"1.34", "1.36", "1.37",
}

func renderIPVSCase(t testing.TB, name, version string) *IPVSResult {
	res, err := IPVS(mustVersion(t, version), loadCase(t, name))
	if err != nil {
		t.Fatalf("%s %s: %v", name, version, err)
	}
	return res
}

// ---- comparison with the oracle -------------------------------------------

// oracleSections splits an oracle IPVS dump into its four sections.
func oracleSections(t testing.TB, text string) map[string]string {
	out := map[string]string{}
	cur := ""
	for _, l := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(l, "### ipvs"):
			cur = "ipvs"
		case strings.HasPrefix(l, "### ipset"):
			cur = "ipset"
		case strings.HasPrefix(l, "### kube-ipvs0"):
			cur = "addresses"
		case strings.HasPrefix(l, "### iptables"):
			cur = "iptables"
		case strings.HasPrefix(l, "#") || cur == "":
		default:
			out[cur] += l + "\n"
		}
	}
	for _, s := range []string{"ipvs", "ipset", "addresses", "iptables"} {
		if _, ok := out[s]; !ok && s == "iptables" {
			t.Fatalf("oracle dump has no %s section", s)
		}
	}
	return out
}

// ipsetSave is the oracle's "ipset save style": every create line (name
// and type only), then every add line, by set name and entry.
func ipsetSave(r *IPVSResult) string {
	var b strings.Builder
	sets := append([]IPSet(nil), r.IPSets...)
	sort.Slice(sets, func(i, j int) bool { return sets[i].Name < sets[j].Name })
	for _, s := range sets {
		fmt.Fprintf(&b, "create %s %s\n", s.Name, s.Type)
	}
	for _, s := range sets {
		for _, e := range s.Entries {
			fmt.Fprintf(&b, "add %s %s\n", s.Name, e)
		}
	}
	return b.String()
}

// normalizeIPVSSave: the oracle prints extra virtual-server flags as
// "--flags 0xN" (its own notation); Save() prints ipvsadm's "-b NAME".
// 0x10 is the only extra flag kube-proxy sets (mh-port, for the mh
// scheduler).
func normalizeIPVSSave(s string) string {
	return strings.ReplaceAll(s, " --flags 0x10", " -b mh-port")
}

// ipvsWithoutKubelet removes, table-aware, the kubelet-owned rules that
// IPVSWithOptions adds for 1.9-1.24 (filter KUBE-FIREWALL with its INPUT
// and OUTPUT jumps, the nat KUBE-MARK-DROP rule): the oracle runs kube-proxy
// alone. nat KUBE-FIREWALL is kube-proxy's own chain there and stays, as
// does the KUBE-MARK-DROP declaration (kube-proxy ensures the chain).
func ipvsWithoutKubelet(text string) string {
	var out []string
	table := ""
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "*") {
			table = l[1:]
		}
		switch {
		case table == "filter" && (strings.HasPrefix(l, ":"+chainFirewall+" ") ||
			strings.HasPrefix(l, "-A "+chainFirewall+" ") ||
			l == "-A INPUT -j "+chainFirewall || l == "-A OUTPUT -j "+chainFirewall):
			continue
		case table == "nat" && strings.HasPrefix(l, "-A "+chainMarkDrop+" "):
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// withoutRefusedIPSetEntries drops from the oracle's ipset section the
// entries the kernel refuses: a hash:ip,port,net entry with a /0 net
// ("The value of the CIDR parameter of the IP address is invalid"), which
// kube-proxy before 1.34 tries to add for a 0.0.0.0/0
// loadBalancerSourceRange (#132719). The fake ipset accepts it; on a real
// node the add fails, kube-proxy logs it and goes on, and netlab renders
// the node without it (ipvs.go, loadBalancerIPs).
func withoutRefusedIPSetEntries(section string) string {
	var out []string
	for _, l := range strings.SplitAfter(section, "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "add" && strings.HasSuffix(f[2], "/0") {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "")
}

// TestIPVSOracle renders every case for every oracle version and compares
// the four sections with what the real kube-proxy wrote
// (testdata/ipvs/oracle, from testdata/ipvs/update-oracle.sh).
// Normalisations, all of them:
//   - ipvs: normalizeIPVSSave (flag notation).
//   - ipset: withoutRefusedIPSetEntries on the oracle's side (ipsetSave
//     prints netlab's sets in the oracle's format, which leaves out the
//     create options that IPSetRestore adds).
//   - kube-ipvs0 addresses: none.
//   - iptables: ipvsWithoutKubelet on netlab's side, then
//     withoutRandomFully and normalize() of iptables_test.go on both sides
//     (--random-fully before 1.37, quotes, chain policies, canonical
//     chain/rule order; see there).
func TestIPVSOracle(t *testing.T) {
	passed, total := map[string]int{}, map[string]int{}
	var mu sync.Mutex
	for _, name := range caseNames(t) {
		for _, ver := range caseVersions(t, name, oracleVersions) {
			total[ver]++
			t.Run(name+"-"+ver, func(t *testing.T) {
				raw, err := os.ReadFile(filepath.Join("testdata/ipvs/oracle", name+"-"+ver+".txt"))
				if err != nil {
					t.Fatalf("missing oracle output (run testdata/ipvs/update-oracle.sh): %v", err)
				}
				want := oracleSections(t, string(raw))
				res := renderIPVSCase(t, name, ver)
				got := map[string]string{
					"ipvs":      res.Save(),
					"ipset":     ipsetSave(res),
					"addresses": strings.Join(res.Addresses, "\n"),
				}
				if got["addresses"] != "" {
					got["addresses"] += "\n"
				}
				v := mustVersion(t, ver)
				got["iptables"] = normalize(withoutRandomFully(v, ipvsWithoutKubelet(res.Rules.Restore())))
				want["ipvs"] = normalizeIPVSSave(want["ipvs"])
				want["ipset"] = withoutRefusedIPSetEntries(want["ipset"])
				want["iptables"] = normalize(withoutRandomFully(v, want["iptables"]))
				ok := true
				for _, s := range []string{"ipvs", "ipset", "addresses", "iptables"} {
					if got[s] != want[s] {
						ok = false
						t.Errorf("%s section differs from the oracle (normalised; - oracle, + netlab):\n%s", s, lineDiff(want[s], got[s]))
					}
				}
				if ok {
					mu.Lock()
					passed[ver]++
					mu.Unlock()
				}
			})
		}
	}
	for _, ver := range oracleVersions {
		t.Logf("kube-proxy %s IPVS: %d of %d oracle comparisons match exactly (all four sections) after normalisation", ver, passed[ver], total[ver])
	}
}

// ---- goldens for every modelled version -----------------------------------

func ipvsGoldenPath(name, ver string) string {
	return filepath.Join("testdata/ipvs/golden", name+"-"+ver+".txt")
}

// ipvsGoldenText is what a golden file holds: the four artefacts and the
// sysctls, each under a "###" header.
func ipvsGoldenText(r *IPVSResult) string {
	var b strings.Builder
	b.WriteString("### ipvsadm -S -n\n")
	b.WriteString(r.Save())
	b.WriteString("### ipset restore\n")
	b.WriteString(r.IPSetRestore())
	b.WriteString("### kube-ipvs0 addresses\n")
	for _, a := range r.Addresses {
		b.WriteString(a + "/32\n")
	}
	b.WriteString("### iptables-restore\n")
	b.WriteString(r.Rules.Restore())
	b.WriteString("### sysctls\n")
	for _, s := range r.Sysctls {
		fmt.Fprintf(&b, "%s=%s\n", s.Key, s.Value)
	}
	for _, c := range r.NFAcctCounters {
		fmt.Fprintf(&b, "### nfacct %s\n", c)
	}
	return b.String()
}

// TestIPVSGolden compares every case at every golden version with
// testdata/ipvs/golden (go test -run TestIPVSGolden -update rewrites them)
// and loads the ipsets and iptables rules in a scratch netns.
func TestIPVSGolden(t *testing.T) {
	load := ipvsLoadTester(t)
	forEachGolden(t, "testdata/ipvs/golden", ipvsGoldenVersions, func(t *testing.T, name, ver string) {
		res := renderIPVSCase(t, name, ver)
		checkGolden(t, ipvsGoldenPath(name, ver), ipvsGoldenText(res))
		load(t, res)
	})
}

// ipvsLoadTester returns a check that runs, in a scratch network namespace
// (unshare --net; the host is never touched), "ipset restore" with
// IPSetRestore() and then "iptables-restore --test" and "iptables-restore"
// with the rules. The IPVS services themselves cannot be loaded here: the
// host kernel has no ip_vs (docs/testing.md); nor can the "-m ipvs" match of
// KUBE-IPVS-OUT-FILTER (xt_ipvs) when the kernel lacks it, which is
// probed once: those rules are then left out of the load, and logged.
func ipvsLoadTester(t *testing.T) func(*testing.T, *IPVSResult) {
	reason := scratchNetnsUnavailable("iptables-restore", "ipset")
	if reason != "" {
		t.Logf("ipset/iptables-restore load checks skipped: %s", reason)
	}
	noXTIPVS := ""
	if reason == "" {
		probe := "*filter\n:X - [0:0]\n-A X -s 10.0.0.1 -m ipvs --vaddr 10.0.0.1 --vproto tcp --vport 80 -j DROP\nCOMMIT\n"
		if err := loadInScratchNetns(t, "", probe); err != nil {
			noXTIPVS = "this kernel has no xt_ipvs (-m ipvs) match"
			t.Logf("rulesets using -m ipvs are not loaded: %s", noXTIPVS)
		}
	}
	return func(t *testing.T, r *IPVSResult) {
		if reason != "" {
			t.Skip("load check: " + reason)
		}
		rules := r.Rules.Restore()
		if noXTIPVS != "" && strings.Contains(rules, " -m ipvs ") {
			// Load everything else; say what was left out.
			var kept []string
			for _, l := range strings.Split(rules, "\n") {
				if strings.Contains(l, " -m ipvs ") {
					t.Logf("not loaded (%s): %s", noXTIPVS, l)
					continue
				}
				kept = append(kept, l)
			}
			rules = strings.Join(kept, "\n")
		}
		if err := loadInScratchNetns(t, r.IPSetRestore(), rules); err != nil {
			t.Error(err)
		}
	}
}

func loadInScratchNetns(t *testing.T, ipsets, rules string) error {
	t.Helper()
	return restoreInScratchNetns(ipsets, rules, nil)
}

// TestIPVSLoadCheckCatchesErrors: the load check fails on a rule matching a
// set that was not created, and on a bad ipset type.
func TestIPVSLoadCheckCatchesErrors(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root: cannot create a scratch network namespace")
	}
	rules := "*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT\nCOMMIT\n"
	if err := loadInScratchNetns(t, "", rules); err == nil {
		t.Error("a rule using a missing ipset was accepted")
	}
	if err := loadInScratchNetns(t, "create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536\n", rules); err != nil {
		t.Errorf("with the set created: %v", err)
	}
	if err := loadInScratchNetns(t, "create X hash:nonsense\n", ""); err == nil {
		t.Error("a bad ipset type was accepted")
	}
}

// TestIPVSEveryMinorIsCovered: a minor without a golden renders exactly
// like the golden version before it.
func TestIPVSEveryMinorIsCovered(t *testing.T) {
	checkEveryMinorCovered(t, ipvsGoldenVersions, ipvsMinVersion, func(name, ver string) string {
		return ipvsGoldenText(renderIPVSCase(t, name, ver))
	})
}

// ---- behaviour checks ----------------------------------------------------

func TestIPVSRefusesOldVersions(t *testing.T) {
	_, err := IPVS(Version{1, 7}, Node{})
	if err == nil || !strings.Contains(err.Error(), "no IPVS mode") {
		t.Fatalf("1.7: got %v, want a 'no IPVS mode' error", err)
	}
	if _, err := IPVS(Version{1, 38}, Node{}); err == nil {
		t.Fatal("1.38 accepted")
	}
	if _, err := IPVS(Version{1, 37}, Node{}); err != nil {
		t.Fatalf("1.37: %v", err)
	}
}

// TestIPVSModeGate: from 1.37 (#139397) config validation refuses
// --proxy-mode=ipvs when the KubeProxyIPVS gate is off; the gate does not
// exist before.
func TestIPVSModeGate(t *testing.T) {
	off := Node{FeatureGates: map[string]bool{"KubeProxyIPVS": false}}
	_, err := IPVS(mustVersion(t, "1.37"), off)
	if err == nil || !strings.Contains(err.Error(), "refuses --proxy-mode=ipvs with the KubeProxyIPVS feature gate off") {
		t.Errorf("1.37 with KubeProxyIPVS=false: %v", err)
	}
	if _, err := Render("ipvs", mustVersion(t, "1.37"), off, Options{}); err == nil {
		t.Error("Render: 1.37 with KubeProxyIPVS=false accepted")
	}
	if _, err := IPVS(mustVersion(t, "1.37"), Node{FeatureGates: map[string]bool{"KubeProxyIPVS": true}}); err != nil {
		t.Errorf("1.37 with KubeProxyIPVS=true: %v", err)
	}
	if _, err := IPVS(mustVersion(t, "1.36"), off); err == nil || !strings.Contains(err.Error(), "not known") {
		t.Errorf("1.36 with KubeProxyIPVS: %v", err)
	}
	// The iptables mode takes the gate either way.
	if _, err := IPTables(mustVersion(t, "1.37"), off); err != nil {
		t.Errorf("iptables 1.37 with KubeProxyIPVS=false: %v", err)
	}
}

// TestIPVSWarning: what kube-proxy logs at start in IPVS mode, verbatim
// from cmd/kube-proxy/app/server_linux.go: nothing before 1.35, the
// deprecation of #134539 in 1.35 and 1.36, the removal plan of #139397
// from 1.37, nothing when the gate keeps IPVS from starting; never
// anything in iptables mode.
func TestIPVSWarning(t *testing.T) {
	const dep135 = "The ipvs proxier is now deprecated and may be removed in a future release. Please use 'nftables' instead."
	const dep137 = "The ipvs proxier has been deprecated and will be disabled by default in Kubernetes 1.40 and removed in Kubernetes 1.43. Migrate to the 'nftables' proxier instead."
	for _, c := range []struct {
		mode, ver string
		gates     map[string]bool
		want      string
	}{
		{"ipvs", "1.8", nil, ""},
		{"ipvs", "1.34", nil, ""},
		{"ipvs", "1.35", nil, dep135},
		{"ipvs", "v1.36.3", nil, dep135},
		{"ipvs", "1.37", nil, dep137},
		{"ipvs", "1.37", map[string]bool{"KubeProxyIPVS": true}, dep137},
		{"ipvs", "1.37", map[string]bool{"KubeProxyIPVS": false}, ""},
		{"ipvs", "1.38", nil, ""},
		{"ipvs", "1.7", nil, ""},
		{"iptables", "1.35", nil, ""},
		{"iptables", "1.37", nil, ""},
		{"nosuchmode", "1.35", nil, ""},
	} {
		if got := StartWarning(c.mode, c.ver, c.gates); got != c.want {
			t.Errorf("%s %s %v: %q, want %q", c.mode, c.ver, c.gates, got, c.want)
		}
	}
}

// TestIPVSZeroSourceRange: before 1.34 the /0 source of a
// loadBalancerSourceRange is not in KUBE-LOAD-BALANCER-SOURCE-CIDR (the
// kernel refuses it, #132719) while the FW entry stays; from 1.34
// (#132722) the service has no source-range entries at all.
func TestIPVSZeroSourceRange(t *testing.T) {
	entries := func(ver, set string) []string {
		for _, s := range renderIPVSCase(t, "zero-cidrs", ver).IPSets {
			if s.Name == set {
				return s.Entries
			}
		}
		return nil
	}
	has := func(list []string, e string) bool {
		for _, x := range list {
			if x == e {
				return true
			}
		}
		return false
	}
	for ver, fw := range map[string]bool{"1.31": true, "1.33": true, "1.34": false, "1.37": false} {
		if got := has(entries(ver, setLoadBalancerFW), "203.0.113.30,tcp:80"); got != fw {
			t.Errorf("%s: lb-any in %s: %v, want %v", ver, setLoadBalancerFW, got, fw)
		}
		for _, e := range entries(ver, setLoadBalancerSrcCIDR) {
			if strings.HasSuffix(e, "/0") {
				t.Errorf("%s: %s has %s, which the kernel refuses", ver, setLoadBalancerSrcCIDR, e)
			}
		}
		if got := has(entries(ver, setLoadBalancerSrcCIDR), "203.0.113.31,tcp:80,198.51.100.0/24"); got != fw {
			t.Errorf("%s: lb-mixed's 198.51.100.0/24 source: %v, want %v", ver, got, fw)
		}
	}
}

// TestIPVSPR97081 is the basic.json check of the oracle's check.sh: the
// NodePort of demo/web-remote-only (eTP=Local, endpoints only on other
// nodes) has no real server up to 1.23 and both remote ones from 1.24.
func TestIPVSPR97081(t *testing.T) {
	for _, tc := range []struct {
		ver   string
		reals int
	}{{"1.22", 0}, {"1.23", 0}, {"1.24", 2}, {"1.28", 2}, {"1.31", 2}, {"1.33", 2}, {"1.35", 2}, {"1.37", 2}} {
		res := renderIPVSCase(t, "basic", tc.ver)
		found := false
		for _, vs := range res.VirtualServers {
			if vs.Addr == "192.168.0.2" && vs.Port == 30081 {
				found = true
				if len(vs.Reals) != tc.reals {
					t.Errorf("%s: 192.168.0.2:30081 has %d real servers, want %d", tc.ver, len(vs.Reals), tc.reals)
				}
			}
		}
		if !found {
			t.Errorf("%s: no virtual server 192.168.0.2:30081", tc.ver)
		}
	}
}

// TestIPVSExternalIPLocalFilter: KUBE-IPVS-FILTER has no
// KUBE-EXTERNAL-IP-LOCAL RETURN in 1.26/1.27 (#121909), has it from 1.28
// (#121928), and the chain does not exist before 1.26 (#108460).
func TestIPVSExternalIPLocalFilter(t *testing.T) {
	for ver, want := range map[string]string{"1.25": "none", "1.26": "reject", "1.27": "reject", "1.28": "return", "1.31": "return", "1.37": "return"} {
		rules := renderIPVSCase(t, "basic", ver).Rules.Restore()
		got := "none"
		if strings.Contains(rules, "-A KUBE-IPVS-FILTER ") {
			got = "reject"
			if strings.Contains(rules, "-A KUBE-IPVS-FILTER -m set --match-set KUBE-EXTERNAL-IP-LOCAL dst,dst -j RETURN") {
				got = "return"
			}
		}
		if got != want {
			t.Errorf("%s: KUBE-IPVS-FILTER %s, want %s", ver, got, want)
		}
	}
}

func TestIPVSSysctls(t *testing.T) {
	get := func(ver, kernel string, strict bool) map[string]string {
		res, err := IPVSWithOptions(mustVersion(t, ver), loadCase(t, "basic"), Options{KernelVersion: kernel, StrictARP: strict})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, s := range res.Sysctls {
			m[s.Key] = s.Value
		}
		return m
	}
	const reuse = "net.ipv4.vs.conn_reuse_mode"
	for _, tc := range []struct {
		ver, kernel string
		want        bool
	}{
		{"1.28", "", false}, {"1.28", "5.4.0-150-generic", true}, {"1.28", "5.9", false},
		{"1.21", "5.10", true}, {"1.28", "3.10", false}, {"1.18", "3.10", true}, {"1.12", "5.4", false},
	} {
		_, got := get(tc.ver, tc.kernel, false)[reuse]
		if got != tc.want {
			t.Errorf("%s on kernel %q: conn_reuse_mode set=%v, want %v", tc.ver, tc.kernel, got, tc.want)
		}
	}
	m := get("1.28", "", false)
	for _, k := range []string{"net.ipv4.vs.conntrack", "net.ipv4.vs.expire_nodest_conn", "net.ipv4.vs.expire_quiescent_template", "net.ipv4.ip_forward"} {
		if m[k] != "1" {
			t.Errorf("1.28: %s=%q, want 1", k, m[k])
		}
	}
	if _, ok := m["net.ipv4.conf.all.arp_ignore"]; ok {
		t.Error("1.28 sets arp_ignore without strict ARP")
	}
	if m := get("1.28", "", true); m["net.ipv4.conf.all.arp_ignore"] != "1" || m["net.ipv4.conf.all.arp_announce"] != "2" {
		t.Errorf("1.28 strict ARP: %v", m)
	}
	if m := get("1.20", "", false); m["net.ipv4.conf.all.route_localnet"] != "1" {
		t.Error("1.20 does not set route_localnet")
	}
	if _, err := IPVSWithOptions(mustVersion(t, "1.28"), Node{}, Options{KernelVersion: "six"}); err == nil {
		t.Error("a bad kernel version was accepted")
	}
}

// TestIPVSSchedulerFlags: the mh scheduler gets the mh-port flag from 1.27.
func TestIPVSSchedulerFlags(t *testing.T) {
	n := loadCase(t, "basic")
	n.IPVSScheduler = "mh"
	for ver, want := range map[string]string{"1.26": "-s mh\n", "1.27": "-s mh -b mh-port\n"} {
		res, err := IPVS(mustVersion(t, ver), n)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(res.Save(), "-A -t 10.96.0.1:443 "+want) {
			t.Errorf("%s: want %q in\n%s", ver, want, res.Save())
		}
	}
}
