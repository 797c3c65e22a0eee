package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/netlab/netlab/lab"
	"github.com/netlab/netlab/lab/state"
)

func downCmd() *cobra.Command {
	var (
		all bool
		out string
	)
	c := &cobra.Command{
		Use:   "down LAB...",
		Short: "Remove a lab: its daemon, namespaces and state (idempotent)",
		Long: `down stops the lab daemon by its recorded PID and deletes every namespace the lab recorded,
then its state. It works on a half-built lab (after a crash or kill -9 during up) and
succeeds when the lab is already gone.`,
		Example: "  netlab down flannel-vxlan\n  netlab down --all",
		RunE: func(_ *cobra.Command, args []string) error {
			if err := checkOutput(out); err != nil {
				return err
			}
			if err := requireRoot(); err != nil {
				return err
			}
			if all {
				labs, err := state.List()
				if err != nil {
					return err
				}
				args = append(args, labs...)
			}
			if len(args) == 0 {
				return fmt.Errorf("name a lab (netlab ls lists them) or use --all")
			}
			type row struct {
				Lab     string  `json:"lab"`
				Seconds float64 `json:"seconds"`
			}
			var rows []row
			for _, name := range args {
				start := time.Now()
				if err := lab.Down(name); err != nil {
					return fmt.Errorf("down %s: %w", name, err)
				}
				rows = append(rows, row{name, time.Since(start).Seconds()})
				if out == "table" {
					fmt.Fprintf(os.Stdout, "%s: down in %.2fs\n", name, time.Since(start).Seconds())
				}
			}
			if out == "json" {
				return printJSON(rows)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&all, "all", false, "remove every lab on this machine")
	addOutput(c, &out)
	return c
}
