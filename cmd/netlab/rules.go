package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/spf13/cobra"

	"github.com/netlab/netlab/lab/apply"
)

func rulesCmd() *cobra.Command {
	var out, table string
	c := &cobra.Command{
		Use:   "rules LAB NODE",
		Short: "Show the iptables rules a node (or pod, client, vpc, slb) really has",
		Long: `rules prints iptables-save from inside a lab namespace: what the kernel holds, not what the
plan says (netlab plan shows that).`,
		Example: `  netlab rules flannel-vxlan node-1
  netlab rules flannel-vxlan node-1 --table nat
  netlab rules mylab slb -o json`,
		Args: cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := checkOutput(out); err != nil {
				return err
			}
			l, err := openLab(args[0])
			if err != nil {
				return err
			}
			ns, err := l.NS(args[1])
			if err != nil {
				return err
			}
			cmdArgs := []string{}
			if table != "" {
				cmdArgs = append(cmdArgs, "-t", table)
			}
			var text []byte
			err = apply.Do(ns, func() error {
				var stderr bytes.Buffer
				cmd := exec.Command("iptables-save", cmdArgs...)
				cmd.Stderr = &stderr
				var err error
				text, err = cmd.Output()
				if err != nil {
					return fmt.Errorf("iptables-save: %v: %s", err, strings.TrimSpace(stderr.String()))
				}
				return nil
			})
			if err != nil {
				return err
			}
			if out == "json" {
				return printJSON(map[string]any{"lab": l.State.Lab, "namespace": ns, "object": args[1], "mode": "iptables", "tables": splitTables(string(text))})
			}
			_, err = os.Stdout.Write(text)
			return err
		},
	}
	c.Flags().StringVar(&table, "table", "", "only this table (nat, filter, mangle, raw)")
	addOutput(c, &out)
	return c
}

// splitTables turns iptables-save text into table -> lines (comments and
// counters dropped).
func splitTables(text string) map[string][]string {
	out := map[string][]string{}
	cur := ""
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "*"):
			cur = line[1:]
			out[cur] = []string{}
		case line == "" || strings.HasPrefix(line, "#") || line == "COMMIT":
		default:
			out[cur] = append(out[cur], line)
		}
	}
	return out
}
