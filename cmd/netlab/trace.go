package main

import (
	"fmt"
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
  - every iptables rule whose counters it moved, on every node and the SLB, and the IPVS
    connection entry (virtual server, real server) it made;
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
	if len(r.Decisions) > 0 {
		fmt.Println("\nrules that saw it (packets):")
		for _, d := range r.Decisions {
			if d.Kind == probes.DecisionIPTables {
				fmt.Printf("  %-12s %-6s %-28s %3d  %s\n", d.Owner, d.Table, d.Chain, d.Packets, d.Rule)
			} else {
				fmt.Printf("  %-12s %-6s %s\n", d.Owner, d.Kind, d.Rule)
			}
		}
	}
	if len(r.Conntrack) > 0 {
		fmt.Println()
		printFlows(r.Conntrack)
	}
	if v := r.Verdict; v != nil {
		fmt.Printf("\nverdict: %s\n", v.Summary)
	}
}
