package kubeproxy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// nftOracleVersions are the versions the oracle renders in nftables mode.
var nftOracleVersions = []string{"1.31", "1.33", "1.35", "1.37"}

// nftGoldenVersions are the minors where an nftables switch flips (and
// the oracle's); every other minor from 1.29 must render like the golden
// version before it (TestNFTablesEveryMinorIsCovered).
var nftGoldenVersions = []string{"1.29", "1.30", "1.31", "1.33", "1.34", "1.35", "1.36", "1.37"}

func renderNFTCase(t testing.TB, name, version string) string {
	n := loadCase(t, name)
	text, err := NFTables(mustVersion(t, version), n)
	if err != nil {
		t.Fatalf("%s %s: %v", name, version, err)
	}
	return text
}

// withoutOracleHeader drops the oracle's "#" header lines.
func withoutOracleHeader(text string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(text, "\n") {
		if !strings.HasPrefix(l, "#") {
			b.WriteString(l)
		}
	}
	return b.String()
}

// TestNFTablesOracle renders every case at every oracle version and
// compares it, line for line, with the table the real kube-proxy wrote.
// Nothing is normalised: both sides are knftables text in the oracle's
// canonical order.
func TestNFTablesOracle(t *testing.T) {
	passed, total := map[string]int{}, map[string]int{}
	for _, name := range caseNames(t) {
		for _, ver := range caseVersions(t, name, nftOracleVersions) {
			path := filepath.Join("testdata/nftables/oracle", name+"-"+ver+".txt")
			raw, err := os.ReadFile(path)
			if os.IsNotExist(err) && rendersError(t, name, ver) {
				continue // the oracle fails where kube-proxy refuses the node
			}
			total[ver]++
			t.Run(name+"-"+ver, func(t *testing.T) {
				if err != nil {
					t.Fatalf("missing oracle output (MODE=nftables testdata/update-oracle.sh): %v", err)
				}
				want := withoutOracleHeader(string(raw))
				if got := renderNFTCase(t, name, ver); got != want {
					t.Errorf("differs from the oracle (- oracle, + netlab):\n%s", lineDiff(want, got))
					return
				}
				passed[ver]++
			})
		}
	}
	for _, ver := range nftOracleVersions {
		t.Logf("kube-proxy %s nftables: %d of %d oracle comparisons match exactly", ver, passed[ver], total[ver])
	}
}

func rendersError(t testing.TB, name, ver string) bool {
	_, err := NFTables(mustVersion(t, ver), loadCase(t, name))
	return err != nil
}

// TestNFTablesGolden compares every case at every nftables golden version
// with testdata/nftables/golden (go test -run TestNFTablesGolden -update
// rewrites them) and loads each with nft -f in a scratch network
// namespace, so the kernel checks every chain, set, map and rule.
func TestNFTablesGolden(t *testing.T) {
	load := nftLoader(t)
	forEachGolden(t, "testdata/nftables/golden", nftGoldenVersions, func(t *testing.T, name, ver string) {
		text := renderNFTCase(t, name, ver)
		checkGolden(t, filepath.Join("testdata/nftables/golden", name+"-"+ver+".nft"), text)
		load(t, text)
	})
}

// TestNFTablesEveryMinorIsCovered: every minor from 1.29 without a golden
// renders like the golden version before it.
func TestNFTablesEveryMinorIsCovered(t *testing.T) {
	checkEveryMinorCovered(t, nftGoldenVersions, nftSince, func(name, ver string) string {
		return renderNFTCase(t, name, ver)
	})
}

// nftLoader returns a check that loads a table with "nft -f -" in a
// throwaway namespace (unshare --net), skipping, with the reason, when
// that is impossible here.
func nftLoader(t *testing.T) func(*testing.T, string) {
	reason := scratchNetnsUnavailable("nft")
	if reason != "" {
		t.Logf("nft -f checks skipped: %s", reason)
	}
	return func(t *testing.T, text string) {
		if reason != "" {
			t.Skip("nft: " + reason)
		}
		cmd := exec.Command("unshare", "--net", "nft", "-f", "-")
		cmd.Stdin = strings.NewReader(text)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("nft -f in a scratch netns: %v\n%s", err, out)
		}
	}
}

// TestNFTablesLoadCatchesErrors makes sure the nft check fails on a rule
// that jumps to a missing chain.
func TestNFTablesLoadCatchesErrors(t *testing.T) {
	if reason := scratchNetnsUnavailable("nft"); reason != "" {
		t.Skip(reason)
	}
	cmd := exec.Command("unshare", "--net", "nft", "-f", "-")
	cmd.Stdin = strings.NewReader("add table ip kube-proxy\nadd chain ip kube-proxy services\nadd rule ip kube-proxy services jump nowhere\n")
	if err := cmd.Run(); err == nil {
		t.Error("a jump to a missing chain was accepted")
	}
}
