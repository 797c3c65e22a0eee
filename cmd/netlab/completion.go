package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/netlab/netlab/lab"
	"github.com/netlab/netlab/lab/cloud"
	"github.com/netlab/netlab/lab/graph"
	"github.com/netlab/netlab/lab/kubeproxy"
	"github.com/netlab/netlab/lab/state"
	"github.com/netlab/netlab/lab/topology"
	"github.com/netlab/netlab/topologies"
)

// completionCmd prints the shell scripts that call back into netlab
// (cobra's hidden __complete command) for lab, scenario, pod and target
// names. It replaces cobra's default to say how to get bash-completion.
func completionCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print the shell completion script for bash, zsh, fish or PowerShell",
		Long: `completion prints a script that makes the shell complete netlab's commands, flags and
arguments: lab names, scenario names and files, a lab's pods, nodes and clients (FROM),
probe targets (pod/NAME, svc/NAME:..., node/NAME:PORT), --kube-proxy MODE@VERSION and
-o values. Completion reads the labs' state, so it works without sudo. See
'netlab completion bash --help' for how to install it.`,
		Example: `  source <(netlab completion bash)
  netlab completion zsh > "${fpath[1]}/_netlab"`,
	}
	shells := []struct {
		name, help string
		gen        func(*cobra.Command) error
	}{
		{"bash", bashHelp, func(root *cobra.Command) error { return root.GenBashCompletionV2(os.Stdout, true) }},
		{"zsh", zshHelp, func(root *cobra.Command) error { return root.GenZshCompletion(os.Stdout) }},
		{"fish", fishHelp, func(root *cobra.Command) error { return root.GenFishCompletion(os.Stdout, true) }},
		{"powershell", powershellHelp, func(root *cobra.Command) error { return root.GenPowerShellCompletionWithDesc(os.Stdout) }},
	}
	for _, sh := range shells {
		c.AddCommand(&cobra.Command{
			Use:                   sh.name,
			Short:                 "Print the " + sh.name + " completion script",
			Long:                  sh.help,
			Args:                  cobra.NoArgs,
			DisableFlagsInUseLine: true,
			RunE:                  func(cmd *cobra.Command, _ []string) error { return sh.gen(cmd.Root()) },
		})
	}
	return c
}

const bashHelp = `Print the bash completion script.

It needs the bash-completion package (version 2). Most distributions install it with bash;
if 'type _init_completion' says "not found", install it and start a new shell:

  Debian, Ubuntu:    sudo apt-get install bash-completion
  Fedora, RHEL:      sudo dnf install bash-completion
  Arch:              sudo pacman -S bash-completion
  macOS (Homebrew):  brew install bash-completion@2

Load netlab's completions in this shell:

  source <(netlab completion bash)

and for every new shell (run once):

  netlab completion bash | sudo tee /etc/bash_completion.d/netlab > /dev/null

'sudo netlab ...' completes too: bash-completion completes the command after sudo.`

const zshHelp = `Print the zsh completion script.

Completion must be enabled once in ~/.zshrc ("autoload -U compinit; compinit"). Load
netlab's completions in this shell:

  source <(netlab completion zsh)

and for every new shell (run once, then start a new shell):

  netlab completion zsh > "${fpath[1]}/_netlab"`

const fishHelp = `Print the fish completion script.

Load netlab's completions in this shell:

  netlab completion fish | source

and for every new shell (run once):

  netlab completion fish > ~/.config/fish/completions/netlab.fish`

const powershellHelp = `Print the PowerShell completion script.

Load netlab's completions in this shell:

  netlab completion powershell | Out-String | Invoke-Expression

and for every new shell, add that line to your PowerShell profile.`

// argCompleter completes the positional argument after args.
type argCompleter func(args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective)

// addCompletions gives every command's arguments and flags their dynamic
// completions. They are attached here, by command, so that the command
// files keep to their flags and their one call.
func addCompletions(root *cobra.Command) {
	scenario := []argCompleter{completeScenarios}
	args := map[string][]argCompleter{
		"up":             scenario,
		"plan":           scenario,
		"doctor":         scenario,
		"scenarios show": {completeBuiltins},
		"status":         {completeLabs},
		"test":           {completeLabsOrScenarios},
		"graph":          {completeLabsOrScenarios},
		"probe":          {completeLabs, completeSources, completeTargets},
		"trace":          {completeLabs, completeSources, completeTargets},
		"exec":           {completeLabs, completeObjects},
		"rules":          {completeLabs, completeObjects},
		"conntrack":      {completeLabs},
		"diff":           {completeScenarios, completeKubeProxySpecs, completeKubeProxySpecs},
	}
	// Arguments past the listed ones: more labs, more nodes, the command
	// exec runs (files).
	rest := map[string]argCompleter{
		"down":      completeLabs,
		"conntrack": completeNodes,
		"exec": func([]string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return nil, cobra.ShellCompDirectiveDefault
		},
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		name := strings.TrimPrefix(c.CommandPath(), root.Name()+" ")
		switch {
		case args[name] != nil || rest[name] != nil:
			c.ValidArgsFunction = positional(args[name], rest[name])
		case c.ValidArgsFunction == nil && len(c.ValidArgs) == 0 && !c.HasSubCommands() && c != root:
			// No arguments to complete; not file names either.
			c.ValidArgsFunction = positional(nil, nil)
		}
		addFlagCompletions(c)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// positional completes argument i with fs[i], and any after them with
// more (nothing when more is nil). An argument already given is not
// offered again.
func positional(fs []argCompleter, more argCompleter) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		f := more
		if len(args) < len(fs) {
			f = fs[len(args)]
		}
		if f == nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		got, dir := f(args, toComplete)
		if len(args) >= len(fs) {
			got = slices.DeleteFunc(got, func(c cobra.Completion) bool { return slices.Contains(args, choice(c)) })
		}
		return got, dir
	}
}

func addFlagCompletions(c *cobra.Command) {
	static := func(values ...string) cobra.CompletionFunc {
		return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return matching(values, toComplete), cobra.ShellCompDirectiveNoFileComp
		}
	}
	register := func(name string, f cobra.CompletionFunc) {
		if c.Flags().Lookup(name) != nil {
			_ = c.RegisterFlagCompletionFunc(name, f)
		}
	}
	register("output", static(outputFormats(c)...))
	register("kube-proxy", func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return completeKubeProxySpecs(nil, toComplete)
	})
	register("format", static(graph.Formats...))
	register("protocol", static("tcp", "udp"))
	register("table", static("nat", "filter", "mangle", "raw"))
	switch c.Name() {
	case "plan":
		register("node", scenarioFlag(objectNames))
	case "diff":
		register("node", scenarioFlag(func(t *topology.Topology) []string { return nodeNames(t) }))
	}
}

// scenarioFlag completes a flag with names from the scenario in the
// first argument.
func scenarioFlag(names func(*topology.Topology) []string) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) == 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		sc, err := loadScenario(args[0])
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return matching(names(sc.Topology), toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// matching keeps the candidates that start with prefix.
func matching(cands []string, prefix string) []cobra.Completion {
	var out []cobra.Completion
	for _, c := range cands {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}

// choice is a completion without its description.
func choice(c cobra.Completion) string {
	s, _, _ := strings.Cut(c, "\t")
	return s
}

func completeLabs(_ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return labCompletions(toComplete), cobra.ShellCompDirectiveNoFileComp
}

func labCompletions(toComplete string) []cobra.Completion {
	labs, _ := state.List()
	var out []cobra.Completion
	for _, n := range labs {
		if !strings.HasPrefix(n, toComplete) {
			continue
		}
		desc := "lab"
		if st, err := state.Load(n); err == nil {
			desc = "lab of " + st.Scenario + ", " + st.Phase
		}
		out = append(out, cobra.CompletionWithDesc(n, desc))
	}
	return out
}

func completeBuiltins(_ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return builtinCompletions(toComplete), cobra.ShellCompDirectiveNoFileComp
}

// builtinCompletions are the built-in scenarios, described by their
// first sentence (cut: a completion menu is one line).
func builtinCompletions(toComplete string) []cobra.Completion {
	var out []cobra.Completion
	for _, n := range topologies.Names() {
		if !strings.HasPrefix(n, toComplete) {
			continue
		}
		desc := "built-in scenario"
		if data, ok := topologies.Get(n); ok {
			if t, err := topology.Load(builtinSource(n), data); err == nil {
				desc = truncate(firstSentence(t.Description), 60)
			}
		}
		out = append(out, cobra.CompletionWithDesc(n, desc))
	}
	return out
}

// completeScenarios offers the built-in scenarios and the YAML files and
// directories under what is typed so far.
func completeScenarios(_ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	out := builtinCompletions(toComplete)
	files, dirs := scenarioFiles(toComplete)
	out = append(out, files...)
	out = append(out, dirs...)
	if len(dirs) > 0 && len(out) == len(dirs) {
		// Only directories: let the user go on typing inside one.
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// scenarioFiles lists the *.yaml / *.yml files and the directories in the
// directory of toComplete whose path starts with it.
func scenarioFiles(toComplete string) (files, dirs []cobra.Completion) {
	dir, prefix := "", toComplete
	if i := strings.LastIndexByte(toComplete, '/'); i >= 0 {
		dir, prefix = toComplete[:i+1], toComplete[i+1:]
	}
	ents, err := os.ReadDir(filepath.Join(".", dir))
	if err != nil {
		return nil, nil
	}
	for _, e := range ents {
		n := e.Name()
		if !strings.HasPrefix(n, prefix) || strings.HasPrefix(n, ".") && !strings.HasPrefix(prefix, ".") {
			continue
		}
		switch ext := filepath.Ext(n); {
		case e.IsDir():
			dirs = append(dirs, dir+n+"/")
		case ext == ".yaml" || ext == ".yml":
			files = append(files, dir+n)
		}
	}
	return files, dirs
}

func completeLabsOrScenarios(args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	out, dir := completeScenarios(args, toComplete)
	return append(labCompletions(toComplete), out...), dir
}

// completeKubeProxySpecs offers every MODE@VERSION netlab builds: the
// registered modes at each supported version (kubeproxy.MinVersion to
// MaxVersion) where the mode existed.
func completeKubeProxySpecs(_ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return matching(kubeProxySpecs(), toComplete), cobra.ShellCompDirectiveNoFileComp
}

func kubeProxySpecs() []string {
	var out []string
	for _, m := range topology.KubeProxyModeNames() {
		for minor := kubeproxy.MinVersion.Minor; minor <= kubeproxy.MaxVersion.Minor; minor++ {
			spec := fmt.Sprintf("%s@%d.%d", m, kubeproxy.MinVersion.Major, minor)
			if _, err := topology.ParseKubeProxy(spec); err == nil {
				out = append(out, spec)
			}
		}
	}
	return out
}

// withLab completes from the lab named in the first argument.
func withLab(args []string, f func(*lab.Lab) []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) == 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	l, err := lab.Open(args[0])
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return matching(f(l), toComplete), cobra.ShellCompDirectiveNoFileComp
}

// completeSources: a probe's FROM is a pod, node or outside client.
func completeSources(args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return withLab(args, func(l *lab.Lab) []string { return probeEnds(l.Topology) }, toComplete)
}

// probeEnds are the pods, nodes and outside clients: what a probe starts from.
func probeEnds(t *topology.Topology) []string {
	var out []string
	for _, p := range t.Pods {
		out = append(out, p.Name)
	}
	out = append(out, nodeNames(t)...)
	for _, c := range t.Cloud.Clients {
		out = append(out, c.Name)
	}
	return out
}

// completeObjects: what exec and rules enter, every namespace of the lab.
func completeObjects(args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return withLab(args, func(l *lab.Lab) []string { return objectNames(l.Topology) }, toComplete)
}

func completeNodes(args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return withLab(args, func(l *lab.Lab) []string { return nodeNames(l.Topology) }, toComplete)
}

func nodeNames(t *topology.Topology) []string {
	var out []string
	for _, n := range t.Nodes {
		out = append(out, n.Name)
	}
	return out
}

// objectNames are the names lab.Namespace takes: pods, nodes, clients,
// vpc, and slb when the scenario has one.
func objectNames(t *topology.Topology) []string {
	out := append(probeEnds(t), "vpc")
	if cloud.NeedsSLB(t) {
		out = append(out, "slb")
	}
	return out
}

// completeTargets completes a probe's TO in two steps: the kinds
// ("pod/", "svc/", ...) until one is typed, then that kind's targets.
func completeTargets(args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) == 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	l, err := lab.Open(args[0])
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	all := targets(l.Topology)
	if !strings.Contains(toComplete, "/") {
		var kinds []string
		for _, k := range []string{topology.KindPod, topology.KindSvc, topology.KindNode, topology.KindClient} {
			if slices.ContainsFunc(all, func(s string) bool { return strings.HasPrefix(s, k+"/") }) {
				kinds = append(kinds, k+"/")
			}
		}
		return matching(kinds, toComplete), cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	}
	return matching(all, toComplete), cobra.ShellCompDirectiveNoFileComp
}

// targets lists what a probe can be sent to, in the forms
// topology.ResolveTarget takes: pod/NAME (and :PORT for a pod's other
// ports), svc/NAME with its ports and ways in (nodeport@NODE,
// loadbalancer[@NODE], external), node/NAME:PORT for the NodePorts and
// hostNetwork ports, client/NAME:PORT for the ports an outside host serves.
func targets(t *topology.Topology) []string {
	var out []string
	for _, p := range t.Pods {
		ports := p.PortNumbers()
		if len(ports) == 0 {
			continue
		}
		out = append(out, "pod/"+p.Name)
		for _, port := range ports[1:] {
			out = append(out, "pod/"+p.Name+":"+strconv.Itoa(port))
		}
	}
	for i := range t.Services {
		out = append(out, serviceTargets(t, &t.Services[i])...)
	}
	for _, n := range t.Nodes {
		for _, port := range nodePorts(t, n.Name) {
			out = append(out, "node/"+n.Name+":"+strconv.Itoa(port))
		}
	}
	for _, c := range t.Cloud.Clients {
		for _, port := range c.PortNumbers() {
			out = append(out, "client/"+c.Name+":"+strconv.Itoa(port))
		}
	}
	return out
}

func serviceTargets(t *topology.Topology, s *topology.Service) []string {
	base := "svc/" + s.Name
	out := []string{base}
	if len(s.Ports) > 1 {
		for _, p := range s.Ports {
			out = append(out, base+":"+p.Name)
		}
	}
	if s.Type != topology.TypeClusterIP {
		for _, n := range t.Nodes {
			out = append(out, base+":"+topology.AccessNodePort+"@"+n.Name)
		}
	}
	if s.LBAddr.IsValid() {
		out = append(out, base+":"+topology.AccessLoadBalancer)
		for _, n := range t.Nodes {
			out = append(out, base+":"+topology.AccessLoadBalancer+"@"+n.Name)
		}
	}
	if len(s.ExternalIPs) > 0 {
		out = append(out, base+":"+topology.AccessExternal)
	}
	return out
}

// nodePorts are the ports a node answers on: every Service's NodePorts,
// and the ports of the hostNetwork pods on it.
func nodePorts(t *topology.Topology, node string) []int {
	var out []int
	for _, s := range t.Services {
		for _, p := range s.Ports {
			if p.NodePort != 0 && !slices.Contains(out, p.NodePort) {
				out = append(out, p.NodePort)
			}
		}
	}
	for _, p := range t.PodsOn(node) {
		if p.HostNetwork {
			for _, port := range p.PortNumbers() {
				if !slices.Contains(out, port) {
					out = append(out, port)
				}
			}
		}
	}
	return out
}
