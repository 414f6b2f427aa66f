package explain

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
	"github.com/podreach/kubectl-podreach/pkg/podref"
	"github.com/podreach/kubectl-podreach/pkg/snapshot"
)

// Pair is one (SRC, DST) of a fleet.
type Pair struct {
	Source      snapshot.PodKey
	Destination snapshot.PodKey
}

// Key is "NS/NAME→NS/NAME", as RequestGroup.examples name pairs.
func (p Pair) Key() string { return p.Source.String() + "→" + p.Destination.String() }

// FleetQuery asks the matrix of every pair, with the same ports, traffic and
// method for each (the fleet forms of the command).
type FleetQuery struct {
	Pairs   []Pair
	Ports   []podref.Port
	Traffic api.Traffic
	Method  string
	// Progress, if set, is called after each pair with the pairs done so far.
	Progress func(done, total int)
}

// skippedShown is how many skipped destinations the list's warnings name
// one by one; the rest are counted in one more line.
const skippedShown = 5

// Fleet answers every pair of q: items[i] is exactly what Explain answers
// for q.Pairs[i] (same engine, same code path). A pair the single form would
// refuse as a usage error (a destination without a port to examine, a --port
// name it lacks) is left out with a warning rather than ending the run.
func (e *Engine) Fleet(q FleetQuery) (*api.ReachabilityList, error) {
	list := api.NewReachabilityList()
	var skipped []string
	for i, p := range q.Pairs {
		dst := p.Destination
		rep, err := e.Explain(Query{Source: p.Source, Destination: &dst, Ports: q.Ports, Traffic: q.Traffic, Method: q.Method})
		var qe *QueryError
		switch {
		case errors.As(err, &qe):
			skipped = append(skipped, qe.Msg)
		case err != nil:
			return nil, err
		default:
			list.Items = append(list.Items, *rep)
		}
		if q.Progress != nil {
			q.Progress(i+1, len(q.Pairs))
		}
	}
	seen := map[string]bool{}
	for _, it := range list.Items {
		for _, w := range it.Warnings {
			if !seen[w] {
				seen[w] = true
				list.Warnings = append(list.Warnings, w)
			}
		}
	}
	for i, msg := range skipped {
		if i == skippedShown {
			list.Warnings = append(list.Warnings, fmt.Sprintf("%d more pairs left out for the same kinds of reasons", len(skipped)-skippedShown))
			break
		}
		list.Warnings = append(list.Warnings, "pair left out: "+msg)
	}
	Summarize(list)
	return list, nil
}

// groupKey is what RequestGroup partitions the requests by.
type groupKey struct {
	port    int32
	form    api.AddressForm
	verdict api.Verdict
	reason  api.ReasonCode
}

// PrimaryReason is the reason code a request is grouped by: the reason of
// its first failing step, else its first reason, else "".
func PrimaryReason(r api.Request) api.ReasonCode {
	for _, s := range r.Steps {
		if s.Result == api.StepFail && s.Reason != nil {
			return s.Reason.Code
		}
	}
	if len(r.Reasons) > 0 {
		return r.Reasons[0].Code
	}
	return ""
}

// Summarize fills list.Summary from list.Items: the counts, and the groups
// of requests by port × address form × verdict × primary reason code.
func Summarize(list *api.ReachabilityList) {
	s := api.ListSummary{Pairs: len(list.Items), Groups: []api.RequestGroup{}}
	index := map[groupKey]int{}
	lastItem := map[groupKey]int{}
	for i, it := range list.Items {
		pair := it.Source.Namespace + "/" + it.Source.Name + "→"
		if it.Destination != nil {
			pair += it.Destination.Namespace + "/" + it.Destination.Name
		}
		for j, r := range it.Requests {
			s.Requests++
			if r.Verdict == api.VerdictFails {
				s.Failing++
			} else {
				s.Reaching++
			}
			k := groupKey{r.Port, r.Form, r.Verdict, PrimaryReason(r)}
			gi, ok := index[k]
			if !ok {
				gi = len(s.Groups)
				index[k] = gi
				s.Groups = append(s.Groups, api.RequestGroup{Port: k.port, DestinationPort: r.DestinationPort, Form: k.form,
					Verdict: k.verdict, Reason: k.reason, Examples: []string{}, Representative: api.RequestIndex{Item: i, Request: j}})
			}
			g := &s.Groups[gi]
			g.Count++
			if g.DestinationPort != r.DestinationPort {
				g.DestinationPort = 0 // not one port
			}
			if last, ok := lastItem[k]; !ok || last != i {
				lastItem[k] = i
				g.Pairs++
				if len(g.Examples) < 3 {
					g.Examples = append(g.Examples, pair)
				}
			}
		}
	}
	slices.SortStableFunc(s.Groups, compareGroups)
	list.Summary = s
}

// compareGroups orders failing groups first, then by port, address form (in
// api.AddressForms order), verdict and reason code.
func compareGroups(a, b api.RequestGroup) int {
	fails := func(g api.RequestGroup) int {
		if g.Verdict == api.VerdictFails {
			return 0
		}
		return 1
	}
	return cmp.Or(
		cmp.Compare(fails(a), fails(b)),
		cmp.Compare(a.Port, b.Port),
		cmp.Compare(slices.Index(api.AddressForms, a.Form), slices.Index(api.AddressForms, b.Form)),
		cmp.Compare(slices.Index(api.Verdicts, a.Verdict), slices.Index(api.Verdicts, b.Verdict)),
		cmp.Compare(a.Reason, b.Reason),
	)
}
