package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/netlab/netlab/lab"
	"github.com/netlab/netlab/probes"
)

func conntrackCmd() *cobra.Command {
	var (
		out, src, dst, proto, port string
		flush                      bool
	)
	c := &cobra.Command{
		Use:   "conntrack LAB [NODE...]",
		Short: "List or flush the conntrack tables of a lab's nodes",
		Long: `conntrack lists the IPv4 conntrack entries of each node's namespace (every node when none is
named; a pod, client, vpc or slb has a table too) with what conntrack -L shows: protocol,
timeout in seconds, TCP state, both tuples (ports only for protocols that have them; ICMP type,
code and id), [UNREPLIED] / [ASSURED], mark, use, zone and security context when set, and
packets / bytes when the namespace counts them (net.netfilter.nf_conntrack_acct=1). NAT says
what the entry rewrote: dnat, snat, dnat+snat or none.

The filters read the original direction, as conntrack's -s, -d, -p and --sport/--dport do:
--dst 10.96.0.10 finds the connections to a ClusterIP, not those to the pod it was DNATed to.
--flush deletes the matching entries instead (all of the table with no filter) and says how
many, only in the lab's own namespaces.`,
		Example: `  netlab conntrack flannel-services
  netlab conntrack flannel-services node-1 --dst 10.96.0.10 --port 80
  netlab conntrack flannel-services --proto igmp -o json
  netlab conntrack flannel-services node-1 --src 10.244.0.2 --proto tcp --flush
  netlab conntrack flannel-services node-2 --flush`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := checkOutput(out); err != nil {
				return err
			}
			filter, err := probes.ParseConntrackFilter(src, dst, proto, port)
			if err != nil {
				return err
			}
			l, err := openLab(args[0])
			if err != nil {
				return err
			}
			objects, err := probes.ConntrackObjects(l, args[1:])
			if err != nil {
				return err
			}
			if flush {
				return printFlushed(l, objects, filter, out)
			}
			flows, err := probes.Conntrack(l, objects, filter)
			if err != nil {
				return err
			}
			if out == "json" {
				return printJSON(flows)
			}
			return probes.WriteConntrack(os.Stdout, objects, flows)
		},
	}
	f := c.Flags()
	f.StringVar(&src, "src", "", "only entries with this original source IP (conntrack -s)")
	f.StringVar(&dst, "dst", "", "only entries with this original destination IP (conntrack -d), e.g. a ClusterIP")
	f.StringVar(&proto, "proto", "", "only this protocol: tcp, udp, icmp, igmp, sctp, gre, ... or its number (conntrack -p)")
	f.StringVar(&port, "port", "", "only entries with this original source or destination port")
	f.BoolVar(&flush, "flush", false, "delete the matching entries (the whole table without a filter) and print how many")
	addOutput(c, &out)
	return c
}

func printFlushed(l *lab.Lab, objects []string, filter probes.ConntrackFilter, out string) error {
	deleted, err := probes.FlushConntrack(l, objects, filter)
	if err != nil {
		return err
	}
	if out == "json" {
		return printJSON(map[string]any{"deleted": deleted})
	}
	for _, o := range objects {
		noun := "entries"
		if deleted[o] == 1 {
			noun = "entry"
		}
		fmt.Printf("%s: %d conntrack %s deleted\n", o, deleted[o], noun)
	}
	return nil
}
