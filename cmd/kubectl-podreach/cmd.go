package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
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

Fleet forms examine many pairs at once, each as SRC DST would:
  SRC -l SELECTOR [-n NS | -A]   every pod the selector matches is a DST
  SRC -A, or a lone SRC with -n  every pod of the cluster, or of NS
  SRC DST1 DST2 ...              several DSTs; a workload means ALL its pods
                                 (with one DST it still picks one pod)
  --peers WORKLOAD | --peers -l SELECTOR
                                 every ordered pair of its pods, every port,
                                 every address form
SRC itself is never a DST. The table groups the requests by port, address
form, verdict and primary reason (each failing group once, with its count,
example pairs, why: and fix:), then one line per verdict; --details prints
every pair's table. -o json|yaml print a ReachabilityList (items: one
Reachability per pair; summary.groups). A URL DST is a single target, and
-o dot draws one pair: neither combines with a fleet form.

With -f the cluster is read from YAML/JSON files (a 'kubectl get -o yaml'
dump, a List, or multi-document YAML) instead of the API server.

What if: --with FILE|DIR|- (repeatable) puts objects over what was read, as
'kubectl apply' would replace them by kind, namespace and name (an object
annotated podreach.dev/delete: "true" removes its namesake); --diff prints
only the requests whose outcome the overlay changes (exit status 1 if one
that reached fails with it). Every fix shown was applied to the model and
the request traced again; --fix-file DIR writes their patches as manifests.

-o json and -o yaml print the report as a versioned object (apiVersion
podreach.dev/v1alpha1, kind Reachability); -o jsonpath=..., -o go-template=...
(and their -file forms) select from it as kubectl does, by its JSON field
names: -o jsonpath='{.requests[*].verdict}'.

Exit status:
  0  every examined request reaches its target
  1  at least one request fails (with --diff: one that reached fails with
     the overlay)
  2  usage error: bad arguments or flags, unknown or ambiguous pod, pod
     without an IP, malformed URL, a fleet form that selects no pair
  3  the cluster could not be read: API server unreachable, invalid or expired
     credentials, timeout, unreadable or malformed -f or --with input`

	examplesHelp = `  # Can Prometheus scrape web-0? (every address, port 9090 only)
  kubectl podreach -n monitoring prometheus-0 demo/web-0 --port 9090

  # StatefulSet peers: can kafka-0 reach kafka-1 by every name it might use?
  kubectl podreach kafka/kafka-0 kafka/kafka-1

  # Which of the pods labelled app=web, in every namespace, can Prometheus scrape on 9090?
  kubectl podreach -n monitoring prometheus-0 -l app=web -A --port 9090

  # Every ordered pair of etcd members, every port, every address (grouped by outcome)
  kubectl podreach -n infra --peers sts/etcd

  # An app that dials a pod IP directly
  kubectl podreach deploy/client http://10.1.2.3:8080/healthz

  # The app sends its own Host header
  kubectl podreach deploy/client http://10.1.2.3:8080/ -H 'Host: web.demo'

  # Post-mortem or CI check from a dump ('kubectl get -A -o yaml ... > dump.yaml')
  kubectl podreach demo/client demo/web-0 -f dump.yaml -o json

  # What would turning namespace shop STRICT break? (before applying it)
  kubectl podreach monitoring/prometheus-0 shop/cart-0 --with strict-shop.yaml --diff

  # Write the proven fixes as manifests to review and apply
  kubectl podreach monitoring/prometheus-0 shop/cart-0 --fix-file ./fixes

  # Draw the path of one request (Graphviz)
  kubectl podreach deploy/client http://10.1.2.3:8080/healthz -o dot | dot -Tsvg > path.svg

  # No cluster at hand: run an embedded example world
  kubectl podreach --example`
)

// NewCmd builds the root command around f: cobra parses the command line
// into f, f.ToOptions turns it into Options, which Validate checks and Run
// executes (kubectl's Flags → Options split, as in kubectl events).
func NewCmd(f *Flags) *cobra.Command {
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
		Args:              cobra.ArbitraryArgs, // counted by ToOptions, after --example
		ValidArgsFunction: f.completePods,
		// run() prints errors itself, one line each, and never the usage.
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := f.ToOptions(args)
			if err != nil {
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

	f.AddFlags(cmd)
	f.registerCompletions(cmd)
	cmd.AddCommand(newVersionCmd(f.IOStreams))
	return cmd
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

	cmd := NewCmd(NewFlags(streams))
	cmd.SetArgs(args)
	cmd.SetIn(streams.In)
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)
	switch err := cmd.ExecuteContext(ctx); {
	case err == nil:
		return exitOK
	case errors.Is(err, errRequestsFail):
		return exitFails // the report says which
	default:
		fmt.Fprintln(streams.ErrOut, errorLine(err))
		return exitCode(err)
	}
}
