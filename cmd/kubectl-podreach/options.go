package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
	"github.com/podreach/kubectl-podreach/pkg/explain"
	"github.com/podreach/kubectl-podreach/pkg/inspect"
	"github.com/podreach/kubectl-podreach/pkg/podref"
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
	// Scrape is set for --scrape (no DST): the namespaces whose targets
	// count (nil: all, -A).
	Scrape *inspect.ScrapeScope

	// Reader reads the cluster: the embedded world, the -f inputs or the
	// API server.
	Reader func() (inspect.Reader, error)
	// Print writes the report in the -o format.
	Print printer
	// tableForm: -o table or wide, read by a person (--scrape names each
	// target before its report).
	tableForm bool
	// yamlForm: -o yaml, whose reports --scrape separates with "---".
	yamlForm bool
	// Notice is printed on stderr first (which example world is shown).
	Notice string

	genericiooptions.IOStreams
}

// errRequestsFail ends a run whose report shows a failing request: exit
// status 1, with nothing more to print.
var errRequestsFail = errors.New("at least one request fails")

// Validate checks how the parsed values combine.
func (o *Options) Validate() error {
	if o.Scrape != nil {
		switch {
		case len(o.Ports) > 0:
			return usageErr("--port does not apply to --scrape: each target's port is what Prometheus dials")
		case len(o.Headers) > 0:
			return usageErr("--header does not apply to --scrape")
		case o.Destination != nil || o.Target != nil:
			return usageErr("--scrape takes no DST")
		}
		return nil
	}
	if o.Target != nil && len(o.Ports) > 0 {
		return usageErr(fmt.Sprintf("--port applies to a pod DST; put the port in the address instead (%s)", o.Target.Raw))
	}
	if o.Destination != nil && len(o.Headers) > 0 {
		return usageErr(fmt.Sprintf("--header applies to a URL or host:port DST, not to pod %q", o.Destination.Raw))
	}
	if (o.Destination == nil) == (o.Target == nil) {
		return usageErr("DST must be either a pod or a URL")
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
	req := inspect.Request{Source: o.Source, Destination: o.Destination, Scrape: o.Scrape}
	if o.Target != nil {
		req.TargetHost = o.Target.Host
	}
	res, err := reader.Read(ctx, req)
	if err != nil {
		return err
	}
	o.logRequests(res)
	if o.Scrape != nil {
		return o.runScrape(res)
	}

	query := explain.Query{Source: res.Source, Target: o.Target, Ports: o.Ports, Traffic: o.Traffic, Method: o.Method}
	if o.Target == nil {
		// The matrix form. For a URL, explain finds the pod the request
		// lands on itself (res.Destination is only the owner of a pod IP).
		query.Destination = res.Destination
	}
	report, err := explain.Explain(res.Snapshot, query)
	if err != nil {
		return err
	}
	o.printWarnings(res.Warnings, report.Warnings)
	if err := o.Print(o.Out, report); err != nil {
		return err
	}
	if anyFails(report) {
		return errRequestsFail
	}
	return nil
}

// logRequests prints, from -v=4, what the read cost (and from -v=5 each
// request).
func (o *Options) logRequests(res *inspect.Result) {
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
}

// printWarnings prints the read's and the reports' warnings once each, in
// order, as "Warning: " lines on stderr.
func (o *Options) printWarnings(lists ...[]string) {
	seen := map[string]bool{}
	for _, list := range lists {
		for _, w := range list {
			if w = oneLine(w); !seen[w] {
				seen[w] = true
				fmt.Fprintf(o.ErrOut, "Warning: %s\n", w)
			}
		}
	}
}

// runScrape traces every target the SRC Prometheus would scrape, each as
// the URL form, and prints the reports one after another in the -o format
// (table forms: each after a "# scrape target" line naming the target and
// where it came from). Exit status 1 if any scrape fails.
//
// This is the stand-in until the fleet runner prints a grouped table and a
// ReachabilityList: explain.ScrapeTargets gives it the queries (one per
// row) and their provenance.
func (o *Options) runScrape(res *inspect.Result) error {
	targets, err := explain.ScrapeTargets(res.Snapshot, res.Source, o.Scrape.Namespaces)
	if err != nil {
		return err
	}
	warnings := [][]string{res.Warnings}
	reports := make([]*api.Reachability, len(targets))
	for i, t := range targets {
		if reports[i], err = explain.Explain(res.Snapshot, t.Query); err != nil {
			return err
		}
		warnings = append(warnings, reports[i].Warnings)
	}
	o.printWarnings(warnings...)
	if len(targets) == 0 {
		where := "namespace " + strings.Join(o.Scrape.Namespaces, ", ")
		if o.Scrape.Namespaces == nil {
			where = "any namespace"
		}
		fmt.Fprintf(o.ErrOut, "No scrape targets for %s in %s.\n", res.Source, where)
		return nil
	}
	fails := false
	for i, t := range targets {
		if i > 0 && o.yamlForm {
			fmt.Fprintln(o.Out, "---")
		}
		if o.tableForm {
			if i > 0 {
				fmt.Fprintln(o.Out)
			}
			origins := make([]string, len(t.Origins))
			for j, orig := range t.Origins {
				origins[j] = orig.String()
			}
			fmt.Fprintf(o.Out, "# scrape target %d/%d: %s %s (%s)\n", i+1, len(targets), t.Pod, t.URL, strings.Join(origins, "; "))
		}
		if err := o.Print(o.Out, reports[i]); err != nil {
			return err
		}
		fails = fails || anyFails(reports[i])
	}
	if fails {
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
