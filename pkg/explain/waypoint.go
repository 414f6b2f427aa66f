package explain

import (
	"fmt"

	typev1beta1 "istio.io/api/type/v1beta1"

	securityv1 "istio.io/client-go/pkg/apis/security/v1"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
)

// waypointStage is the waypoint's Envoy for a request ztunnel sent to it,
// as istiod configures it (pilot/pkg/networking/core/listener_waypoint.go,
// Istio 1.31): the main_internal listener picks the chain of the Service
// VIP:port; HTTP ports go through an HTTP connection manager with one
// virtual host whose "default" route sends to inbound-vip|PORT|http|HOST
// (buildWaypointInboundHTTPRouteConfig: the Host plays no part), other
// ports to inbound-vip|PORT|tcp|HOST; the waypoint's RBAC filters enforce
// the AuthorizationPolicies whose targetRefs name the waypoint's Gateway or
// the Service (authorization.go below reuses authz.go's evaluator). A
// workload-addressed request goes to the workload itself. HTTPRoutes and
// VirtualServices bound to the waypoint are not modelled: the Service's
// default route is assumed (a warning says so when one exists).
func (t *tracer) waypointStage(f *flow) {
	hop := f.wp
	if hop == nil {
		return
	}
	r, amb, proxy := f.r, f.r.Ambient, hop.wp.key()
	var http bool
	var cands []endpoint
	var ep endpoint
	if svc := hop.svc; svc != nil {
		sp := svc.portByNumber(f.c.port)
		if sp == nil {
			r.Balancing = api.BalancingNone
			f.fail(api.StageWaypoint, proxy, "no chain for "+hostPort(f.dialIP, f.c.port), api.Reason{Code: api.ReasonNoServicePort, IP: f.dialIP, Port: f.c.port},
				"connection closed by the waypoint (no chain for this port)")
			return
		}
		r.Protocol = sp.protocol
		http = f.c.traffic == api.TrafficHTTP && (sp.protocol.IsHTTP() || sp.protocol == api.ProtocolAuto)
		kind := "tcp"
		if http {
			kind, amb.WaypointRoute = "http", "default"
		}
		amb.WaypointCluster = fmt.Sprintf("inbound-vip|%d|%s|%s", sp.port, kind, svc.hostname)
		if !t.waypointAuthorize(f, hop, http) {
			return
		}
		if svc.resolution == "Passthrough" {
			// resolution NONE: the waypoint forwards to the address dialed.
			ep = endpoint{ip: f.dialIP, port: f.c.port, pod: t.podAt(f.dialIP, f.c.port)}
			goto land
		}
		cands = t.m.endpoints(svc, sp, true)
		if len(cands) == 0 {
			r.Balancing = api.BalancingNone
			symptom := "503 no healthy upstream (from the waypoint)"
			if !http {
				symptom = "connection closed by the waypoint (no healthy upstream)"
			}
			f.fail(api.StageWaypoint, proxy, amb.WaypointCluster, api.Reason{Code: api.ReasonNoEndpoints, Rule: api.RuleClusterNoEndpoints, Cluster: amb.WaypointCluster}, symptom)
			return
		}
		ep = t.pick(cands)
	} else {
		// Workload-addressed: the direct-http / direct-tcp chains of
		// main_internal (listener_waypoint.go buildWaypointInternal) route
		// ("default" for HTTP) to the encap cluster, which tunnels to the
		// pod itself.
		pod := t.m.podByIP[f.dialIP]
		http = f.c.traffic == api.TrafficHTTP
		if http {
			amb.WaypointRoute = "default"
		}
		amb.WaypointCluster = "encap"
		if !t.waypointAuthorize(f, hop, http) {
			return
		}
		ep = endpoint{ip: f.dialIP, port: f.c.port, pod: pod}
	}
land:
	bal := api.BalancingNone
	switch {
	case cands != nil && http:
		bal = api.BalancingPerRequest
	case cands != nil:
		bal = api.BalancingPerConnection
	}
	tls := api.TLSPlaintext
	if ep.pod != nil && tunnelProtocol(ep.pod) == api.TunnelHBONE {
		tls = api.TLSMutual
	}
	f.land = landing{ip: ep.ip, port: ep.port, pod: ep.pod, candidates: cands, balancing: bal, tls: tls}
	// The destination sees the waypoint's identity, not the source's.
	f.peerID = t.m.spiffeID(hop.pod)
	f.peerIP = podIPs(hop.pod)[0]
	r.Balancing = bal
	r.Upstream = &api.Upstream{IP: ep.ip, Port: ep.port, Pod: podKey(ep.pod), Candidates: len(cands)}
	name := amb.WaypointCluster
	if amb.WaypointRoute != "" {
		name = amb.WaypointRoute + " → " + name
	}
	f.step(api.Step{Stage: api.StageWaypoint, Proxy: proxy, Name: name})
}

// waypointAuthorize evaluates the waypoint's AuthorizationPolicies (those
// whose targetRefs name its Gateway, or the Service addressed); false when
// they deny.
func (t *tracer) waypointAuthorize(f *flow, hop *waypointHop, http bool) bool {
	set := t.m.waypointPolicies(hop)
	a := authzAttrs{http: http, principal: t.m.spiffeID(t.src), srcIP: t.srcIP, dstIP: f.dialIP, dstPort: f.c.port,
		host: f.c.host, path: f.c.path, method: f.c.method, headers: f.c.headers}
	if a.method == "" {
		a.method = "GET"
	}
	if a.path == "" {
		a.path = "/"
	}
	d := t.m.authorize(set, a)
	d.Policies, d.Principal = set.names(), a.principal
	f.r.Ambient.WaypointAuthorization = &d
	proxy := hop.wp.key()
	if d.Decision != api.AuthzDeny {
		if len(d.Policies) > 0 {
			f.step(api.Step{Stage: api.StageAuthz, Proxy: proxy, Name: string(d.Decision)})
		}
		return true
	}
	symptom := `403 Forbidden, body "RBAC: access denied" (from the waypoint)`
	if !http {
		symptom = "connection accepted, then closed by the waypoint (RBAC)"
	}
	f.r.Balancing = api.BalancingNone
	f.fail(api.StageAuthz, proxy, string(d.Decision), denyReason(d, proxy, f.c.port), symptom)
	return false
}

// waypointPolicies are the policies istiod gives a waypoint for this
// request (creation order), as pilot/pkg/model/policyattachment.go
// WorkloadPolicyMatcher.ShouldAttachPolicy decides for a waypoint (Istio
// 1.31): targetRefs (or the legacy targetRef when targetRefs is empty) to
// the Service addressed (a Kubernetes Service, in its namespace) or the
// ServiceEntry, to the istio-waypoint GatewayClass from the root namespace,
// or to the waypoint's Gateway in its namespace; a policy without targets
// never attaches to a waypoint.
func (m *model) waypointPolicies(hop *waypointHop) authzSet {
	var s authzSet
	for _, p := range m.s.AuthorizationPolicies {
		if m.targets(p, hop) {
			s.add(p)
		}
	}
	return s
}

// targetRefsOf mirrors model.GetTargetRefs.
func targetRefsOf(p *securityv1.AuthorizationPolicy) []*typev1beta1.PolicyTargetReference {
	if refs := p.Spec.GetTargetRefs(); len(refs) > 0 {
		return refs
	}
	if tr := p.Spec.GetTargetRef(); tr != nil {
		return []*typev1beta1.PolicyTargetReference{tr}
	}
	return nil
}

// matchesGroupKind mirrors policyattachment.go matchesGroupKind: the core
// group may be written "" or "core".
func matchesGroupKind(tr *typev1beta1.PolicyTargetReference, group, kind string) bool {
	g := tr.GetGroup()
	if g == "core" {
		g = ""
	}
	return g == group && tr.GetKind() == kind
}

const (
	// waypointClass is constants.WaypointGatewayClassName.
	waypointClass = "istio-waypoint"
	groupGateway  = "gateway.networking.k8s.io"
	groupIstio    = "networking.istio.io"
)

func (m *model) targets(p *securityv1.AuthorizationPolicy, hop *waypointHop) bool {
	gw := hop.wp.gw
	for _, tr := range targetRefsOf(p) {
		name := tr.GetName()
		if svc := hop.svc; svc != nil && p.Namespace == svc.namespace && name == svc.name {
			if svc.isKube() && matchesGroupKind(tr, "", "Service") {
				return true
			}
			if !svc.isKube() && matchesGroupKind(tr, groupIstio, "ServiceEntry") {
				return true
			}
		}
		if p.Namespace == m.mesh.RootNamespace && matchesGroupKind(tr, groupGateway, "GatewayClass") && name == waypointClass {
			return true
		}
		if p.Namespace != gw.Namespace || (tr.GetNamespace() != "" && tr.GetNamespace() != gw.Namespace) {
			continue
		}
		if matchesGroupKind(tr, groupGateway, "Gateway") && name == gw.Name {
			return true
		}
	}
	return false
}
