package kubeproxy

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.rules from the renderer")

// oracleVersions are the versions the kube-proxy oracle runs
// (testdata/update-oracle.sh stores its outputs in testdata/oracle/).
var oracleVersions = []string{"1.22", "1.24", "1.28", "1.31", "1.33", "1.35", "1.37"}

// goldenVersions are the minors where some behaviour switch of versions.go
// flips; every other minor must render exactly like the golden version
// before it (TestEveryMinorIsCovered).
var goldenVersions = []string{
	"1.1", "1.2", "1.5", "1.6", "1.7", "1.9", "1.10", "1.12", "1.14", "1.15", "1.16", "1.17",
	"1.18", "1.19", "1.20", "1.21", "1.22", "1.24", "1.25", "1.26", "1.27", "1.28", "1.30", "1.31",
	"1.34", "1.36", "1.37",
}

func caseNames(t testing.TB) []string {
	files, err := filepath.Glob("testdata/cases/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test cases: %v", err)
	}
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".json"))
	}
	return names
}

// loadCase reads a scenario; unknown keys are errors, so every key of the
// oracle's input is known to Node.
func loadCase(t testing.TB, name string) Node {
	b, err := os.ReadFile(filepath.Join("testdata/cases", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var n Node
	if err := dec.Decode(&n); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return n
}

// caseVersions restricts a case to some versions when
// testdata/cases/<case>.versions exists (e.g. a feature gate override that
// later kube-proxy versions reject), else it returns all.
func caseVersions(t testing.TB, name string, all []string) []string {
	b, err := os.ReadFile(filepath.Join("testdata/cases", name+".versions"))
	if os.IsNotExist(err) {
		return all
	}
	if err != nil {
		t.Fatal(err)
	}
	only := map[string]bool{}
	for _, v := range strings.Fields(string(b)) {
		only[v] = true
	}
	var out []string
	for _, v := range all {
		if only[v] {
			out = append(out, v)
		}
	}
	return out
}

func mustVersion(t testing.TB, s string) Version {
	v, err := ParseVersion(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func renderCase(t testing.TB, name, version string) *Result {
	res, err := IPTables(mustVersion(t, version), loadCase(t, name))
	if err != nil {
		t.Fatalf("%s %s: %v", name, version, err)
	}
	return res
}

// ---- comparison with the oracle -------------------------------------------

// TestOracle renders every case for every oracle version and compares it
// with what the real kube-proxy wrote, after normalize().
func TestOracle(t *testing.T) {
	passed, total := map[string]int{}, map[string]int{}
	for _, name := range caseNames(t) {
		for _, ver := range caseVersions(t, name, oracleVersions) {
			total[ver]++
			t.Run(name+"-"+ver, func(t *testing.T) {
				raw, err := os.ReadFile(filepath.Join("testdata/oracle", name+"-"+ver+".txt"))
				if err != nil {
					t.Fatalf("missing oracle output (run testdata/update-oracle.sh): %v", err)
				}
				n, v := loadCase(t, name), mustVersion(t, ver)
				want := normalize(withoutRandomFully(v, oracleArtefacts(n, v, string(raw))))
				got := normalize(withoutRandomFully(v, withoutKubelet(v, renderCase(t, name, ver).Rules.Restore())))
				if got != want {
					t.Errorf("differs from the oracle (normalised; - oracle, + netlab):\n%s", lineDiff(want, got))
					return
				}
				passed[ver]++
			})
		}
	}
	for _, ver := range oracleVersions {
		t.Logf("kube-proxy %s: %d of %d oracle comparisons match exactly after normalisation", ver, passed[ver], total[ver])
	}
}

// oracleArtefacts removes what only the oracle's harness produces.
//
// The oracle builds its proxier with NewFakeProxier, which fixes
// localhostNodePorts=true, where the real NewProxier turns it off when
// --nodeport-addresses excludes 127.0.0.0/8 (v1.28+ proxier.go). For such
// nodes the oracle still writes kube-proxy's own KUBE-FIREWALL "block
// incoming localnet connections" rule and, in v1.31, the localhost NodePort
// nfacct rules; the real kube-proxy (and netlab) does not. (The v1.33+
// outputs no longer have them: the oracle then follows NewProxier.)
func oracleArtefacts(n Node, v Version, text string) string {
	if !v.hasLocalhostNodePortsFlag() || containsIPv4Loopback(n.NodePortAddresses) {
		return text
	}
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "-A KUBE-FIREWALL ") && strings.Contains(l, "block incoming localnet connections") {
			continue
		}
		if strings.HasPrefix(l, "-A KUBE-NODEPORTS ") && strings.Contains(l, "--nfacct-name "+nfacctLocalhost) {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// withoutRandomFully drops " --random-fully" before 1.37 (on both sides):
// there the proxier writes it only if HasRandomFully(), which the oracle's
// fake iptables answers false, while netlab assumes an iptables that has
// it (>= 1.6.2, hasRandomFully, 1.16+). From 1.37 kube-proxy writes it
// unconditionally (randomFullyUnconditional), so it is compared as is.
func withoutRandomFully(v Version, text string) string {
	if v.randomFullyUnconditional() {
		return text
	}
	return strings.ReplaceAll(text, " --random-fully", "")
}

// withoutKubelet removes from netlab's output the kubelet-owned rules that
// IPTables adds for 1.5-1.26 (kubelet.go): the oracle runs kube-proxy alone
// and its fakes start without any kubelet chain. The KUBE-MARK-DROP
// declaration stays: kube-proxy 1.20-1.24 ensures that chain itself.
func withoutKubelet(v Version, text string) string {
	if !v.hasESIPP() || v.ownsKubeFirewall() {
		return text
	}
	var out []string
	for _, l := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(l, "-A "+chainMarkDrop+" "),
			strings.HasPrefix(l, ":"+chainFirewall+" "),
			strings.HasPrefix(l, "-A "+chainFirewall+" "),
			l == "-A INPUT -j "+chainFirewall, l == "-A OUTPUT -j "+chainFirewall:
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// normalize turns iptables-restore/-save text into a canonical form so that
// netlab's Restore() output and the oracle's dump compare line by line:
//
//   - '#' lines go (the oracle's header).
//   - Double quotes go: the oracle stores EnsureRule() jump rules the way
//     the upstream fake does, "-A CHAIN " + strings.Join(args, " "), so their
//     comments are unquoted; netlab must quote them to be valid restore input.
//   - Chain declarations lose policy and counters (the fake prints "-" for
//     built-in chains too).
//   - KUBE-PROXY-CANARY goes: iptables.Monitor creates it, and the oracle's
//     fake proxier never starts the monitor.
//   - The canonical order the oracle prints (docs/testing.md, "The
//     oracle"; kube-proxy walks Go maps, so its own order changes from run
//     to run): built-in chains first, then user chains by name; rules
//     grouped by chain; the dispatch chains (nat
//     KUBE-SERVICES/KUBE-NODEPORTS, filter
//     KUBE-SERVICES/KUBE-EXTERNAL-SERVICES/KUBE-NODEPORTS/KUBE-PROXY-FIREWALL)
//     stable-sorted by the "ns/name:port" opening their comment, with the
//     "must be the last rule" rules last. Those last rules (one per node
//     address with --nodeport-addresses) come from a Go map in kube-proxy,
//     so they are sorted among themselves.
//   - Tables are sorted by name; a table without user chains and rules
//     (the oracle's empty mangle) goes.
func normalize(text string) string {
	tables := parseRestore(text)
	var names []string
	for n := range tables {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, tn := range names {
		writeNormalizedTable(&b, tn, tables[tn])
	}
	return b.String()
}

// parsedTable is one table of a restore text as normalize reads it: the
// user chains it declares and the rules of every chain ("" for lines that
// are neither).
type parsedTable struct {
	decls map[string]bool
	rules map[string][]string
}

// parseRestore reads a restore text into its tables, without the canary
// chains and quotes.
func parseRestore(text string) map[string]*parsedTable {
	tables := map[string]*parsedTable{}
	var cur *parsedTable
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "*"):
			cur = tables[line[1:]]
			if cur == nil {
				cur = &parsedTable{decls: map[string]bool{}, rules: map[string][]string{}}
				tables[line[1:]] = cur
			}
		case line == "COMMIT":
			cur = nil
		case cur == nil:
		case strings.HasPrefix(line, ":"):
			if name := strings.Fields(line[1:])[0]; !builtinChain[name] && name != chainCanary {
				cur.decls[name] = true
			}
		case strings.HasPrefix(line, "-A "):
			cur.addRule(line)
		default:
			cur.rules[""] = append(cur.rules[""], line)
		}
	}
	return tables
}

// addRule records one "-A CHAIN RULE" line.
func (t *parsedTable) addRule(line string) {
	f := strings.SplitN(line, " ", 3)
	chain, rule := f[1], ""
	if len(f) == 3 {
		rule = f[2]
	}
	if chain == chainCanary {
		return
	}
	rule = strings.ReplaceAll(rule, `"`, "")
	t.rules[chain] = append(t.rules[chain], rule)
}

// writeNormalizedTable writes one table in normal form: sorted user
// chains, built-in chains in hook order, then the user chains' rules, the
// dispatch chains' rules sorted by service (see normalize). An empty table
// is left out.
func writeNormalizedTable(b *strings.Builder, tn string, t *parsedTable) {
	if len(t.decls) == 0 && len(t.rules) == 0 {
		return
	}
	fmt.Fprintf(b, "*%s\n", tn)
	var user []string
	for c := range t.decls {
		user = append(user, c)
	}
	sort.Strings(user)
	for _, c := range user {
		fmt.Fprintf(b, ":%s\n", c)
	}
	var chains []string
	for _, c := range []string{"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"} {
		if len(t.rules[c]) > 0 {
			chains = append(chains, c)
		}
	}
	var other []string
	for c := range t.rules {
		if !builtinChain[c] {
			other = append(other, c)
		}
	}
	sort.Strings(other)
	for _, c := range append(chains, other...) {
		rules := append([]string(nil), t.rules[c]...)
		if dispatchChain[tn+"/"+c] {
			sortByService(rules)
		}
		for _, r := range rules {
			fmt.Fprintf(b, "-A %s %s\n", c, r)
		}
	}
}

// sortByService stable-sorts a dispatch chain's rules by serviceKey, the
// "must be the last rule" ones last and among themselves by text.
func sortByService(rules []string) {
	sort.SliceStable(rules, func(i, j int) bool {
		ki, kj := serviceKey(rules[i]), serviceKey(rules[j])
		if ki == kj && ki == lastKey {
			return rules[i] < rules[j]
		}
		return ki < kj
	})
}

var builtinChain = map[string]bool{"PREROUTING": true, "INPUT": true, "FORWARD": true, "OUTPUT": true, "POSTROUTING": true}

var dispatchChain = map[string]bool{
	"nat/KUBE-SERVICES": true, "nat/KUBE-NODEPORTS": true,
	"filter/KUBE-SERVICES": true, "filter/KUBE-EXTERNAL-SERVICES": true,
	"filter/KUBE-NODEPORTS": true, "filter/KUBE-PROXY-FIREWALL": true,
}

const lastKey = "\xff"

// serviceKey is the oracle's sort key: the "ns/name:port" opening the
// comment (quotes are already gone).
func serviceKey(rule string) string {
	i := strings.Index(rule, "--comment ")
	if i < 0 {
		return ""
	}
	c := rule[i+len("--comment "):]
	if strings.HasPrefix(c, "kubernetes service nodeports;") {
		return lastKey
	}
	f := strings.Fields(c)
	if len(f) > 0 && strings.Contains(f[0], "/") {
		return f[0]
	}
	return ""
}

// lineDiff is a small LCS line diff for failure messages.
func lineDiff(a, b string) string {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	n, m := len(x), len(y)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else if lcs[i+1][j] >= lcs[i][j+1] {
				lcs[i][j] = lcs[i+1][j]
			} else {
				lcs[i][j] = lcs[i][j+1]
			}
		}
	}
	var out strings.Builder
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && x[i] == y[j]:
			i, j = i+1, j+1
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			fmt.Fprintf(&out, "+ %s\n", y[j])
			j++
		default:
			fmt.Fprintf(&out, "- %s\n", x[i])
			i++
		}
	}
	return out.String()
}

// ---- goldens for every modelled version -----------------------------------

func goldenPath(name, ver string) string {
	return filepath.Join("testdata/golden", name+"-"+ver+".rules")
}

// goldenText is what a golden file holds: the restore text, then the
// sysctls and nfacct counters as comment lines.
func goldenText(r *Result) string {
	var b strings.Builder
	b.WriteString(r.Rules.Restore())
	for _, s := range r.Sysctls {
		fmt.Fprintf(&b, "# sysctl %s=%s\n", s.Key, s.Value)
	}
	for _, c := range r.NFAcctCounters {
		fmt.Fprintf(&b, "# nfacct %s\n", c)
	}
	return b.String()
}

// TestGolden compares every case at every golden version with
// testdata/golden (go test -run TestGolden -update rewrites them) and checks
// each with iptables-restore --test.
func TestGolden(t *testing.T) {
	restore := restoreTester(t)
	forEachGolden(t, "testdata/golden", goldenVersions, func(t *testing.T, name, ver string) {
		res := renderCase(t, name, ver)
		checkGolden(t, goldenPath(name, ver), goldenText(res))
		restore(t, res)
	})
}

// forEachGolden runs check, as a parallel subtest, for every case at every
// golden version it applies to (creating dir first under -update).
func forEachGolden(t *testing.T, dir string, versions []string, check func(t *testing.T, name, ver string)) {
	if *update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range caseNames(t) {
		for _, ver := range caseVersions(t, name, versions) {
			t.Run(name+"-"+ver, func(t *testing.T) {
				t.Parallel()
				check(t, name, ver)
			})
		}
	}
}

// checkGolden compares got with a golden file, or rewrites it with -update.
func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("missing golden (go test ./lab/kubeproxy -update): %v", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (- golden, + now):\n%s", path, lineDiff(string(want), got))
	}
}

// restoreTester returns a check that loads a result with iptables-restore
// in a scratch network namespace (unshare --net; the host's tables are
// never touched): first "iptables-restore --test", then a real restore,
// which also makes the kernel check every chain, match and target (--test
// with the nf_tables backend does not notice a jump to a missing chain). The
// nfacct counters the rules refer to are created there first, as
// kube-proxy does. It skips, saying why, when not root or without the tools.
func restoreTester(t *testing.T) func(*testing.T, *Result) {
	reason := scratchNetnsUnavailable("iptables-restore")
	if reason != "" {
		t.Logf("iptables-restore checks skipped: %s", reason)
	}
	return func(t *testing.T, r *Result) {
		if reason != "" {
			t.Skip("iptables-restore: " + reason)
		}
		if err := restoreInScratchNetns("", r.Rules.Restore(), r.NFAcctCounters); err != nil {
			t.Error(err)
		}
	}
}

// TestEveryMinorIsCovered renders every supported minor and checks that a
// minor without a golden renders exactly like the golden version before it,
// so the goldens cover the whole range.
func TestEveryMinorIsCovered(t *testing.T) {
	checkEveryMinorCovered(t, goldenVersions, MinVersion.Minor, func(name, ver string) string {
		return goldenText(renderCase(t, name, ver))
	})
}

// checkEveryMinorCovered renders every minor from 1.first to MaxVersion
// with render and fails where one without a golden differs from the golden
// version before it.
func checkEveryMinorCovered(t *testing.T, goldens []string, first int, render func(name, ver string) string) {
	isGolden := map[string]bool{}
	for _, g := range goldens {
		isGolden[g] = true
	}
	var every []string
	for minor := first; minor <= MaxVersion.Minor; minor++ {
		every = append(every, fmt.Sprintf("1.%d", minor))
	}
	for _, name := range caseNames(t) {
		prev := ""
		for _, ver := range caseVersions(t, name, every) {
			if isGolden[ver] {
				prev = ver
				continue
			}
			if prev == "" {
				t.Fatalf("no golden version before %s", ver)
			}
			if a, b := render(name, prev), render(name, ver); a != b {
				t.Errorf("%s: %s renders differently from %s but has no golden:\n%s", name, ver, prev, lineDiff(a, b))
			}
		}
	}
}
