package main

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/netlab/netlab/lab"
	"github.com/netlab/netlab/lab/netns"
	"github.com/netlab/netlab/lab/state"
	"github.com/netlab/netlab/lab/topology"
)

// labView is what status (and up) prints.
type labView struct {
	Lab       string         `json:"lab"`
	Scenario  string         `json:"scenario"`
	Source    string         `json:"source"`
	CNI       string         `json:"cni"`
	KubeProxy *kubeProxyView `json:"kubeProxy,omitempty"`
	Phase     string         `json:"phase"`
	Created   time.Time      `json:"created"`
	Daemon    *daemonView    `json:"daemon,omitempty"`
	Nodes     []objectView   `json:"nodes"`
	Pods      []objectView   `json:"pods"`
	Clients   []objectView   `json:"clients"`
	Services  []serviceView  `json:"services"`
	Namespace string         `json:"vpcNamespace"`
}

// daemonView is the lab daemon in status and ls.
type daemonView struct {
	PID   int  `json:"pid"`
	Alive bool `json:"alive"`
}

func newDaemonView(p *state.Process) *daemonView {
	if p == nil {
		return nil
	}
	return &daemonView{PID: p.PID, Alive: p.Alive()}
}

// kubeProxyView is the kube-proxy the lab runs: the --kube-proxy it was
// brought up with, if any, over what the scenario says.
type kubeProxyView struct {
	Mode    string `json:"mode"`
	Version string `json:"version"`
	// Override is the --kube-proxy value; Scenario the scenario's own
	// MODE@VERSION ("" when it has none).
	Override string `json:"override,omitempty"`
	Scenario string `json:"scenario,omitempty"`
	// Warning is what that kube-proxy logs when it starts (the mode's
	// Warning, e.g. the IPVS deprecation from 1.35), omitted when nothing.
	Warning string `json:"warning,omitempty"`
}

func (k *kubeProxyView) String() string {
	if k == nil {
		return "none"
	}
	s := k.Mode + "@" + k.Version
	if k.Override == "" {
		return s
	}
	says := "has none"
	if k.Scenario != "" {
		says = "says " + k.Scenario
	}
	return fmt.Sprintf("%s (--kube-proxy %s; the scenario %s)", s, k.Override, says)
}

type objectView struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	IP        string `json:"ip"`
	Node      string `json:"node,omitempty"`
	PodCIDR   string `json:"podCIDR,omitempty"`
	Ports     []int  `json:"ports,omitempty"`
	Present   bool   `json:"present"`
}

// serviceView is a Service as kube-proxy programs it: its addresses,
// ports and the pods its selector picks.
type serviceView struct {
	Name            string            `json:"name"`
	Namespace       string            `json:"namespace"`
	Type            string            `json:"type"`
	ClusterIP       string            `json:"clusterIP"`
	Ports           []servicePortView `json:"ports"`
	LoadBalancerIPs []string          `json:"loadBalancerIPs,omitempty"`
	ExternalIPs     []string          `json:"externalIPs,omitempty"`
	// ExternalTrafficPolicy is Cluster or Local ("" for a ClusterIP
	// Service).
	ExternalTrafficPolicy string         `json:"externalTrafficPolicy,omitempty"`
	Endpoints             []endpointView `json:"endpoints"`
}

type servicePortView struct {
	Name       string `json:"name,omitempty"`
	Port       int    `json:"port"`
	TargetPort string `json:"targetPort"`
	NodePort   int    `json:"nodePort,omitempty"`
	Protocol   string `json:"protocol"`
}

// endpointView is one endpoint pod and its EndpointSlice conditions.
type endpointView struct {
	Pod         string `json:"pod"`
	Node        string `json:"node"`
	IP          string `json:"ip"`
	Ready       bool   `json:"ready"`
	Terminating bool   `json:"terminating"`
}

func describe(l *lab.Lab) *labView {
	t := l.Topology
	v := &labView{Lab: l.State.Lab, Scenario: l.State.Scenario, Source: l.State.Source,
		CNI: t.CNI.Plugin + "/" + t.CNI.Backend, KubeProxy: describeKubeProxy(l), Phase: l.State.Phase,
		Created: l.State.Created, Daemon: newDaemonView(l.State.Daemon), Services: describeServices(t),
		Nodes: []objectView{}, Pods: []objectView{}, Clients: []objectView{}}
	v.Namespace, _ = l.NS("vpc")
	for _, n := range t.Nodes {
		ns, _ := l.NS(n.Name)
		v.Nodes = append(v.Nodes, objectView{Name: n.Name, Namespace: ns, IP: n.Addr.String(), PodCIDR: n.PodNet.String(), Present: netns.Exists(ns)})
	}
	for _, p := range t.Pods {
		ns, _ := l.NS(p.Name)
		v.Pods = append(v.Pods, objectView{Name: p.Name, Namespace: ns, IP: p.Addr.String(), Node: p.Node, Ports: p.PortNumbers(), Present: netns.Exists(ns)})
	}
	for _, c := range t.Cloud.Clients {
		ns, _ := l.NS(c.Name)
		v.Clients = append(v.Clients, objectView{Name: c.Name, Namespace: ns, IP: c.Addr.String(), Present: netns.Exists(ns)})
	}
	return v
}

// describeKubeProxy is the kube-proxy in force; when --kube-proxy
// overrode the scenario's, the stored scenario is read once more without
// it to say what it was.
func describeKubeProxy(l *lab.Lab) *kubeProxyView {
	kp := l.Topology.KubeProxy
	if kp == nil {
		return nil
	}
	v := &kubeProxyView{Mode: kp.Mode, Version: kp.Version, Override: l.State.KubeProxy, Warning: kubeProxyWarning(kp)}
	if v.Override == "" {
		v.Scenario = kp.Mode + "@" + kp.Version
		return v
	}
	if own, err := topology.Load(l.State.Source, []byte(l.State.Topology)); err == nil && own.KubeProxy != nil {
		v.Scenario = own.KubeProxy.Mode + "@" + own.KubeProxy.Version
	}
	return v
}

func describeServices(t *topology.Topology) []serviceView {
	out := []serviceView{}
	for i := range t.Services {
		s := &t.Services[i]
		v := serviceView{Name: s.Name, Namespace: s.Namespace, Type: s.Type, ClusterIP: s.ClusterAddr.String(),
			ExternalIPs: s.ExternalIPs, Endpoints: []endpointView{}}
		if s.Type != topology.TypeClusterIP {
			v.ExternalTrafficPolicy = s.ExternalTrafficPolicy
		}
		if s.LBAddr.IsValid() {
			v.LoadBalancerIPs = []string{s.LBAddr.String()}
		}
		for _, p := range s.Ports {
			v.Ports = append(v.Ports, servicePortView{Name: p.Name, Port: p.Port, TargetPort: p.TargetPort, NodePort: p.NodePort, Protocol: p.Protocol})
		}
		for _, pod := range t.Endpoints(s) {
			// As kube-proxy sees it: a pod that has none of the target
			// ports is no endpoint.
			if !servesAny(s, pod) {
				continue
			}
			v.Endpoints = append(v.Endpoints, endpointView{Pod: pod.Name, Node: pod.Node, IP: pod.Addr.String(),
				Ready: pod.IsReady(), Terminating: pod.Terminating})
		}
		out = append(out, v)
	}
	return out
}

func servesAny(s *topology.Service, p *topology.Pod) bool {
	for i := range s.Ports {
		if s.Ports[i].TargetOn(p) != 0 {
			return true
		}
	}
	return false
}

// portsString is kubectl's PORT(S): 80:30080/TCP,53/UDP.
func (s serviceView) portsString() string {
	parts := make([]string, len(s.Ports))
	for i, p := range s.Ports {
		parts[i] = strconv.Itoa(p.Port)
		if p.NodePort != 0 {
			parts[i] += ":" + strconv.Itoa(p.NodePort)
		}
		parts[i] += "/" + p.Protocol
	}
	return strings.Join(parts, ",")
}

// endpointsString names the endpoint pods, marking those not ready or
// terminating: "web-1, web-2 (terminating)".
func (s serviceView) endpointsString() string {
	if len(s.Endpoints) == 0 {
		return "<none>"
	}
	parts := make([]string, len(s.Endpoints))
	for i, e := range s.Endpoints {
		parts[i] = e.Pod
		switch {
		case e.Terminating:
			parts[i] += " (terminating)"
		case !e.Ready:
			parts[i] += " (not ready)"
		}
	}
	return strings.Join(parts, ", ")
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "<none>"
	}
	return strings.Join(s, ",")
}

func (v *labView) daemonString() string {
	switch {
	case v.Daemon == nil:
		return "none"
	case !v.Daemon.Alive:
		return fmt.Sprintf("pid %d (not running!)", v.Daemon.PID)
	}
	return fmt.Sprintf("pid %d", v.Daemon.PID)
}

// printStatus prints a lab fitted to the terminal (up prints it too).
func printStatus(v *labView) error { return writeStatus(v, termWidth()) }

// writeStatus prints a lab's summary, its namespaces and its Services;
// width 0 prints every cell whole (-o wide).
func writeStatus(v *labView, width int) error {
	fmt.Printf("lab         %s\nscenario    %s (%s)\ncni         %s\nkube-proxy  %s\nphase       %s\ndaemon      %s\n\n",
		v.Lab, v.Scenario, v.Source, v.CNI, v.KubeProxy, v.Phase, v.daemonString())
	t := newTable(column{Header: "KIND"}, column{Header: "NAME"}, column{Header: "IP"}, column{Header: "NODE / POD CIDR"},
		column{Header: "PORTS", Flex: true, Min: 8}, column{Header: "NAMESPACE"})
	mark := func(o objectView) string {
		if o.Present {
			return o.Namespace
		}
		return o.Namespace + " (missing)"
	}
	for _, n := range v.Nodes {
		t.add("node", n.Name, n.IP, n.PodCIDR, "", mark(n))
	}
	for _, p := range v.Pods {
		ports := make([]string, len(p.Ports))
		for i, x := range p.Ports {
			ports[i] = strconv.Itoa(x)
		}
		t.add("pod", p.Name, p.IP, p.Node, strings.Join(ports, ","), mark(p))
	}
	for _, c := range v.Clients {
		t.add("client", c.Name, c.IP, "", "", mark(c))
	}
	if err := t.write(os.Stdout, width); err != nil || len(v.Services) == 0 {
		return err
	}
	fmt.Println()
	st := newTable(column{Header: "SERVICE"}, column{Header: "TYPE"}, column{Header: "CLUSTER-IP"},
		column{Header: "EXTERNAL-IP", Flex: true, Min: 15}, column{Header: "PORT(S)", Flex: true, Min: 12},
		column{Header: "ENDPOINTS", Flex: true, Min: 16})
	for _, s := range v.Services {
		st.add(s.Name, s.Type, s.ClusterIP, orNone(append(slices.Clone(s.LoadBalancerIPs), s.ExternalIPs...)), s.portsString(), s.endpointsString())
	}
	return st.write(os.Stdout, width)
}

func statusCmd() *cobra.Command {
	var out string
	c := &cobra.Command{
		Use:   "status [LAB]",
		Short: "Show a lab's kube-proxy, nodes, pods, Services, addresses, namespaces and daemon",
		Long: `status prints what a lab runs: the kube-proxy mode and version in force (and the scenario's
own when --kube-proxy overrode it), its nodes, pods and outside clients with their addresses
and namespaces, its Services (ClusterIP, NodePorts, LB and external IPs, endpoint pods and
whether they are ready or terminating), and the lab daemon. The tables are fitted to the
terminal ($COLUMNS if set, else its width, else 120 columns); -o wide prints every cell whole.`,
		Example: "  netlab status flannel-vxlan\n  netlab status flannel-services -o wide\n  netlab status -o json",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := checkOutput(out); err != nil {
				return err
			}
			name, err := pickLab(args)
			if err != nil {
				return err
			}
			l, err := lab.Open(name)
			if err != nil {
				return err
			}
			if out == outputJSON {
				return printJSON(describe(l))
			}
			return writeStatus(describe(l), fitWidth(out))
		},
	}
	addOutput(c, &out, outputWide)
	return c
}

// pickLab returns the named lab, or the only lab when none is named.
func pickLab(args []string) (string, error) {
	if len(args) > 0 {
		return args[0], nil
	}
	labs, err := state.List()
	if err != nil {
		return "", err
	}
	switch len(labs) {
	case 0:
		return "", fmt.Errorf("no labs are up (netlab up SCENARIO)")
	case 1:
		return labs[0], nil
	}
	return "", fmt.Errorf("several labs are up (%s): name one", strings.Join(labs, ", "))
}
