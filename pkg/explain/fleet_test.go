package explain

import (
	"testing"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
)

func TestPrimaryReason(t *testing.T) {
	note := api.Reason{Code: api.ReasonPassthrough}
	deny := api.Reason{Code: api.ReasonStrictRejectsPlaintext}
	for _, tc := range []struct {
		name string
		r    api.Request
		want api.ReasonCode
	}{
		{"no reason", api.Request{}, ""},
		{"a note on a passing request", api.Request{Reasons: []api.Reason{note}}, api.ReasonPassthrough},
		{"the failing step's, not the first note", api.Request{
			Steps:   []api.Step{{Result: api.StepPass, Reason: &note}, {Result: api.StepFail, Reason: &deny}},
			Reasons: []api.Reason{note, deny}}, api.ReasonStrictRejectsPlaintext},
	} {
		if got := PrimaryReason(tc.r); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestSummarize: groups partition the requests, count pairs once each,
// keep three examples, and put failing groups first.
func TestSummarize(t *testing.T) {
	req := func(port int32, form api.AddressForm, v api.Verdict) api.Request {
		return api.Request{Port: port, DestinationPort: port, Form: form, Verdict: v}
	}
	item := func(dst string, reqs ...api.Request) api.Reachability {
		return api.Reachability{Source: api.Workload{Namespace: "ns", Name: "src"},
			Destination: &api.Workload{Namespace: "ns", Name: dst}, Requests: reqs}
	}
	l := api.NewReachabilityList()
	for _, d := range []string{"a", "b", "c", "d"} {
		l.Items = append(l.Items, item(d, req(80, api.FormServiceFQDN, api.VerdictLoadBalanced),
			req(80, api.FormServiceShort, api.VerdictLoadBalanced), req(80, api.FormServiceShort, api.VerdictLoadBalanced),
			req(8080, api.FormPodIP, api.VerdictFails)))
	}
	Summarize(l)
	s := l.Summary
	if s.Pairs != 4 || s.Requests != 16 || s.Failing != 4 || s.Reaching != 12 || len(s.Groups) != 3 {
		t.Fatalf("summary %+v", s)
	}
	if g := s.Groups[0]; g.Verdict != api.VerdictFails || g.Port != 8080 || g.Count != 4 || g.Pairs != 4 ||
		len(g.Examples) != 3 || g.Examples[0] != "ns/src→ns/a" || g.Representative != (api.RequestIndex{Item: 0, Request: 3}) {
		t.Errorf("first group %+v", g)
	}
	if g := s.Groups[1]; g.Form != api.FormServiceShort || g.Count != 8 || g.Pairs != 4 {
		t.Errorf("second group %+v (short before fqdn, in AddressForms order)", g)
	}
}
