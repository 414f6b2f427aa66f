package explain

import (
	"slices"
	"strconv"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
)

// Diff compares the reports of the cluster as read (before) with those of
// the cluster with an overlay (after), request by request. A request is
// the same when its source, destination, address, port and Host header are;
// the reports may come in any order and number (one per pair of a fleet).
// Only the requests whose verdict, TLS, reason codes or symptom differ are
// listed, grouped by change (api.DiffChangeValues order), then in the order
// they were examined.
func Diff(before, after []*api.Reachability) *api.ReachabilityDiff {
	type row struct {
		src, dst string
		req      *api.Request
	}
	key := func(src, dst string, q *api.Request) string {
		return src + "\x00" + dst + "\x00" + q.Address + "\x00" + strconv.Itoa(int(q.Port)) + "\x00" + q.Host
	}
	index := func(reps []*api.Reachability) (map[string]row, []string) {
		m := map[string]row{}
		var order []string
		for _, rep := range reps {
			src, dst := endpoints(rep)
			for i := range rep.Requests {
				q := &rep.Requests[i]
				k := key(src, dst, q)
				if _, dup := m[k]; !dup {
					order = append(order, k)
				}
				m[k] = row{src, dst, q}
			}
		}
		return m, order
	}
	b, border := index(before)
	a, aorder := index(after)
	order := border
	for _, k := range aorder {
		if _, ok := b[k]; !ok {
			order = append(order, k)
		}
	}
	d := api.NewReachabilityDiff()
	d.Summary.Compared = len(order)
	groups := map[api.DiffChange][]api.DiffItem{}
	for _, k := range order {
		rb, inB := b[k]
		ra, inA := a[k]
		var item api.DiffItem
		var ob, oa *api.Outcome
		r := rb
		if inB {
			ob = outcome(rb.req)
		} else {
			r = ra
		}
		if inA {
			oa = outcome(ra.req)
		}
		item = api.DiffItem{Source: r.src, Destination: r.dst, Address: r.req.Address, Port: r.req.Port, Host: r.req.Host, Before: ob, After: oa}
		switch {
		case !inA:
			item.Change = api.DiffRemoved
		case !inB:
			item.Change = api.DiffAdded
		case sameOutcome(ob, oa):
			continue
		case reaches(ob) && !reaches(oa):
			item.Change = api.DiffBreaks
		case !reaches(ob) && reaches(oa):
			item.Change = api.DiffFixes
		default:
			item.Change = api.DiffChanges
		}
		groups[item.Change] = append(groups[item.Change], item)
	}
	for _, c := range api.DiffChangeValues {
		d.Items = append(d.Items, groups[c]...)
	}
	d.Summary.Changed = len(d.Items)
	d.Summary.Breaks = len(groups[api.DiffBreaks])
	d.Summary.Fixes = len(groups[api.DiffFixes])
	return d
}

// endpoints names a report's source and destination as a diff keys them:
// NS/NAME, and the URL for the URL form (whose landing pod may change).
func endpoints(rep *api.Reachability) (src, dst string) {
	src = rep.Source.Namespace + "/" + rep.Source.Name
	switch {
	case rep.Target != nil:
		dst = rep.Target.URL
	case rep.Destination != nil:
		dst = rep.Destination.Namespace + "/" + rep.Destination.Name
	}
	return src, dst
}

func outcome(q *api.Request) *api.Outcome {
	o := &api.Outcome{Verdict: q.Verdict, TLS: q.TLS, Symptom: q.Symptom, Reaches: q.Reaches}
	for _, r := range q.Reasons {
		o.Reasons = append(o.Reasons, r.Code)
	}
	return o
}

func reaches(o *api.Outcome) bool { return o != nil && o.Verdict != api.VerdictFails }

func sameOutcome(a, b *api.Outcome) bool {
	return a.Verdict == b.Verdict && a.TLS == b.TLS && a.Symptom == b.Symptom && slices.Equal(a.Reasons, b.Reasons)
}
