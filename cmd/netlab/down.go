package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/netlab/netlab/lab"
	"github.com/netlab/netlab/lab/state"
)

func downCmd() *cobra.Command {
	var (
		all, force, yes, ignoreMissing bool
		out                            string
	)
	c := &cobra.Command{
		Use:   "down LAB...",
		Short: "Remove a lab: its daemon, namespaces and state",
		Long: `down stops the lab daemon by its recorded PID and deletes every namespace the lab recorded,
then its state. It works on a half-built lab (after a crash or kill -9 during up). It waits
for another command that is using the lab (an up still building it, a test still probing).

A lab that is not there is an error (exit 1) unless --ignore-not-found is given.

--force recovers a lab whose state is corrupt or was removed: it deletes the namespaces
named LAB-* whose loopback device carries the lab's mark (netlab sets lo's alias to
"netlab lab LAB" in every namespace it creates) and stops the daemon recorded in the lab's
PID file. It never deletes a namespace without that mark and never stops a process by
name; what it leaves alone it lists.

--all removes every lab on this machine, other people's too: it asks first, or needs --yes.`,
		Example: `  netlab down flannel-vxlan
  netlab down lab-a lab-b -o json
  netlab down mylab --force
  netlab down mylab --ignore-not-found`,
		RunE: func(_ *cobra.Command, args []string) error {
			if err := checkOutput(out); err != nil {
				return err
			}
			for _, name := range args {
				if err := state.CheckName(name); err != nil {
					return err
				}
			}
			if err := requireRoot(); err != nil {
				return err
			}
			if all {
				labs, err := state.List()
				if err != nil {
					return err
				}
				if err := confirmAll(labs, yes); err != nil {
					return err
				}
				args = append(args, labs...)
			}
			if len(args) == 0 {
				if all {
					fmt.Fprintln(os.Stderr, "no labs on this machine")
					return nil
				}
				return fmt.Errorf("name a lab (netlab ls lists them)")
			}
			var rows []downRow
			var missing []string
			for _, name := range args {
				start := time.Now()
				rep, err := lab.DownWith(context.Background(), name, lab.DownOptions{Force: force, Wait: waitingFor(name)})
				if err != nil {
					return fmt.Errorf("down %s: %w", name, err)
				}
				rows = append(rows, downRow{name, time.Since(start).Seconds(), *rep})
				if !rep.Found {
					missing = append(missing, name)
				}
				if out == "table" && (rep.Found || ignoreMissing) {
					printDown(name, rep, time.Since(start))
				}
			}
			if out == "json" {
				if err := printJSON(rows); err != nil {
					return err
				}
			}
			if len(missing) > 0 && !ignoreMissing {
				return fmt.Errorf("no lab named %s on this machine (netlab ls lists them; --ignore-not-found makes this no error)", strings.Join(missing, ", "))
			}
			return nil
		},
	}
	c.Flags().BoolVar(&all, "all", false, "remove every lab on this machine (asks first)")
	c.Flags().BoolVar(&yes, "yes", false, "with --all: do not ask")
	c.Flags().BoolVar(&force, "force", false, "recover a lab with corrupt or missing state: remove its marked namespaces and recorded daemon")
	c.Flags().BoolVar(&ignoreMissing, "ignore-not-found", false, "a lab that is not there is no error")
	addOutput(c, &out)
	return c
}

// downRow is one lab's line of down -o json.
type downRow struct {
	Lab     string  `json:"lab"`
	Seconds float64 `json:"seconds"`
	lab.DownReport
}

func printDown(name string, rep *lab.DownReport, took time.Duration) {
	if !rep.Found {
		fmt.Fprintf(os.Stderr, "%s: no such lab; nothing removed\n", name)
		return
	}
	fmt.Printf("%s: down in %.2fs (%d namespaces", name, took.Seconds(), rep.Namespaces)
	if len(rep.Stopped) > 0 {
		fmt.Printf(", daemon pid %v stopped", rep.Stopped)
	}
	fmt.Println(")")
	for _, ns := range rep.LeftAlone {
		fmt.Printf("  left alone: namespace %s (named like the lab's, but its lo lacks the lab's mark)\n", ns)
	}
}

// confirmAll asks before down --all removes labs that may be other users'.
// Without a terminal to ask on, it needs --yes.
func confirmAll(labs []string, yes bool) error {
	if yes || len(labs) == 0 {
		return nil
	}
	list := strings.Join(labs, ", ")
	if _, err := unix.IoctlGetTermios(int(os.Stdin.Fd()), unix.TCGETS); err != nil {
		return fmt.Errorf("--all would remove every lab on this machine (%s), other people's too: add --yes to confirm", list)
	}
	fmt.Fprintf(os.Stderr, "remove every lab on this machine (%s), other people's too? [y/N] ", list)
	answer, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
		return fmt.Errorf("nothing removed")
	}
	return nil
}
