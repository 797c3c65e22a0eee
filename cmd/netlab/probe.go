package main

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/netlab/netlab/lab/topology"
	"github.com/netlab/netlab/probes"
)

func probeCmd() *cobra.Command {
	var (
		out      string
		timeout  time.Duration
		protocol string
		count    int
	)
	c := &cobra.Command{
		Use:   "probe LAB FROM TO",
		Short: "Fire a TCP probe and show what happened",
		Long: `probe connects from a pod, node or outside client to a target and reports connected /
refused / timeout / unreachable, which pod answered, the client address the server saw
(was the client IP preserved?), the devices its SYN crossed (path; -o json has every hop
with its addresses) and the conntrack entries of the flow on every node. netlab trace adds
the rules that decided it.

TO is pod/NAME[:PORT] (default: the pod's first port), node/NAME:PORT, client/NAME:PORT,
or IP:PORT.

Exit status: 0 when every probe connected, 1 otherwise (refused, timeout, unreachable, or
an error), so that 'netlab probe ... && echo ok' works in scripts.`,
		Example: `  netlab probe flannel-vxlan client-a pod/web-2
  netlab probe flannel-vxlan node-1 10.244.1.2:80 -o json
  netlab probe flannel-vxlan internet pod/web-1 --timeout 500ms
  netlab probe flannel-services client svc/dns        (a UDP Service port: a UDP probe)
  netlab probe flannel-vxlan client-a pod/web-2 --protocol udp`,
		Args: cobra.ExactArgs(3),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := positive("timeout", timeout); err != nil {
				return err
			}
			if err := positive("count", count); err != nil {
				return err
			}
			l, err := useLab(out, args[0])
			if err != nil {
				return err
			}
			// One capture for all the repeats (opening and closing one
			// costs more than a probe).
			tr, err := probes.NewTracer(l, false)
			if err != nil {
				return err
			}
			defer tr.Close()
			var results []*probes.Result
			for i := 0; i < count; i++ {
				r, err := probes.Run(l, args[1], args[2], probes.Options{Timeout: timeout, Tracer: tr, Protocol: protocol})
				if err != nil {
					return err
				}
				results = append(results, r)
			}
			if out == "json" {
				var err error
				if len(results) == 1 {
					err = printJSON(results[0])
				} else {
					err = printJSON(results)
				}
				if err != nil {
					return err
				}
			} else {
				for _, r := range results {
					printResult(r)
				}
			}
			return notConnected(results)
		},
	}
	addProbeFlags(c, &timeout, &protocol)
	c.Flags().IntVar(&count, "count", 1, "fire the probe this many times")
	addOutput(c, &out)
	return c
}

// notConnected is exit status 1 when any probe did not connect.
func notConnected(results []*probes.Result) error {
	for _, r := range results {
		if r.Result != topology.ResultConnected {
			return exitError{1}
		}
	}
	return nil
}

// addProbeFlags adds the flags of commands that fire one probe.
func addProbeFlags(c *cobra.Command, timeout *time.Duration, protocol *string) {
	c.Flags().DurationVar(timeout, "timeout", probes.DefaultTimeout, "connect and answer timeout")
	c.Flags().StringVar(protocol, "protocol", "", "tcp or udp (default: a Service port's protocol, else tcp)")
}

func printResult(r *probes.Result) {
	fmt.Printf("%s -> %s (%s): %s in %.1fms\n", r.From, r.To, r.Target, strings.ToUpper(r.Result), r.DurationMs)
	if r.Server != nil {
		kept := "?"
		if r.ClientIPPreserved != nil {
			kept = map[bool]string{true: "yes", false: "NO (SNAT on the way)"}[*r.ClientIPPreserved]
		}
		fmt.Printf("  served by %s on %s; server saw client %s (client socket %s); client IP preserved: %s\n",
			r.Server.Pod, r.Server.Node, r.ClientAddrSeen, r.ClientAddr, kept)
	}
	if r.Error != "" {
		fmt.Printf("  error: %s\n", r.Error)
	}
	if len(r.Path) > 0 {
		fmt.Printf("  path: %s\n", strings.Join(r.Path, " -> "))
	}
	printFlows(r.Conntrack)
}

func printFlows(ct map[string][]probes.Flow) {
	nodes := make([]string, 0, len(ct))
	for n := range ct {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	for _, n := range nodes {
		for _, f := range ct[n] {
			fmt.Fprintf(w, "  conntrack %s\t%s %s\tsrc=%s dst=%s\treply src=%s dst=%s\t%s\n", n, f.Proto, f.State, f.Orig.Src, f.Orig.Dst, f.Reply.Src, f.Reply.Dst, f.NAT)
		}
	}
	w.Flush()
}
