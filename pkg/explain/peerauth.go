package explain

import (
	"fmt"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"

	securityapi "istio.io/api/security/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
)

// peerAuth is a composed PeerAuthentication for one workload.
type peerAuth struct {
	mode    api.MTLSMode
	source  string // "PeerAuthentication demo/default (namespace)" or "default (no policy)"
	perPort map[uint32]api.MTLSMode
	portSrc string
	decider *securityv1.PeerAuthentication // the policy whose mode applies (nil: none, PERMISSIVE)
	level   string                         // its level: mesh | namespace | workload
	portPol *securityv1.PeerAuthentication // the workload policy with portLevelMtls
}

// deciderRef names the PeerAuthentication that decides a port's mode.
func (pa peerAuth) deciderRef(port int32) *api.ObjectRef {
	p := pa.decider
	if _, ok := pa.perPort[uint32(port)]; ok {
		p = pa.portPol
	}
	if p == nil {
		return nil
	}
	return ref("PeerAuthentication", p.Namespace, p.Name)
}

// summary is the workload's policy for the DST header line:
// "demo/default (namespace): STRICT".
func (pa peerAuth) summary() string {
	if pa.decider == nil {
		return "PERMISSIVE (no PeerAuthentication)"
	}
	return paKey(pa.decider) + " (" + pa.level + "): " + string(pa.mode)
}

func paKey(pa *securityv1.PeerAuthentication) string { return pa.Namespace + "/" + pa.Name }

func paMode(m *securityapi.PeerAuthentication_MutualTLS) api.MTLSMode {
	if m == nil || m.GetMode() == securityapi.PeerAuthentication_MutualTLS_UNSET {
		return ""
	}
	return api.MTLSMode(m.GetMode().String())
}

// composePeerAuthentication mirrors pilot/pkg/security/authn/policy_applier.go
// ComposePeerAuthentication (Istio 1.31) over the candidates of
// pilot/pkg/model/authentication.go getConfigsForWorkload: selector-less in
// the root namespace = mesh, selector-less elsewhere = namespace, selector
// policies outside the root namespace = workload; oldest wins within a
// level; default PERMISSIVE; UNSET inherits; portLevelMtls only from the
// workload policy, UNSET ports inherit the workload mode.
func (m *model) composePeerAuthentication(ns string, labels map[string]string) peerAuth {
	var mesh, nsPol, wl *securityv1.PeerAuthentication
	older := func(a, b *securityv1.PeerAuthentication) bool {
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return paKey(a) < paKey(b)
	}
	for _, pa := range m.s.PeerAuthentications {
		if pa.Namespace != ns && pa.Namespace != m.mesh.RootNamespace {
			continue
		}
		sel := pa.Spec.GetSelector().GetMatchLabels()
		switch {
		case len(sel) == 0 && pa.Namespace == m.mesh.RootNamespace:
			if mesh == nil || older(pa, mesh) {
				mesh = pa
			}
		case len(sel) == 0:
			if nsPol == nil || older(pa, nsPol) {
				nsPol = pa
			}
		case pa.Namespace != m.mesh.RootNamespace && labelsMatch(sel, labels):
			if wl == nil || older(pa, wl) {
				wl = pa
			}
		}
	}
	out := peerAuth{mode: api.MTLSPermissive, source: "no PeerAuthentication: PERMISSIVE by default"}
	if mesh != nil && paMode(mesh.Spec.GetMtls()) != "" {
		out.mode, out.source, out.decider, out.level = paMode(mesh.Spec.GetMtls()), "PeerAuthentication "+paKey(mesh)+" (mesh)", mesh, "mesh"
	}
	if nsPol != nil && paMode(nsPol.Spec.GetMtls()) != "" {
		out.mode, out.source, out.decider, out.level = paMode(nsPol.Spec.GetMtls()), "PeerAuthentication "+paKey(nsPol)+" (namespace)", nsPol, "namespace"
	}
	if wl != nil && paMode(wl.Spec.GetMtls()) != "" {
		out.mode, out.source, out.decider, out.level = paMode(wl.Spec.GetMtls()), "PeerAuthentication "+paKey(wl)+" (workload)", wl, "workload"
	}
	if wl != nil && len(wl.Spec.GetPortLevelMtls()) > 0 {
		out.perPort = map[uint32]api.MTLSMode{}
		out.portSrc, out.portPol = "PeerAuthentication "+paKey(wl)+" (workload, portLevelMtls)", wl
		for p, mt := range wl.Spec.GetPortLevelMtls() {
			if md := paMode(mt); md != "" {
				out.perPort[p] = md
			} else {
				out.perPort[p] = out.mode
			}
		}
	}
	return out
}

// forPort mirrors MergedPeerAuthentication / GetMutualTLSModeForPort: keyed
// by the workload (target) port.
func (pa peerAuth) forPort(port int32) (api.MTLSMode, string) {
	if md, ok := pa.perPort[uint32(port)]; ok {
		return md, fmt.Sprintf("%s port %d", pa.portSrc, port)
	}
	return pa.mode, pa.source
}

// namespaceMTLSMode mirrors AuthenticationPolicies.GetNamespaceMutualTLSMode:
// the namespace-level policy (oldest), UNSET inheriting the mesh policy;
// else the mesh policy; "" when neither exists (caller falls back to PERMISSIVE).
func (m *model) namespaceMTLSMode(ns string) api.MTLSMode {
	var mesh, nsPol *securityv1.PeerAuthentication
	for _, pa := range m.s.PeerAuthentications {
		if len(pa.Spec.GetSelector().GetMatchLabels()) > 0 {
			continue
		}
		older := func(cur *securityv1.PeerAuthentication) bool {
			return cur == nil || pa.CreationTimestamp.Before(&cur.CreationTimestamp) ||
				(pa.CreationTimestamp.Equal(&cur.CreationTimestamp) && paKey(pa) < paKey(cur))
		}
		if pa.Namespace == m.mesh.RootNamespace && older(mesh) {
			mesh = pa
		} else if pa.Namespace == ns && older(nsPol) {
			nsPol = pa
		}
	}
	meshMode := api.MTLSMode("")
	if mesh != nil {
		meshMode = api.MTLSPermissive // UNSET mesh policy counts as PERMISSIVE
		if md := paMode(mesh.Spec.GetMtls()); md != "" {
			meshMode = md
		}
	}
	if nsPol != nil {
		if md := paMode(nsPol.Spec.GetMtls()); md != "" {
			return md
		}
		if meshMode != "" {
			return meshMode
		}
		return api.MTLSPermissive
	}
	if ns == m.mesh.RootNamespace && mesh != nil {
		return meshMode
	}
	return meshMode
}
