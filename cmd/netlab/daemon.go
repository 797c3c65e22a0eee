package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/netlab/netlab/lab/daemon"
)

func daemonCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "daemon LAB",
		Short:  "Run a lab's app servers (started by up; not for direct use)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			// up passes the ready pipe as fd 3.
			return daemon.Run(args[0], os.NewFile(3, "ready"))
		},
	}
}
