package explain

import (
	"strings"

	networkingapi "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
)

// clientTLSStage decides what leaves toward the endpoint the cluster stage
// picked (clientTLS below for service clusters; plaintext for passthrough
// and for flows no sidecar captures) and records where the connection goes.
func (t *tracer) clientTLSStage(f *flow) {
	r, ld := f.r, &f.land
	if st := ld.svcTLS; st != nil {
		tls, why := t.m.clientTLS(t.sc, st.svc, st.sp, st.subset, st.ep, st.originalDst)
		ld.tls, ld.tlsWhy = tls, &why
		t.sidecarToAmbient(f, st)
	}
	r.TLS = ld.tls
	r.Balancing = ld.balancing
	r.Upstream = &api.Upstream{IP: ld.ip, Port: ld.port, Candidates: len(ld.candidates), Pod: podKey(ld.pod)}
	if ld.tlsWhy != nil && r.Captured {
		f.note(api.StageClientTLS, t.srcKey, string(ld.tls), *ld.tlsWhy)
		return
	}
	proxy := t.srcKey
	f.step(api.Step{Stage: api.StageClientTLS, Proxy: proxy, Name: string(ld.tls)})
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
func (m *model) clientTLS(sc *sidecarScope, svc *service, sp *servicePort, subset string, ep *endpoint, originalDst bool) (api.TLS, api.Reason) {
	dr := m.destinationRuleFor(sc, svc)
	tls, tp := drTLS(dr, sp.port, subset)
	if tls != nil {
		switch tls.GetMode() {
		case networkingapi.ClientTLSSettings_DISABLE:
			return api.TLSPlaintext, drWhy(dr, tls)
		case networkingapi.ClientTLSSettings_ISTIO_MUTUAL:
			return api.TLSMutual, drWhy(dr, tls)
		case networkingapi.ClientTLSSettings_SIMPLE, networkingapi.ClientTLSSettings_MUTUAL:
			return api.TLSSimple, drWhy(dr, tls)
		}
	}
	if !m.mesh.EnableAutoMtls {
		return api.TLSPlaintext, tlsWhy(api.Reason{Rule: api.RuleAutoMTLSOff})
	}
	if svc.meshExternal {
		return api.TLSPlaintext, tlsWhy(api.Reason{Rule: api.RuleMeshExternal, Object: serviceRef(svc)})
	}
	passthroughLB := tp.GetLoadBalancer().GetSimple() == networkingapi.LoadBalancerSettings_PASSTHROUGH
	if svc.resolution == "Passthrough" || passthroughLB {
		eps := m.endpoints(svc, sp, true)
		if len(eps) == 0 {
			return api.TLSPlaintext, tlsWhy(api.Reason{Rule: api.RuleHeadlessNoEndpoints, Object: serviceRef(svc), Port: sp.port})
		}
		for _, e := range eps {
			if e.labels["security.istio.io/tlsMode"] != "istio" {
				return api.TLSPlaintext, tlsWhy(api.Reason{Rule: api.RuleHeadlessAllOrNothing, Object: serviceRef(svc), Port: sp.port, Pod: podKey(e.pod), IP: e.ip})
			}
		}
	}
	nsMode := m.namespaceMTLSMode(svc.namespace)
	if nsMode == api.MTLSDisable {
		return api.TLSPlaintext, tlsWhy(api.Reason{Rule: api.RuleNamespaceDisable, Object: ref("Namespace", "", svc.namespace), Mode: string(api.MTLSDisable)})
	}
	if originalDst {
		return api.TLSMutual, tlsWhy(api.Reason{Rule: api.RuleAutoMTLSAllEndpoints, Object: serviceRef(svc), Port: sp.port})
	}
	if ep == nil {
		return api.TLSPlaintext, tlsWhy(api.Reason{Rule: api.RuleNoEndpoint})
	}
	if ep.labels["security.istio.io/tlsMode"] != "istio" {
		return api.TLSPlaintext, tlsWhy(api.Reason{Rule: api.RuleEndpointNoSidecar, IP: ep.ip, Pod: podKey(ep.pod)})
	}
	if ep.pod != nil {
		pa := m.composePeerAuthentication(ep.pod.Namespace, ep.pod.Labels)
		if md, src := pa.forPort(ep.port); md == api.MTLSDisable {
			return api.TLSPlaintext, tlsWhy(api.Reason{Rule: api.RuleEndpointDisable, Source: src, Port: ep.port, Pod: podKey(ep.pod), Mode: string(md), Object: pa.deciderRef(ep.port)})
		}
	}
	return api.TLSMutual, tlsWhy(api.Reason{Rule: api.RuleAutoMTLS, IP: ep.ip, Pod: podKey(ep.pod)})
}

// tlsWhy is a CLIENT_TLS reason.
func tlsWhy(r api.Reason) api.Reason {
	r.Code = api.ReasonClientTLS
	return r
}

// drWhy: a DestinationRule's tls.mode decides (it always wins over auto mTLS).
func drWhy(dr *networkingv1.DestinationRule, tls *networkingapi.ClientTLSSettings) api.Reason {
	return tlsWhy(api.Reason{Rule: api.RuleDestinationRuleTLS, Object: ref("DestinationRule", dr.Namespace, dr.Name), Mode: tls.GetMode().String()})
}
