package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// complete runs cobra's hidden __complete command in-process, as the
// shell scripts do, and returns the offered choices (descriptions cut
// off) and the directive.
func complete(t *testing.T, args ...string) ([]string, string) {
	t.Helper()
	code, out, stderr := cli(t, append([]string{"__complete"}, args...)...)
	if code != 0 {
		t.Fatalf("__complete %v: exit %d: %s", args, code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	var got []string
	for _, l := range lines[:len(lines)-1] {
		got = append(got, choice(l))
	}
	return got, lines[len(lines)-1]
}

// TestCompletion: lab and scenario names, a lab's sources and targets,
// nodes, and flag values complete.
func TestCompletion(t *testing.T) {
	scratchState(t)
	recordLab(t, "ht-svc", "flannel-services", "")
	recordLab(t, "ht-vx", "flannel-vxlan", "")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "mine.yaml"), []byte("name: mine\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), nil, 0o644)
	os.Mkdir(filepath.Join(dir, "more"), 0o755)
	t.Chdir(dir)
	const noFiles, noSpace = ":4", ":6"
	for _, tc := range []struct {
		args []string
		want []string
		dir  string
	}{
		{[]string{"status", "ht-"}, []string{"ht-svc", "ht-vx"}, noFiles},
		{[]string{"status", "ht-svc", ""}, nil, noFiles},
		{[]string{"down", "ht-svc", ""}, []string{"ht-vx"}, noFiles},
		{[]string{"up", "flannel-v"}, []string{"flannel-vpc-route", "flannel-vxlan"}, noFiles},
		{[]string{"up", "m"}, []string{"mine.yaml", "more/"}, noFiles},
		{[]string{"up", "mo"}, []string{"more/"}, noSpace},
		{[]string{"test", "ht-v"}, []string{"ht-vx"}, noFiles},
		{[]string{"test", "seed002-local-f"}, []string{"seed002-local-flannel"}, noFiles},
		{[]string{"scenarios", "show", "seed003"}, []string{"seed003-flannel-userspace"}, noFiles},
		{[]string{"probe", "ht-vx", ""}, []string{"client-a", "web-1", "web-2", "web-3", "client-b", "node-1", "node-2", "node-3", "internet"}, noFiles},
		{[]string{"probe", "ht-svc", "client", ""}, []string{"pod/", "svc/", "node/"}, noSpace},
		{[]string{"trace", "ht-svc", "client", "svc/local-web:loadbalancer@"}, []string{"svc/local-web:loadbalancer@node-1",
			"svc/local-web:loadbalancer@node-2", "svc/local-web:loadbalancer@node-3"}, noFiles},
		{[]string{"probe", "ht-svc", "client", "svc/dns"}, []string{"svc/dns", "svc/dns:nodeport@node-1", "svc/dns:nodeport@node-2",
			"svc/dns:nodeport@node-3", "svc/dns-empty"}, noFiles},
		{[]string{"probe", "ht-svc", "client", "node/node-2:"}, []string{"node/node-2:30080", "node/node-2:30081", "node/node-2:30082",
			"node/node-2:30053", "node/node-2:9100"}, noFiles},
		{[]string{"probe", "ht-svc", "client", "pod/l"}, []string{"pod/local-web", "pod/loop"}, noFiles},
		{[]string{"conntrack", "ht-vx", "node-1", ""}, []string{"node-2", "node-3"}, noFiles},
		{[]string{"exec", "ht-svc", "v"}, []string{"vpc"}, noFiles},
		{[]string{"rules", "ht-svc", "s"}, []string{"slb"}, noFiles},
		{[]string{"rules", "ht-vx", "s"}, nil, noFiles},
		{[]string{"diff", "flannel-services", "ipvs@1.8", "ipvs@1.9"}, []string{"ipvs@1.9"}, noFiles},
		{[]string{"up", "x", "--kube-proxy", "ipvs@1.3"}, []string{"ipvs@1.30", "ipvs@1.31", "ipvs@1.32", "ipvs@1.33",
			"ipvs@1.34", "ipvs@1.35", "ipvs@1.36", "ipvs@1.37"}, noFiles},
		{[]string{"test", "x", "--kube-proxy", "userspace@1.2"}, []string{"userspace@1.2", "userspace@1.20", "userspace@1.21",
			"userspace@1.22", "userspace@1.23", "userspace@1.24", "userspace@1.25"}, noFiles},
		{[]string{"doctor", "--kube-proxy", "nft"}, []string{"nftables@1.29", "nftables@1.30", "nftables@1.31", "nftables@1.32", "nftables@1.33", "nftables@1.34", "nftables@1.35", "nftables@1.36", "nftables@1.37"}, noFiles},
		{[]string{"status", "-o", ""}, []string{"table", "wide", "json"}, noFiles},
		{[]string{"ls", "-o", ""}, []string{"table", "json"}, noFiles},
		{[]string{"graph", "x", "--format", ""}, []string{"mermaid", "dot"}, noFiles},
		{[]string{"plan", "flannel-services", "--node", "s"}, []string{"slb"}, noFiles},
		{[]string{"diff", "flannel-vxlan", "--node", ""}, []string{"node-1", "node-2", "node-3"}, noFiles},
		{[]string{"rules", "ht-vx", "node-1", "--table", "n"}, []string{"nat"}, noFiles},
		{[]string{"probe", "ht-vx", "a", "b", "--protocol", ""}, []string{"tcp", "udp"}, noFiles},
		{[]string{"completion", "b"}, []string{"bash"}, noFiles},
		{[]string{"ls", ""}, nil, noFiles},
	} {
		got, directive := complete(t, tc.args...)
		if !slices.Equal(got, tc.want) || directive != tc.dir {
			t.Errorf("%v: %q %s, want %q %s", tc.args, got, directive, tc.want, tc.dir)
		}
	}
	// The kube-proxy versions are those that exist: IPVS from 1.8,
	// userspace up to 1.25, iptables from 1.1, nftables from 1.29.
	specs := kubeProxySpecs()
	for _, s := range []string{"iptables@1.1", "iptables@1.31", "iptables@1.37", "ipvs@1.8", "ipvs@1.37", "userspace@1.1", "userspace@1.25", "nftables@1.29", "nftables@1.37"} {
		if !slices.Contains(specs, s) {
			t.Errorf("no %s in %v", s, specs)
		}
	}
	for _, s := range []string{"ipvs@1.7", "ipvs@1.38", "userspace@1.26", "iptables@1.38", "nftables@1.28", "nftables@1.38"} {
		if slices.Contains(specs, s) {
			t.Errorf("%s offered", s)
		}
	}
}

// TestCompletionScripts: each shell's script is printed, and the bash
// help says what it needs and how to install it.
func TestCompletionScripts(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		if code, out, _ := cli(t, "completion", sh); code != 0 || !strings.Contains(out, "__complete") {
			t.Errorf("completion %s: exit %d, %d bytes", sh, code, len(out))
		}
	}
	code, out, _ := cli(t, "completion", "bash", "--help")
	if code != 0 || !strings.Contains(out, "bash-completion package") || !strings.Contains(out, "sudo apt-get install bash-completion") {
		t.Errorf("completion bash --help: exit %d\n%s", code, out)
	}
}
