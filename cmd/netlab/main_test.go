package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netlab/netlab/internal/testenv"
	"github.com/netlab/netlab/lab/state"
)

// The lab daemon is this binary re-executed with "daemon LAB"; under test
// that is the test binary, so hand such runs to the CLI.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "daemon" {
		os.Exit(run(os.Args[1:]))
	}
	// cliProcess runs the CLI as a child process (for signals).
	if os.Getenv(cliEnv) != "" {
		os.Exit(run(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// cli runs the CLI in-process and returns its exit code, stdout and stderr.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	outR, outW, _ := os.Pipe()
	errR, errW, _ := os.Pipe()
	oldOut, oldErr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = outW, errW
	var out, errb bytes.Buffer
	done := make(chan struct{}, 2)
	go func() { io.Copy(&out, outR); done <- struct{}{} }()
	go func() { io.Copy(&errb, errR); done <- struct{}{} }()
	code := run(args)
	os.Stdout, os.Stderr = oldOut, oldErr
	outW.Close()
	errW.Close()
	<-done
	<-done
	return code, out.String(), errb.String()
}

// upCLI brings a scenario up through the CLI as a lab named after the test
// (testenv.Prefix + suffix), taken down when the test ends whatever
// happened to it, and returns the lab's name.
func upCLI(t *testing.T, scenario, suffix string) string {
	t.Helper()
	testenv.RequireRoot(t)
	name := testenv.Prefix(t) + suffix
	t.Cleanup(func() { cli(t, "down", name, "--force", "--ignore-not-found") })
	if code, _, stderr := cli(t, "up", scenario, "--name", name); code != 0 {
		t.Fatalf("up: %s", stderr)
	}
	return name
}

func TestPlanNeedsNoRoot(t *testing.T) {
	code, out, _ := cli(t, "plan", "flannel-vxlan", "--node", "node-1")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{
		"ip -n flannel-vxlan-node-1 link add flannel.1 mtu 1450",
		"type vxlan id 1 local 10.0.0.10 dev eth0 dstport 8472 nolearning",
		"ip -n flannel-vxlan-node-1 route add 10.244.1.0/24 via 10.244.1.0 dev flannel.1 onlink",
		"-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q", want)
		}
	}
	code, out, _ = cli(t, "plan", "flannel-host-gw", "-o", "json")
	var p struct{ Namespaces []json.RawMessage }
	if code != 0 || json.Unmarshal([]byte(out), &p) != nil || len(p.Namespaces) != 8 {
		t.Errorf("plan -o json: exit %d, %d namespaces", code, len(p.Namespaces))
	}
}

func TestScenarioErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("name: bad\nnodes: [{name: node-1}]\npods:\n  - {name: web, node: node-9}\n"), 0o644)
	code, _, stderr := cli(t, "plan", bad)
	want := bad + `:4: pods[0].node: node "node-9" does not exist (fix: add the node under nodes, or use one of: node-1)`
	if code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, stderr %q, want %q", code, stderr, want)
	}
	code, _, stderr = cli(t, "plan", "no-such-scenario")
	if code != 1 || !strings.Contains(stderr, `no scenario "no-such-scenario"`) || !strings.Contains(stderr, "flannel-vxlan") {
		t.Errorf("unknown scenario: exit %d, %q", code, stderr)
	}
	code, _, stderr = cli(t, "status", "-o", "yaml")
	if code != 1 || !strings.Contains(stderr, `unknown output format "yaml"`) {
		t.Errorf("bad -o: exit %d, %q", code, stderr)
	}
}

// TestUpWithBadInputCreatesNothing: an invalid scenario stops before any
// state or namespace exists.
func TestUpWithBadInputCreatesNothing(t *testing.T) {
	testenv.RequireRoot(t)
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("name: badup\nnetwork: {nodes: 10.0.0.0/8, pods: 10.244.0.0/16, services: 192.168.0.0/16}\nnodes: [{name: n1}]\n"), 0o644)
	code, _, stderr := cli(t, "up", bad)
	if code != 1 || !strings.Contains(stderr, "bad.yaml:2: network.pods: 10.244.0.0/16 overlaps network.nodes 10.0.0.0/8") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(state.LabDir("badup")); err == nil {
		t.Error("state was created for an invalid scenario")
	}
	if _, err := os.Stat("/run/netns/badup-n1"); err == nil {
		t.Error("a namespace was created for an invalid scenario")
	}
}

// TestCLILifecycle drives a lab through the CLI: up, status, probe, test,
// conntrack, exec, ls, down, down again.
func TestCLILifecycle(t *testing.T) {
	name := upCLI(t, "flannel-vxlan", "-cli")
	code, out, _ := cli(t, "status", name, "-o", "json")
	var st struct {
		Phase  string
		Daemon struct{ Alive bool }
		Pods   []struct{ Name, IP string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st.Phase != "ready" || !st.Daemon.Alive || len(st.Pods) != 5 {
		t.Fatalf("status: exit %d %+v\n%s", code, st, out)
	}
	code, out, _ = cli(t, "probe", name, "client-a", "pod/web-2", "-o", "json")
	var r struct {
		Result         string
		Server         struct{ Pod string }
		ClientAddrSeen string
		Conntrack      map[string][]json.RawMessage
		Hops           []json.RawMessage
	}
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil {
		t.Fatalf("probe: exit %d\n%s", code, out)
	}
	if r.Result != "connected" || r.Server.Pod != "web-2" || !strings.HasPrefix(r.ClientAddrSeen, "10.244.0.2:") || len(r.Conntrack["node-1"]) != 1 || r.Hops == nil {
		t.Errorf("probe JSON: %s", out)
	}
	if code, out, _ := cli(t, "test", name); code != 0 || !strings.Contains(out, "8 passed, 0 failed") {
		t.Errorf("test: exit %d\n%s", code, out)
	}
	if code, out, _ := cli(t, "trace", name, "client-a", "pod/web-2"); code != 0 || !strings.Contains(out, "node-1:flannel.1") ||
		!strings.Contains(out, "verdict: delivered to web-2 on node-2") {
		t.Errorf("trace: exit %d\n%s", code, out)
	}
	if code, out, _ := cli(t, "conntrack", name, "node-1"); code != 0 || !strings.Contains(out, "dst=10.244.1.2 sport=") || !strings.Contains(out, "[ASSURED]") {
		t.Errorf("conntrack: exit %d\n%s", code, out)
	}
	conntrackCLI(t, name)
	if code, out, _ := cli(t, "rules", name, "node-1", "--table", "nat"); code != 0 || !strings.Contains(out, "-A FLANNEL-POSTRTG") || strings.Contains(out, "*filter") {
		t.Errorf("rules --table nat: exit %d\n%s", code, out)
	}
	if code, _, _ := cli(t, "exec", name, "node-1", "--", "sh", "-c", "exit 3"); code != 3 {
		t.Errorf("exec exit code %d, want 3", code)
	}
	if code, out, _ := cli(t, "ls"); code != 0 || !strings.Contains(out, name) {
		t.Errorf("ls: exit %d\n%s", code, out)
	}
	if code, _, stderr := cli(t, "down", name); code != 0 {
		t.Fatalf("down: %s", stderr)
	}
	// Gone now: a second down says so, unless told not to mind.
	if code, _, stderr := cli(t, "down", name); code != 1 || !strings.Contains(stderr, "no lab named "+name+" on this machine") {
		t.Errorf("second down: exit %d: %s", code, stderr)
	}
	if code, _, stderr := cli(t, "down", name, "--ignore-not-found"); code != 0 {
		t.Errorf("down --ignore-not-found: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(state.LabDir(name)); err == nil {
		t.Error("state left after down")
	}
}

// conntrackCLI: the filters select by the original direction, --flush
// deletes what they select, and an unknown node is named with the lab's
// nodes. The lab has just probed web-2 (10.244.1.2:80) from node-1's pods.
func conntrackCLI(t *testing.T, name string) {
	t.Helper()
	list := func() map[string][]struct{ Orig struct{ Dst string } } {
		code, out, stderr := cli(t, "conntrack", name, "node-1", "--dst", "10.244.1.2", "--port", "80", "--proto", "tcp", "-o", "json")
		var flows map[string][]struct{ Orig struct{ Dst string } }
		if code != 0 || json.Unmarshal([]byte(out), &flows) != nil {
			t.Fatalf("conntrack --dst: exit %d %s\n%s", code, stderr, out)
		}
		return flows
	}
	flows := list()
	if len(flows) != 1 || len(flows["node-1"]) == 0 {
		t.Errorf("conntrack --dst 10.244.1.2: %v", flows)
	}
	for _, f := range flows["node-1"] {
		if f.Orig.Dst != "10.244.1.2:80" {
			t.Errorf("--dst 10.244.1.2 --port 80 selected an entry to %s", f.Orig.Dst)
		}
	}
	code, out, _ := cli(t, "conntrack", name, "node-1", "--dst", "10.244.1.2", "--port", "80", "--proto", "tcp", "--flush")
	if want := fmt.Sprintf("node-1: %d conntrack ", len(flows["node-1"])); code != 0 || !strings.HasPrefix(out, want) {
		t.Errorf("--flush: exit %d %q, want %q", code, out, want)
	}
	if left := list()["node-1"]; len(left) != 0 {
		t.Errorf("after --flush: %v", left)
	}
	code, _, stderr := cli(t, "conntrack", name, "node-9")
	if want := "netlab: lab " + name + ` has no node named "node-9" (nodes: node-1, node-2, node-3; a pod, client, vpc or slb works too)` + "\n"; code != 1 || stderr != want {
		t.Errorf("unknown node: exit %d %q, want %q", code, stderr, want)
	}
}

// TestConntrackBadFlags: a bad filter value is one message naming the flag
// and what it takes, before any lab is opened (the lab here does not
// exist, and no root is needed).
func TestConntrackBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--proto", "tcpp"}, `--proto "tcpp": unknown protocol (use icmp, igmp, ipip, tcp, udp, dccp, ipv6, gre, esp, ah, icmpv6, sctp, udplite, or a number 1-255)`},
		{[]string{"--src", "10.0.0.256"}, `--src "10.0.0.256": not an IPv4 address (the lab's conntrack tables are IPv4, e.g. --src 10.244.0.2)`},
		{[]string{"--dst", "web"}, `--dst "web": not an IPv4 address`},
		{[]string{"--port", "0"}, `--port "0": not a port (use 1-65535)`},
		{[]string{"--port", "65536", "--flush"}, `--port "65536": not a port (use 1-65535)`},
		{[]string{"--proto", "icmp", "--port", "80"}, `--port 80: icmp has no ports (only tcp, udp, dccp, sctp, udplite do)`},
		{[]string{"-o", "yaml"}, `unknown output format "yaml" (use table or json)`},
	} {
		code, out, stderr := cli(t, append([]string{"conntrack", "no-such-lab", "node-1"}, c.args...)...)
		if code != 1 || out != "" || !strings.HasPrefix(stderr, "netlab: "+c.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, code, stderr, c.want)
		}
	}
}

// TestDiffShowsTheLayoutChange: between 1.23 and 1.25 KUBE-XLB gives way to
// KUBE-EXT / KUBE-SVL and KUBE-PROXY-FIREWALL appears.
func TestDiffShowsTheLayoutChange(t *testing.T) {
	code, out, stderr := cli(t, "diff", "flannel-services", "iptables@1.23", "iptables@1.25", "--node", "node-3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"--- iptables@1.23 node-3", "+++ iptables@1.25 node-3", "\n-:KUBE-XLB-", "\n+:KUBE-EXT-", "\n+:KUBE-SVL-", "\n+:KUBE-PROXY-FIREWALL - [0:0]"} {
		if !strings.Contains(out, want) {
			t.Errorf("diff lacks %q", want)
		}
	}
	if strings.Contains(out, "\n+:KUBE-XLB-") {
		t.Error("1.25 still has KUBE-XLB chains")
	}
	code, out, _ = cli(t, "diff", "flannel-services", "iptables@1.28", "iptables@1.28", "-o", "json")
	if code != 0 || strings.Contains(out, "@@") {
		t.Errorf("same version differs: exit %d\n%s", code, out)
	}
}

// TestTestExplainsFailures: a failing probe is followed by its path and,
// with --explain, the rule that decided it.
func TestTestExplainsFailures(t *testing.T) {
	testenv.RequireRoot(t)
	file := filepath.Join(t.TempDir(), "wrong.yaml")
	yaml := `name: ` + testenv.Prefix(t) + `-x
nodes: [{name: node-1}]
pods:
  - {name: client, node: node-1}
services:
  - {name: empty, selector: {app: nothing}, ports: [{port: 80}]}
probes:
  - {name: wrongly expects an answer, from: client, to: svc/empty}
`
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ := cli(t, "test", file, "--explain")
	if code != 1 || !strings.Contains(out, "path: client:eth0 -> node-1:veth -> node-1:cni0") ||
		!strings.Contains(out, `verdict: refused by ICMP type 3 code 3 from node-1 (node-1 iptables filter/KUBE-SERVICES`) {
		t.Errorf("exit %d\n%s", code, out)
	}
}
