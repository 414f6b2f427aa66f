package explain

import (
	"net"
	"strconv"
	"strings"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
)

const wildcardIP = "0.0.0.0"

// tcpChain is a network (tcp_proxy) filter chain of an outbound listener.
type tcpChain struct {
	svc   *service
	port  *servicePort
	cidrs []string // destination prefix ranges; empty = match all
}

// outboundListener mirrors one entry of buildSidecarOutboundListeners'
// listenerMap (pilot/pkg/networking/core/listener.go, Istio 1.31).
type outboundListener struct {
	bind string
	port int32
	// protocol of the entry as Istio tracks it for conflicts: HTTP, TCP or
	// AUTO (Istio's Unsupported; also what a wildcard HTTP entry records).
	protocol api.Protocol
	// httpRoute is the RDS name of the HTTP chain ("" = no HTTP chain).
	httpRoute string
	// httpSvc is the service whose auto (sniffed) HTTP chain this is.
	httpSvc *service
	tcp     []tcpChain
}

func (l *outboundListener) name() string { return listenerName(l.bind, l.port) }

// outboundListeners builds the listeners on one port for the source proxy,
// mirroring listener.go buildSidecarOutboundListeners and
// buildSidecarOutboundListener (Istio 1.31):
//   - HTTP ports → one 0.0.0.0_PORT listener, RDS "PORT";
//   - TCP / auto ports → SERVICE_VIP_PORT (0.0.0.0 + prefix ranges for CIDRs,
//     0.0.0.0 for address-less ServiceEntries, which then capture the port);
//   - headless (Passthrough, no VIP) TCP / auto ports → one listener per
//     endpoint IP, skipping the proxy's own IP; none when there are no endpoints;
//   - auto ports get a TCP chain plus an HTTP chain whose RDS is
//     "<hostname>:PORT" (unless bound to the wildcard, then "PORT");
//   - conflicts on one key merge as HTTPOverTCP / TCPOverAuto / AutoOverHTTP ...
func (m *model) outboundListeners(sc *sidecarScope, proxyIP string, port int32) map[string]*outboundListener {
	out := map[string]*outboundListener{}
	for _, svc := range m.visibleServicesOnPort(sc, port) {
		sp := svc.portByNumber(port)
		if svc.resolution == "Alias" || listenerProtocol(sp.protocol) == "" {
			continue
		}
		if svc.resolution == "Passthrough" && len(m.proxyAddresses(svc, sc)) == 0 && (isTCP(sp.protocol) || sp.protocol == api.ProtocolAuto) {
			// ServiceEndpointsByPort has every endpoint of the index, unready
			// ones too (endpointslice.go keeps them as UnHealthy).
			eps := m.endpoints(svc, sp, false)
			if !svc.isKube() && len(eps) == 0 && len(svc.se.Spec.GetWorkloadSelector().GetLabels()) == 0 {
				m.addOutboundListener(out, sc, svc, sp, "")
				continue
			}
			for _, ep := range eps {
				if net.ParseIP(ep.ip) == nil || ep.ip == proxyIP {
					continue
				}
				m.addOutboundListener(out, sc, svc, sp, ep.ip)
			}
			continue
		}
		m.addOutboundListener(out, sc, svc, sp, "")
	}
	return out
}

func (m *model) addOutboundListener(out map[string]*outboundListener, sc *sidecarScope, svc *service, sp *servicePort, bind string) {
	addrs := m.proxyAddresses(svc, sc)
	lp := listenerProtocol(sp.protocol)
	var cidrs []string
	if lp == api.ProtocolTCP || lp == api.ProtocolAuto {
		if bind == "" {
			bind = wildcardIP
			if len(addrs) > 0 {
				if strings.Contains(addrs[0], "/") {
					cidrs = addrs
				} else {
					bind = addrs[0]
				}
			}
		}
	} else if bind == "" {
		bind = wildcardIP
	}
	key := bind + "_" + strconv.Itoa(int(sp.port))
	cur := out[key]
	tcp := tcpChain{svc: svc, port: sp, cidrs: cidrs}
	switch lp {
	case api.ProtocolHTTP:
		route := strconv.Itoa(int(sp.port))
		if cur != nil {
			if !isTCP(cur.protocol) {
				return // another HTTP (or wildcard) service already made this listener
			}
			// HTTPOverTCP: merge, the entry becomes Unsupported.
			cur.httpRoute, cur.protocol = route, api.ProtocolAuto
			return
		}
		proto := api.ProtocolHTTP
		if bind == wildcardIP {
			proto = api.ProtocolAuto // listenerPortProtocol = protocol.Unsupported for wildcard HTTP
		}
		out[key] = &outboundListener{bind: bind, port: sp.port, protocol: proto, httpRoute: route}
	case api.ProtocolTCP:
		if cur != nil {
			// TCPOverHTTP / TCPOverTCP / TCPOverAuto: mergeTCPFilterChains.
			mergeTCP(cur, tcp)
			if isHTTP(cur.protocol) {
				cur.protocol = api.ProtocolAuto
			}
			return
		}
		out[key] = &outboundListener{bind: bind, port: sp.port, protocol: api.ProtocolTCP, tcp: []tcpChain{tcp}}
	case api.ProtocolAuto:
		route := strconv.Itoa(int(sp.port))
		if bind != wildcardIP {
			route = svc.hostname + ":" + route
		}
		if cur != nil {
			switch {
			case isHTTP(cur.protocol): // AutoOverHTTP: replaced
			case isTCP(cur.protocol): // AutoOverTCP: merge tcp + http chains
				mergeTCP(cur, tcp)
				if cur.httpRoute == "" {
					cur.httpRoute, cur.httpSvc = route, svc
				}
				cur.protocol = api.ProtocolAuto
				return
			default: // TCPOverAuto: only the TCP chain is merged
				mergeTCP(cur, tcp)
				return
			}
		}
		out[key] = &outboundListener{bind: bind, port: sp.port, protocol: api.ProtocolAuto, httpRoute: route, httpSvc: svc, tcp: []tcpChain{tcp}}
	}
}

// mergeTCP mirrors mergeTCPFilterChains: a chain whose match equals an
// existing one is dropped (first wins).
func mergeTCP(l *outboundListener, c tcpChain) {
	for _, e := range l.tcp {
		if strings.Join(e.cidrs, ",") == strings.Join(c.cidrs, ",") {
			return
		}
	}
	l.tcp = append(l.tcp, c)
}

// listenerStage mirrors the SRC proxy's listener choice for a captured
// flow (matchListener below). Under ALLOW_ANY_DYNAMIC_DNS (Istio 1.31,
// listener_builder.go) virtualOutbound also has an HTTP inspector and a
// plaintext-HTTP chain whose inline route is the allow_any_dynamic_dns
// catch-all.
func (t *tracer) listenerStage(f *flow) {
	if !f.r.Captured {
		return
	}
	hit := t.m.matchListener(t.listenersOn(f.c.port), f.dialIP, f.c.port, f.c.traffic)
	if hit.listener == virtualOutboundListener && f.c.traffic == api.TrafficHTTP && t.sc.outboundPolicy == api.OutboundAllowAnyDynamicDNS {
		hit.filterChain, hit.dynamicDNS = virtualOutboundCatchAllHTTP, true
	}
	f.hit = hit
	f.r.Outbound = &api.Outbound{Listener: hit.listener, FilterChain: hit.filterChain}
	name := hit.listener
	if hit.filterChain != "" {
		name += " (" + hit.filterChain + ")"
	}
	f.step(api.Step{Stage: api.StageListener, Proxy: t.srcKey, Name: name})
}

// listenersOn is the proxy's outbound listeners on a port, built once per run.
func (t *tracer) listenersOn(port int32) map[string]*outboundListener {
	if ls, ok := t.listeners[port]; ok {
		return ls
	}
	ls := t.m.outboundListeners(t.sc, t.srcIP, port)
	t.listeners[port] = ls
	return ls
}

// listenerHit is the outcome of Envoy's listener and filter-chain match.
type listenerHit struct {
	listener    string // name as Istio names it
	l           *outboundListener
	filterChain string // "" for an ordinary service chain
	useHTTP     bool   // the HCM chain with httpRoute
	tcp         *tcpChain
	passthrough bool // default PassthroughFilterChain / virtualOutbound catch-all
	dynamicDNS  bool // virtualOutbound's plaintext-HTTP chain (ALLOW_ANY_DYNAMIC_DNS)
}

// matchListener mirrors Envoy's original-destination hand-off as Istio's
// simulator encodes it (pilot/pkg/simulation/traffic.go matchListener):
// exact IP:port, then 0.0.0.0:port, else virtualOutbound's catch-all chain
// (listener_builder.go buildOutboundCatchAllNetworkFilterChains). Within a
// listener: the HTTP chain matches plaintext HTTP (ALPN http/1.1, h2c from
// the http_inspector); CIDR chains match by destination; the match-all TCP
// chain, or Istio's PassthroughFilterChain, takes the rest.
func (m *model) matchListener(ls map[string]*outboundListener, dialIP string, port int32, traffic api.Traffic) listenerHit {
	p := strconv.Itoa(int(port))
	l := ls[dialIP+"_"+p]
	if l == nil {
		l = ls[wildcardIP+"_"+p]
	}
	if l == nil {
		return listenerHit{listener: virtualOutboundListener, filterChain: virtualOutboundCatchAllTCP, passthrough: true}
	}
	hit := listenerHit{listener: l.name(), l: l}
	if traffic == "http" && l.httpRoute != "" {
		hit.useHTTP = true
		return hit
	}
	var matchAll *tcpChain
	for i := range l.tcp {
		c := &l.tcp[i]
		if len(c.cidrs) == 0 {
			if matchAll == nil {
				matchAll = c
			}
			continue
		}
		if ipInRanges(dialIP, c.cidrs) {
			hit.tcp = c
			return hit
		}
	}
	if matchAll != nil {
		hit.tcp = matchAll
		return hit
	}
	hit.filterChain, hit.passthrough = passthroughFilterChain, true
	return hit
}
