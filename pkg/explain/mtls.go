package explain

import (
	"fmt"
	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
	"strings"

	networkingapi "istio.io/api/networking/v1alpha3"
	securityapi "istio.io/api/security/v1beta1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
)

// peerAuth is a composed PeerAuthentication for one workload.
type peerAuth struct {
	mode    api.MTLSMode
	source  string // "PeerAuthentication demo/default (namespace)" or "default (no policy)"
	perPort map[uint32]api.MTLSMode
	portSrc string
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
		out.mode, out.source = paMode(mesh.Spec.GetMtls()), "PeerAuthentication "+paKey(mesh)+" (mesh)"
	}
	if nsPol != nil && paMode(nsPol.Spec.GetMtls()) != "" {
		out.mode, out.source = paMode(nsPol.Spec.GetMtls()), "PeerAuthentication "+paKey(nsPol)+" (namespace)"
	}
	if wl != nil && paMode(wl.Spec.GetMtls()) != "" {
		out.mode, out.source = paMode(wl.Spec.GetMtls()), "PeerAuthentication "+paKey(wl)+" (workload)"
	}
	if wl != nil && len(wl.Spec.GetPortLevelMtls()) > 0 {
		out.perPort = map[uint32]api.MTLSMode{}
		out.portSrc = "PeerAuthentication " + paKey(wl) + " (workload, portLevelMtls)"
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

// destinationRuleFor picks the DestinationRule the source proxy applies to a
// host, mirroring SidecarScope.DestinationRule lookup order: the proxy's
// namespace, then the service's namespace, then the root namespace; exact
// host before the most specific wildcard; workloadSelector must match.
func (m *model) destinationRuleFor(sc *sidecarScope, svc *service) *networkingv1.DestinationRule {
	nsOrder := []string{sc.proxyNS, svc.namespace, m.mesh.RootNamespace}
	for _, ns := range nsOrder {
		var best *networkingv1.DestinationRule
		bestLen := -1
		for _, dr := range m.s.DestinationRules {
			if dr.Namespace != ns {
				continue
			}
			if sel := dr.Spec.GetWorkloadSelector().GetMatchLabels(); len(sel) > 0 && !labelsMatch(sel, sc.proxyLabels) {
				continue
			}
			exportTo := dr.Spec.GetExportTo()
			if len(exportTo) == 0 {
				exportTo = m.mesh.DefaultDestinationRuleExportTo
			}
			if !m.exportedTo(exportTo, dr.Namespace, sc.proxyNS) {
				continue
			}
			h := m.resolveShortHost(dr.Spec.GetHost(), dr.Namespace)
			score := -1
			if h == svc.hostname {
				score = 1 << 20
			} else if strings.HasPrefix(h, "*") && hostMatches(svc.hostname, h) {
				score = len(h)
			}
			if score > bestLen {
				best, bestLen = dr, score
			}
		}
		if best != nil {
			return best
		}
	}
	return nil
}

// drTLS returns the TLS settings a DestinationRule gives a port/subset:
// subset policy over top-level, port-level over the policy's default
// (cluster_tls.go / cluster_builder.go applyTrafficPolicy, Istio 1.31).
func drTLS(dr *networkingv1.DestinationRule, port int32, subset string) (*networkingapi.ClientTLSSettings, *networkingapi.TrafficPolicy) {
	if dr == nil {
		return nil, nil
	}
	pick := func(tp *networkingapi.TrafficPolicy) *networkingapi.ClientTLSSettings {
		if tp == nil {
			return nil
		}
		for _, pls := range tp.GetPortLevelSettings() {
			if int32(pls.GetPort().GetNumber()) == port && pls.GetTls() != nil {
				return pls.GetTls()
			}
		}
		return tp.GetTls()
	}
	tp := dr.Spec.GetTrafficPolicy()
	tls := pick(tp)
	if subset != "" {
		for _, ss := range dr.Spec.GetSubsets() {
			if ss.GetName() == subset && ss.GetTrafficPolicy() != nil {
				if t := pick(ss.GetTrafficPolicy()); t != nil {
					tls = t
				}
				tp = ss.GetTrafficPolicy()
			}
		}
	}
	return tls, tp
}

// clientTLS decides what the chosen service cluster sends to one endpoint,
// mirroring cluster_tls.go buildUpstreamTLSSettings (a DestinationRule TLS
// mode always wins), push_context.go BestEffortInferServiceMTLSMode (auto
// mTLS: the service namespace's policy; for ORIGINAL_DST clusters every
// endpoint of the port must carry tlsMode=istio, else DISABLE) and
// xds/endpoints/mtls_checker.go checkMtlsEnabled (EDS: per endpoint, the
// tlsMode label and the endpoint workload's own policy for its port).
func (m *model) clientTLS(sc *sidecarScope, svc *service, sp *servicePort, subset string, ep *endpoint, originalDst bool) (api.TLS, string) {
	dr := m.destinationRuleFor(sc, svc)
	tls, tp := drTLS(dr, sp.port, subset)
	if tls != nil {
		switch tls.GetMode() {
		case networkingapi.ClientTLSSettings_DISABLE:
			return api.TLSPlaintext, fmt.Sprintf("DestinationRule %s/%s sets tls.mode DISABLE", dr.Namespace, dr.Name)
		case networkingapi.ClientTLSSettings_ISTIO_MUTUAL:
			return api.TLSMutual, fmt.Sprintf("DestinationRule %s/%s sets tls.mode ISTIO_MUTUAL", dr.Namespace, dr.Name)
		case networkingapi.ClientTLSSettings_SIMPLE, networkingapi.ClientTLSSettings_MUTUAL:
			return api.TLSSimple, fmt.Sprintf("DestinationRule %s/%s sets tls.mode %s (not Istio mTLS)", dr.Namespace, dr.Name, tls.GetMode())
		}
	}
	if !m.mesh.EnableAutoMtls {
		return api.TLSPlaintext, "meshConfig.enableAutoMtls is false and no DestinationRule sets TLS"
	}
	if svc.meshExternal {
		return api.TLSPlaintext, svc.kindName() + " is MESH_EXTERNAL: auto mTLS does not apply"
	}
	passthroughLB := tp.GetLoadBalancer().GetSimple() == networkingapi.LoadBalancerSettings_PASSTHROUGH
	if svc.resolution == "Passthrough" || passthroughLB {
		eps := m.endpoints(svc, sp, true)
		if len(eps) == 0 {
			return api.TLSPlaintext, "auto mTLS: the headless port has no endpoints"
		}
		for _, e := range eps {
			if e.labels["security.istio.io/tlsMode"] != "istio" {
				who := e.ip
				if e.pod != nil {
					who = e.pod.Namespace + "/" + e.pod.Name
				}
				return api.TLSPlaintext, fmt.Sprintf("auto mTLS is all-or-nothing on %s port %d: endpoint %s has no sidecar (label security.istio.io/tlsMode=istio missing), so every endpoint gets plaintext", svc.kindName(), sp.port, who)
			}
		}
	}
	nsMode := m.namespaceMTLSMode(svc.namespace)
	if nsMode == api.MTLSDisable {
		return api.TLSPlaintext, fmt.Sprintf("auto mTLS off: namespace %s's PeerAuthentication is DISABLE", svc.namespace)
	}
	if originalDst {
		return api.TLSMutual, "auto mTLS: every endpoint of the port has a sidecar"
	}
	if ep == nil {
		return api.TLSPlaintext, "no endpoint"
	}
	if ep.labels["security.istio.io/tlsMode"] != "istio" {
		return api.TLSPlaintext, fmt.Sprintf("auto mTLS: endpoint %s has no security.istio.io/tlsMode=istio label (no sidecar)", ep.ip)
	}
	if ep.pod != nil {
		pa := m.composePeerAuthentication(ep.pod.Namespace, ep.pod.Labels)
		if md, src := pa.forPort(ep.port); md == api.MTLSDisable {
			return api.TLSPlaintext, fmt.Sprintf("auto mTLS: the endpoint's %s is DISABLE for port %d", src, ep.port)
		}
	}
	return api.TLSMutual, "auto mTLS: the endpoint has a sidecar (tlsMode=istio)"
}
