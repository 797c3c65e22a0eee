package plan

import (
	"fmt"
	"io"
	"strings"
)

// Render writes the plan as the shell commands that would build it by hand
// (ip, bridge, sysctl, iptables-restore), in the three phases the applier
// uses: namespaces, then links (a veth needs both of its namespaces), then
// everything that sits on links. Every field the applier uses is printed,
// so the text is a faithful account of what `up` does and runs as a script.
func (p *Plan) Render(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# netlab plan for lab %q: %d namespaces\n", p.Lab, len(p.Namespaces))
	b.WriteString("\n# 1. namespaces and sysctls\n")
	for _, ns := range p.Namespaces {
		ns.renderPhase1(&b, p.Lab)
	}
	b.WriteString("\n# 2. links\n")
	for _, ns := range p.Namespaces {
		ns.renderPhase2(&b)
	}
	b.WriteString("\n# 3. addresses, routes, neighbours, FDB, iptables\n")
	peers := p.PeersByNamespace()
	for _, ns := range p.Namespaces {
		ns.renderPhase3(&b, peers[ns.Name])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// RenderNamespace writes one namespace's part of the plan.
func (p *Plan) RenderNamespace(w io.Writer, ns *Namespace) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s %s", ns.Role, ns.Owner)
	if ns.Node != "" {
		fmt.Fprintf(&b, " (on %s)", ns.Node)
	}
	b.WriteString("\n")
	ns.renderPhase1(&b, p.Lab)
	ns.renderPhase2(&b)
	ns.renderPhase3(&b, p.PeersByNamespace()[ns.Name])
	_, err := io.WriteString(w, b.String())
	return err
}

// renderPhase1 creates the namespace, lo's alias marking it as the lab's
// (Marker), as the applier does.
func (ns *Namespace) renderPhase1(b *strings.Builder, lab string) {
	fmt.Fprintf(b, "ip netns add %s\n", ns.Name)
	fmt.Fprintf(b, "ip -n %s link set lo alias '%s' up\n", ns.Name, Marker(lab))
	for _, s := range ns.Sysctls {
		kv := s.Key + "=" + s.Value
		if strings.ContainsAny(kv, " \t") {
			kv = "'" + kv + "'"
		}
		fmt.Fprintf(b, "ip netns exec %s sysctl -qw %s\n", ns.Name, kv)
	}
}

func (ns *Namespace) renderPhase2(b *strings.Builder) {
	for _, l := range ns.Links {
		if !l.Late() {
			b.WriteString(l.command(ns.Name))
		}
	}
}

func (ns *Namespace) renderPhase3(b *strings.Builder, peers []*Peer) {
	n := ns.Name
	for _, p := range peers {
		if p.Master != "" {
			fmt.Fprintf(b, "ip -n %s link set %s master %s\n", n, p.Name, p.Master)
		}
		fmt.Fprintf(b, "ip -n %s link set %s up\n", n, p.Name)
	}
	for _, l := range ns.Links {
		if l.Late() {
			b.WriteString(l.command(n))
		}
	}
	for _, a := range ns.Addrs {
		fmt.Fprintf(b, "ip -n %s addr add %s dev %s", n, a.CIDR, a.Dev)
		if a.Scope != "" {
			fmt.Fprintf(b, " scope %s", a.Scope)
		}
		b.WriteString("\n")
	}
	for _, r := range ns.Routes {
		fmt.Fprintf(b, "ip -n %s route add %s\n", n, r.String())
	}
	for _, r := range ns.Rules {
		fmt.Fprintf(b, "ip -n %s rule add %s\n", n, r.String())
	}
	for _, nb := range ns.Neighs {
		fmt.Fprintf(b, "ip -n %s neigh replace %s lladdr %s dev %s nud permanent\n", n, nb.IP, nb.MAC, nb.Dev)
	}
	for _, f := range ns.FDB {
		fmt.Fprintf(b, "bridge -n %s fdb append %s dev %s dst %s self permanent\n", n, f.MAC, f.Dev, f.Dst)
	}
	clsact := map[string]bool{}
	for _, f := range ns.TC {
		if !clsact[f.Dev] {
			clsact[f.Dev] = true
			fmt.Fprintf(b, "tc -n %s qdisc add dev %s clsact\n", n, f.Dev)
		}
		fmt.Fprintf(b, "tc -n %s filter add dev %s %s\n", n, f.Dev, f.String())
	}
	if len(ns.IPSets) > 0 {
		fmt.Fprintf(b, "ip netns exec %s ipset restore <<'EOF'\n%sEOF\n", n, IPSetRestore(ns.IPSets))
	}
	for _, line := range IPVSAdm(ns.IPVS) {
		fmt.Fprintf(b, "ip netns exec %s ipvsadm %s\n", n, line)
	}
	for _, a := range ns.NFAcct {
		fmt.Fprintf(b, "ip netns exec %s nfacct add %s\n", n, a)
	}
	if ns.IPTables != nil {
		fmt.Fprintf(b, "ip netns exec %s iptables-restore <<'EOF'\n%sEOF\n", n, ns.IPTables.Restore())
	}
	if ns.NFTables != "" {
		fmt.Fprintf(b, "ip netns exec %s nft -f - <<'EOF'\n%sEOF\n", n, ns.NFTables)
	}
}

func (l Link) command(ns string) string {
	var b strings.Builder
	creator := ns // an ipvlan slave is created by its parent's namespace
	if l.IPVlan != nil && l.IPVlan.ParentNamespace != "" {
		creator = l.IPVlan.ParentNamespace
	}
	fmt.Fprintf(&b, "ip -n %s link add", creator)
	switch {
	case l.VLAN != nil:
		fmt.Fprintf(&b, " link %s", l.VLAN.Parent)
	case l.IPVlan != nil:
		fmt.Fprintf(&b, " link %s", l.IPVlan.Parent)
	}
	name := l.Name
	if creator != ns && l.IPVlan.CreateAs != "" {
		name = l.IPVlan.CreateAs
	}
	fmt.Fprintf(&b, " %s", name)
	if l.MTU > 0 {
		fmt.Fprintf(&b, " mtu %d", l.MTU)
	}
	if creator != ns {
		fmt.Fprintf(&b, " netns %s", ns)
	}
	if l.MAC != "" {
		fmt.Fprintf(&b, " address %s", l.MAC)
	}
	if l.Master != "" {
		fmt.Fprintf(&b, " master %s", l.Master)
	}
	fmt.Fprintf(&b, " type %s", l.Kind)
	switch {
	case l.Peer != nil:
		fmt.Fprintf(&b, " peer name %s netns %s", l.Peer.Name, l.Peer.Namespace)
		if l.Peer.MTU > 0 {
			fmt.Fprintf(&b, " mtu %d", l.Peer.MTU)
		}
		if l.Peer.MAC != "" {
			fmt.Fprintf(&b, " address %s", l.Peer.MAC)
		}
	case l.VLAN != nil:
		fmt.Fprintf(&b, " id %d", l.VLAN.ID)
	case l.IPVlan != nil:
		b.WriteString(" mode l2")
	case l.VXLAN != nil:
		v := l.VXLAN
		fmt.Fprintf(&b, " id %d local %s dev %s dstport %d", v.VNI, v.Local, v.Dev, v.Port)
		if !v.Learning {
			b.WriteString(" nolearning")
		}
	}
	b.WriteString("\n")
	if name != l.Name {
		fmt.Fprintf(&b, "ip -n %s link set %s name %s\n", ns, name, l.Name)
	}
	if l.NoARP {
		fmt.Fprintf(&b, "ip -n %s link set %s arp off\n", ns, l.Name)
	}
	if !l.Down {
		fmt.Fprintf(&b, "ip -n %s link set %s up\n", ns, l.Name)
	}
	if l.Hairpin {
		fmt.Fprintf(&b, "ip -n %s link set %s type bridge_slave hairpin on\n", ns, l.Name)
	}
	return b.String()
}

func (r Route) String() string {
	s := r.Dst
	if r.Gw != "" {
		s += " via " + r.Gw
	}
	s += " dev " + r.Dev
	if r.Scope != "" {
		s += " scope " + r.Scope
	}
	if r.Onlink {
		s += " onlink"
	}
	if r.Table != 0 {
		s += fmt.Sprintf(" table %d", r.Table)
	}
	return s
}

func (r Rule) String() string {
	s := fmt.Sprintf("pref %d", r.Priority)
	if r.From != "" {
		s += " from " + r.From
	}
	if r.To != "" {
		s += " to " + r.To
	}
	if r.IIF != "" {
		s += " iif " + r.IIF
	}
	if r.Proto != "" {
		s += " ipproto " + r.Proto
	}
	if r.SPort != [2]int{} {
		s += fmt.Sprintf(" sport %d-%d", r.SPort[0], r.SPort[1])
	}
	if r.Table == TableMain {
		return s + " lookup main"
	}
	return s + fmt.Sprintf(" lookup %d", r.Table)
}

// String is the filter as tc filter add's arguments after the device.
func (f TCFilter) String() string {
	match := "match u32 0 0"
	switch {
	case f.Src != "":
		match = "match ip src " + f.Src
	case f.Dst != "":
		match = "match ip dst " + f.Dst
	}
	action := "action vlan pop"
	switch {
	case f.Redirect != "":
		action = "action tunnel_key unset pipe action skbedit ptype host pipe action mirred ingress redirect dev " + f.Redirect
	case f.PushVLAN != 0:
		action = fmt.Sprintf("action vlan push id %d", f.PushVLAN)
	}
	return fmt.Sprintf("%s prio %d protocol %s u32 %s %s", f.Dir, f.Prio, f.Protocol, match, action)
}

// TableMain is the main routing table's number.
const TableMain = 254
