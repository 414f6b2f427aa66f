package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/kubernetes"

	"github.com/podreach/kubectl-podreach/pkg/inspect"
	"github.com/podreach/kubectl-podreach/pkg/podref"
)

// Flags are the command line as typed: kubectl's connection flags, -o, and
// podreach's own flags, as strings. ToOptions turns them into Options, the
// parsed values a run uses.
type Flags struct {
	ConfigFlags *genericclioptions.ConfigFlags
	PrintFlags  *PrintFlags

	Filenames []string
	With      []string
	Diff      bool
	FixFile   string
	Ports     []string
	Headers   []string
	Traffic   string
	Method    string
	Example   string
	Verbosity int

	// The fleet forms: -l, -A, --peers, --details.
	Selector      string
	AllNamespaces bool
	Peers         peersFlag
	Details       bool

	genericiooptions.IOStreams

	// flags is the flag set AddFlags filled: an example world's line sets
	// the flags the user did not.
	flags *pflag.FlagSet
	// kubeClient, if set, replaces the client built from ConfigFlags for
	// shell completion (tests inject a fake clientset).
	kubeClient func() (kubernetes.Interface, error)
}

// NewFlags returns kubectl's connection flags and podreach's defaults.
func NewFlags(streams genericiooptions.IOStreams) *Flags {
	return &Flags{
		ConfigFlags: genericclioptions.NewConfigFlags(true),
		PrintFlags:  NewPrintFlags(),
		Traffic:     podref.TrafficValues[0],
		IOStreams:   streams,
	}
}

// AddFlags binds the flags to cmd.
func (f *Flags) AddFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	f.flags = fs
	f.ConfigFlags.AddFlags(fs)
	f.PrintFlags.AddFlags(cmd)
	fs.StringArrayVarP(&f.Filenames, "filename", "f", nil,
		"Read the cluster from a YAML/JSON file, a directory of them, or - for stdin, instead of the API server (repeatable).")
	fs.StringArrayVar(&f.With, "with", nil,
		"Put the objects of a YAML/JSON file, a directory of them, or - (stdin) over the cluster read, as kubectl apply would replace them (repeatable; podreach.dev/delete: \"true\" removes an object).")
	fs.BoolVar(&f.Diff, "diff", false,
		"With --with: print only the requests whose outcome the overlay changes; exit status 1 if one that reached fails with it.")
	fs.StringVar(&f.FixFile, "fix-file", "",
		"Write the proven fixes' patches to this directory, one manifest per change (kubectl apply -f, or kubectl patch --type merge --patch-file).")
	fs.StringSliceVar(&f.Ports, "port", nil,
		"Destination ports to examine, by number or name (repeatable or comma-separated; default: all).")
	fs.StringArrayVarP(&f.Headers, "header", "H", nil,
		"Request header the app sends, e.g. 'Host: web.demo' (repeatable; URL destinations only).")
	fs.StringVar(&f.Traffic, "traffic", f.Traffic,
		"What the app sends: auto (by the port's protocol), http or tcp.")
	fs.StringVar(&f.Method, "method", "GET",
		"HTTP method the app sends (GET, HEAD, POST, ...): AuthorizationPolicies and VirtualServices may match on it.")
	fs.StringVar(&f.Example, "example", "",
		"Run against an embedded example world instead of a cluster (--example or --example=NAME); its SRC DST apply unless given.")
	fs.Lookup("example").NoOptDefVal = "default"
	fs.StringVarP(&f.Selector, "selector", "l", "",
		"Fleet form: every pod this label selector matches (in -n's namespace, or all with -A) is a DST, e.g. -l app=web; with --peers, the peers.")
	fs.BoolVarP(&f.AllNamespaces, "all-namespaces", "A", false,
		"Fleet form: every pod of every namespace is a DST (or, with -l, every pod it matches). SRC still resolves in -n's namespace.")
	fs.Var(&f.Peers, "peers",
		"Fleet form: every ordered pair of the pods of one workload (--peers sts/etcd, --peers deploy/NAME) or of -l SELECTOR, on every port, by every address.")
	fs.Lookup("peers").NoOptDefVal = "true"
	fs.BoolVar(&f.Details, "details", false,
		"Fleet forms: print every request of every pair (one table per pair) instead of the requests grouped by outcome.")
	fs.IntVarP(&f.Verbosity, "v", "v", 0, "Log level: 4 logs every API request with its status and latency on stderr; 6-9 as kubectl.")
}

// ToOptions turns the flags and arguments into Options. It completes what
// the command line leaves implicit (the example world and the SRC DST it
// brings, the default namespace) and parses every value once into its type
// (pkg/podref); a value that does not parse is a usage error. Nothing is
// read but the kubeconfig; Validate then checks how the values combine.
func (f *Flags) ToOptions(args []string) (*Options, error) {
	world, args, notice, err := f.completeWorld(args)
	if err != nil {
		return nil, err
	}
	namespace, err := f.defaultNamespace(world != nil)
	if err != nil {
		return nil, err
	}
	o := &Options{Notice: notice, Verbosity: f.Verbosity, IOStreams: f.IOStreams}
	if o.Print, err = f.PrintFlags.ToPrinter(colorAllowed(f.Out), f.Details); err != nil {
		return nil, err
	}
	if o.Traffic, err = podref.ParseTraffic(f.Traffic); err != nil {
		return nil, err
	}
	if o.Method, err = podref.ParseMethod(f.Method); err != nil {
		return nil, err
	}
	for _, s := range f.Ports {
		p, err := podref.ParsePort(s)
		if err != nil {
			return nil, err
		}
		o.Ports = append(o.Ports, p)
	}
	for _, s := range f.Headers {
		h, err := podref.ParseHeader(s)
		if err != nil {
			return nil, err
		}
		o.Headers = append(o.Headers, h)
	}
	if o.Timeout, err = requestTimeout(f.ConfigFlags); err != nil {
		return nil, err
	}
	for _, name := range f.Filenames {
		if name == "" {
			return nil, usageErr("-f needs a file, a directory or -")
		}
	}
	for _, name := range f.With {
		if name == "" {
			return nil, usageErr("--with needs a file, a directory or -")
		}
	}
	o.With, o.Diff, o.FixFile = f.With, f.Diff, f.FixFile
	if o.Diff {
		if o.PrintDiff, err = f.PrintFlags.ToDiffPrinter(colorAllowed(f.Out)); err != nil {
			return nil, err
		}
	}
	if slices.Contains(f.With, "-") && (slices.Contains(f.Filenames, "-") || world != nil) {
		return nil, usageErr("--with - and -f - (or --example) cannot both read standard input")
	}

	o.Namespace, o.NamespaceGiven = namespace, f.flags != nil && f.flags.Changed("namespace")
	o.AllNamespaces, o.Peers, o.Details, o.Output = f.AllNamespaces, f.Peers.on, f.Details, *f.PrintFlags.OutputFormat
	if f.flags != nil && f.flags.Changed("selector") {
		if o.Selector, err = parseSelector(f.Selector); err != nil {
			return nil, err
		}
	}
	o.Progress = progressWriter(f.ErrOut)
	if f.Peers.workload != "" {
		args = append([]string{f.Peers.workload}, args...)
	}
	if !o.Peers {
		// SRC, then the DSTs.
		if len(args) == 0 {
			return nil, usageErr("SRC and DST are required: kubectl podreach SRC DST (or try --example)")
		}
		if o.Source, err = podref.Parse(args[0], namespace); err != nil {
			return nil, err
		}
		args = args[1:]
	}
	for _, dst := range args {
		if podref.IsTarget(dst) {
			tg, err := podref.ParseTarget(dst, nil)
			if err != nil {
				return nil, err
			}
			for _, h := range o.Headers {
				tg.SetHeader(h)
			}
			o.Targets = append(o.Targets, tg)
			continue
		}
		ref, err := podref.Parse(dst, namespace)
		if err != nil {
			return nil, err
		}
		o.Destinations = append(o.Destinations, ref)
	}
	// One DST without -l, -A or --peers is the single form, as before the
	// fleet forms: a workload DST means one of its pods.
	if !o.Peers && o.Selector == nil && !o.AllNamespaces && len(o.Destinations)+len(o.Targets) == 1 {
		if len(o.Targets) == 1 {
			o.Target, o.Targets = o.Targets[0], nil
		} else {
			o.Destination, o.Destinations = &o.Destinations[0], nil
		}
	}
	o.Reader = func() (inspect.Reader, error) { return f.newReader(world) }
	return o, nil
}

// peersFlag is --peers: a switch (--peers sts/etcd leaves the workload as
// an argument, --peers -l app=etcd takes the selector) that also accepts
// the workload as its value (--peers=sts/etcd).
type peersFlag struct {
	on       bool
	workload string
}

func (p *peersFlag) String() string {
	if p.workload != "" {
		return p.workload
	}
	return strconv.FormatBool(p.on)
}

func (p *peersFlag) Set(v string) error {
	switch v {
	case "true":
		p.on, p.workload = true, ""
	case "false":
		p.on, p.workload = false, ""
	default:
		p.on, p.workload = true, v
	}
	return nil
}

// Type is "bool" so that help shows --peers as the switch it mostly is.
func (p *peersFlag) Type() string { return "bool" }

// progressWriter is where the fleet forms report progress: stderr when it
// is a terminal, else nowhere.
func progressWriter(w io.Writer) io.Writer {
	if printers.IsTerminal(w) {
		return w
	}
	return nil
}

// defaultNamespace is where SRC and DST without a namespace live: -n, else
// the kubeconfig context's; files and example worlds carry no context, so
// there it is -n, else "default".
func (f *Flags) defaultNamespace(offline bool) (string, error) {
	if offline || len(f.Filenames) > 0 {
		if ns := deref(f.ConfigFlags.Namespace); ns != "" {
			return ns, nil
		}
		return "default", nil
	}
	ns, _, err := f.ConfigFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return "", kubeconfigErr(err)
	}
	return ns, nil
}

func colorAllowed(w io.Writer) bool {
	// AllowsColorOutput checks for a terminal, TERM=dumb and NO_COLOR.
	return printers.AllowsColorOutput(w)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// requestTimeout parses --request-timeout as kubectl does: a duration
// ("30s", "1m") or a bare number of seconds; "0" means none.
func requestTimeout(cf *genericclioptions.ConfigFlags) (time.Duration, error) {
	if cf.Timeout == nil || *cf.Timeout == "" || *cf.Timeout == "0" {
		return 0, nil
	}
	s := *cf.Timeout
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, usageErr(fmt.Sprintf("invalid --request-timeout %q: use a duration such as 30s or 2m", s))
	}
	return d, nil
}
