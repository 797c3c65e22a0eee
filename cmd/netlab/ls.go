package main

import (
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/netlab/netlab/lab/state"
)

func lsCmd() *cobra.Command {
	var out string
	c := &cobra.Command{
		Use:     "ls",
		Short:   "List the labs on this machine",
		Example: "  netlab ls\n  netlab ls -o json",
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := checkOutput(out); err != nil {
				return err
			}
			names, err := state.List()
			if err != nil {
				return err
			}
			type row struct {
				Lab        string `json:"lab"`
				Scenario   string `json:"scenario"`
				Phase      string `json:"phase"`
				Namespaces int    `json:"namespaces"`
				DaemonPID  int    `json:"daemonPid,omitempty"`
				Daemon     bool   `json:"daemonAlive"`
				Created    string `json:"created"`
			}
			rows := []row{}
			for _, n := range names {
				st, err := state.Load(n)
				if err != nil {
					rows = append(rows, row{Lab: n, Phase: "unreadable: " + err.Error()})
					continue
				}
				r := row{Lab: n, Scenario: st.Scenario, Phase: st.Phase, Namespaces: len(st.Namespaces), Created: st.Created.Format("2006-01-02 15:04:05")}
				if st.Daemon != nil {
					r.DaemonPID, r.Daemon = st.Daemon.PID, st.Daemon.Alive()
				}
				rows = append(rows, r)
			}
			if out == "json" {
				return printJSON(rows)
			}
			if len(rows) == 0 {
				fmt.Println("no labs (netlab up SCENARIO; netlab scenarios lists the built-in ones)")
				return nil
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "LAB\tSCENARIO\tPHASE\tNAMESPACES\tDAEMON\tCREATED")
			for _, r := range rows {
				d := "-"
				if r.DaemonPID != 0 {
					d = fmt.Sprintf("%d", r.DaemonPID)
					if !r.Daemon {
						d += " (dead)"
					}
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\n", r.Lab, r.Scenario, r.Phase, r.Namespaces, d, r.Created)
			}
			return w.Flush()
		},
	}
	addOutput(c, &out)
	return c
}
