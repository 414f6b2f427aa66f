package main

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/podreach/kubectl-podreach/examples"
)

// completeWorld picks the embedded world to read instead of a cluster:
// --example's, or the default one when nothing at all is configured (no
// arguments, no -f, no cluster). When SRC DST are not given it takes them,
// and the flags the user did not set, from the world's `# podreach:` line.
// notice is the line Run prints about it on stderr ("" without a world).
func (f *Flags) completeWorld(args []string) (world *examples.World, _ []string, notice string, _ error) {
	name, implicit := f.Example, false
	if name == "" && len(args) == 0 && len(f.Filenames) == 0 && f.noClusterConfigured() {
		name, implicit = "default", true
	}
	if name == "" {
		return nil, args, "", nil
	}
	if len(f.Filenames) > 0 {
		return nil, nil, "", usageErr("--example reads an embedded world; it cannot be combined with -f")
	}
	// `--example NAME` (with a space) leaves NAME as an argument, since the
	// flag's value is optional.
	if name == "default" && len(args) == 1 {
		if _, err := examples.Lookup(args[0]); err == nil {
			name, args = args[0], nil
		}
	}
	var (
		w   examples.World
		err error
	)
	if name == "default" {
		w, err = examples.Default()
	} else {
		w, err = examples.Lookup(name)
	}
	if err != nil {
		return nil, nil, "", usageErr(err.Error())
	}
	cmdline := worldCommand(w, args) // the user's SRC DST
	if len(args) == 0 {
		cmdline = worldCommand(w, w.Args)
		if args, err = applyWorldArgs(f.flags, w.Args); err != nil {
			return nil, nil, "", usageErr(fmt.Sprintf("examples/%s: %v", w.File, err))
		}
	}
	notice = fmt.Sprintf("Embedded example world examples/%s (%s).", w.File, cmdline)
	if implicit {
		notice = fmt.Sprintf("No cluster configured: showing the embedded example world examples/%s (%s).", w.File, cmdline)
	}
	return &w, args, notice, nil
}

// applyWorldArgs parses a world's `# podreach:` words with a fresh copy of
// the command's flags, copies the flags the user did not set into fs, and
// returns the positional arguments.
func applyWorldArgs(fs *pflag.FlagSet, words []string) ([]string, error) {
	scratch := NewCmd(NewFlags(genericiooptions.NewTestIOStreamsDiscard())).Flags()
	if err := scratch.Parse(words); err != nil {
		return nil, err
	}
	var err error
	scratch.Visit(func(f *pflag.Flag) {
		if err != nil || fs.Changed(f.Name) {
			return
		}
		target := fs.Lookup(f.Name)
		if target == nil {
			return
		}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			if tv, ok := target.Value.(pflag.SliceValue); ok {
				err = tv.Replace(sv.GetSlice())
				target.Changed = true
				return
			}
		}
		err = fs.Set(f.Name, f.Value.String())
	})
	return scratch.Args(), err
}

// worldCommand is how to run the plugin with args on a world's file.
func worldCommand(w examples.World, args []string) string {
	return fmt.Sprintf("kubectl podreach %s -f examples/%s", strings.Join(quoteWords(args), " "), w.File)
}

func quoteWords(words []string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		if strings.ContainsAny(w, " \t'\"\\$`*?&|;<>()") {
			w = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
		}
		out[i] = w
	}
	return out
}
