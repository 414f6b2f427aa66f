package main

import (
	"fmt"
	"strings"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
	"github.com/podreach/kubectl-podreach/pkg/explain"
	"github.com/podreach/kubectl-podreach/pkg/inspect"
	"github.com/podreach/kubectl-podreach/pkg/snapshot"
)

// runScrape traces every target the SRC Prometheus would scrape
// (explain.ScrapeTargets), each as the URL form, with one engine, and prints
// them as a fleet: the grouped table, or a ReachabilityList whose items'
// target.origins say where each URL came from. --with applies to the
// cluster read; --diff compares the scrapes without and with it. Exit
// status 1 if any scrape fails (with --diff: if one that worked fails).
func (o *Options) runScrape(res *inspect.Result) error {
	snap, err := o.overlay(res.Snapshot)
	if err != nil {
		return err
	}
	if o.Diff {
		before, _, err := o.scrapeList(res, res.Snapshot)
		if err != nil {
			return err
		}
		after, _, err := o.scrapeList(res, snap)
		if err != nil {
			return err
		}
		o.printWarnings(res.Warnings)
		return o.printDiff(items(before), items(after))
	}
	list, n, err := o.scrapeList(res, snap)
	if err != nil {
		return err
	}
	o.printWarnings(res.Warnings, list.Warnings)
	if n > 0 && len(list.Items) == 0 {
		return errNoPairs(fmt.Sprintf("every one of the %d scrape targets was left out (see the warnings)", n))
	}
	if len(list.Items) == 0 {
		where := "namespace " + strings.Join(o.Scrape.Namespaces, ", ")
		if o.Scrape.Namespaces == nil {
			where = "any namespace"
		}
		fmt.Fprintf(o.ErrOut, "No scrape targets for %s in %s.\n", res.Source, where)
		return nil
	}
	return o.printList(list)
}

// scrapeList answers every scrape target of snap as one list; n is how
// many targets there were.
func (o *Options) scrapeList(res *inspect.Result, snap *snapshot.Snapshot) (list *api.ReachabilityList, n int, err error) {
	targets, err := explain.ScrapeTargets(snap, res.Source, o.Scrape.Namespaces)
	if err != nil {
		return nil, 0, err
	}
	q := explain.ListQuery{Queries: make([]explain.Query, len(targets)), Noun: "target", Progress: o.progress(len(targets))}
	for i, t := range targets {
		q.Queries[i] = t.Query
	}
	q.Annotate = func(i int, r *api.Reachability) {
		if r.Target == nil {
			return
		}
		for _, orig := range targets[i].Origins {
			r.Target.Origins = append(r.Target.Origins, orig.String())
		}
	}
	list, err = explain.NewEngine(snap).List(q)
	return list, len(targets), err
}
