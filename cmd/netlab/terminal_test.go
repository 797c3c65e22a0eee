package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/netlab/netlab/internal/testenv"
	"github.com/netlab/netlab/lab"
	"github.com/netlab/netlab/lab/state"
	"github.com/netlab/netlab/lab/topology"
	"github.com/netlab/netlab/probes"
	"github.com/netlab/netlab/topologies"
)

// scratchState moves the labs' state to a directory of the test's own.
func scratchState(t *testing.T) {
	old := state.Dir
	state.Dir = t.TempDir()
	t.Cleanup(func() { state.Dir = old })
}

// recordLab records a lab of a built-in scenario (in a scratchState), as
// up does before it creates anything: status, ls and completion read
// only that, so they run without root or namespaces.
func recordLab(t *testing.T, name, scenario, kubeProxy string) {
	t.Helper()
	data, ok := topologies.Get(scenario)
	if !ok {
		t.Fatalf("no scenario %s", scenario)
	}
	if _, err := lab.LoadScenario(builtinSource(scenario), data, kubeProxy); err != nil {
		t.Fatal(err)
	}
	st := &state.State{Lab: name, Scenario: scenario, Source: builtinSource(scenario), Topology: string(data),
		KubeProxy: kubeProxy, Phase: state.PhaseReady, Created: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Namespaces: []string{name + "-node-1"}}
	if err := state.Create(st); err != nil {
		t.Fatal(err)
	}
}

// TestStatusShowsKubeProxyAndServices: status names the kube-proxy in
// force and that --kube-proxy overrode the scenario's, and lists each
// Service's addresses, ports and endpoint pods, in the table and in JSON.
func TestStatusShowsKubeProxyAndServices(t *testing.T) {
	scratchState(t)
	recordLab(t, "ht-clb", "seed002-clb", "iptables@1.22")
	t.Setenv("COLUMNS", "200")
	code, out, stderr := cli(t, "status", "ht-clb")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"kube-proxy  iptables@1.22 (--kube-proxy iptables@1.22; the scenario says ipvs@1.22)\n",
		"\nSERVICE  TYPE          CLUSTER-IP   EXTERNAL-IP    PORT(S)       ENDPOINTS\n" +
			"svc1     LoadBalancer  172.21.0.10  192.168.1.200  80:30080/TCP  pod1\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = cli(t, "status", "ht-clb", "-o", "json")
	var v labView
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil {
		t.Fatalf("status -o json: exit %d\n%s", code, out)
	}
	kp := v.KubeProxy
	if kp == nil || kp.Mode != "iptables" || kp.Version != "1.22" || kp.Override != "iptables@1.22" || kp.Scenario != "ipvs@1.22" {
		t.Errorf("kubeProxy %+v", kp)
	}
	if len(v.Services) != 3 || v.Services[0].Ports[0].NodePort != 30080 || len(v.Services[0].LoadBalancerIPs) != 1 ||
		len(v.Services[0].Endpoints) != 1 || v.Services[0].Endpoints[0].Pod != "pod1" || !v.Services[0].Endpoints[0].Ready {
		t.Errorf("services %+v", v.Services)
	}
}

// TestStatusEndpointConditions: a terminating or unready endpoint is
// named so; the scenario's own kube-proxy is shown without an override.
func TestStatusEndpointConditions(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "conds.yaml")
	yaml := `name: conds
nodes: [{name: node-1}]
kubeProxy: {mode: ipvs, version: "1.24"}
pods:
  - {name: a, node: node-1, ports: [80], labels: {app: w}}
  - {name: b, node: node-1, ports: [80], labels: {app: w}, terminating: true}
  - {name: c, node: node-1, ports: [80], labels: {app: w}, ready: false}
services:
  - {name: w, type: NodePort, selector: {app: w}, ports: [{port: 80, nodePort: 30080}]}
  - {name: none, selector: {app: nothing}, ports: [{port: 81}]}
`
	os.WriteFile(file, []byte(yaml), 0o644)
	sc, err := loadScenario(file)
	if err != nil {
		t.Fatal(err)
	}
	v := describe(&lab.Lab{State: &state.State{Lab: "ht-c", Source: file, Topology: yaml}, Topology: sc.Topology})
	if got := v.KubeProxy.String(); got != "ipvs@1.24" {
		t.Errorf("kube-proxy %q", got)
	}
	if got := v.Services[0].endpointsString(); got != "a, b (terminating), c (not ready)" {
		t.Errorf("endpoints %q", got)
	}
	if got := v.Services[1].endpointsString(); got != "<none>" {
		t.Errorf("no endpoints: %q", got)
	}
	if got := v.Services[0].portsString(); got != "80:30080/TCP" {
		t.Errorf("ports %q", got)
	}
}

// TestLsAndStatusShareTheDaemonShape: ls and status name the daemon the
// same way.
func TestLsAndStatusShareTheDaemonShape(t *testing.T) {
	scratchState(t)
	recordLab(t, "ht-ls", "flannel-vxlan", "")
	code, out, _ := cli(t, "ls", "-o", "json")
	var rows []map[string]json.RawMessage
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 1 {
		t.Fatalf("ls -o json: exit %d\n%s", code, out)
	}
	for _, k := range []string{"daemonPid", "daemonAlive"} {
		if _, ok := rows[0][k]; ok {
			t.Errorf("ls still has %s", k)
		}
	}
	if string(rows[0]["created"]) != `"2025-01-02T03:04:05Z"` {
		t.Errorf("created %s", rows[0]["created"])
	}
}

func TestFirstSentence(t *testing.T) {
	for in, want := range map[string]string{
		"ACK Flannel, kube-proxy IPVS 1.22 (before 1.24). More.": "ACK Flannel, kube-proxy IPVS 1.22 (before 1.24).",
		"Seed 003: flannel 0.5-era VXLAN\n  with pods. Then":     "Seed 003: flannel 0.5-era VXLAN with pods.",
		"Uses a /24, e.g. 10.0.0.0/24. Next":                     "Uses a /24, e.g. 10.0.0.0/24.",
		"No period at all":                                       "No period at all",
		"Ends here.":                                             "Ends here.",
		"Upstream flannel (v0.9.0+ layout) on three.\nEach":      "Upstream flannel (v0.9.0+ layout) on three.",
	} {
		if got := firstSentence(in); got != want {
			t.Errorf("firstSentence(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestScenariosFitAndShow: the summary is the first sentence, cut with
// "…" to the width; -o wide has it whole; show prints a built-in's YAML.
func TestScenariosFitAndShow(t *testing.T) {
	t.Setenv("COLUMNS", "100")
	code, out, _ := cli(t, "scenarios")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.HasPrefix(out, "NAME                       CNI                KUBE-PROXY     NODES  PODS  PROBES  SUMMARY\n") {
		t.Errorf("header:\n%s", out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if n := utf8.RuneCountInString(line); n > 100 {
			t.Errorf("%d columns: %s", n, line)
		}
	}
	if !strings.Contains(out, "flannel-cluster-mode       flannel/vpc-route  ipvs@1.22      3      5     12      ACK Flannel (seed…\n") {
		t.Errorf("cluster-mode row:\n%s", out)
	}
	_, out, _ = cli(t, "scenarios", "-o", "wide")
	if !strings.Contains(out, "kube-proxy IPVS 1.22 (the article's behaviour, before kubernetes#97081 landed in 1.24).\n") ||
		!strings.Contains(out, "userspace@1.1  2      4     5       Seed 003: flannel 0.5-era VXLAN with pods on Docker's docker0, and kube-proxy in userspace mode (Kubernetes 1.1).\n") {
		t.Errorf("wide:\n%s", out)
	}
	code, out, _ = cli(t, "scenarios", "show", "flannel-vxlan")
	want, _ := topologies.Get("flannel-vxlan")
	if code != 0 || out != string(want) {
		t.Errorf("show: exit %d\n%s", code, out)
	}
	code, _, stderr := cli(t, "scenarios", "show", "nope")
	if code != 1 || !strings.Contains(stderr, `no built-in scenario "nope"`) {
		t.Errorf("show nope: exit %d %s", code, stderr)
	}
}

func TestTableFits(t *testing.T) {
	tb := newTable(column{Header: "A"}, column{Header: "B", Flex: true, Min: 5}, column{Header: "C"})
	tb.add("x", "a long cell that will not fit", "end")
	tb.note("  note line")
	var b strings.Builder
	tb.write(&b, 20)
	want := "A  B             C\nx  a long cell…  end\n  note line\n"
	if b.String() != want {
		t.Errorf("got\n%q\nwant\n%q", b.String(), want)
	}
	b.Reset()
	tb.write(&b, 0)
	if !strings.Contains(b.String(), "a long cell that will not fit  end") {
		t.Errorf("unfitted: %q", b.String())
	}
	if got := wrap("one two three four", 9); strings.Join(got, "|") != "one two|three|four" {
		t.Errorf("wrap %q", got)
	}
}

// testChecks are two checks as RunScenario returns them: one passing from
// a when entry, one whose second of three runs failed.
func testChecks() []*probes.Check {
	ok := &probes.Result{Result: "connected", Server: &probes.Server{Pod: "web-1"}, ClientAddrSeen: "10.244.0.2:40000", Path: []string{"a:eth0", "b:eth0"}}
	bad := &probes.Result{Result: "refused", Path: []string{"a:eth0", "node-1:veth"}, Verdict: &probes.Verdict{Summary: "refused by the rule"}}
	last := &probes.Result{Result: "connected", Server: &probes.Server{Pod: "web-2"}, Path: []string{"a:eth0", "later"}, Verdict: &probes.Verdict{Summary: "delivered"}}
	return []*probes.Check{
		{Name: "pod to a Service without endpoints", From: "client", To: "svc/empty", Pass: true,
			Expect: topology.Expect{Result: "refused", When: "ipvs@<1.24"}, Results: []*probes.Result{{Result: "refused"}}},
		{Name: "balanced over both endpoints of the web Service", From: "client", To: "svc/web:loadbalancer@node-2",
			Expect: topology.Expect{Result: "connected", Repeat: 3}, Results: []*probes.Result{ok, bad, last},
			Servers: map[string]int{"web-2": 1, "web-1": 1}, Failures: []string{"run 2: result refused, want connected"}},
	}
}

// TestTestTable: an expectation from a when entry says so; with repeats
// the row and the explanation are the first failing run's, not the last;
// too wide a table puts EXPECTED and OBSERVED under each probe.
func TestTestTable(t *testing.T) {
	topo := &topology.Topology{}
	stdout := func(f func()) string {
		r, w, _ := os.Pipe()
		old := os.Stdout
		os.Stdout = w
		f()
		os.Stdout = old
		w.Close()
		b, _ := readAll(r)
		return b
	}
	wide := stdout(func() { printChecks(topo, testChecks(), 0) })
	for _, want := range []string{
		"ok    pod to a Service without endpoints               client -> svc/empty                    refused (when ipvs@<1.24)  refused\n",
		"FAIL  balanced over both endpoints of the web Service  client -> svc/web:loadbalancer@node-2  connected, x3              run 2: refused, x3 (web-1:1 web-2:1)\n",
		"FAIL balanced over both endpoints of the web Service: run 2: result refused, want connected\n",
		"     path (run 2): a:eth0 -> node-1:veth\n     verdict (run 2): refused by the rule\n",
	} {
		if !strings.Contains(wide, want) {
			t.Errorf("wide table lacks %q:\n%s", want, wide)
		}
	}
	if strings.Contains(wide, "later") || strings.Contains(wide, "delivered") {
		t.Errorf("shows the last run, not the failing one:\n%s", wide)
	}
	narrow := stdout(func() { printChecks(topo, testChecks(), 60) })
	want := `PASS  PROBE            FROM -> TO
ok    pod to a Servi…  client -> svc/empty
      expected: refused (when ipvs@<1.24)
      observed: refused
FAIL  balanced over…   client -> svc/web:loadbalancer@node-2
      expected: connected, x3
      observed: run 2: refused, x3 (web-1:1 web-2:1)
`
	if !strings.HasPrefix(narrow, want) {
		t.Errorf("narrow table:\n%s\nwant\n%s", narrow, want)
	}
}

func readAll(f *os.File) (string, error) {
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := f.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String(), nil
		}
	}
}

func TestVersion(t *testing.T) {
	info := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.3.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "fa36e049a9db"}, {Key: "vcs.time", Value: "2025-01-02T03:04:05Z"}, {Key: "vcs.modified", Value: "true"}}}
	if got := buildVersion(info, true).String(); got != "netlab v0.3.0 (fa36e049a9db, 2025-01-02T03:04:05Z, modified) go1.26.8" {
		t.Errorf("got %q", got)
	}
	code, out, _ := cli(t, "version", "-o", "json")
	var v versionView
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v.Go == "" || v.Version == "" {
		t.Errorf("version -o json: exit %d\n%s", code, out)
	}
}

// TestJSONErrors: under -o json an error is a JSON object on stdout (with
// the problems of an invalid scenario), with the same exit code; without
// it, text on stderr.
func TestJSONErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("name: bad\nnodes: [{name: node-1}]\npods:\n  - {name: web, node: node-9}\n"), 0o644)
	for _, args := range [][]string{
		{"plan", bad, "-o", "json"},
		{"plan", bad, "--output=json"},
		{"plan", "-ojson", bad},
	} {
		code, out, stderr := cli(t, args...)
		var v errorView
		if code != 1 || stderr != "" || json.Unmarshal([]byte(out), &v) != nil || len(v.Problems) != 1 ||
			v.Problems[0].Line != 4 || v.Problems[0].Field != "pods[0].node" || !strings.Contains(v.Error, `node "node-9" does not exist`) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, stderr)
		}
	}
	// Flags that fail to parse, or too many arguments, are errors too.
	for _, args := range [][]string{{"status", "-o", "json", "--bogus"}, {"ls", "x", "-o", "json"}} {
		code, out, _ := cli(t, args...)
		var v errorView
		if code != 1 || json.Unmarshal([]byte(out), &v) != nil || v.Error == "" {
			t.Errorf("%v: exit %d, stdout %q", args, code, out)
		}
	}
	if code, out, stderr := cli(t, "plan", bad); code != 1 || out != "" || !strings.HasPrefix(stderr, "netlab: ") {
		t.Errorf("table error: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}

// TestPlanJSONShape: --node prints the plan's shape, one namespace in it.
func TestPlanJSONShape(t *testing.T) {
	code, out, _ := cli(t, "plan", "flannel-vxlan", "--node", "node-1", "-o", "json")
	var p struct {
		Lab        string
		Namespaces []struct{ Name string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &p) != nil || p.Lab != "flannel-vxlan" || len(p.Namespaces) != 1 || p.Namespaces[0].Name != "flannel-vxlan-node-1" {
		t.Errorf("plan --node -o json: exit %d\n%.300s", code, out)
	}
}

// TestOutputFormats: -o wide is taken where a command has it.
func TestOutputFormats(t *testing.T) {
	if code, _, stderr := cli(t, "ls", "-o", "wide"); code != 1 || !strings.Contains(stderr, `unknown output format "wide" (use table or json)`) {
		t.Errorf("ls -o wide: exit %d %s", code, stderr)
	}
	for _, cmd := range [][]string{{"scenarios"}, {"status"}, {"test"}} {
		c, _, err := newRoot().Find(cmd)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(outputFormats(c), ","); got != "table,wide,json" {
			t.Errorf("%s: -o takes %s", cmd, got)
		}
	}
}

// TestUpShowsKubeProxyOverride: a lab brought up with --kube-proxy says,
// in up's table and in status -o json, which kube-proxy runs and what the
// scenario asked for.
func TestUpShowsKubeProxyOverride(t *testing.T) {
	testenv.RequireRoot(t)
	name := testenv.Prefix(t) + "-kp"
	t.Cleanup(func() { cli(t, "down", name) })
	t.Setenv("COLUMNS", "200")
	code, out, stderr := cli(t, "up", "seed002-clb", "--name", name, "--kube-proxy", "iptables@1.22")
	if code != 0 {
		t.Fatalf("up: exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"kube-proxy  iptables@1.22 (--kube-proxy iptables@1.22; the scenario says ipvs@1.22)\n",
		"svc1     LoadBalancer  172.21.0.10  192.168.1.200  80:30080/TCP  pod1\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("up lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = cli(t, "status", name, "-o", "json")
	var v labView
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v.KubeProxy == nil || v.KubeProxy.Mode != "iptables" ||
		v.KubeProxy.Scenario != "ipvs@1.22" || len(v.Services) != 3 || !v.Nodes[0].Present {
		t.Errorf("status -o json: exit %d\n%s", code, out)
	}
}
