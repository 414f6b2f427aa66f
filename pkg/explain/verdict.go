package explain

import (
	"fmt"
	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"

	corev1 "k8s.io/api/core/v1"
)

// Symptoms users see (ISTIO-BEHAVIOR.md §4.2, §5.4; Envoy response flags).
const (
	symptomUC       = `503 "upstream connect error or disconnect/reset before headers. reset reason: connection termination" (UC); DST's sidecar logs filter_chain_not_found (NR)`
	symptomResetTCP = "connection reset by peer right after connect (curl: (56) Recv failure / (52) Empty reply); DST's sidecar logs filter_chain_not_found (NR)"
	// mTLS into a DISABLE port's plaintext HTTP chain: the server's codec
	// answers the ClientHello with a plaintext 400 and closes; the client's
	// TLS handshake fails on it.
	symptomMTLSToDisabled = `503 "upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason: TLS_error: … WRONG_VERSION_NUMBER" (UF) — DST's sidecar (mTLS DISABLE) reads the TLS handshake as bad HTTP`
	symptomTLSToPlainApp  = `503 "upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason: TLS_error" — the client sidecar talks mTLS to an app without sidecar`
)

func (t *tracer) fail(r *api.Request, code api.ReasonCode, msg string) {
	r.Verdict = api.VerdictFails
	if r.Reaches == "" {
		r.Reaches = "—"
	}
	if r.Balancing == "" {
		r.Balancing = api.BalancingNone
	}
	r.Reasons = append(r.Reasons, api.Reason{Code: code, Message: msg})
}

// land fills TLS, upstream, inbound, balancing and the verdict once the
// connection's endpoint is known.
func (t *tracer) land(r *api.Request, c call, ld landing, viaHCM bool) {
	r.TLS = ld.tls
	r.Balancing = ld.balancing
	r.Upstream = &api.Upstream{IP: ld.ip, Port: ld.port, Candidates: len(ld.candidates)}
	if ld.pod != nil {
		r.Upstream.Pod = ld.pod.Namespace + "/" + ld.pod.Name
	}
	if ld.tlsWhy != "" && r.Captured {
		r.Reasons = append(r.Reasons, api.Reason{Code: "CLIENT_TLS", Message: ld.tlsWhy})
	}
	if ld.pod == nil {
		if r.Verdict == "" {
			r.Verdict = api.VerdictReaches
			if t.dst != nil {
				r.Verdict = api.VerdictFails
				t.fail(r, "WRONG_DESTINATION", fmt.Sprintf("the connection goes to %s, which is not a pod of this cluster", ld.ip))
			}
			r.Reaches = ld.ip
		}
		return
	}
	in := t.m.inbound(ld.pod, ld.port, ld.tls, c.traffic)
	r.Inbound = &in
	if !in.Accepted {
		t.fail(r, inboundCode(in), fmt.Sprintf("%s (%s) on %s port %d: %s", in.Mode, in.ModeSource, in.Pod, in.Port, in.Error))
		r.Symptom = t.rejectSymptom(in, ld, c, viaHCM)
		return
	}
	// Accepted: where did it land?
	switch {
	case len(ld.candidates) > 0:
		if t.dst != nil && !endpointsInclude(ld.candidates, t.dst) {
			t.fail(r, "WRONG_DESTINATION", fmt.Sprintf("the balancer chooses among %d endpoints and %s/%s is not one of them", len(ld.candidates), t.dst.Namespace, t.dst.Name))
			r.Symptom = "the request succeeds but is served by another pod"
			return
		}
		r.Verdict = api.VerdictLoadBalanced
		if len(ld.candidates) == 1 {
			r.Reaches = ld.pod.Name + " (only endpoint)"
		} else {
			r.Reaches = fmt.Sprintf("any of %d pods", len(ld.candidates))
		}
		if ob := r.Outbound; ob != nil && len(ob.WeightedClusters) > 1 {
			for _, w := range ob.WeightedClusters {
				if w.Cluster == ob.Cluster {
					r.Reaches += fmt.Sprintf(", %d%% of the split", w.Weight)
				}
			}
		}
	case t.dst != nil && ld.pod != t.dst:
		t.fail(r, "WRONG_DESTINATION", fmt.Sprintf("the connection is pinned to %s/%s, not %s/%s", ld.pod.Namespace, ld.pod.Name, t.dst.Namespace, t.dst.Name))
		r.Symptom = "the request succeeds but is served by another pod"
	default:
		r.Verdict = api.VerdictReaches
		r.Reaches = ld.pod.Name
	}
}

func endpointsInclude(eps []endpoint, p *corev1.Pod) bool {
	for _, e := range eps {
		if e.pod == p {
			return true
		}
	}
	return false
}

func inboundCode(in api.Inbound) api.ReasonCode {
	switch in.Error {
	case "no filter chains matched":
		return "STRICT_REJECTS_PLAINTEXT"
	case "invalid mTLS":
		return "STRICT_REJECTS_NON_ISTIO_TLS"
	case "protocol error":
		return "PROTOCOL_ERROR"
	}
	return "INBOUND_REJECTED"
}

func (t *tracer) rejectSymptom(in api.Inbound, ld landing, c call, viaHCM bool) string {
	switch in.Error {
	case "no filter chains matched", "invalid mTLS":
		if viaHCM {
			return symptomUC
		}
		return symptomResetTCP
	case "protocol error":
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
