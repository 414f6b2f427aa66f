package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
	"io"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/transport"
	"k8s.io/klog/v2"

	"github.com/podreach/kubectl-podreach/examples"
	"github.com/podreach/kubectl-podreach/pkg/explain"
	"github.com/podreach/kubectl-podreach/pkg/inspect"
	"github.com/podreach/kubectl-podreach/pkg/podref"
	"github.com/podreach/kubectl-podreach/pkg/render"
)

const (
	longHelp = `Explain whether and how pod SRC reaches DST through the Istio data path,
from the cluster's objects alone: no exec, no port-forward, no traffic sent.

SRC is a pod: NAME, NAMESPACE/NAME, pod/NAME, or a workload deploy/NAME,
sts/NAME, ds/NAME, rs/NAME (one ready pod is picked and the choice is shown).
svc/NAME (or another resource type) is pod NAME of namespace svc, if that
namespace exists. -n sets the default namespace; otherwise the current
context's applies.

DST is either
  * a pod (same forms as SRC): every address SRC could use for it (Service
    names, headless per-pod names, ClusterIPs, the pod IP) on every port, or
  * a URL or host:port as the application dials it (http://10.1.2.3:8080/x,
    web-0.web.demo.svc.cluster.local:9092, tcp://10.1.2.3:7000): one request,
    traced through the source proxy and into the destination proxy.

Each request gets a verdict (reaches the pod, load-balanced over a Service
that includes it, or FAILS with the symptom the app would see), the reasons,
and the smallest fix. -o wide and -o json name the predicted Envoy listener,
route, cluster and inbound filter chain, so every row can be checked with
istioctl proxy-config. -o dot draws the same as a Graphviz graph (SRC app →
listener → route → cluster → DST inbound filter chain → DST app, a failure
as a red edge with its symptom): one path for a URL, one path per address
for a pod DST, sharing the hops they have in common (use --port to keep a
matrix small).

With -f the cluster is read from YAML/JSON files (a 'kubectl get -o yaml'
dump, a List, or multi-document YAML) instead of the API server.

Exit status:
  0  every examined request reaches its target
  1  at least one request fails
  2  usage error: bad arguments or flags, unknown or ambiguous pod, pod
     without an IP, malformed URL
  3  the cluster could not be read: API server unreachable, invalid or expired
     credentials, timeout, unreadable or malformed -f input`

	examplesHelp = `  # Can Prometheus scrape web-0? (every address, port 9090 only)
  kubectl podreach -n monitoring prometheus-0 demo/web-0 --port 9090

  # StatefulSet peers: can kafka-0 reach kafka-1 by every name it might use?
  kubectl podreach kafka/kafka-0 kafka/kafka-1

  # An app that dials a pod IP directly
  kubectl podreach deploy/client http://10.1.2.3:8080/healthz

  # The app sends its own Host header
  kubectl podreach deploy/client http://10.1.2.3:8080/ -H 'Host: web.demo'

  # Post-mortem or CI check from a dump ('kubectl get -A -o yaml ... > dump.yaml')
  kubectl podreach demo/client demo/web-0 -f dump.yaml -o json

  # Draw the path of one request (Graphviz)
  kubectl podreach deploy/client http://10.1.2.3:8080/healthz -o dot | dot -Tsvg > path.svg

  # No cluster at hand: run an embedded example world
  kubectl podreach --example`
)

// Options holds the flags and, after Complete and Validate, everything Run
// needs. Run is the only step that talks to a cluster or reads files.
type Options struct {
	configFlags *genericclioptions.ConfigFlags
	genericiooptions.IOStreams

	Filenames []string
	Ports     []string
	Headers   []string
	Output    string
	Traffic   string
	Example   string
	Verbosity int

	// Set by Complete.
	args      []string
	namespace string
	world     *examples.World // an embedded world to read instead of a cluster
	color     bool

	// Set by Validate.
	source      podref.Ref
	destination *podref.Ref
	target      *podref.Target
	ports       []podref.Port
	traffic     api.Traffic

	// Set by Run: at least one request fails (exit status 1).
	failing bool

	// kubeClient, if set, replaces the client built from configFlags for
	// shell completion (tests inject a fake clientset).
	kubeClient func() (kubernetes.Interface, error)
}

// NewOptions returns Options with kubectl's connection flags and defaults.
func NewOptions(streams genericiooptions.IOStreams) *Options {
	return &Options{
		configFlags: genericclioptions.NewConfigFlags(true),
		IOStreams:   streams,
		Output:      render.FormatTable,
		Traffic:     "auto",
	}
}

// NewCmd builds the root command around o.
func NewCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		// With the display-name annotation cobra prints "kubectl podreach SRC
		// DST [flags]"; Use must start with the command's own name, as in
		// kubernetes/sample-cli-plugin ("ns [new-namespace]" + "kubectl ns").
		Use:     "podreach SRC DST",
		Short:   "Explain how one pod can reach another (or a URL) through Istio",
		Long:    longHelp,
		Example: examplesHelp,
		Annotations: map[string]string{
			cobra.CommandDisplayNameAnnotation: "kubectl podreach",
		},
		Args:              cobra.ArbitraryArgs, // counted in Validate, after --example
		ValidArgsFunction: o.completePods,
		// run() prints errors itself, one line each, and never the usage.
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(cmd, args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErr(err.Error()) })
	// Completing SRC offers pods (and cobra's `help`, `version`), not the
	// `completion` command, which still works when typed. Shell completion
	// reaches kubectl users through kubectl_complete-podreach (README).
	cmd.CompletionOptions.HiddenDefaultCmd = true

	f := cmd.Flags()
	o.configFlags.AddFlags(f)
	f.StringArrayVarP(&o.Filenames, "filename", "f", nil,
		"Read the cluster from a YAML/JSON file, a directory of them, or - for stdin, instead of the API server (repeatable).")
	f.StringSliceVar(&o.Ports, "port", nil,
		"Destination ports to examine, by number or name (repeatable or comma-separated; default: all).")
	f.StringArrayVarP(&o.Headers, "header", "H", nil,
		"Request header the app sends, e.g. 'Host: web.demo' (repeatable; URL destinations only).")
	f.StringVarP(&o.Output, "output", "o", o.Output,
		"Output format. One of: "+strings.Join(render.Formats, "|")+".")
	f.StringVar(&o.Traffic, "traffic", o.Traffic,
		"What the app sends: auto (by the port's protocol), http or tcp.")
	f.StringVar(&o.Example, "example", "",
		"Run against an embedded example world instead of a cluster (--example or --example=NAME); its SRC DST apply unless given.")
	f.Lookup("example").NoOptDefVal = "default"
	f.IntVarP(&o.Verbosity, "v", "v", 0, "Log level: 4 logs every API request with its status and latency on stderr; 6-9 as kubectl.")
	o.registerCompletions(cmd)

	cmd.AddCommand(newVersionCmd(o.IOStreams))
	return cmd
}

// Complete fills the runtime fields from the flags and arguments: the
// embedded world to use (--example, or none when no cluster is configured),
// the default namespace and whether to colour.
func (o *Options) Complete(cmd *cobra.Command, args []string) error {
	o.args = args
	implicit := false
	if o.Example == "" && len(args) == 0 && len(o.Filenames) == 0 && o.noClusterConfigured() {
		o.Example, implicit = "default", true
	}
	if o.Example != "" {
		if err := o.completeWorld(cmd); err != nil {
			return err
		}
		cmdline := worldCommand(*o.world, o.world.Args)
		if len(args) > 0 {
			cmdline = worldCommand(*o.world, o.args) // the user's SRC DST
		}
		if implicit {
			fmt.Fprintf(o.ErrOut, "No cluster configured: showing the embedded example world examples/%s (%s).\n",
				o.world.File, cmdline)
		} else {
			fmt.Fprintf(o.ErrOut, "Embedded example world examples/%s (%s).\n", o.world.File, cmdline)
		}
	}

	switch {
	case len(o.Filenames) > 0 || o.world != nil:
		// Files carry no context: -n, else "default".
		o.namespace = "default"
		if o.configFlags.Namespace != nil && *o.configFlags.Namespace != "" {
			o.namespace = *o.configFlags.Namespace
		}
	default:
		ns, _, err := o.configFlags.ToRawKubeConfigLoader().Namespace()
		if err != nil {
			return kubeconfigErr(err)
		}
		o.namespace = ns
	}

	o.color = colorAllowed(o.Out)
	return nil
}

// completeWorld loads the --example world and, when SRC DST are not given,
// takes them (and any flags the user did not set) from its `# podreach:` line.
func (o *Options) completeWorld(cmd *cobra.Command) error {
	if len(o.Filenames) > 0 {
		return usageErr("--example reads an embedded world; it cannot be combined with -f")
	}
	name := o.Example
	// `--example NAME` (with a space) leaves NAME as an argument, since the
	// flag's value is optional.
	if name == "default" && len(o.args) == 1 {
		if _, err := examples.Lookup(o.args[0]); err == nil {
			name, o.args = o.args[0], nil
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
		return usageErr(err.Error())
	}
	o.world = &w
	if len(o.args) == 0 {
		args, err := applyWorldArgs(cmd, w.Args)
		if err != nil {
			return usageErr(fmt.Sprintf("examples/%s: %v", w.File, err))
		}
		o.args = args
	}
	return nil
}

// applyWorldArgs parses a world's `# podreach:` words with a fresh copy of
// the command's flags, copies the flags the user did not set, and returns
// the positional arguments.
func applyWorldArgs(cmd *cobra.Command, words []string) ([]string, error) {
	scratch := NewCmd(NewOptions(genericiooptions.NewTestIOStreamsDiscard()))
	fs := scratch.Flags()
	if err := fs.Parse(words); err != nil {
		return nil, err
	}
	var err error
	fs.Visit(func(f *pflag.Flag) {
		if err != nil || cmd.Flags().Changed(f.Name) {
			return
		}
		target := cmd.Flags().Lookup(f.Name)
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
		err = cmd.Flags().Set(f.Name, f.Value.String())
	})
	return fs.Args(), err
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

// noClusterConfigured is true when no kubeconfig defines a cluster or a
// context, --server is unset and there is no in-cluster config. (ConfigFlags
// never reports clientcmd's ErrEmptyConfig: it falls back to localhost:8080.)
func (o *Options) noClusterConfigured() bool {
	if o.configFlags.APIServer != nil && *o.configFlags.APIServer != "" {
		return false
	}
	raw, err := o.configFlags.ToRawKubeConfigLoader().RawConfig()
	if err != nil || !clientcmdapi.IsConfigEmpty(&raw) {
		return false // a broken kubeconfig reports its own error later
	}
	_, err = rest.InClusterConfig()
	return err != nil
}

func colorAllowed(w io.Writer) bool {
	// AllowsColorOutput checks for a terminal, TERM=dumb and NO_COLOR.
	return printers.AllowsColorOutput(w)
}

// Validate checks the flags and parses SRC and DST.
func (o *Options) Validate() error {
	if !render.IsFormat(o.Output) {
		return usageErr(fmt.Sprintf("unknown output format %q: allowed formats are %s",
			o.Output, strings.Join(render.Formats, ", ")))
	}
	traffic, err := podref.ParseTraffic(o.Traffic)
	if err != nil {
		return err
	}
	o.traffic = traffic
	if _, err := requestTimeout(o.configFlags); err != nil {
		return err
	}
	switch n := len(o.args); {
	case n == 0:
		return usageErr("SRC and DST are required: kubectl podreach SRC DST (or try --example)")
	case n == 1:
		return usageErr(fmt.Sprintf("DST is required after SRC %q: a pod, a URL or host:port", o.args[0]))
	case n > 2:
		return usageErr(fmt.Sprintf("too many arguments (%d): want SRC DST, got %s", n, strings.Join(o.args, " ")))
	}
	o.ports = nil
	for _, p := range o.Ports {
		port, err := podref.ParsePort(p)
		if err != nil {
			return err
		}
		o.ports = append(o.ports, port)
	}
	for _, f := range o.Filenames {
		if f == "" {
			return usageErr("-f needs a file, a directory or -")
		}
	}

	src, err := podref.Parse(o.args[0], o.namespace)
	if err != nil {
		return err
	}
	o.source = src

	dst := o.args[1]
	if podref.IsTarget(dst) {
		if len(o.Ports) > 0 {
			return usageErr(fmt.Sprintf("--port applies to a pod DST; put the port in the address instead (%s)", dst))
		}
		t, err := podref.ParseTarget(dst, o.Headers)
		if err != nil {
			return err
		}
		o.target, o.destination = t, nil
		return nil
	}
	if len(o.Headers) > 0 {
		return usageErr(fmt.Sprintf("--header applies to a URL or host:port DST, not to pod %q", dst))
	}
	ref, err := podref.Parse(dst, o.namespace)
	if err != nil {
		return err
	}
	o.destination, o.target = &ref, nil
	return nil
}

// Run reads the cluster (or files), explains and prints. Warnings go to
// stderr; the report goes to stdout.
func (o *Options) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	timeout, _ := requestTimeout(o.configFlags)
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}

	reader, err := o.newReader()
	if err != nil {
		return err
	}
	req := inspect.Request{Source: o.source, Destination: o.destination}
	if o.target != nil {
		req.TargetHost = o.target.Host
	}
	res, err := reader.Read(ctx, req)
	if err != nil {
		return err
	}
	if o.Verbosity >= 4 {
		// client-go has logged each request as it went (logRequests); the
		// sorted list adds each outcome as podreach saw it.
		if o.Verbosity >= 5 {
			for _, r := range res.Requests {
				fmt.Fprintf(o.ErrOut, "I podreach: %s\n", r)
			}
		}
		fmt.Fprintf(o.ErrOut, "I podreach: %d API requests\n", len(res.Requests))
	}

	query := explain.Query{
		Source:  res.Source,
		Target:  o.target,
		Ports:   o.ports,
		Traffic: o.traffic,
	}
	if o.target == nil {
		// The matrix form. For a URL, explain finds the pod the request
		// lands on itself (res.Destination is only the owner of a pod IP).
		query.Destination = res.Destination
	}
	report, err := explain.Explain(res.Snapshot, query)
	if err != nil {
		return err
	}

	for _, w := range append(res.Warnings, report.Warnings...) {
		fmt.Fprintf(o.ErrOut, "Warning: %s\n", oneLine(w))
	}
	if err := render.Print(o.Out, report, o.Output, render.Options{Color: o.color}); err != nil {
		return err
	}
	o.failing = anyFails(report)
	return nil
}

func anyFails(r *api.Reachability) bool {
	if r.Summary.Failing > 0 {
		return true
	}
	for _, q := range r.Requests {
		if q.Verdict == api.VerdictFails {
			return true
		}
	}
	return false
}

// newReader picks the source of the cluster: the embedded world, -f files,
// or the API server.
func (o *Options) newReader() (inspect.Reader, error) {
	switch {
	case o.world != nil:
		return wordedReader{Reader: inspect.NewFileReader([]string{"-"}, bytes.NewReader(o.world.Data))}, nil
	case len(o.Filenames) > 0:
		return wordedReader{Reader: inspect.NewFileReader(o.Filenames, o.In)}, nil
	}
	if o.noClusterConfigured() {
		return nil, kubeconfigErr(clientcmd.ErrEmptyConfig)
	}
	cfg, err := o.configFlags.ToRESTConfig()
	if err != nil {
		return nil, kubeconfigErr(err)
	}
	cfg.UserAgent = userAgent()
	cfg.QPS, cfg.Burst = 50, 100
	cfg.WarningHandler = rest.NewWarningWriter(o.ErrOut, rest.WarningWriterOptions{Deduplicate: true})
	o.logRequests(cfg)
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, kubeconfigErr(err)
	}
	istio, err := istioclient.NewForConfig(cfg)
	if err != nil {
		return nil, kubeconfigErr(err)
	}
	live := inspect.NewLiveReader(kube, istio, inspect.LiveOptions{Context: o.contextName()})
	return wordedReader{Reader: live, server: cfg.Host, requestTimeout: deref(o.configFlags.Timeout)}, nil
}

// logRequests makes -v log the API requests through client-go's own request
// logging (klog, on stderr), as kubectl does: from -v=4 every request with
// its verb, URL, status and latency (kubectl needs -v=6 for that line; the
// point of podreach's -v=4 is to see what it reads and how long it takes),
// and from -v=6 on exactly kubectl's levels (7 request headers, 8 bodies, 9
// curl commands).
func (o *Options) logRequests(cfg *rest.Config) {
	if o.Verbosity <= 0 {
		return
	}
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	for name, value := range map[string]string{
		"v":               strconv.Itoa(o.Verbosity),
		"logtostderr":     "false", // so that SetOutput applies
		"alsologtostderr": "false",
		"one_output":      "true",
	} {
		_ = fs.Set(name, value)
	}
	klog.SetOutput(o.ErrOut)
	if o.Verbosity >= 4 && o.Verbosity < 6 {
		// Below 6 client-go does not wrap its transport; do it, logging
		// at V(0) since -v already decided.
		cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
			return transport.NewDebuggingRoundTripper(rt, transport.DebugURLTiming)
		})
	}
}

// contextName is the kubeconfig context in use (--context, else current).
func (o *Options) contextName() string {
	if c := deref(o.configFlags.Context); c != "" {
		return c
	}
	raw, err := o.configFlags.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return ""
	}
	return raw.CurrentContext
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

func userAgent() string {
	return fmt.Sprintf("kubectl-podreach/%s (%s/%s)", buildVersion(), runtime.GOOS, runtime.GOARCH)
}

// buildVersion is the stamped version, else the module version `go install
// ...@vX` recorded, else "dev".
func buildVersion() string {
	if version != "dev" && version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func newVersionCmd(streams genericiooptions.IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of kubectl podreach",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErr(fmt.Sprintf("version takes no arguments, got %q", strings.Join(args, " ")))
			}
			return nil
		},
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintf(streams.Out, "kubectl-podreach %s (%s, %s/%s)\n",
				buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}

// run executes the command line and returns the exit status: 0 all requests
// reach, 1 at least one fails, 2 usage error, 3 the cluster could not be read.
func run(args []string, streams genericiooptions.IOStreams) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(streams.ErrOut, "error: internal error: %v\n", oneLine(fmt.Sprint(r)))
			code = exitFails
		}
	}()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	o := NewOptions(streams)
	cmd := NewCmd(o)
	cmd.SetArgs(args)
	cmd.SetIn(streams.In)
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)
	if err := cmd.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(streams.ErrOut, errorLine(err))
		return exitCode(err)
	}
	if o.failing {
		return exitFails
	}
	return exitOK
}
