package explain

import (
	"fmt"
	"sort"
	"strconv"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// inboundTarget is one of the pod's ServiceTargets for a port: the Service
// port whose endpoint (target) port is that pod port.
type inboundTarget struct {
	svc *service
	sp  *servicePort
}

// serviceTargets mirrors the proxy's ServiceTargets keyed by target port
// (pilot/pkg/networking/core/listener_inbound.go getFilterChainsByServicePort):
// Services selecting the pod (targetPort resolved against containerPorts),
// Services whose EndpointSlices list the pod's IP, and ServiceEntries of the
// pod's namespace with an endpoint on its IP. When several claim the same
// target port the oldest Service wins (reportInboundConflict).
func (m *model) serviceTargets(pod *corev1.Pod, port int32) *inboundTarget {
	var cands []inboundTarget
	ips := map[string]bool{}
	for _, ip := range podIPs(pod) {
		ips[ip] = true
	}
	for _, svc := range m.servicesFor(pod.Namespace) {
		if !svc.isKube() {
			// serviceentry/controller.go GetProxyServiceTargets: ServiceEntries
			// of the proxy's namespace whose endpoints (static addresses or
			// selected workloads) are the proxy's IP.
			if svc.se == nil || svc.namespace != pod.Namespace {
				continue
			}
			for _, sp := range svc.ports {
				for _, ep := range m.endpoints(svc, sp, false) {
					if ips[ep.ip] && ep.port == port {
						cands = append(cands, inboundTarget{svc: svc, sp: sp})
						break
					}
				}
			}
			continue
		}
		if svc.resolution == "Alias" || svc.namespace != pod.Namespace && len(svc.kube.Spec.Selector) > 0 {
			continue
		}
		for _, sp := range svc.ports {
			hit := false
			if len(svc.kube.Spec.Selector) > 0 && labelsMatch(svc.kube.Spec.Selector, pod.Labels) {
				if tp, ok := resolveTargetPort(pod, sp); ok && tp == port {
					hit = true
				}
			} else if len(svc.kube.Spec.Selector) == 0 {
				for _, ep := range m.endpoints(svc, sp, false) {
					if ips[ep.ip] && ep.port == port {
						hit = true
					}
				}
			}
			if hit {
				cands = append(cands, inboundTarget{svc: svc, sp: sp})
			}
		}
	}
	if len(cands) == 0 {
		return nil
	}
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := cands[i].svc, cands[j].svc
		if !a.created.Equal(b.created) {
			return a.created.Before(b.created)
		}
		return a.hostname < b.hostname
	})
	return &cands[0]
}

// inboundChain is one application filter chain of the virtualInbound
// listener: its name, the protocol it serves and the port its HTTP route
// (inbound|http|PORT) is named after.
type inboundChain struct {
	name        string
	protocol    api.Protocol
	servicePort int32
}

// inboundChainFor mirrors buildInboundChainConfigs and inboundChainConfig.Name
// (pilot/pkg/networking/core/listener_inbound.go, Istio 1.31). Without a
// Sidecar ingress, every ServiceTarget port gets a chain bound to 0.0.0.0
// ("0.0.0.0_PORT"), protocol from the oldest Service. A Sidecar with ingress
// listeners replaces those entirely (PILOT_ENABLE_SIDECAR_SERVICE_INBOUND_
// LISTENER_MERGE is off by default): only its ports get chains, bound to
// ingress.bind or else the pod IP (getSidecarInboundBindIPs), protocol
// from ingress.port.protocol; every other port is passthrough.
func (m *model) inboundChainFor(pod *corev1.Pod, port int32) *inboundChain {
	if sc := m.selectSidecar(pod); sc != nil && len(sc.Spec.GetIngress()) > 0 {
		for _, ing := range sc.Spec.GetIngress() {
			if int32(ing.GetPort().GetNumber()) != port {
				continue
			}
			bind := ing.GetBind()
			if bind == "" {
				if ips := podIPs(pod); len(ips) > 0 {
					bind = ips[0]
				}
			}
			return &inboundChain{
				name:        bind + "_" + strconv.Itoa(int(port)),
				protocol:    parseProtocol(ing.GetPort().GetProtocol()),
				servicePort: port,
			}
		}
		return nil
	}
	if tgt := m.serviceTargets(pod, port); tgt != nil {
		return &inboundChain{name: "0.0.0.0_" + strconv.Itoa(int(port)), protocol: tgt.sp.protocol, servicePort: tgt.sp.port}
	}
	return nil
}

// resolveTargetPort mirrors the endpoints controller (FindPort): a number,
// a named containerPort, or the service port when unset.
func resolveTargetPort(pod *corev1.Pod, sp *servicePort) (int32, bool) {
	switch {
	case sp.targetPort.Type == intstr.String && sp.targetPort.StrVal != "":
		for _, c := range pod.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.Name == sp.targetPort.StrVal {
					return cp.ContainerPort, true
				}
			}
		}
		return 0, false
	case sp.targetPort.IntVal != 0:
		return sp.targetPort.IntVal, true
	}
	return sp.port, true
}

// inboundStage is the DST side of the connection the cluster stage landed:
// its sidecar's virtualInbound listener (inbound below), or the
// application itself without a sidecar.
func (t *tracer) inboundStage(f *flow) {
	ld := f.land
	if ld.pod == nil {
		return
	}
	if t.m.dataplaneOf(ld.pod) == api.DataplaneAmbient {
		t.ztunnelInbound(f)
		return
	}
	in := t.m.inbound(ld.pod, ld.port, ld.tls, f.c.traffic)
	f.r.Inbound = &in
	if in.Accepted {
		f.step(api.Step{Stage: api.StageInbound, Proxy: in.Pod, Name: inboundStepName(in)})
		return
	}
	if in.Rejection == api.RejectMTLSPassedThrough {
		// The DISABLE TCP chain matched: its network RBAC filter still
		// runs (on a connection without identity) before the bytes reach
		// the application.
		a, _ := t.authzDecision(f)
		in.Authorization = &a
	}
	var decider *api.ObjectRef
	if in.Captured {
		decider = t.m.composePeerAuthentication(ld.pod.Namespace, ld.pod.Labels).deciderRef(in.Port)
	}
	f.fail(api.StageInbound, in.Pod, inboundStepName(in), api.Reason{Code: inboundCode(in.Rejection), Mode: in.Mode, Source: in.ModeSource,
		Pod: in.Pod, Port: in.Port, Detail: in.Error, Object: decider}, t.rejectSymptom(in, ld, f.viaHCM))
}

// inboundStepName is the inbound stage as -o wide shows it.
func inboundStepName(in api.Inbound) string {
	switch {
	case !in.Captured && in.Accepted:
		return "not captured (app answers)"
	case !in.Accepted:
		if in.Error != "" {
			return "rejected: " + in.Error
		}
		return "rejected"
	}
	s := dashIfEmpty(in.FilterChain)
	if in.Mode != "" {
		s += " (" + in.Mode + ")"
	}
	return s
}

// inboundCode is the reason code of a rejection.
func inboundCode(r api.Rejection) api.ReasonCode {
	switch r {
	case api.RejectNoFilterChain:
		return api.ReasonStrictRejectsPlaintext
	case api.RejectInvalidMTLS:
		return api.ReasonStrictRejectsNonIstioTLS
	case api.RejectProtocolError:
		return api.ReasonProtocolError
	}
	return api.ReasonInboundRejected
}

// inbound mirrors the destination sidecar's virtualInbound listener
// (listener_inbound.go buildInboundListeners, filterchain_options.go
// getFilterChainMatchOptions, Istio 1.31): per target port chains named
// "0.0.0.0_PORT" → "inbound|PORT||" (HTTP vhost "inbound|http|SERVICEPORT"),
// other ports pass through ("virtualInbound" / "virtualInbound-catchall-http"
// → InboundPassthroughCluster). STRICT keeps only TLS chains, so plaintext
// finds no filter chain; PERMISSIVE adds raw_buffer chains; DISABLE has only
// raw_buffer chains. Non-HTTP bytes on an HTTP chain are a protocol error.
func (m *model) inbound(pod *corev1.Pod, port int32, tls api.TLS, traffic api.Traffic) api.Inbound {
	in := api.Inbound{Pod: pod.Namespace + "/" + pod.Name, Port: port}
	dp := m.dataplaneOf(pod)
	if dp != api.DataplaneSidecar {
		in.Captured = false
		switch {
		case tls == api.TLSMutual:
			in.Error, in.Rejection = "the application has no sidecar and receives Istio mTLS bytes it cannot read", api.RejectMTLSToApp
		default:
			in.Accepted = true
		}
		return in
	}
	if ok, why := captureConfigOf(pod).inboundCaptured(port); !ok {
		in.Captured = false
		in.Mode = "not enforced (" + why + ")"
		if tls == api.TLSMutual {
			in.Error, in.Rejection = "the port bypasses the sidecar ("+why+"); the application receives Istio mTLS bytes", api.RejectMTLSPortExcluded
		} else {
			in.Accepted = true
		}
		return in
	}
	in.Captured = true
	pa := m.composePeerAuthentication(pod.Namespace, pod.Labels)
	mode, modeSource := pa.forPort(port)
	in.Mode, in.ModeSource = string(mode), modeSource
	chain := m.inboundChainFor(pod, port)
	proto := api.ProtocolAuto // passthrough chains sniff
	if chain != nil {
		proto = chain.protocol
		in.Protocol = string(proto)
		in.FilterChain = chain.name
		in.Cluster = inboundCluster(port).String()
	} else {
		in.Protocol = "undeclared (passthrough)"
		in.Cluster = inboundPassthroughCluster
		if traffic == api.TrafficHTTP {
			in.FilterChain = virtualInboundCatchAllHTTP
		} else {
			in.FilterChain = virtualInboundListener
		}
	}
	httpChain := isHTTP(proto)
	if chain != nil && (httpChain || proto == api.ProtocolAuto && traffic == "http") {
		in.VirtualHost = fmt.Sprintf("inbound|http|%d", chain.servicePort)
	} else if chain == nil && traffic == "http" {
		in.VirtualHost = inboundPassthroughVirtualHost
	}
	reject := func() api.Inbound {
		in.Accepted = false
		in.Error, in.Rejection = "no filter chains matched", api.RejectNoFilterChain
		in.FilterChain, in.VirtualHost, in.Cluster = "", "", ""
		return in
	}
	// protocolError: a chain matched (so Envoy names it) but its HTTP codec
	// cannot read the bytes (simulation/traffic.go ErrProtocolError).
	protocolError := func() api.Inbound {
		in.Accepted = false
		in.Error, in.Rejection = "protocol error", api.RejectProtocolError
		in.VirtualHost, in.Cluster = "", ""
		return in
	}
	switch api.MTLSMode(in.Mode) {
	case api.MTLSStrict:
		switch tls {
		case api.TLSMutual:
		case api.TLSSimple:
			// The STRICT chain matches on transport "tls"; the handshake then
			// fails for want of an Istio client certificate (traffic.go sets
			// FilterChainMatched before ErrMTLSError).
			in.Accepted, in.Error, in.Rejection = false, "invalid mTLS", api.RejectInvalidMTLS
			in.VirtualHost, in.Cluster = "", ""
			return in
		default:
			return reject()
		}
	case api.MTLSDisable:
		if tls == api.TLSMutual && chain != nil {
			if httpChain {
				return protocolError()
			}
			in.Error, in.Rejection = "the sidecar passes the Istio mTLS bytes through to the application (DISABLE)", api.RejectMTLSPassedThrough
			return in
		}
	default: // PERMISSIVE
		if tls == api.TLSSimple && chain != nil && httpChain {
			return reject()
		}
	}
	if httpChain && traffic != "http" && tls != api.TLSSimple {
		return protocolError()
	}
	in.Accepted = true
	return in
}
