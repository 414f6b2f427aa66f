package explain

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
)

// Symptoms users see (docs/MODEL.md "Symptoms"; Envoy response flags).
const (
	symptomUC       = `503 "upstream connect error or disconnect/reset before headers. reset reason: connection termination" (UC); DST's sidecar logs filter_chain_not_found (NR)`
	symptomResetTCP = "connection reset by peer right after connect (curl: (56) Recv failure / (52) Empty reply); DST's sidecar logs filter_chain_not_found (NR)"
	// mTLS into a DISABLE port's plaintext HTTP chain: the server's codec
	// answers the ClientHello with a plaintext 400 and closes; the client's
	// TLS handshake fails on it.
	symptomMTLSToDisabled = `503 "upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason: TLS_error: … WRONG_VERSION_NUMBER" (UF) — DST's sidecar (mTLS DISABLE) reads the TLS handshake as bad HTTP`
	symptomTLSToPlainApp  = `503 "upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason: TLS_error" — the client sidecar talks mTLS to an app without sidecar`
	symptomServedByOther  = "the request succeeds but is served by another pod"
)

// verdictStage compares where the request lands with what was asked: DST
// itself (reaches-destination), one of a Service's endpoints that include
// DST (load-balanced), or somewhere else (fails). It always runs, so that a
// request stopped earlier gets its verdict fields too.
func (t *tracer) verdictStage(f *flow) {
	r, ld := f.r, f.land
	defer t.reachesTarget(f)
	if f.stopped {
		return
	}
	switch {
	case ld.pod == nil:
		r.Verdict, r.Reaches = api.VerdictReaches, ld.ip
		if t.dst != nil {
			t.verdictFail(f, api.Reason{Code: api.ReasonWrongDestination, Rule: api.RuleNotAPod, IP: ld.ip}, "")
			r.Reaches = ld.ip
			return
		}
	case len(ld.candidates) > 0:
		if t.dst != nil && !endpointsInclude(ld.candidates, t.dst) {
			t.verdictFail(f, api.Reason{Code: api.ReasonWrongDestination, Rule: api.RuleNotAnEndpoint, Endpoints: len(ld.candidates), Pod: podKey(t.dst)}, symptomServedByOther)
			return
		}
		r.Verdict = api.VerdictLoadBalanced
		if len(ld.candidates) == 1 {
			r.Reaches = ld.pod.Name + " (only endpoint)"
		} else {
			r.Reaches = fmt.Sprintf("any of %d pods", len(ld.candidates))
		}
		for _, w := range splitShares(r.Outbound) {
			r.Reaches += fmt.Sprintf(", %d%% of the split", w)
		}
	case t.dst != nil && ld.pod != t.dst:
		t.verdictFail(f, api.Reason{Code: api.ReasonWrongDestination, Rule: api.RulePinnedElse, Object: ref("Pod", ld.pod.Namespace, ld.pod.Name), Pod: podKey(t.dst)}, symptomServedByOther)
		return
	default:
		r.Verdict, r.Reaches = api.VerdictReaches, ld.pod.Name
	}
	// DNS spreads the clients over the pods; each connection is pinned.
	if len(f.ans.ips) > 1 && r.Verdict == api.VerdictReaches {
		r.Verdict = api.VerdictLoadBalanced
		r.Reaches = fmt.Sprintf("any of %d pods", len(f.ans.ips))
	}
	f.step(api.Step{Stage: api.StageVerdict, Name: r.Reaches})
}

func (t *tracer) verdictFail(f *flow, reason api.Reason, symptom string) {
	f.fail(api.StageVerdict, "", "", reason, symptom)
}

// reachesTarget fills the structured form of Reaches.
func (t *tracer) reachesTarget(f *flow) {
	r, ld := f.r, f.land
	switch {
	case r.Verdict == api.VerdictFails && r.Reaches == "":
		r.Reaches = "—"
		r.ReachesTarget = &api.Reaches{Kind: api.ReachesNone}
	case ld.pod == nil:
		r.ReachesTarget = &api.Reaches{Kind: api.ReachesIP, IP: ld.ip}
	case r.Verdict == api.VerdictLoadBalanced:
		rt := &api.Reaches{Kind: api.ReachesEndpoints, Endpoints: len(ld.candidates)}
		if len(f.ans.ips) > 1 && len(ld.candidates) == 0 {
			rt.Endpoints = len(f.ans.ips)
		}
		if rt.Endpoints == 1 {
			rt.Pod = podKey(ld.pod)
		}
		for _, w := range splitShares(r.Outbound) {
			rt.Weight = w
		}
		r.ReachesTarget = rt
	default:
		r.ReachesTarget = &api.Reaches{Kind: api.ReachesPod, Pod: podKey(ld.pod)}
	}
}

// splitShares is the weight of the analysed cluster in a weighted split
// (none when the route does not split).
func splitShares(ob *api.Outbound) []int32 {
	if ob == nil || len(ob.WeightedClusters) < 2 {
		return nil
	}
	var out []int32
	for _, w := range ob.WeightedClusters {
		if w.Cluster == ob.Cluster {
			out = append(out, w.Weight)
		}
	}
	return out
}

func endpointsInclude(eps []endpoint, p *corev1.Pod) bool {
	for _, e := range eps {
		if e.pod == p {
			return true
		}
	}
	return false
}

func (t *tracer) rejectSymptom(in api.Inbound, ld landing, viaHCM bool) string {
	switch in.Rejection {
	case api.RejectNoFilterChain, api.RejectInvalidMTLS:
		if viaHCM {
			return symptomUC
		}
		return symptomResetTCP
	case api.RejectProtocolError:
		if ld.tls == api.TLSMutual && viaHCM {
			return symptomMTLSToDisabled
		}
		return "DST's sidecar closes the connection (HTTP codec error: bytes that are not HTTP on a port declared HTTP; curl: (52) Empty reply from server)"
	}
	if ld.tls == api.TLSMutual && viaHCM {
		return symptomTLSToPlainApp
	}
	return "the application at DST receives TLS bytes it cannot read and closes the connection"
}
