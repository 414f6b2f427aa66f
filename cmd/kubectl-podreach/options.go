package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
	"github.com/podreach/kubectl-podreach/pkg/explain"
	"github.com/podreach/kubectl-podreach/pkg/inspect"
	"github.com/podreach/kubectl-podreach/pkg/podref"
	"github.com/podreach/kubectl-podreach/pkg/render"
	"github.com/podreach/kubectl-podreach/pkg/snapshot"
)

// Options are the parsed values of one run (Flags.ToOptions): the query,
// where the cluster is read from and how the report is printed. Validate
// checks how they combine; Run is the only step that reads a cluster or
// files.
type Options struct {
	Source podref.Ref
	// Destination is a pod DST (the address matrix), Target a URL or
	// host:port DST (one request); exactly one is set.
	Destination *podref.Ref
	Target      *podref.Target
	// Fleet forms (Validate checks how they combine): Destinations are the
	// DSTs of SRC DST1 DST2 … (and the --peers workload), Targets URL DSTs
	// given with them or with -l/-A/--peers (a usage error); Selector (-l),
	// AllNamespaces (-A), a lone SRC with -n (NamespaceGiven) or Peers
	// select the pods.
	Destinations   []podref.Ref
	Targets        []*podref.Target
	Selector       labels.Selector
	AllNamespaces  bool
	Namespace      string // the default namespace: -n, else the context's
	NamespaceGiven bool   // -n was given
	Peers          bool
	Details        bool
	Output         string    // -o as given
	Progress       io.Writer // where a fleet's progress goes (a terminal), or nil

	Headers   []podref.Header // the app's request headers (applied to Target)
	Ports     []podref.Port   // the destination ports to examine (pod DST); none: all
	Traffic   api.Traffic     // "" (auto), http or tcp
	Method    string          // HTTP method (GET)
	Timeout   time.Duration   // --request-timeout; 0: none
	Verbosity int

	// Reader reads the cluster: the embedded world, the -f inputs or the
	// API server.
	Reader func() (inspect.Reader, error)
	// Print writes the report in the -o format.
	Print printer
	// With are the --with inputs: objects put over the cluster read.
	With []string
	// Diff prints the requests whose outcome With changes (PrintDiff).
	Diff      bool
	PrintDiff diffPrinter
	// FixFile is the directory --fix-file writes the proven patches to.
	FixFile string
	// Notice is printed on stderr first (which example world is shown).
	Notice string

	genericiooptions.IOStreams
}

// errRequestsFail ends a run whose report shows a failing request: exit
// status 1, with nothing more to print.
var errRequestsFail = errors.New("at least one request fails")

// Validate checks how the parsed values combine.
func (o *Options) Validate() error {
	if err := o.validateFleet(); err != nil {
		return err
	}
	if o.fleet() {
		return nil
	}
	if o.Target != nil && len(o.Ports) > 0 {
		return usageErr(fmt.Sprintf("--port applies to a pod DST; put the port in the address instead (%s)", o.Target.Raw))
	}
	if o.Destination != nil && len(o.Headers) > 0 {
		return usageErr(fmt.Sprintf("--header applies to a URL or host:port DST, not to pod %q", o.Destination.Raw))
	}
	if o.Destination == nil && o.Target == nil {
		return errDSTRequired(o.Source)
	}
	if (o.Destination == nil) == (o.Target == nil) {
		return usageErr("DST must be either a pod or a URL")
	}
	if o.Diff && len(o.With) == 0 {
		return usageErr("--diff compares the cluster with and without --with FILE: give --with")
	}
	if o.Diff && o.FixFile != "" {
		return usageErr("--fix-file writes the fixes of a report; it does not combine with --diff")
	}
	return nil
}

// fleet tells the fleet forms from the single ones (SRC DST, SRC URL).
func (o *Options) fleet() bool {
	return o.Peers || o.Selector != nil || o.AllNamespaces || len(o.Destinations) > 0 ||
		(o.NamespaceGiven && o.Destination == nil && o.Target == nil && len(o.Targets) == 0)
}

// validateFleet checks the combinations of the fleet forms.
func (o *Options) validateFleet() error {
	if !o.fleet() {
		if o.Details {
			return errDetailsSingle()
		}
		return nil
	}
	switch {
	case len(o.Targets) > 0:
		return errURLInFleet(o.Targets[0].Raw)
	case o.Peers && len(o.Destinations) > 1:
		return errPeersArgs(o.Destinations)
	case o.Peers && len(o.Destinations) == 1 && o.Selector != nil:
		return errPeersBoth(o.Destinations[0])
	case o.Peers && len(o.Destinations) == 1 && o.Destinations[0].IsPod():
		return errPeersPod(o.Destinations[0])
	case o.Peers && len(o.Destinations) == 0 && o.Selector == nil:
		return errPeersNothing()
	case o.AllNamespaces && len(o.Destinations) > 0:
		return errSelectAndDST("-A", o.Destinations)
	case o.Selector != nil && !o.Peers && len(o.Destinations) > 0:
		return errSelectAndDST("-l", o.Destinations)
	case len(o.Headers) > 0:
		return usageErr("--header applies to a URL DST, not to the fleet forms")
	case o.Output == render.FormatDot:
		return errDotFleet()
	}
	return nil
}

// podSet is the fleet's set of pods for the reader.
func (o *Options) podSet() *inspect.PodSet {
	set := &inspect.PodSet{Refs: o.Destinations, Selector: o.Selector, Namespace: o.Namespace, AllNamespaces: o.AllNamespaces}
	if set.Selector == nil && len(set.Refs) == 0 {
		set.Selector = labels.Everything() // SRC -A, SRC -n NS
	}
	return set
}

// Run reads the cluster (or files), explains and prints. Warnings go to
// stderr; the report goes to stdout. A report with a failing request
// returns errRequestsFail.
func (o *Options) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if o.Notice != "" {
		fmt.Fprintln(o.ErrOut, o.Notice)
	}
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}

	reader, err := o.Reader()
	if err != nil {
		return err
	}
	req := inspect.Request{Source: o.Source, Destination: o.Destination}
	if o.Target != nil {
		req.TargetHost = o.Target.Host
	}
	if o.Peers {
		req.Peers = o.podSet()
	} else if o.fleet() {
		req.Destinations = o.podSet()
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

	snap, err := o.overlay(res.Snapshot)
	if err != nil {
		return err
	}
	if o.fleet() {
		return o.runFleet(res, snap)
	}

	query := explain.Query{Source: res.Source, Target: o.Target, Ports: o.Ports, Traffic: o.Traffic, Method: o.Method}
	if o.Target == nil {
		// The matrix form. For a URL, explain finds the pod the request
		// lands on itself (res.Destination is only the owner of a pod IP).
		query.Destination = res.Destination
	}
	if o.Diff {
		return o.runDiff(res, query, snap)
	}
	report, err := explain.Explain(snap, query)
	if err != nil {
		return err
	}

	for _, w := range append(res.Warnings, report.Warnings...) {
		fmt.Fprintf(o.ErrOut, "Warning: %s\n", oneLine(w))
	}
	if err := o.Print(o.Out, report); err != nil {
		return err
	}
	if err := o.writeFixes([]*api.Reachability{report}); err != nil {
		return err
	}
	if anyFails(report) {
		return errRequestsFail
	}
	return nil
}

// overlay puts the --with objects over the snapshot read (the snapshot
// itself when there are none).
func (o *Options) overlay(snap *snapshot.Snapshot) (*snapshot.Snapshot, error) {
	if len(o.With) == 0 {
		return snap, nil
	}
	overlay, ignored, err := inspect.ReadOverlay(o.With, o.In)
	if err != nil {
		return nil, wordReadError(err)
	}
	for _, name := range ignored {
		fmt.Fprintf(o.ErrOut, "Warning: --with: %s is not a kind podreach models (it reads pods, not their templates): ignored\n", name)
	}
	out, err := snap.Apply(overlay)
	if err != nil {
		return nil, wordReadError(&inspect.Error{Kind: inspect.Malformed, Inputs: o.With, Err: err})
	}
	return out, nil
}

// writeFixes writes the proven fixes of the reports with --fix-file.
func (o *Options) writeFixes(reports []*api.Reachability) error {
	if o.FixFile == "" {
		return nil
	}
	n, err := writeFixFiles(o.FixFile, reports)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.ErrOut, "%d fix manifest(s) written to %s\n", n, o.FixFile)
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

// runDiff explains the query on the cluster as read and with the overlay,
// and prints the requests whose outcome changes.
func (o *Options) runDiff(res *inspect.Result, query explain.Query, after *snapshot.Snapshot) error {
	before, err := explain.Explain(res.Snapshot, query)
	if err != nil {
		return err
	}
	with, err := explain.Explain(after, query)
	if err != nil {
		return err
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(o.ErrOut, "Warning: %s\n", oneLine(w))
	}
	return o.printDiff([]*api.Reachability{before}, []*api.Reachability{with})
}

// printDiff prints the requests whose outcome differs between before and
// after; a request that reached before and fails after is exit status 1.
func (o *Options) printDiff(before, after []*api.Reachability) error {
	d := explain.Diff(before, after)
	d.With = o.With
	if err := o.PrintDiff(o.Out, d); err != nil {
		return err
	}
	if d.Summary.Breaks > 0 {
		return errRequestsFail // exit status 1: the diff shows which
	}
	return nil
}
