package main

import (
	"errors"
	"os"
	"os/exec"

	"github.com/spf13/cobra"

	"github.com/netlab/netlab/lab/netns"
)

func execCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "exec LAB POD|NODE|CLIENT|vpc -- COMMAND [ARGS...]",
		Short: "Run a command inside a lab namespace",
		Long: `exec runs a command inside the namespace of a pod (its node's for a hostNetwork pod), a
node, an outside client, or the VPC router ("vpc"), with this terminal attached. It is
the same as 'ip netns exec LAB-NAME COMMAND'.`,
		Example: `  netlab exec flannel-vxlan node-1 -- ip route
  netlab exec flannel-vxlan node-1 -- iptables-save -t nat
  netlab exec flannel-vxlan client-a -- curl -s 10.244.1.2`,
		Args: cobra.MinimumNArgs(3),
		RunE: func(c *cobra.Command, args []string) error {
			l, err := openLab(args[0])
			if err != nil {
				return err
			}
			ns, err := l.NS(args[1])
			if err != nil {
				return err
			}
			cmdArgs := args[2:]
			var runErr error
			err = netns.Do(ns, func() error {
				cmd := exec.Command(cmdArgs[0], cmdArgs[1:]...)
				cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
				runErr = cmd.Run()
				return nil
			})
			if err != nil {
				return err
			}
			var ee *exec.ExitError
			if errors.As(runErr, &ee) {
				return exitError{ee.ExitCode()}
			}
			return runErr
		},
	}
}
