package explain

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
)

// ztunnelStage is the source ztunnel's outbound decision, mirroring
// istio/ztunnel src/proxy/outbound.rs build_request (release 1.31):
//   - a Service VIP whose Service has a waypoint (fetch_service_waypoint):
//     HBONE to the waypoint, target VIP:port;
//   - else fetch_upstream: for a Service VIP, one healthy endpoint per
//     connection (none: NoHealthyUpstream); for a workload IP, that workload,
//     through its workload waypoint when it has one (fetch_workload_waypoint,
//     only when not service-addressed); nothing known at the address:
//     passthrough (plain TCP to it);
//   - to the workload: HBONE (port 15008) when its protocol is HBONE, else
//     plain TCP to its port.
//
// A pod IP or per-pod name never consults the Service: a service waypoint
// (and its L7 policy) is bypassed.
func (t *tracer) ztunnelStage(f *flow) {
	r, ip, port := f.r, f.dialIP, f.c.port
	amb := &api.RequestAmbient{}
	r.Ambient = amb
	proxy := t.m.ztunnelName(t.src)
	if down, z := t.m.ztunnelDown(t.src); down {
		r.TLS, r.Balancing = api.TLSNone, api.BalancingNone
		f.fail(api.StageZtunnel, proxy, "no ztunnel", ztunnelDownReason(t.src, z), symptomZtunnelDown)
		return
	}
	if svc := t.m.vipService(ip); svc != nil {
		wt := t.m.serviceWaypoint(svc)
		if wt.wp != nil {
			amb.ServiceWaypoint = wt.wp.key()
		}
		t.waypointUnknown(f, wt, proxy)
		if wt.wp != nil && !t.isInstanceOf(wt.wp) {
			t.toWaypoint(f, wt.wp, svc, api.RuleServiceWaypoint, proxy)
			return
		}
		if !svc.isKube() && svc.resolution != "ClientSideLB" {
			// A ServiceEntry without waypoint, resolution NONE: istiod
			// sends it with load balancing PASSTHROUGH (ambient
			// services.go), plain TCP to the address; DNS: ztunnel
			// resolves the endpoints' hostnames and sends plain TCP,
			// shown as passthrough to the address. STATIC ones are
			// balanced over their endpoints like a Service (below).
			t.ztunnelPassthrough(f, ip, port, proxy)
			return
		}
		sp := svc.portByNumber(port)
		if sp == nil {
			r.TLS, r.Balancing = api.TLSNone, api.BalancingNone
			f.fail(api.StageZtunnel, proxy, "no healthy upstream", api.Reason{Code: api.ReasonNoServicePort, IP: ip, Port: port}, symptomZtunnelNoUpstream)
			return
		}
		r.Protocol = sp.protocol
		eps := t.m.endpoints(svc, sp, true)
		if len(eps) == 0 {
			r.TLS, r.Balancing = api.TLSNone, api.BalancingNone
			f.fail(api.StageZtunnel, proxy, "no healthy upstream", api.Reason{Code: api.ReasonNoEndpoints, Rule: api.RuleServiceNoEndpoints, Object: serviceRef(svc), Port: sp.port}, symptomZtunnelNoUpstream)
			return
		}
		ep := t.pick(eps)
		t.toWorkload(f, ep.pod, ep.ip, ep.port, eps, api.BalancingPerConnection, proxy)
		return
	}
	pod := t.m.podByIP[ip] // hostNetwork pods are not indexed by IP (outbound.rs build_request_host_network)
	if pod == nil {
		t.ztunnelPassthrough(f, ip, port, proxy)
		return
	}
	r.Protocol = t.m.podPortProtocol(pod, port)
	for _, svc := range t.m.servicesSelecting(pod) {
		if wt := t.m.serviceWaypoint(svc); wt.wp != nil {
			amb.BypassedWaypoint = wt.wp.key()
			break
		}
	}
	wt := t.m.workloadWaypoint(pod)
	t.waypointUnknown(f, wt, proxy)
	if wt.wp != nil && !t.isInstanceOf(wt.wp) {
		t.toWaypoint(f, wt.wp, nil, api.RuleWorkloadWaypoint, proxy)
		return
	}
	t.toWorkload(f, pod, ip, port, nil, api.BalancingNone, proxy)
}

// ztunnelPassthrough: ztunnel has no workload or Service for the address (or a
// ServiceEntry whose load balancing is passthrough): plain TCP to it. The
// connection still lands where the network takes it (a hostNetwork pod of
// that node), which ztunnel does not know: upstream.pod stays empty.
func (t *tracer) ztunnelPassthrough(f *flow, ip string, port int32, proxy string) {
	r := f.r
	r.Ambient.Path = api.AmbientPathPassthrough
	r.TLS, r.Balancing = api.TLSPlaintext, api.BalancingNone
	land := t.podAt(ip, port)
	r.Protocol = t.m.podPortProtocol(land, port)
	f.land = landing{ip: ip, port: port, pod: land, balancing: api.BalancingNone, tls: api.TLSPlaintext}
	r.Upstream = &api.Upstream{IP: ip, Port: port}
	f.note(api.StageZtunnel, proxy, "passthrough "+hostPort(ip, port), api.Reason{Code: api.ReasonAmbientPassthrough, IP: ip, Port: port})
}

const symptomZtunnelNoUpstream = "connection reset by peer (ztunnel: no healthy upstream)"

// symptomZtunnelDown: the CNI redirects the pod's connections to ztunnel's
// sockets in its network namespace, where nothing listens.
const symptomZtunnelDown = "connection refused (no ztunnel serves the pod's node)"

// waypointUnknown notes that the Gateways could not be read.
func (t *tracer) waypointUnknown(f *flow, wt waypointTarget, proxy string) {
	if !wt.unknown {
		return
	}
	f.r.Ambient.WaypointUnknown = true
	f.note(api.StageZtunnel, proxy, "waypoint unknown", api.Reason{Code: api.ReasonAmbientWaypointUnknown, Detail: t.m.gatewaysUnread()})
}

// toWorkload sends straight to the workload: HBONE or plain TCP.
func (t *tracer) toWorkload(f *flow, pod *corev1.Pod, ip string, port int32, cands []endpoint, bal api.Balancing, proxy string) {
	r, amb := f.r, f.r.Ambient
	ld := landing{ip: ip, port: port, pod: pod, candidates: cands, balancing: bal}
	var bypassed *api.ObjectRef
	if amb.BypassedWaypoint != "" {
		bypassed = ref("Gateway", nsOf(amb.BypassedWaypoint), nameOf(amb.BypassedWaypoint))
	}
	// An endpoint that is no pod (a selector-less Service's EndpointSlice,
	// a ServiceEntry's address): istiod gives such workloads tunnel NONE.
	if pod != nil && tunnelProtocol(pod) == api.TunnelHBONE {
		amb.Path, ld.tls = api.AmbientPathHBONE, api.TLSMutual
		f.peerID = t.m.spiffeID(t.src)
		f.step(api.Step{Stage: api.StageZtunnel, Proxy: proxy, Name: "hbone " + hostPort(ip, hbonePort),
			Reason: ptrReason(api.Reason{Code: api.ReasonAmbientHBONE, Pod: podKey(pod), IP: ip, Port: port, Object: bypassed})})
	} else {
		amb.Path, ld.tls = api.AmbientPathTCP, api.TLSPlaintext
		f.step(api.Step{Stage: api.StageZtunnel, Proxy: proxy, Name: "tcp " + hostPort(ip, port),
			Reason: ptrReason(api.Reason{Code: api.ReasonAmbientPlaintext, Pod: podKey(pod), IP: ip, Port: port, Object: bypassed})})
	}
	f.land = ld
	r.TLS, r.Balancing = ld.tls, bal
	r.Upstream = &api.Upstream{IP: ip, Port: port, Pod: podKey(pod), Candidates: len(cands)}
}

// toWaypoint sends HBONE to a waypoint; the waypoint stage goes on.
func (t *tracer) toWaypoint(f *flow, wp *waypoint, svc *service, rule api.Rule, proxy string) {
	r, amb := f.r, f.r.Ambient
	amb.Path, amb.Waypoint = api.AmbientPathWaypoint, wp.key()
	gw := ref("Gateway", wp.gw.Namespace, wp.gw.Name)
	pods := t.m.waypointPods(wp)
	if len(pods) == 0 {
		r.TLS, r.Balancing = api.TLSNone, api.BalancingNone
		f.fail(api.StageZtunnel, proxy, "waypoint "+wp.key(), api.Reason{Code: api.ReasonNoEndpoints, Rule: api.RuleServiceNoEndpoints, Object: gw, Port: hbonePort}, symptomZtunnelNoUpstream)
		return
	}
	wip := podIPs(pods[0])[0]
	r.TLS = api.TLSMutual
	f.peerID = t.m.spiffeID(t.src)
	f.wp = &waypointHop{wp: wp, svc: svc, pod: pods[0]}
	f.step(api.Step{Stage: api.StageZtunnel, Proxy: proxy, Name: "waypoint " + wp.key(),
		Reason: ptrReason(api.Reason{Code: api.ReasonAmbientWaypoint, Rule: rule, Object: gw, IP: wip, Port: hbonePort})})
}

// isInstanceOf: the source is a pod of that waypoint (it does not send to itself).
func (t *tracer) isInstanceOf(wp *waypoint) bool {
	return t.src.Namespace == wp.gw.Namespace && t.src.Labels[labelGatewayName] == wp.gw.Name
}

// vipService is the Service (Kubernetes Service, or ServiceEntry with
// addresses) owning a VIP: ztunnel's fetch_address finds it by address
// alone, whatever the port.
func (m *model) vipService(ip string) *service {
	if !m.serviceAddrs[ip] {
		return nil
	}
	for _, svc := range m.services {
		if slices.Contains(svc.addresses, ip) && (svc.isKube() || len(svc.se.Spec.GetAddresses()) > 0) {
			return svc
		}
	}
	return nil
}

// servicesSelecting lists the Kubernetes Services whose selector picks the pod.
func (m *model) servicesSelecting(p *corev1.Pod) []*service {
	var out []*service
	for _, svc := range m.servicesFor(p.Namespace) {
		if svc.isKube() && svc.namespace == p.Namespace && len(svc.kube.Spec.Selector) > 0 && labelsMatch(svc.kube.Spec.Selector, p.Labels) {
			out = append(out, svc)
		}
	}
	return out
}

func ptrReason(r api.Reason) *api.Reason {
	rs := newReason(r)
	return &rs
}

func nsOf(key string) string {
	ns, _, _ := strings.Cut(key, "/")
	if ns == key {
		return ""
	}
	return ns
}

func nameOf(key string) string {
	_, name, ok := strings.Cut(key, "/")
	if !ok {
		return key
	}
	return name
}

// waypointHop is the waypoint a request goes through.
type waypointHop struct {
	wp  *waypoint
	svc *service // the Service addressed (nil: workload-addressed)
	pod *corev1.Pod
}

// ztunnelInbound is the destination ztunnel taking the connection in
// (ztunnel src/proxy/inbound.rs for HBONE, inbound_passthrough.rs for
// plaintext from outside the mesh).
func (t *tracer) ztunnelInbound(f *flow) {
	ld := f.land
	in := api.Inbound{Pod: podKey(ld.pod), Port: ld.port, Captured: true, Accepted: true}
	mode, src := t.m.composePeerAuthentication(ld.pod.Namespace, ld.pod.Labels).forPort(ld.port)
	in.Mode, in.ModeSource = string(mode), src
	in.Protocol = string(t.m.podPortProtocol(ld.pod, ld.port))
	in.FilterChain = "ztunnel inbound passthrough"
	if ld.tls == api.TLSMutual {
		in.FilterChain = "ztunnel inbound (HBONE :" + strconv.Itoa(hbonePort) + ")"
	}
	f.r.Inbound = &in
	if down, z := t.m.ztunnelDown(ld.pod); down {
		in.Accepted = false
		f.fail(api.StageInbound, t.m.ztunnelName(ld.pod), "no ztunnel", ztunnelDownReason(ld.pod, z), symptomZtunnelDown)
		return
	}
	if f.r.Ambient == nil {
		// The source is not in ztunnel (no mesh, or a sidecar sending
		// plaintext): istiod still attaches the Service's waypoint
		// (Service.waypoint), which this caller does not pass.
		amb := &api.RequestAmbient{Path: api.AmbientPathInboundOnly}
		if svc := t.m.vipService(f.dialIP); svc != nil {
			if wt := t.m.serviceWaypoint(svc); wt.wp != nil {
				amb.ServiceWaypoint, amb.BypassedWaypoint = wt.wp.key(), wt.wp.key()
			}
		}
		f.r.Ambient = amb
	}
	f.step(api.Step{Stage: api.StageInbound, Proxy: t.m.ztunnelName(ld.pod), Name: fmt.Sprintf("%s (%s)", in.FilterChain, in.Mode)})
}

// sidecarToAmbient: a sidecar tunnels to an EDS endpoint that accepts HBONE
// and has no tlsMode=istio label (pilot/pkg/xds/endpoints/endpoint_builder.go
// buildEnvoyLbEndpoint and supportTunnel, Istio 1.31): HBONE straight to the
// workload, so a service waypoint is not used (only gateways call them,
// findServiceWaypoint).
func (t *tracer) sidecarToAmbient(f *flow, st *serviceTLS) {
	ep := st.ep
	if ep == nil || ep.pod == nil || tunnelProtocol(ep.pod) != api.TunnelHBONE || ep.labels["security.istio.io/tlsMode"] == "istio" {
		return
	}
	amb := &api.RequestAmbient{Path: api.AmbientPathHBONE}
	var bypassed *api.ObjectRef
	if wt := t.m.serviceWaypoint(st.svc); wt.wp != nil {
		amb.ServiceWaypoint, amb.BypassedWaypoint = wt.wp.key(), wt.wp.key()
		bypassed = ref("Gateway", wt.wp.gw.Namespace, wt.wp.gw.Name)
	}
	f.r.Ambient = amb
	f.peerID = t.m.spiffeID(t.src)
	why := newReason(api.Reason{Code: api.ReasonAmbientHBONE, Rule: api.RuleSidecarHBONE, Pod: podKey(ep.pod), IP: ep.ip, Port: ep.port, Object: bypassed})
	f.land.tls, f.land.tlsWhy = api.TLSMutual, &why
}
