package topology

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// MaxScenarioBytes bounds a scenario file. A 5,000-pod scenario
// (topologies.Synthetic 100 x 50) is about 215 KB and parses in ~50 ms;
// this is ten times that, while the worst YAML of this size ("[a,a,a,…]",
// a million nodes) still parses in about a second.
const MaxScenarioBytes = 2 << 20

// sizeProblem is the message for input beyond MaxScenarioBytes.
func sizeProblem(file string) Problem {
	return Problem{File: file, Msg: fmt.Sprintf("the file is larger than %d MiB, the most a scenario may be", MaxScenarioBytes>>20),
		Fix: "check that this is the scenario you meant: a 5,000-pod scenario is about 215 KB"}
}

// ReadScenarioFile reads a scenario file, refusing anything that is not a
// regular file (a FIFO would block forever, /dev/zero never ends, a
// directory or socket cannot be read) and anything larger than
// MaxScenarioBytes. The file is opened non-blocking so that a FIFO put in
// its place after the first check cannot hang the open, checked again on
// the open descriptor, and read through a bounded reader in case it grows
// after the check.
func ReadScenarioFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if p, bad := notRegular(path, st); bad {
		return nil, Problems{p}
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err = f.Stat(); err != nil {
		return nil, err
	}
	if p, bad := notRegular(path, st); bad {
		return nil, Problems{p}
	}
	if st.Size() > MaxScenarioBytes {
		return nil, Problems{sizeProblem(path)}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxScenarioBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxScenarioBytes {
		return nil, Problems{sizeProblem(path)}
	}
	return data, nil
}

// notRegular names what a non-regular file is.
func notRegular(path string, st fs.FileInfo) (Problem, bool) {
	m := st.Mode()
	var what string
	switch {
	case m.IsRegular():
		return Problem{}, false
	case m.IsDir():
		what = "a directory"
	case m&fs.ModeNamedPipe != 0:
		what = "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		what = "a socket"
	case m&fs.ModeCharDevice != 0:
		what = "a character device"
	case m&fs.ModeDevice != 0:
		what = "a block device"
	default:
		what = "a " + m.Type().String() + " file"
	}
	return Problem{File: path, Msg: fmt.Sprintf("is %s, not a regular file", what),
		Fix: "pass the path of a scenario's .yaml file, or the name of a built-in scenario"}, true
}
