package explain

import (
	"strconv"
	"strings"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
)

// clusterChoice is what the route stage hands the cluster stage.
type clusterChoice struct {
	kind   choiceKind
	svc    *service // choiceService
	port   int32
	subset string
	// why is the PASSTHROUGH reason's rule and fields (choicePassthrough,
	// choiceDynamicForward).
	why api.Reason
}

type choiceKind int

const (
	choiceService        choiceKind = iota // outbound|PORT|SUBSET|HOST
	choicePassthrough                      // PassthroughCluster (or BlackHoleCluster under REGISTRY_ONLY)
	choiceDynamicForward                   // AllowAnyDynamicDNSCluster
	choiceMissing                          // a cluster the proxy does not have (503 NC)
)

// routeStage mirrors what the matched filter chain does with the request:
// the HTTP connection manager's route configuration (RDS: virtual host by
// Host, then the VirtualService's routes, httproute.go
// BuildSidecarOutboundVirtualHosts / route.go BuildHTTPRoutesForVirtualService),
// or tcp_proxy (the service's cluster, or a VirtualService tcp route,
// listener.go buildSidecarOutboundTCPFilterChainOpts), or the passthrough
// chains (PassthroughFilterChain, virtualOutbound's catch-all).
func (t *tracer) routeStage(f *flow) {
	if !f.r.Captured {
		return
	}
	c, r, hit, ob := f.c, f.r, f.hit, f.r.Outbound
	var why *api.Reason // a passing route stage's reason
	defer func() {
		switch {
		case f.stopped:
		case why != nil:
			f.note(api.StageRoute, t.srcKey, routeStepName(ob), *why)
		default:
			f.step(api.Step{Stage: api.StageRoute, Proxy: t.srcKey, Name: routeStepName(ob)})
		}
	}()
	switch {
	case hit.useHTTP:
		f.viaHCM = true
		ob.RouteConfig = hit.l.httpRoute
		r.Protocol = api.ProtocolHTTP
		if hit.l.httpSvc != nil {
			r.Protocol = hit.l.httpSvc.portByNumber(c.port).protocol
		} else if svcs := t.m.visibleServicesOnPort(t.sc, c.port); len(svcs) > 0 {
			r.Protocol = t.httpProtocolOnPort(svcs, c.port)
		}
		v := t.routeConfig(hit.l.httpRoute, c.port).match(c.host)
		if v == nil {
			r.TLS = api.TLSNone
			t.routeFail(f, api.Reason{Code: api.ReasonNoVirtualHost, Host: c.host, RouteConfig: hit.l.httpRoute},
				"404 Not Found (NR route_not_found) from the source sidecar")
			return
		}
		ob.VirtualHost = v.name
		act := t.m.routeRequest(v, t.sc, c.path, c.headers, c.host)
		t.preferWeighted(&act)
		ob.Route, ob.Cluster, ob.WeightedClusters = act.route, act.cluster, act.weighted()
		switch {
		case act.direct != 0:
			ob.DirectResponse = act.direct
			r.TLS = api.TLSNone
			if v.special == vhostBlockAll {
				t.routeFail(f, api.Reason{Code: api.ReasonRegistryOnlyBlocked, Host: stripPort(c.host), RouteConfig: hit.l.httpRoute, Status: act.direct},
					"502 Bad Gateway, empty body (direct response from the source sidecar's block_all virtual host)")
			} else {
				t.routeFail(f, api.Reason{Code: api.ReasonDirectResponse, Route: act.route, Status: act.direct},
					strconv.Itoa(act.direct)+" from the source sidecar (VirtualService direct response / redirect)")
			}
		case act.notFound:
			r.TLS = api.TLSNone
			t.routeFail(f, api.Reason{Code: api.ReasonNoRouteMatch, Object: ref("VirtualService", v.vs.Namespace, v.vs.Name), Path: c.path},
				"404 Not Found (NR route_not_found) from the source sidecar")
		case act.cluster == passthroughCluster:
			f.next = clusterChoice{kind: choicePassthrough, why: api.Reason{Rule: api.RuleNoVirtualHost, Host: stripPort(c.host), RouteConfig: hit.l.httpRoute}}
		case act.cluster == allowAnyDynamicDNSCluster:
			f.next = clusterChoice{kind: choiceDynamicForward, why: api.Reason{RouteConfig: hit.l.httpRoute}}
		case act.analysed() == nil || act.analysed().svc == nil:
			f.next = clusterChoice{kind: choiceMissing, why: api.Reason{Code: api.ReasonUnknownDestination, Host: missingHost(&act), Cluster: act.cluster}}
		default:
			d := act.analysed()
			f.next = clusterChoice{kind: choiceService, svc: d.svc, port: d.key.port, subset: d.key.subset}
		}
	case hit.tcp != nil:
		r.Protocol = hit.tcp.port.protocol
		act := t.m.tcpRoute(t.sc, hit.tcp.svc, c.port)
		if act == nil {
			ob.Cluster = outboundCluster(hit.tcp.port.port, "", hit.tcp.svc.hostname).String()
			f.next = clusterChoice{kind: choiceService, svc: hit.tcp.svc, port: hit.tcp.port.port}
			return
		}
		t.preferWeighted(act)
		ob.Route, ob.Cluster, ob.WeightedClusters = act.route, act.cluster, act.weighted()
		d := act.analysed()
		if d == nil || d.svc == nil {
			f.next = clusterChoice{kind: choiceMissing, why: api.Reason{Code: api.ReasonUnknownDestination, Route: act.route, Host: missingHost(act), Cluster: act.cluster, Object: vsRef(act.route)}}
			return
		}
		why = &api.Reason{Code: api.ReasonVirtualServiceTCP, Route: act.route, Cluster: act.cluster, Object: vsRef(act.route)}
		f.next = clusterChoice{kind: choiceService, svc: d.svc, port: d.key.port, subset: d.key.subset}
	case hit.dynamicDNS:
		// listener_builder.go: the plaintext-HTTP chain's inline route is the
		// allow_any_dynamic_dns catch-all.
		f.viaHCM = true
		r.Protocol = api.ProtocolHTTP
		ob.VirtualHost, ob.Route = vhostAllowAnyDynamicDNS, vhostAllowAnyDynamicDNS
		f.next = clusterChoice{kind: choiceDynamicForward, why: api.Reason{RouteConfig: virtualOutboundListener + " (inline)"}}
	default:
		r.Protocol = api.ProtocolTCP
		why := api.Reason{Rule: api.RulePassthroughChain, Listener: hit.listener}
		if hit.listener == virtualOutboundListener {
			why = api.Reason{Rule: api.RuleNoListener, IP: f.dialIP, Port: c.port}
		}
		f.next = clusterChoice{kind: choicePassthrough, why: why}
	}
}

// missingHost is the host of the analysed destination that no cluster serves.
func missingHost(act *routeAction) string {
	if d := act.analysed(); d != nil {
		return d.key.host
	}
	return ""
}

// routeFail stops the request at the route stage.
func (t *tracer) routeFail(f *flow, reason api.Reason, symptom string) {
	f.fail(api.StageRoute, t.srcKey, routeStepName(f.r.Outbound), reason, symptom)
}

// routeStepName is the route stage as -o wide shows it: ROUTECONFIG /
// VIRTUALHOST for HTTP, tcp_proxy for TCP.
func routeStepName(o *api.Outbound) string {
	switch {
	case o.RouteConfig != "" && o.VirtualHost != "":
		return o.RouteConfig + " / " + o.VirtualHost
	case o.RouteConfig != "":
		return o.RouteConfig
	case o.VirtualHost != "":
		return o.VirtualHost
	}
	return "tcp_proxy"
}

// vsRef names a VirtualService given as NS/NAME.
func vsRef(nsName string) *api.ObjectRef {
	if ns, name, ok := strings.Cut(nsName, "/"); ok {
		return ref("VirtualService", ns, name)
	}
	return ref("VirtualService", "", nsName)
}

// routeConfig is the proxy's RDS route configuration by name, built and
// indexed once per source (a matrix asks for the same one for every
// address, a fleet for every pair).
func (t *tracer) routeConfig(name string, port int32) *vhostIndex {
	key := name + "|" + strconv.Itoa(int(port))
	if ix, ok := t.routes[key]; ok {
		return ix
	}
	ix := indexVirtualHosts(t.m.routeConfig(t.sc, name, port))
	t.routes[key] = ix
	return ix
}

func (t *tracer) httpProtocolOnPort(svcs []*service, port int32) api.Protocol {
	for _, s := range svcs {
		if p := s.portByNumber(port).protocol; isHTTP(p) {
			return p
		}
	}
	return api.ProtocolHTTP
}

// preferWeighted: of a weighted split, analyse the destination whose
// endpoints include DST (that share of the traffic lands on it), else the
// first one.
func (t *tracer) preferWeighted(act *routeAction) {
	if len(act.dests) < 2 || t.dst == nil {
		return
	}
	for i, d := range act.dests {
		if d.weight <= 0 {
			continue
		}
		for _, svc := range t.m.byHost[d.key.host] {
			sp := svc.portByNumber(d.key.port)
			if !t.sc.visible[svc] || sp == nil {
				continue
			}
			if endpointsInclude(t.clusterEndpoints(svc, sp, d.key.subset), t.dst) {
				act.chosen, act.dests[i].svc, act.cluster = i, svc, d.key.String()
				return
			}
		}
	}
}
