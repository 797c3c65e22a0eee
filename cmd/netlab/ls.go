package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/netlab/netlab/lab/state"
)

// lsRow is one lab in ls. Its daemon is status's (daemonView).
type lsRow struct {
	Lab        string      `json:"lab"`
	Scenario   string      `json:"scenario"`
	Phase      string      `json:"phase"`
	Namespaces int         `json:"namespaces"`
	Daemon     *daemonView `json:"daemon,omitempty"`
	Created    time.Time   `json:"created"`
	// Error says why the lab's state could not be read.
	Error string `json:"error,omitempty"`
}

func listLabs() ([]lsRow, error) {
	names, err := state.List()
	if err != nil {
		return nil, err
	}
	rows := []lsRow{}
	for _, n := range names {
		st, err := state.Load(n)
		if err != nil {
			rows = append(rows, lsRow{Lab: n, Phase: "unreadable", Error: err.Error()})
			continue
		}
		rows = append(rows, lsRow{Lab: n, Scenario: st.Scenario, Phase: st.Phase, Namespaces: len(st.Namespaces),
			Daemon: newDaemonView(st.Daemon), Created: st.Created})
	}
	return rows, nil
}

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
			rows, err := listLabs()
			if err != nil {
				return err
			}
			if out == outputJSON {
				return printJSON(rows)
			}
			if len(rows) == 0 {
				fmt.Println("no labs (netlab up SCENARIO; netlab scenarios lists the built-in ones)")
				return nil
			}
			t := newTable(column{Header: "LAB"}, column{Header: "SCENARIO"}, column{Header: "PHASE", Flex: true, Min: 10},
				column{Header: "NAMESPACES"}, column{Header: "DAEMON"}, column{Header: "CREATED"})
			for _, r := range rows {
				d := "-"
				if r.Daemon != nil {
					d = strconv.Itoa(r.Daemon.PID)
					if !r.Daemon.Alive {
						d += " (dead)"
					}
				}
				phase, created := r.Phase, ""
				if r.Error != "" {
					phase += ": " + r.Error
				} else {
					created = r.Created.Local().Format("2006-01-02 15:04:05")
				}
				t.add(r.Lab, r.Scenario, phase, strconv.Itoa(r.Namespaces), d, created)
			}
			return t.write(os.Stdout, termWidth())
		},
	}
	addOutput(c, &out)
	return c
}
