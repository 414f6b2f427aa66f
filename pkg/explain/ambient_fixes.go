package explain

import (
	"encoding/json"
	"fmt"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
	"github.com/podreach/kubectl-podreach/pkg/snapshot"
)

// ambientEnrolFix enrols the caller in ambient: the namespace label
// istio.io/dataplane-mode=ambient (cni/pkg/util/enablement_selector.go);
// the CNI node agent then redirects the running pod without a restart and
// marks it ambient.istio.io/redirection=enabled, which is what the model
// sees once the fix has taken effect. Its connections then leave through
// ztunnel with HBONE and carry the caller's identity. Not for a caller with
// a sidecar (a sidecar wins), on hostNetwork (never enrolled), opted out, or
// selected already.
func (t *tracer) ambientEnrolFix() (api.Fix, []snapshot.ObjectPatch, bool) {
	if t.src.Spec.HostNetwork || hasSidecar(t.src) || t.src.Labels[labelDataplaneMode] == "none" || t.m.ambientSelected(t.src) {
		// Selected already and not redirected: the CNI node agent's
		// business, which no object change proves (the warning says so).
		return api.Fix{}, nil, false
	}
	ns := t.src.Namespace
	fx := api.Fix{Object: "Namespace " + ns, Ref: ref("Namespace", "", ns), Field: "metadata.labels[" + labelDataplaneMode + "]",
		Patch:    mergePatch(apiV1, "Namespace", "", ns, map[string]any{"metadata": map[string]any{"labels": map[string]any{labelDataplaneMode: "ambient"}}}),
		Requires: []api.FixRequirement{api.RequiresCNI},
		Message: fmt.Sprintf("enrol the caller in ambient: label namespace %s %s=ambient (the istio-cni node agent redirects %s/%s without a restart); its connections then go through ztunnel with HBONE and carry the identity %s",
			ns, labelDataplaneMode, ns, t.src.Name, t.m.spiffeID(t.src))}
	effect := snapshot.ObjectPatch{ObjectKey: snapshot.ObjectKey{Kind: "Pod", Namespace: ns, Name: t.src.Name}}
	effect.MergePatch, _ = json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]any{annotationRedirection: "enabled"}}})
	return fx, []snapshot.ObjectPatch{objectPatch(fx.Patch), effect}, true
}

// ambientStrictFixes: a connection without identity reached a STRICT
// ambient workload (istio_converted_static_strict): give the caller an
// identity (ambient enrolment), or accept plaintext on the port.
func (t *tracer) ambientStrictFixes(f *flow, add addFunc) {
	switch t.dataplane {
	case api.DataplaneNone:
		if fx, effect, ok := t.ambientEnrolFix(); ok {
			add(fx, effect...)
		}
	case api.DataplaneSidecar:
		// A sidecar sends a pod IP through PassthroughCluster, plaintext; by
		// the Service name it tunnels HBONE to the endpoint with its identity.
		if in := f.r.Inbound; in != nil && f.r.Ambient != nil && f.r.Ambient.Path == api.AmbientPathInboundOnly {
			if p := t.m.podByKey[in.Pod]; p != nil {
				if tgt := t.m.serviceTargets(p, in.Port); tgt != nil {
					add(api.Fix{Object: "caller", Dial: &api.Dial{Address: tgt.svc.hostname, Port: tgt.sp.port},
						Message: fmt.Sprintf("call the Service name %s:%d instead of the pod IP: the sidecar then tunnels HBONE to the endpoint with its identity", tgt.svc.hostname, tgt.sp.port)})
				}
			}
		}
	}
	if in := f.r.Inbound; in != nil {
		if fx, ok := t.portPermissiveFix(in, in.Port); ok {
			add(fx)
		}
	}
}

// denialUnderReview is the authorization a failed authorization step
// reports: the waypoint's (waypoint.go) or the destination's.
func (t *tracer) denialUnderReview(f *flow) (a *api.Authorization, allow authzSet, port int32, ok bool) {
	r := f.r
	if f.wp != nil && r.Ambient != nil && r.Ambient.WaypointAuthorization != nil && r.Ambient.WaypointAuthorization.Decision == api.AuthzDeny {
		return r.Ambient.WaypointAuthorization, t.m.waypointPolicies(f.wp), f.c.port, true
	}
	if r.Inbound == nil || r.Inbound.Authorization == nil {
		return nil, authzSet{}, 0, false
	}
	return r.Inbound.Authorization, t.m.authzPolicies(t.m.podByKey[r.Inbound.Pod]), r.Inbound.Port, true
}
