package explain

import (
	"fmt"
	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
	"net"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// call is one request as the application makes it.
type call struct {
	address  string // what the app dials
	port     int32
	traffic  api.Traffic
	host     string // Host header (HTTP)
	path     string
	headers  map[string]string
	destPort int32 // matrix group
}

// tracer evaluates calls from one source pod.
type tracer struct {
	m         *model
	src       *corev1.Pod
	srcIP     string
	dataplane api.Dataplane
	sc        *sidecarScope
	dst       *corev1.Pod // matrix form: the pod the user asked about
	listeners map[int32]map[string]*outboundListener
	routes    map[string][]*vhost // RDS by "name|port"
}

func (m *model) newTracer(src, dst *corev1.Pod) *tracer {
	t := &tracer{m: m, src: src, dst: dst, dataplane: m.dataplaneOf(src), listeners: map[int32]map[string]*outboundListener{}, routes: map[string][]*vhost{}}
	if ips := podIPs(src); len(ips) > 0 {
		t.srcIP = ips[0]
	}
	t.sc = m.newSidecarScope(src)
	return t
}

// routeConfig is the proxy's RDS route configuration by name, built once
// per run (a matrix asks for the same one for every address).
func (t *tracer) routeConfig(name string, port int32) []*vhost {
	key := name + "|" + strconv.Itoa(int(port))
	if v, ok := t.routes[key]; ok {
		return v
	}
	v := t.m.routeConfig(t.sc, name, port)
	t.routes[key] = v
	return v
}

func (t *tracer) listenersOn(port int32) map[string]*outboundListener {
	if ls, ok := t.listeners[port]; ok {
		return ls
	}
	ls := t.m.outboundListeners(t.sc, t.srcIP, port)
	t.listeners[port] = ls
	return ls
}

// landing is where a connection ends up.
type landing struct {
	ip         string
	port       int32
	pod        *corev1.Pod
	candidates []endpoint // balancer choices (EDS / kube-proxy); nil when pinned
	balancing  api.Balancing
	tls        api.TLS
	tlsWhy     string
}

// trace runs one call through DNS, the source proxy, the cluster and the
// destination proxy, and fills a Request.
func (t *tracer) trace(c call) api.Request {
	r := api.Request{Address: c.address, Port: c.port, Traffic: c.traffic, DestinationPort: c.destPort, ResolvedIPs: []string{}}
	if c.traffic == "http" {
		r.Host = c.host
		if c.path != "" && c.path != "/" {
			r.Path = c.path
		}
	}
	ans := t.m.resolve(c.address, t.src.Namespace)
	r.Form = ans.form
	if ans.svc != nil {
		r.Service = ans.svc.key()
	}
	r.DNS = ans.note
	if ans.found {
		r.ResolvedIPs = append(r.ResolvedIPs, ans.ips...)
	}
	if isIPLiteral(c.address) {
		r.Form = t.ipForm(c.address)
	}
	if !ans.found || (len(ans.ips) == 0 && ans.form != "external") {
		r.TLS, r.Balancing, r.Verdict, r.Reaches = api.TLSNone, api.BalancingNone, api.VerdictFails, "—"
		r.Protocol = t.portProtocol(ans.svc, c.port)
		t.fail(&r, "DNS_NXDOMAIN", ans.note)
		return r
	}
	dialIP := ""
	if len(ans.ips) > 0 {
		dialIP = ans.ips[0]
		if t.dst != nil {
			for _, ip := range ans.ips {
				for _, dip := range podIPs(t.dst) {
					if ip == dip {
						dialIP = ip
					}
				}
			}
		}
	}
	r.DialedIP = dialIP
	if t.dataplane == api.DataplaneSidecar {
		if ok, why := captureConfigOf(t.src).outboundCaptured(dialIP, c.port); ok {
			r.Captured = true
			t.outbound(&r, c, dialIP)
		} else {
			t.direct(&r, c, dialIP, "the source sidecar does not capture this flow: "+why)
		}
	} else {
		why := "the source pod has no sidecar"
		if t.dataplane == api.DataplaneAmbient {
			why = "the source pod is in ambient mode (ztunnel, not modelled yet: shown as plain L4)"
		}
		if t.src.Spec.HostNetwork {
			why = "the source pod uses hostNetwork (never injected)"
		}
		t.direct(&r, c, dialIP, why)
	}
	if len(ans.ips) > 1 && r.Verdict != api.VerdictFails {
		// DNS spreads the clients over the pods; each connection is pinned.
		if r.Verdict == api.VerdictReaches {
			r.Verdict = api.VerdictLoadBalanced
			r.Reaches = fmt.Sprintf("any of %d pods", len(ans.ips))
		}
	}
	return r
}

func isIPLiteral(s string) bool {
	return strings.Count(s, ".") == 3 && strings.Trim(s, "0123456789.") == "" || strings.Contains(s, ":")
}

// ipForm tells a ClusterIP from a pod IP.
func (t *tracer) ipForm(ip string) api.AddressForm {
	for _, svc := range t.m.services {
		for _, a := range svc.addresses {
			if a == ip {
				return "cluster-ip"
			}
		}
	}
	if t.m.podByIP[ip] != nil {
		return "pod-ip"
	}
	return "ip"
}

func (t *tracer) portProtocol(svc *service, port int32) api.Protocol {
	if svc != nil {
		if sp := svc.portByNumber(port); sp != nil {
			return sp.protocol
		}
	}
	return api.ProtocolTCP
}

// direct describes a flow that no source proxy touches: kube-proxy DNATs a
// ClusterIP to one ready endpoint per connection; pod IPs are routed as is.
func (t *tracer) direct(r *api.Request, c call, dialIP, why string) {
	r.Captured = false
	r.TLS = api.TLSPlaintext
	var ld landing
	if svc, sp := t.m.clusterIPService(dialIP, c.port); svc != nil {
		r.Protocol = sp.protocol
		eps := t.m.endpoints(svc, sp, true)
		if len(eps) == 0 {
			r.KubeProxy = fmt.Sprintf("%s; kube-proxy has no ready endpoint for %s port %d: connection refused", why, svc.key(), sp.port)
			r.Balancing, r.Verdict, r.Reaches = api.BalancingNone, api.VerdictFails, "—"
			t.fail(r, "NO_ENDPOINTS", fmt.Sprintf("%s port %d has no ready endpoints", svc.kindName(), sp.port))
			return
		}
		ep := t.pick(eps)
		ld = landing{ip: ep.ip, port: ep.port, pod: ep.pod, candidates: eps, balancing: api.BalancingPerConnection, tls: api.TLSPlaintext}
		r.KubeProxy = fmt.Sprintf("%s; kube-proxy picks one of %d endpoints of %s per connection", why, len(eps), svc.key())
	} else {
		r.Protocol = t.m.podPortProtocol(t.m.podByIP[dialIP], c.port)
		ld = landing{ip: dialIP, port: c.port, pod: t.m.podByIP[dialIP], balancing: api.BalancingNone, tls: api.TLSPlaintext}
		r.KubeProxy = why + "; the connection goes straight to " + dialIP
	}
	t.land(r, c, ld, false)
}

// clusterIPService finds the Kubernetes Service owning a ClusterIP:port.
func (m *model) clusterIPService(ip string, port int32) (*service, *servicePort) {
	for _, svc := range m.services {
		if !svc.isKube() {
			continue
		}
		for _, a := range svc.addresses {
			if a == ip {
				if sp := svc.portByNumber(port); sp != nil {
					return svc, sp
				}
			}
		}
	}
	return nil, nil
}

// podPortProtocol is the inbound protocol of a pod port (its oldest
// selecting Service port), TCP when no Service declares it.
func (m *model) podPortProtocol(p *corev1.Pod, port int32) api.Protocol {
	if p == nil {
		return api.ProtocolTCP
	}
	if ch := m.inboundChainFor(p, port); ch != nil {
		return ch.protocol
	}
	return api.ProtocolAuto
}

// pick chooses the endpoint to analyse: DST when the balancer may pick it,
// else the first endpoint.
func (t *tracer) pick(eps []endpoint) endpoint {
	if t.dst != nil {
		for _, ep := range eps {
			if ep.pod == t.dst {
				return ep
			}
		}
	}
	return eps[0]
}

// outbound follows the source sidecar: listener, route, cluster.
func (t *tracer) outbound(r *api.Request, c call, dialIP string) {
	hit := t.m.matchListener(t.listenersOn(c.port), dialIP, c.port, c.traffic)
	ob := &api.Outbound{Listener: hit.listener, FilterChain: hit.filterChain}
	r.Outbound = ob
	switch {
	case hit.useHTTP:
		ob.RouteConfig = hit.l.httpRoute
		r.Protocol = api.ProtocolHTTP
		if hit.l.httpSvc != nil {
			r.Protocol = hit.l.httpSvc.portByNumber(c.port).protocol
		} else if svcs := t.m.visibleServicesOnPort(t.sc, c.port); len(svcs) > 0 {
			r.Protocol = t.httpProtocolOnPort(svcs, c.port)
		}
		vhosts := t.routeConfig(hit.l.httpRoute, c.port)
		v := matchVirtualHost(vhosts, c.host)
		if v == nil {
			ob.ClusterType = ""
			r.TLS = api.TLSNone
			t.fail(r, "NO_VIRTUAL_HOST", fmt.Sprintf("Host %q matches no virtual host of route %q", c.host, hit.l.httpRoute))
			r.Symptom = "404 Not Found (NR route_not_found) from the source sidecar"
			return
		}
		ob.VirtualHost = v.name
		act := t.m.routeRequest(v, t.sc, c.path, c.headers, c.host)
		t.preferWeighted(&act)
		ob.Route = act.route
		ob.Cluster = act.cluster
		ob.WeightedClusters = act.weighted
		switch {
		case act.direct != 0:
			ob.DirectResponse = act.direct
			r.TLS = api.TLSNone
			if v.special == "block_all" {
				t.fail(r, "REGISTRY_ONLY_BLOCKED", fmt.Sprintf("Host %q matches no service on route %q and the outbound traffic policy is REGISTRY_ONLY → block_all vhost answers 502 itself", stripPort(c.host), hit.l.httpRoute))
				r.Symptom = "502 Bad Gateway, empty body (direct response from the source sidecar's block_all virtual host)"
			} else {
				t.fail(r, "DIRECT_RESPONSE", fmt.Sprintf("VirtualService route %q answers %d itself", act.route, act.direct))
				r.Symptom = fmt.Sprintf("%d from the source sidecar (VirtualService direct response / redirect)", act.direct)
			}
			return
		case act.notFound:
			r.TLS = api.TLSNone
			t.fail(r, "NO_ROUTE_MATCH", fmt.Sprintf("no route of VirtualService %s/%s matches %s", v.vs.Namespace, v.vs.Name, c.path))
			r.Symptom = "404 Not Found (NR route_not_found) from the source sidecar"
			return
		case act.cluster == "PassthroughCluster":
			t.passthrough(r, c, dialIP, fmt.Sprintf("Host %q matches no virtual host on route %q → allow_any", stripPort(c.host), hit.l.httpRoute), true)
			return
		case act.cluster == allowAnyDynamicDNSCluster:
			t.dynamicForward(r, c, hit.l.httpRoute)
			return
		case act.svc == nil:
			r.TLS = api.TLSNone
			t.fail(r, "UNKNOWN_DESTINATION", fmt.Sprintf("the route sends to %s, which is not a service this proxy knows", act.missing))
			r.Symptom = "503 (NC cluster_not_found) from the source sidecar"
			return
		}
		t.serviceCluster(r, c, dialIP, act.svc, act.port, act.subset, true)
	case hit.tcp != nil:
		r.Protocol = hit.tcp.port.protocol
		act := t.m.tcpRoute(t.sc, hit.tcp.svc, c.port)
		if act == nil {
			ob.Cluster = outboundClusterName(hit.tcp.port.port, "", hit.tcp.svc.hostname)
			t.serviceCluster(r, c, dialIP, hit.tcp.svc, hit.tcp.port.port, "", false)
			return
		}
		t.preferWeighted(act)
		ob.Route, ob.Cluster, ob.WeightedClusters = act.route, act.cluster, act.weighted
		if act.svc == nil {
			r.TLS = api.TLSNone
			t.fail(r, "UNKNOWN_DESTINATION", fmt.Sprintf("VirtualService %s sends TCP to %s, which is not a service this proxy knows", act.route, act.missing))
			r.Symptom = "connection closed right after connect (the source sidecar has no cluster " + act.cluster + ")"
			return
		}
		r.Reasons = append(r.Reasons, api.Reason{Code: "VIRTUAL_SERVICE_TCP", Message: fmt.Sprintf("VirtualService %s routes this TCP port to %s", act.route, act.cluster)})
		t.serviceCluster(r, c, dialIP, act.svc, act.port, act.subset, false)
	case hit.listener == "virtualOutbound" && c.traffic == "http" && t.sc.outboundPolicy == "ALLOW_ANY_DYNAMIC_DNS":
		// listener_builder.go: in this mode virtualOutbound has an HTTP
		// inspector and a plaintext-HTTP chain whose inline route is the
		// allow_any_dynamic_dns catch-all.
		r.Protocol = api.ProtocolHTTP
		ob.FilterChain = "virtualOutbound-catchall-tcp-http"
		ob.VirtualHost, ob.Route = "allow_any_dynamic_dns", "allow_any_dynamic_dns"
		t.dynamicForward(r, c, "virtualOutbound (inline)")
	default:
		r.Protocol = api.ProtocolTCP
		why := "no listener for " + dialIP + ":" + strconv.Itoa(int(c.port)) + " or 0.0.0.0:" + strconv.Itoa(int(c.port)) + " → virtualOutbound catch-all"
		if hit.listener != "virtualOutbound" {
			why = "non-HTTP bytes on " + hit.listener + " take its PassthroughFilterChain"
		}
		t.passthrough(r, c, dialIP, why, false)
	}
}

func (t *tracer) httpProtocolOnPort(svcs []*service, port int32) api.Protocol {
	for _, s := range svcs {
		if p := s.portByNumber(port).protocol; isHTTP(p) {
			return p
		}
	}
	return api.ProtocolHTTP
}

// dynamicForward follows ALLOW_ANY_DYNAMIC_DNS's catch-all (Istio 1.31,
// httproute.go buildCatchAllVirtualHost, cluster_builder.go
// buildAllowAnyDFPCluster): Envoy's dynamic forward proxy connects to the
// Host header's name (resolved by DNS) and port (80 when absent), not to
// the address the app dialed; plaintext unless the outbound traffic policy
// sets TLS.
func (t *tracer) dynamicForward(r *api.Request, c call, route string) {
	host, port := stripPort(c.host), int32(80)
	if _, p, err := net.SplitHostPort(c.host); err == nil {
		if n, err := strconv.Atoi(p); err == nil {
			port = int32(n)
		}
	}
	ans := t.m.resolve(host, t.src.Namespace)
	target := host // a name outside the cluster: resolved by upstream DNS, unseen here
	if len(ans.ips) > 0 {
		target = ans.ips[0]
	}
	if len(ans.ips) == 0 && ans.form != "external" {
		r.Outbound.Cluster = allowAnyDynamicDNSCluster
		r.TLS = api.TLSNone
		t.fail(r, "DNS_NXDOMAIN", fmt.Sprintf("the dynamic forward proxy resolves Host %q and gets no address (%s)", host, ans.note))
		r.Symptom = "503 (DF: dns_resolution_failure) from the source sidecar"
		return
	}
	fc := c
	fc.port = port
	t.passthrough(r, fc, target, fmt.Sprintf("Host %q matches no virtual host on route %q → allow_any_dynamic_dns: the dynamic forward proxy connects to %s:%d (the Host, not the dialed address)", host, route, target, port), true)
	r.Outbound.Cluster = allowAnyDynamicDNSCluster
	r.Outbound.ClusterType = "DYNAMIC_FORWARD_PROXY"
	for i := range r.Reasons {
		r.Reasons[i].Message = strings.ReplaceAll(r.Reasons[i].Message, "PassthroughCluster", allowAnyDynamicDNSCluster)
	}
}

// passthrough: PassthroughCluster (ALLOW_ANY) forwards the app's bytes to the
// dialed IP, never with mTLS; BlackHoleCluster (REGISTRY_ONLY) drops them
// (cluster_builder.go buildDefaultPassthroughCluster / buildBlackHoleCluster).
func (t *tracer) passthrough(r *api.Request, c call, dialIP, why string, viaHCM bool) {
	ob := r.Outbound
	if ob.VirtualHost == "" && t.sc.outboundPolicy == "REGISTRY_ONLY" {
		ob.Cluster = "BlackHoleCluster"
		r.TLS = api.TLSNone
		t.fail(r, "REGISTRY_ONLY_BLOCKED", why+"; the outbound traffic policy is REGISTRY_ONLY → BlackHoleCluster")
		if c.traffic == "http" {
			r.Symptom = "curl: (52) Empty reply from server — the source sidecar closes the connection (BlackHoleCluster)"
		} else {
			r.Symptom = "connection closed right after connect (source sidecar BlackHoleCluster)"
		}
		return
	}
	ob.Cluster = "PassthroughCluster"
	ob.ClusterType = "ORIGINAL_DST"
	r.Reasons = append(r.Reasons, api.Reason{Code: "PASSTHROUGH", Message: why + " → PassthroughCluster: plaintext, no L7 load balancing"})
	ld := landing{ip: dialIP, port: c.port, pod: t.m.podByIP[dialIP], balancing: api.BalancingNone, tls: api.TLSPlaintext,
		tlsWhy: "PassthroughCluster never originates mTLS"}
	if t.m.isClusterIP(dialIP) {
		// Envoy connects to the ClusterIP itself: kube-proxy DNATs it when
		// the port is a Service port, else nothing answers.
		svc, sp := t.m.clusterIPService(dialIP, c.port)
		if svc == nil {
			r.TLS = api.TLSPlaintext
			t.fail(r, "NO_SERVICE_PORT", fmt.Sprintf("%s:%d: no Service declares port %d on this ClusterIP, so kube-proxy has no rule for it", dialIP, c.port, c.port))
			if viaHCM {
				r.Symptom = "503 upstream connect error (UF: connection timeout)"
			} else {
				r.Symptom = "connection timed out (nothing answers on the ClusterIP for this port)"
			}
			return
		}
		eps := t.m.endpoints(svc, sp, true)
		if len(eps) == 0 {
			r.TLS = api.TLSPlaintext
			t.fail(r, "NO_ENDPOINTS", fmt.Sprintf("%s port %d has no ready endpoints", svc.kindName(), sp.port))
			r.Symptom = "connection refused"
			return
		}
		ep := t.pick(eps)
		ld = landing{ip: ep.ip, port: ep.port, pod: ep.pod, candidates: eps, balancing: api.BalancingPerConnection, tls: api.TLSPlaintext,
			tlsWhy: "PassthroughCluster never originates mTLS; kube-proxy then picks an endpoint of " + svc.key() + " per connection"}
	}
	t.land(r, c, ld, viaHCM)
}

// serviceCluster follows an outbound|PORT|SUBSET|HOST cluster: ORIGINAL_DST
// for headless (Passthrough) services or a DR with PASSTHROUGH load
// balancing, else EDS with LEAST_REQUEST (cluster.go convertResolution,
// cluster_traffic_policy.go defaultLBAlgorithm).
func (t *tracer) serviceCluster(r *api.Request, c call, dialIP string, svc *service, port int32, subset string, viaHCM bool) {
	ob := r.Outbound
	sp := svc.portByNumber(port)
	if sp == nil {
		r.TLS = api.TLSNone
		t.fail(r, "UNKNOWN_PORT", fmt.Sprintf("%s has no port %d", svc.kindName(), port))
		r.Symptom = "503 (NC cluster_not_found) from the source sidecar"
		return
	}
	dr := t.m.destinationRuleFor(t.sc, svc)
	_, tp := drTLS(dr, port, subset)
	originalDst := svc.resolution == "Passthrough" || tp.GetLoadBalancer().GetSimple().String() == "PASSTHROUGH"
	if originalDst {
		ob.ClusterType = "ORIGINAL_DST"
		tls, why := t.m.clientTLS(t.sc, svc, sp, subset, nil, true)
		ld := landing{ip: dialIP, port: c.port, pod: t.m.podByIP[dialIP], balancing: api.BalancingNone, tls: tls, tlsWhy: why}
		t.land(r, c, ld, viaHCM)
		return
	}
	if svc.resolution == "DNS" {
		ob.ClusterType = "STRICT_DNS"
	} else {
		ob.ClusterType = "EDS"
	}
	eps := t.clusterEndpoints(svc, sp, subset)
	if len(eps) == 0 {
		r.TLS = api.TLSNone
		t.fail(r, "NO_ENDPOINTS", fmt.Sprintf("cluster %s has no ready endpoints", ob.Cluster))
		if viaHCM {
			r.Symptom = "503 no healthy upstream (UH)"
		} else {
			r.Symptom = "connection closed right after connect (UH: no healthy upstream)"
		}
		return
	}
	ep := t.pick(eps)
	tls, why := t.m.clientTLS(t.sc, svc, sp, subset, &ep, false)
	bal := api.BalancingPerConnection
	if viaHCM {
		bal = api.BalancingPerRequest
	}
	t.land(r, c, landing{ip: ep.ip, port: ep.port, pod: ep.pod, candidates: eps, balancing: bal, tls: tls, tlsWhy: why}, viaHCM)
}

// clusterEndpoints is the EDS of outbound|port|subset|svc: the service's
// ready endpoints, kept by the DestinationRule subset's labels.
func (t *tracer) clusterEndpoints(svc *service, sp *servicePort, subset string) []endpoint {
	eps := t.m.endpoints(svc, sp, true)
	dr := t.m.destinationRuleFor(t.sc, svc)
	if subset == "" || dr == nil {
		return eps
	}
	var sel map[string]string
	for _, ss := range dr.Spec.GetSubsets() {
		if ss.GetName() == subset {
			sel = ss.GetLabels()
		}
	}
	var keep []endpoint
	for _, ep := range eps {
		if labelsMatch(sel, ep.labels) {
			keep = append(keep, ep)
		}
	}
	return keep
}

// preferWeighted: of a weighted split, analyse the destination whose
// endpoints include DST (that share of the traffic lands on it), else the
// first one.
func (t *tracer) preferWeighted(act *routeAction) {
	if len(act.weighted) < 2 || t.dst == nil {
		return
	}
	for _, w := range act.weighted {
		parts := strings.SplitN(w.Cluster, "|", 4)
		if len(parts) != 4 || w.Weight <= 0 {
			continue
		}
		port, err := strconv.Atoi(parts[1])
		if err != nil {
			continue
		}
		for _, svc := range t.m.byHost[parts[3]] {
			sp := svc.portByNumber(int32(port))
			if !t.sc.visible[svc] || sp == nil {
				continue
			}
			if endpointsInclude(t.clusterEndpoints(svc, sp, parts[2]), t.dst) {
				act.cluster, act.svc, act.port, act.subset = w.Cluster, svc, int32(port), parts[2]
				return
			}
		}
	}
}
