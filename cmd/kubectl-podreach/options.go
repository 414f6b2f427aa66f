package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
	"github.com/podreach/kubectl-podreach/pkg/explain"
	"github.com/podreach/kubectl-podreach/pkg/inspect"
	"github.com/podreach/kubectl-podreach/pkg/podref"
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
	Headers     []podref.Header // the app's request headers (applied to Target)
	Ports       []podref.Port   // the destination ports to examine (pod DST); none: all
	Traffic     api.Traffic     // "" (auto), http or tcp
	Method      string          // HTTP method (GET)
	Timeout     time.Duration   // --request-timeout; 0: none
	Verbosity   int

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
	if o.Target != nil && len(o.Ports) > 0 {
		return usageErr(fmt.Sprintf("--port applies to a pod DST; put the port in the address instead (%s)", o.Target.Raw))
	}
	if o.Destination != nil && len(o.Headers) > 0 {
		return usageErr(fmt.Sprintf("--header applies to a URL or host:port DST, not to pod %q", o.Destination.Raw))
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

	query := explain.Query{Source: res.Source, Target: o.Target, Ports: o.Ports, Traffic: o.Traffic, Method: o.Method}
	if o.Target == nil {
		// The matrix form. For a URL, explain finds the pod the request
		// lands on itself (res.Destination is only the owner of a pod IP).
		query.Destination = res.Destination
	}
	snap := res.Snapshot
	if len(o.With) > 0 {
		overlay, ignored, err := inspect.ReadOverlay(o.With, o.In)
		if err != nil {
			return wordReadError(err)
		}
		for _, name := range ignored {
			fmt.Fprintf(o.ErrOut, "Warning: --with: %s is not a kind podreach models (it reads pods, not their templates): ignored\n", name)
		}
		if snap, err = res.Snapshot.Apply(overlay); err != nil {
			return wordReadError(&inspect.Error{Kind: inspect.Malformed, Inputs: o.With, Err: err})
		}
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
	if o.FixFile != "" {
		n, err := writeFixFiles(o.FixFile, []*api.Reachability{report})
		if err != nil {
			return err
		}
		fmt.Fprintf(o.ErrOut, "%d fix manifest(s) written to %s\n", n, o.FixFile)
	}
	if anyFails(report) {
		return errRequestsFail
	}
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
	d := explain.Diff([]*api.Reachability{before}, []*api.Reachability{with})
	d.With = o.With
	if err := o.PrintDiff(o.Out, d); err != nil {
		return err
	}
	if d.Summary.Breaks > 0 {
		return errRequestsFail // exit status 1: the diff shows which
	}
	return nil
}
