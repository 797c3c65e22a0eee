package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/netlab/netlab/probes"
)

func traceCmd() *cobra.Command {
	var (
		out      string
		timeout  time.Duration
		protocol string
	)
	c := &cobra.Command{
		Use:   "trace LAB FROM TO",
		Short: "Fire one probe and explain its path: every device, every rule that touched it, the verdict",
		Long: `trace fires one real TCP probe, as probe does, and explains it from observation:

  - the devices its first packet crossed, in order, with the namespace and the addresses it had
    there (a packet capture on every namespace of the lab; NAT shows as the addresses changing),
    and the answer's way back where it differs;
  - every rule it met, on every node and the SLB, in the order its packets met them: the
    request's first packet, the answer's, then the rules later packets met that neither did.
    The rules are traced with nftables' own tracing (a table netlab adds to each namespace with
    rules for the probe, and removes after), which sees iptables-nft's rules and nftables tables
    (kube-proxy's nftables mode) alike, and names the verdict map element that decided. Where
    tracing is not possible (iptables-legacy, or NETLAB_NFTRACE=0) the rules whose iptables
    counters moved are listed instead, by table and then as iptables-save lists them; the
    output says which was used where;
  - the IPVS connection entry (virtual server, real server) it made;
  - the conntrack entry on each node;
  - the verdict: delivered to which pod and what client address it saw, refused by which rule,
    or where it was last seen and what dropped it.

The lab must be otherwise idle while a trace runs: counters and captures see everything.
Exit status: 0 when the probe connected, 1 otherwise.`,
		Example: `  netlab trace demo centos svc/nginx1:loadbalancer
  netlab trace demo internet svc/nginx1:nodeport@node-180
  netlab trace flannel-vxlan client-a pod/web-2 -o json`,
		Args: cobra.ExactArgs(3),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := positive("timeout", timeout); err != nil {
				return err
			}
			l, err := useLab(out, args[0])
			if err != nil {
				return err
			}
			r, err := probes.Run(l, args[1], args[2], probes.Options{Timeout: timeout, Rules: true, Protocol: protocol})
			if err != nil {
				return err
			}
			if out == "json" {
				if err := printJSON(r); err != nil {
					return err
				}
			} else {
				printTrace(r)
			}
			return notConnected([]*probes.Result{r})
		},
	}
	addProbeFlags(c, &timeout, &protocol)
	addOutput(c, &out)
	return c
}

func printTrace(r *probes.Result) {
	fmt.Printf("%s -> %s (%s): %s in %.1fms\n", r.From, r.To, r.Target, strings.ToUpper(r.Result), r.DurationMs)
	if len(r.Path) > 0 {
		fmt.Printf("path: %s\n", strings.Join(r.Path, " -> "))
	}
	first := "the first SYN"
	if r.Protocol == "udp" {
		first = "the datagram"
	}
	fmt.Printf("\nrequest (%s):\n", first)
	fmt.Print(probes.FormatHops(r.Hops))
	switch {
	case len(r.ReplyHops) > 0:
		fmt.Println("\nanswer (its own way back):")
		fmt.Print(probes.FormatHops(r.ReplyHops))
	case r.Result == "connected":
		fmt.Println("\nanswer: the same devices, reversed")
	}
	if len(r.Rewrites) > 0 {
		fmt.Println("\naddress rewrites (request):")
		for _, rw := range r.Rewrites {
			fmt.Printf("  %-12s %-9s %s  ->  %s\n", rw.Owner, rw.NAT, rw.Before, rw.After)
			for _, d := range rw.By {
				fmt.Printf("  %-12s %-9s by %s\n", "", "", strings.TrimPrefix(d.String(), d.Owner+" "))
			}
		}
	}
	writeDecisions(os.Stdout, r)
	if len(r.Conntrack) > 0 {
		fmt.Println()
		printFlows(r.Conntrack)
	}
	if v := r.Verdict; v != nil {
		fmt.Printf("\nverdict: %s\n", v.Summary)
	}
}

// writeDecisions prints the rules a trace saw, grouped by the packet that
// met them (traced namespaces, in order), then the rules whose counters
// moved (counted namespaces) and the IPVS entries, with a line saying how
// each namespace was observed.
func writeDecisions(w io.Writer, r *probes.Result) {
	if len(r.Decisions) == 0 && len(r.Observed) == 0 {
		return
	}
	fmt.Fprintf(w, "\nrules that saw it (packets), %s:\n", observedSummary(r.Observed))
	first := "the first SYN"
	answer := "the answer's first packet"
	if r.Protocol == "udp" {
		first = "the datagram"
	}
	titles := map[string]string{
		probes.PacketRequest: first + ", in the order it met them",
		probes.PacketReply:   answer + ", in the order it met them",
		probes.PacketLater:   "later packets of the flow, rules neither first packet met",
		"":                   "counters that moved, by table, then as iptables-save lists them",
	}
	// Columns line up across the groups: owner, table, chain, packets,
	// rule (and a verdict map's element under it).
	ow, tw, cw := 0, 0, 0
	for _, d := range r.Decisions {
		ow, tw, cw = max(ow, len(d.Owner)), max(tw, len(d.Table)), max(cw, len(d.Chain))
	}
	group := "-"
	for _, d := range r.Decisions {
		g := d.Packet
		if d.Kind == probes.DecisionIPVS || d.Kind == probes.DecisionKernel {
			g = d.Kind
		}
		if g != group {
			group = g
			if t, ok := titles[g]; ok {
				fmt.Fprintf(w, "  %s:\n", t)
			} else {
				fmt.Fprintf(w, "  %s:\n", g)
			}
		}
		switch d.Kind {
		case probes.DecisionIPTables, probes.DecisionNFTables:
			fmt.Fprintf(w, "    %-*s  %-*s  %-*s  %3d  %s\n", ow, d.Owner, tw, d.Table, cw, d.Chain, d.Packets, d.Rule)
			if d.Element != "" {
				fmt.Fprintf(w, "    %*s  %s\n", ow+tw+cw+4+3+2, "", d.Element)
			}
		default:
			fmt.Fprintf(w, "    %-*s  %s\n", ow, d.Owner, d.Rule)
		}
	}
}

// observedSummary says how the rules were watched, by method: "traced
// with nftables on node-1, node-2; iptables counters on slb
// (iptables-legacy: ...)".
func observedSummary(obs []probes.Observation) string {
	if len(obs) == 0 {
		return "no namespace on the path has rules"
	}
	var order []string
	who := map[string][]string{}
	for _, o := range obs {
		key := o.Method
		if o.Reason != "" {
			key += " (" + o.Reason + ")"
		}
		if who[key] == nil {
			order = append(order, key)
		}
		who[key] = append(who[key], o.Owner)
	}
	names := map[string]string{
		probes.MethodNFTrace:                               "traced with nftables",
		probes.MethodCounters:                              "iptables counters",
		probes.MethodNFTrace + "+" + probes.MethodCounters: "nftables traced, iptables counted",
		"none": "not observed",
	}
	var parts []string
	for _, key := range order {
		method, reason, _ := strings.Cut(key, " (")
		name := names[method]
		if name == "" {
			name = method
		}
		part := name + " on " + strings.Join(who[key], ", ")
		if reason != "" {
			part += " (" + reason
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, "; ")
}
