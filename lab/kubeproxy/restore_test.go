package kubeproxy

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/netlab/netlab/lab/apply"
)

// The restore check runs this test binary again inside a new network
// namespace ("unshare --net"), in helper mode: it creates the nfacct
// counters over netlink and the ipsets with "ipset restore", then pipes the
// rules into iptables-restore --test and iptables-restore. The namespace,
// and every rule and set in it, disappears when the helper exits.
const (
	helperEnv = "KUBEPROXY_TEST_RESTORE_HELPER"
	nfacctEnv = "KUBEPROXY_TEST_NFACCT"
	ipsetsEnv = "KUBEPROXY_TEST_IPSETS"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(restoreHelper())
	}
	os.Exit(m.Run())
}

// restoreInScratchNetns loads ipsets (ipset restore text, may be empty),
// nfacct counters and an iptables ruleset in a throwaway namespace.
func restoreInScratchNetns(ipsets, rules string, nfacct []string) error {
	cmd := exec.Command("unshare", "--net", os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1", nfacctEnv+"="+strings.Join(nfacct, " "))
	if ipsets != "" {
		f, err := os.CreateTemp("", "kubeproxy-ipsets-*")
		if err != nil {
			return err
		}
		defer os.Remove(f.Name())
		if _, err := f.WriteString(ipsets); err != nil {
			f.Close()
			return err
		}
		f.Close()
		cmd.Env = append(cmd.Env, ipsetsEnv+"="+f.Name())
	}
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ipset restore + iptables-restore in a scratch netns: %v\n%s", err, out)
	}
	return nil
}

func restoreHelper() int {
	rules, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, name := range strings.Fields(os.Getenv(nfacctEnv)) {
		if err := apply.NFAcctAdd(name); err != nil {
			fmt.Fprintf(os.Stderr, "nfacct add %s: %v\n", name, err)
			return 1
		}
	}
	if path := os.Getenv(ipsetsEnv); path != "" {
		sets, err := os.Open(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		cmd := exec.Command("ipset", "restore")
		cmd.Stdin = sets
		out, err := cmd.CombinedOutput()
		sets.Close()
		if err != nil {
			fmt.Fprintf(os.Stderr, "ipset restore: %v\n%s", err, out)
			return 1
		}
	}
	for _, args := range [][]string{{"--test"}, nil} {
		cmd := exec.Command("iptables-restore", args...)
		cmd.Stdin = strings.NewReader(string(rules))
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "iptables-restore %s: %v\n%s", strings.Join(args, " "), err, out)
			return 1
		}
	}
	return 0
}

// TestRestoreCheckCatchesErrors makes sure the restore check fails on a
// jump to a missing chain (which "iptables-restore --test" alone accepts
// with the nf_tables backend) and on a missing nfacct counter.
func TestRestoreCheckCatchesErrors(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root: cannot create a scratch network namespace")
	}
	bad := "*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -j KUBE-MARK-DROP\nCOMMIT\n"
	if err := restoreInScratchNetns("", bad, nil); err == nil {
		t.Error("a jump to a missing chain was accepted")
	}
	nf := "*filter\n:KUBE-FORWARD - [0:0]\n-A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name " + nfacctInvalid + " -j DROP\nCOMMIT\n"
	if err := restoreInScratchNetns("", nf, nil); err == nil {
		t.Error("a rule using a missing nfacct counter was accepted")
	}
	if err := restoreInScratchNetns("", nf, []string{nfacctInvalid}); err != nil {
		t.Errorf("with the counter created: %v", err)
	}
}

// scratchNetnsUnavailable says why rulesets cannot be loaded here (not
// root, a tool missing), or "".
func scratchNetnsUnavailable(tools ...string) string {
	if os.Geteuid() != 0 {
		return "not root: cannot create a scratch network namespace"
	}
	for _, tool := range append([]string{"unshare"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			return tool + " not found"
		}
	}
	return ""
}
