package main

import (
	"fmt"
	"strings"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
	"github.com/podreach/kubectl-podreach/pkg/explain"
	"github.com/podreach/kubectl-podreach/pkg/inspect"
	"github.com/podreach/kubectl-podreach/pkg/snapshot"
)

// progressAfter is how many pairs a fleet must have before its progress is
// shown (on a terminal only; a variable for the test).
var progressAfter = 300

// leftShown is how many pods left out of a fleet a warning names.
const leftShown = 5

// runFleet examines every pair of a fleet form with one engine and prints
// the ReachabilityList; with --diff, the requests whose outcome the --with
// overlay (snap) changes.
func (o *Options) runFleet(res *inspect.Result, snap *snapshot.Snapshot) error {
	pairs, notes, err := o.pairs(res)
	if err != nil {
		return err
	}
	q := explain.FleetQuery{Pairs: pairs, Ports: o.Ports, Traffic: o.Traffic, Method: o.Method}
	if o.Progress != nil && len(pairs) > progressAfter {
		step := max(len(pairs)/100, 1)
		q.Progress = func(done, total int) {
			if done%step == 0 || done == total {
				fmt.Fprintf(o.Progress, "\rexamining pairs: %d/%d", done, total)
			}
			if done == total {
				fmt.Fprint(o.Progress, "\r\x1b[K")
			}
		}
	}
	if o.Diff {
		before, err := explain.NewEngine(res.Snapshot).Fleet(q)
		if err != nil {
			return err
		}
		after, err := explain.NewEngine(snap).Fleet(q)
		if err != nil {
			return err
		}
		for _, w := range res.Warnings {
			fmt.Fprintf(o.ErrOut, "Warning: %s\n", oneLine(w))
		}
		return o.printDiff(items(before), items(after))
	}
	list, err := explain.NewEngine(snap).Fleet(q)
	if err != nil {
		return err
	}
	list.Warnings = append(list.Warnings, notes...)
	for _, w := range append(res.Warnings, list.Warnings...) {
		fmt.Fprintf(o.ErrOut, "Warning: %s\n", oneLine(w))
	}
	if err := o.Print(o.Out, list); err != nil {
		return err
	}
	if err := o.writeFixes(items(list)); err != nil {
		return err
	}
	if list.Summary.Failing > 0 {
		return errRequestsFail
	}
	return nil
}

// pairs lists the (SRC, DST) pairs of the fleet: SRC to every member but
// itself, or every ordered pair of the peers; notes say what was left out.
func (o *Options) pairs(res *inspect.Result) ([]explain.Pair, []string, error) {
	var (
		pairs []explain.Pair
		notes []string
	)
	if len(res.Left) > 0 {
		shown := res.Left[:min(len(res.Left), leftShown)]
		more := ""
		if n := len(res.Left) - len(shown); n > 0 {
			more = fmt.Sprintf(" and %d more", n)
		}
		notes = append(notes, fmt.Sprintf("%d pods without an IP or finished left out: %s%s", len(res.Left), strings.Join(shown, ", "), more))
	}
	if o.Peers {
		for _, a := range res.Members {
			for _, b := range res.Members {
				if a != b {
					pairs = append(pairs, explain.Pair{Source: a, Destination: b})
				}
			}
		}
		if len(pairs) == 0 {
			return nil, nil, errNoPairs(fmt.Sprintf("--peers found %d pod with an IP (%s)", len(res.Members), keys(res.Members)))
		}
		return pairs, notes, nil
	}
	for _, d := range res.Members {
		if d.Namespace == res.Source.Namespace && d.Name == res.Source.Name {
			notes = append(notes, fmt.Sprintf("SRC %s is among the destinations: left out", d))
			continue
		}
		pairs = append(pairs, explain.Pair{Source: res.Source, Destination: d})
	}
	if len(pairs) == 0 {
		return nil, nil, errNoPairs(fmt.Sprintf("the only destination is SRC %s itself", res.Source))
	}
	return pairs, notes, nil
}

// items points at each Reachability of a list.
func items(l *api.ReachabilityList) []*api.Reachability {
	out := make([]*api.Reachability, len(l.Items))
	for i := range l.Items {
		out[i] = &l.Items[i]
	}
	return out
}

func keys(ks []snapshot.PodKey) string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.String()
	}
	return strings.Join(out, ", ")
}
