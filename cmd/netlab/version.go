package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// versionView is what version prints: the module version and the VCS
// revision the binary was built from (go build stamps them), and the Go
// toolchain.
type versionView struct {
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"`
	Time     string `json:"time,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"goVersion"`
}

// buildVersion reads the version from the build information; a binary
// built without it (go run of a file list) is "(unknown)".
func buildVersion(info *debug.BuildInfo, ok bool) versionView {
	v := versionView{Version: "(unknown)", Go: runtime.Version()}
	if !ok {
		return v
	}
	v.Go = info.GoVersion
	if info.Main.Version != "" {
		v.Version = info.Main.Version
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

func (v versionView) String() string {
	s := "netlab " + v.Version
	if v.Revision != "" {
		s += " (" + v.Revision
		if v.Time != "" {
			s += ", " + v.Time
		}
		if v.Modified {
			s += ", modified"
		}
		s += ")"
	}
	return s + " " + v.Go
}

func versionCmd() *cobra.Command {
	var out string
	c := &cobra.Command{
		Use:     "version",
		Short:   "Print netlab's version, the revision it was built from and its Go version",
		Example: "  netlab version\n  netlab version -o json",
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			v := buildVersion(debug.ReadBuildInfo())
			if out == outputJSON {
				return printJSON(v)
			}
			_, err := fmt.Println(v)
			return err
		},
	}
	addOutput(c, &out)
	return c
}
