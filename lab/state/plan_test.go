package state

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/netlab/netlab/lab/plan"
)

// fullNamespace has every field of plan.Namespace set.
func fullNamespace(name string) *plan.Namespace {
	return &plan.Namespace{
		Name: name, Role: plan.RoleNode, Owner: "node-1", Node: "n",
		Sysctls: []plan.Sysctl{{Key: "net.ipv4.ip_forward", Value: "1"}},
		Links: []plan.Link{{Name: "eth0", Kind: plan.KindVeth, MTU: 1500, MAC: "02:00:00:00:00:01", Master: "br", Hairpin: true, Down: true,
			Peer:  &plan.Peer{Namespace: "x-vpc", Name: "port0", MAC: "02:00:00:00:00:02", MTU: 1500, Master: "vswitch"},
			VXLAN: &plan.VXLAN{VNI: 1, Dev: "eth0", Local: "10.0.0.1", Port: 8472, Learning: true}},
			{Name: "eth0.1027", Kind: plan.KindVLAN, VLAN: &plan.VLAN{Parent: "eth0", ID: 1027}}},
		Addrs:            []plan.Addr{{Dev: "eth0", CIDR: "10.0.0.1/24"}},
		Routes:           []plan.Route{{Dst: "default", Gw: "10.0.0.254", Dev: "eth0", Onlink: true, Scope: "link", Table: 100}},
		Rules:            []plan.Rule{{Priority: 100, IIF: "eth0", Proto: "tcp", SPort: [2]int{1, 2}, Table: 100}},
		Neighs:           []plan.Neigh{{Dev: "eth0", IP: "10.0.0.2", MAC: "02:00:00:00:00:03"}},
		FDB:              []plan.FDB{{Dev: "flannel.1", MAC: "02:00:00:00:00:04", Dst: "10.0.0.3"}},
		TC:               []plan.TCFilter{{Dev: "eth1", Dir: "egress", Prio: 50001, Protocol: "ip", Src: "10.0.16.2/32", PushVLAN: 1027}},
		IPSets:           []plan.IPSet{{Name: "KUBE-CLUSTER-IP", Type: "hash:ip,port", Options: "family inet", Entries: []string{"10.96.0.1,tcp:443"}}},
		IPVS:             []plan.IPVSService{{Proto: "tcp", Addr: "10.96.0.1", Port: 443, Scheduler: "rr", Persistent: 10, Flags: []string{"mh-port"}, Reals: []plan.IPVSReal{{Addr: "10.244.0.2", Port: 443, Weight: 1}}}},
		NFAcct:           []string{"kube-proxy-localhost-nodeport"},
		IPTables:         &plan.Ruleset{Tables: []*plan.Table{{Name: "nat", Chains: []*plan.Chain{{Name: "KUBE-SERVICES", Policy: "-", Rules: []string{"-j RETURN"}}}}}},
		NFTables:         "add table ip kube-proxy\n",
		UserspaceProxies: []plan.Proxy{{Service: "default/web:http", Protocol: "TCP", Port: 20000, Endpoints: []string{"10.244.0.2:80"}, AffinitySeconds: 10800}},
	}
}

func isolate(t *testing.T, lab string) {
	t.Helper()
	old := Dir
	Dir = t.TempDir()
	t.Cleanup(func() { Dir = old })
	if err := Create(&State{Lab: lab, Phase: PhaseReady, Created: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
}

func asJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestPlanRoundTripEveryField stores a plan whose namespace has every field
// set and reads it back whole: each field is in the wiring or in one part,
// so a field added to plan.Namespace without a part fails here (first the
// check that fullNamespace sets it, then the round trip).
func TestPlanRoundTripEveryField(t *testing.T) {
	ns := fullNamespace("x-node-1")
	v := reflect.ValueOf(*ns)
	for i := 0; i < v.NumField(); i++ {
		if v.Field(i).IsZero() {
			t.Fatalf("fullNamespace leaves plan.Namespace.%s unset: set it, and store it in the wiring or a part (PlanPart.move)", v.Type().Field(i).Name)
		}
	}
	isolate(t, "x")
	p := &plan.Plan{Lab: "x", Namespaces: []*plan.Namespace{ns, {Name: "x-pod", Role: plan.RolePod, Owner: "pod"}}}
	if err := SavePlan("x", p); err != nil {
		t.Fatal(err)
	}
	got, err := LoadPlan("x", PlanParts...)
	if err != nil {
		t.Fatal(err)
	}
	if want, have := asJSON(t, p), asJSON(t, got); want != have {
		t.Errorf("stored plan read back differs:\nwant %s\ngot  %s", want, have)
	}
	w, err := LoadWiring("x")
	if err != nil {
		t.Fatal(err)
	}
	if want, have := asJSON(t, p.Wiring()), asJSON(t, w); want != have {
		t.Errorf("wiring read back differs:\nwant %s\ngot  %s", want, have)
	}
	if wn := w.Namespace("x-node-1"); !wn.IPTables || !wn.NFTables || wn.IPSets != 1 || wn.IPVS != 1 || wn.UserspaceProxies != 1 {
		t.Errorf("wiring's counts: %+v", wn)
	}
}

// TestPlanPartsOnDemand: the wiring and each part are separate files, read
// only when asked for. With the rules file spoiled, the wiring and the
// network part still load; asking for the rules says what is wrong.
func TestPlanPartsOnDemand(t *testing.T) {
	isolate(t, "x")
	p := &plan.Plan{Lab: "x", Namespaces: []*plan.Namespace{fullNamespace("x-node-1")}}
	if err := SavePlan("x", p); err != nil {
		t.Fatal(err)
	}
	rules := filepath.Join(LabDir("x"), partFile(PartRules))
	if err := os.WriteFile(rules, []byte("{truncated"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadWiring("x"); err != nil {
		t.Errorf("wiring: %v", err)
	}
	got, err := LoadPlan("x", PartNetwork)
	if err != nil {
		t.Fatalf("network part: %v", err)
	}
	if ns := got.Namespace("x-node-1"); len(ns.Routes) != 1 || ns.IPTables != nil || len(ns.UserspaceProxies) != 0 {
		t.Errorf("network part alone: %+v", ns)
	}
	if _, err := LoadPlan("x", PartRules); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), rules) {
		t.Errorf("spoiled rules part: %v", err)
	}
}

// TestNoStoredPlan is a lab recorded by a netlab that did not store plans:
// the error says so and how to fix it.
func TestNoStoredPlan(t *testing.T) {
	isolate(t, "old")
	_, err := LoadWiring("old")
	if !errors.Is(err, ErrNoPlan) || !strings.Contains(err.Error(), "older netlab") || !strings.Contains(err.Error(), "netlab down old, then netlab up again") {
		t.Errorf("got %v", err)
	}
}

// TestRemoveDeletesPlan: Remove takes the stored plan's files with the lab.
func TestRemoveDeletesPlan(t *testing.T) {
	isolate(t, "x")
	if err := SavePlan("x", &plan.Plan{Lab: "x", Namespaces: []*plan.Namespace{fullNamespace("x-node-1")}}); err != nil {
		t.Fatal(err)
	}
	// A temporary file left by a crash in the middle of SavePlan, too.
	if err := os.WriteFile(filepath.Join(LabDir("x"), planFile+".tmp"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Remove("x"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(LabDir("x")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lab directory left: %v", err)
	}
}
