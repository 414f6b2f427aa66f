package explain

import (
	"net"
	"regexp"
	"strconv"
	"strings"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"

	networkingapi "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
)

// vhost is one Envoy virtual host of an outbound route configuration.
type vhost struct {
	name    string
	domains []string
	svc     *service                     // default route target (no VirtualService)
	vs      *networkingv1.VirtualService // routes come from this VirtualService
	port    int32
	special string // "allow_any" | "block_all" | "allow_any_dynamic_dns"
}

// routeConfig mirrors httproute.go buildSidecarOutboundHTTPRouteConfig +
// BuildSidecarOutboundVirtualHosts and route/route.go
// BuildSidecarVirtualHostWrapper (Istio 1.31): one vhost per visible service
// that declares the port as HTTP or auto, VirtualServices replacing the
// default route of the services they name (and adding their non-registry
// hosts), domains de-duplicated first-wins; sniffed route names
// ("<host>:PORT") keep only that service's vhost with domains ["*"];
// port-named routes end with the allow_any / block_all catch-all.
func (m *model) routeConfig(sc *sidecarScope, routeName string, port int32) []*vhost {
	sniffedHost, _, sniffed := strings.Cut(routeName, ":")
	servicesByName := map[string]*service{}
	var order []string
	for _, svc := range m.visibleServicesOnPort(sc, port) {
		if prev, ok := servicesByName[svc.hostname]; ok {
			// The same hostname from several namespaces: the proxy's own wins.
			if prev.namespace == sc.proxyNS || svc.namespace != sc.proxyNS {
				continue
			}
		} else {
			order = append(order, svc.hostname)
		}
		servicesByName[svc.hostname] = svc
	}
	var vhosts []*vhost
	seenName := map[string]bool{}
	seenDomain := map[string]bool{}
	add := func(v *vhost, alt []string) {
		if seenName[v.name] {
			return
		}
		seenName[v.name] = true
		var kept []string
		for _, d := range v.domains {
			ld := strings.ToLower(d)
			if seenDomain[ld] {
				continue
			}
			kept = append(kept, d)
			seenDomain[ld] = true
		}
		if len(kept) > 0 {
			v.domains = kept
			vhosts = append(vhosts, v)
		}
	}
	handled := map[string]bool{}
	for _, vs := range m.visibleVirtualServices(sc) {
		hosts, matched := m.separateVSHosts(vs, servicesByName, order)
		if port != 80 && len(matched) == 0 {
			continue // selectVirtualServices: only VSs naming a service on this port
		}
		if len(m.vsRoutesForPort(vs, port, sc)) == 0 {
			continue
		}
		var httpSvcs []*service
		for _, svc := range matched {
			if isHTTPOrSniffed(svc.portByNumber(port).protocol) {
				httpSvcs = append(httpSvcs, svc)
			}
		}
		if len(httpSvcs) == 0 && !(len(matched) == 0 && port == 80) {
			continue
		}
		for _, h := range hosts {
			h = strings.ToLower(h)
			add(&vhost{name: h + ":" + strconv.Itoa(int(port)), domains: []string{h}, vs: vs, port: port}, nil)
		}
		for _, svc := range httpSvcs {
			handled[svc.hostname] = true
			add(&vhost{name: svc.hostname + ":" + strconv.Itoa(int(port)), domains: m.vhostDomains(svc, sc), vs: vs, svc: svc, port: port}, nil)
		}
	}
	for _, h := range order {
		svc := servicesByName[h]
		if handled[h] || svc.resolution == "Alias" || !isHTTPOrSniffed(svc.portByNumber(port).protocol) {
			continue
		}
		add(&vhost{name: svc.hostname + ":" + strconv.Itoa(int(port)), domains: m.vhostDomains(svc, sc), svc: svc, port: port}, nil)
	}
	if sniffed {
		// getVirtualHostsForSniffedServicePort.
		var pick []*vhost
		for _, v := range vhosts {
			for _, d := range v.domains {
				if d == routeName || d == sniffedHost {
					pick = append(pick, v)
					break
				}
			}
		}
		if len(pick) == 1 {
			pick[0].domains = []string{"*"}
		}
		return pick
	}
	// buildCatchAllVirtualHost.
	switch sc.outboundPolicy {
	case "REGISTRY_ONLY":
		vhosts = append(vhosts, &vhost{name: vhostBlockAll, domains: []string{"*"}, special: vhostBlockAll})
	case "ALLOW_ANY_DYNAMIC_DNS":
		// 1.31: unknown plaintext HTTP goes to the dynamic forward proxy
		// cluster, which resolves the Host header itself.
		vhosts = append(vhosts, &vhost{name: vhostAllowAnyDynamicDNS, domains: []string{"*"}, special: vhostAllowAnyDynamicDNS})
	default:
		vhosts = append(vhosts, &vhost{name: vhostAllowAny, domains: []string{"*"}, special: vhostAllowAny})
	}
	return vhosts
}

// allowAnyDynamicDNSCluster is the DFP cluster of ALLOW_ANY_DYNAMIC_DNS
// (networking/util/util.go, cluster_builder.go buildAllowAnyDFPCluster).

// separateVSHosts mirrors route.go separateVSHostsAndServices: VS hosts that
// name (or wildcard-match) a registry service vs. other hosts.
func (m *model) separateVSHosts(vs *networkingv1.VirtualService, byName map[string]*service, order []string) ([]string, []*service) {
	var others []string
	var matched []*service
	for _, h := range vs.Spec.GetHosts() {
		fq := m.resolveShortHost(h, vs.Namespace)
		if strings.HasPrefix(fq, "*") {
			found := false
			for _, name := range order {
				if hostMatches(name, fq) {
					matched = append(matched, byName[name])
					found = true
				}
			}
			if !found {
				others = append(others, fq)
			}
			continue
		}
		if svc, ok := byName[fq]; ok {
			matched = append(matched, svc)
		} else {
			others = append(others, fq)
		}
	}
	return others, matched
}

// vhostDomains mirrors httproute.go generateVirtualHostDomains with the port
// suffix disabled (SidecarIgnorePort: every Envoy sidecar): the hostname and
// its ExternalName aliases, each with GenerateAltVirtualHosts; headless
// Kubernetes services add "*." + each; then the service addresses.
func (m *model) vhostDomains(svc *service, sc *sidecarScope) []string {
	proxyNS := sc.proxyNS
	all := append([]string{svc.hostname}, m.aliasesOf(svc)...)
	var domains []string
	for _, h := range all {
		domains = append(domains, h)
		domains = append(domains, m.altVirtualHosts(h, proxyNS)...)
	}
	if svc.resolution == "Passthrough" && svc.isKube() {
		for _, d := range domains {
			domains = append(domains, "*."+d)
		}
	}
	addrs := m.proxyAddresses(svc, sc)
	if svc.isKube() && len(addrs) > 1 {
		// GetAddressForProxy: one ClusterIP per proxy unless ISTIO_DUAL_STACK
		// (off by default) adds the others.
		addrs = addrs[:1]
	}
	for _, a := range addrs {
		if a != "" && a != wildcardIP {
			domains = append(domains, a)
		}
	}
	return domains
}

// altVirtualHosts mirrors GenerateAltVirtualHosts and
// generateAltVirtualHostsForKubernetesService (port suffix off). The
// trailing-dot FQDN exists from Istio 1.27 (ruleAbsoluteFQDNVhost).
func (m *model) altVirtualHosts(hostname, proxyNS string) []string {
	var out []string
	if m.istiodRule(ruleAbsoluteFQDNVhost) && net.ParseIP(hostname) == nil {
		out = append(out, hostname+".")
	}
	kubeSuffix := ".svc." + m.clusterDomain
	if !strings.HasSuffix(hostname, kubeSuffix) {
		return out // not a Kubernetes name: no short forms for a proxy in a .svc. domain
	}
	ih := strings.Index(hostname, ".svc.")
	ns := strings.Index(hostname, ".")
	if ih <= 0 || ns+1 >= len(hostname) || ns+1 > ih {
		return out
	}
	if hostname[ns+1:ih] == proxyNS {
		return append(out, hostname[:ns], hostname[:ih]+".svc", hostname[:ih])
	}
	return append(out, hostname[:ih], hostname[:ih]+".svc")
}

// aliasesOf lists ExternalName Services whose externalName is this service
// (ruleExternalNameAlias: default on from 1.21, always on from 1.24).
func (m *model) aliasesOf(svc *service) []string {
	if !m.istiodRule(ruleExternalNameAlias) {
		return nil
	}
	return m.aliases[strings.ToLower(svc.hostname)]
}

// matchVirtualHost mirrors Envoy's virtual host selection (and the
// simulator's): exact domain, then the longest "*suffix" wildcard, then the
// longest "prefix*" wildcard, then "*"; the port is ignored
// (ignore_port_in_host_matching).
func matchVirtualHost(vhosts []*vhost, host string) *vhost {
	return indexVirtualHosts(vhosts).match(host)
}

// vhostIndex is a route configuration indexed for matchVirtualHost: a
// sidecar's route for a port has a virtual host per visible service (5 000
// in a 10 000-pod cluster), and a fleet matches thousands of requests
// against it.
type vhostIndex struct {
	exact map[string]*vhost // every domain, the first vhost to declare it
	// wild are the domains starting or ending with "*", in vhost then
	// domain order (ties go to the first, as in a scan).
	wild []vhostDomain
}

type vhostDomain struct {
	v *vhost
	d string
}

func indexVirtualHosts(vhosts []*vhost) *vhostIndex {
	ix := &vhostIndex{exact: map[string]*vhost{}}
	for _, v := range vhosts {
		for _, d := range v.domains {
			if _, dup := ix.exact[d]; !dup {
				ix.exact[d] = v
			}
			if strings.HasPrefix(d, "*") || strings.HasSuffix(d, "*") {
				ix.wild = append(ix.wild, vhostDomain{v, d})
			}
		}
	}
	return ix
}

func (ix *vhostIndex) match(host string) *vhost {
	h := strings.ToLower(stripPort(host))
	if v := ix.exact[h]; v != nil {
		return v
	}
	var best *vhost
	bestLen := -1
	for _, w := range ix.wild {
		if d := w.d; len(d) > 1 && strings.HasPrefix(d, "*") && strings.HasSuffix(h, d[1:]) && len(h) > len(d)-1 && len(d) > bestLen {
			best, bestLen = w.v, len(d)
		}
	}
	if best != nil {
		return best
	}
	for _, w := range ix.wild {
		if d := w.d; len(d) > 1 && strings.HasSuffix(d, "*") && strings.HasPrefix(h, d[:len(d)-1]) && len(d) > bestLen {
			best, bestLen = w.v, len(d)
		}
	}
	if best != nil {
		return best
	}
	for _, w := range ix.wild {
		if w.d == "*" {
			return w.v
		}
	}
	return nil
}

func stripPort(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
}

// routeAction is the outcome of matching one request against a vhost.
type routeAction struct {
	route    string      // route name: VS http[].name, "default", allow_any, block_all
	cluster  string      // the cluster name as Envoy sees it (a service key or a special cluster)
	dests    []routeDest // the destination clusters, in the VirtualService's order
	chosen   int         // the destination analysed (see preferWeighted)
	split    bool        // the route names several destinations (a weighted split, even if weight-0 ones drop out)
	direct   int         // direct response / redirect status
	notFound bool        // no route matched: 404 NR
}

// routeDest is one destination cluster of a route.
type routeDest struct {
	key    clusterKey
	svc    *service // nil: the host is not a service this proxy knows
	weight int32
}

// analysed is the destination the report follows: the first, unless
// preferWeighted picked the one DST is behind. nil when there is none.
func (a *routeAction) analysed() *routeDest {
	if a.chosen >= len(a.dests) {
		return nil
	}
	return &a.dests[a.chosen]
}

// weighted is the split as the report shows it (only for several destinations).
func (a *routeAction) weighted() []api.WeightedCluster {
	if !a.split {
		return nil
	}
	out := make([]api.WeightedCluster, 0, len(a.dests))
	for _, d := range a.dests {
		out = append(out, api.WeightedCluster{Cluster: d.key.String(), Weight: d.weight})
	}
	return out
}

// vsRoutesForPort mirrors BuildHTTPRoutesForVirtualService's filtering:
// gateways must include "mesh" (or be empty), match.port must equal the
// listener port, sourceLabels must select the proxy, sourceNamespace must be
// the proxy's namespace. A route whose every match is filtered out is dropped.
func (m *model) vsRoutesForPort(vs *networkingv1.VirtualService, port int32, sc *sidecarScope) []*networkingapi.HTTPRoute {
	var out []*networkingapi.HTTPRoute
	for _, r := range vs.Spec.GetHttp() {
		if len(r.GetMatch()) == 0 {
			out = append(out, r)
			continue
		}
		var keep []*networkingapi.HTTPMatchRequest
		for _, mt := range r.GetMatch() {
			if mt.GetPort() != 0 && int32(mt.GetPort()) != port {
				continue
			}
			if len(mt.GetSourceLabels()) > 0 && !labelsMatch(mt.GetSourceLabels(), sc.proxyLabels) {
				continue
			}
			if mt.GetSourceNamespace() != "" && mt.GetSourceNamespace() != sc.proxyNS {
				continue
			}
			if gws := mt.GetGateways(); len(gws) > 0 && !contains(gws, "mesh") {
				continue
			}
			keep = append(keep, mt)
		}
		if len(keep) > 0 {
			out = append(out, &networkingapi.HTTPRoute{Name: r.GetName(), Match: keep, Route: r.GetRoute(), Redirect: r.GetRedirect(), DirectResponse: r.GetDirectResponse(), Fault: r.GetFault()})
		}
	}
	return out
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// routeRequest evaluates the vhost's routes for one request, in order, as
// Envoy does (first match wins).
func (m *model) routeRequest(v *vhost, sc *sidecarScope, path string, headers map[string]string, host string) routeAction {
	switch v.special {
	case vhostAllowAny:
		return routeAction{route: vhostAllowAny, cluster: passthroughCluster}
	case vhostAllowAnyDynamicDNS:
		return routeAction{route: vhostAllowAnyDynamicDNS, cluster: allowAnyDynamicDNSCluster}
	case vhostBlockAll:
		return routeAction{route: vhostBlockAll, direct: 502}
	}
	if v.vs == nil {
		k := outboundCluster(v.port, "", v.svc.hostname)
		return routeAction{route: routeDefault, cluster: k.String(), dests: []routeDest{{key: k, svc: v.svc}}}
	}
	for _, r := range m.vsRoutesForPort(v.vs, v.port, sc) {
		if !httpRouteMatches(r, path, headers, host) {
			continue
		}
		name := r.GetName()
		if name == "" {
			name = routeDefault
		}
		if rd := r.GetRedirect(); rd != nil {
			code := int(rd.GetRedirectCode())
			if code == 0 {
				code = 301
			}
			return routeAction{route: name, direct: code}
		}
		if dr := r.GetDirectResponse(); dr != nil {
			return routeAction{route: name, direct: int(dr.GetStatus())}
		}
		act := m.routeDestinations(httpDestinations(r.GetRoute()), v.vs.Namespace, v.port, sc, true)
		act.route = name
		return act
	}
	return routeAction{notFound: true}
}

func httpRouteMatches(r *networkingapi.HTTPRoute, path string, headers map[string]string, host string) bool {
	if len(r.GetMatch()) == 0 {
		return true
	}
	for _, mt := range r.GetMatch() {
		if matchRequest(mt, path, headers, host) {
			return true
		}
	}
	return false
}

func matchRequest(mt *networkingapi.HTTPMatchRequest, path string, headers map[string]string, host string) bool {
	p, _, _ := strings.Cut(path, "?")
	if u := mt.GetUri(); u != nil && !stringMatch(u, p, mt.GetIgnoreUriCase()) {
		return false
	}
	if meth := mt.GetMethod(); meth != nil && !stringMatch(meth, "GET", false) {
		return false
	}
	if a := mt.GetAuthority(); a != nil && !stringMatch(a, host, false) {
		return false
	}
	for name, sm := range mt.GetHeaders() {
		v, ok := headers[strings.ToLower(name)]
		if !ok || !stringMatch(sm, v, false) {
			return false
		}
	}
	for name := range mt.GetWithoutHeaders() {
		if _, ok := headers[strings.ToLower(name)]; ok {
			return false
		}
	}
	return true
}

func stringMatch(sm *networkingapi.StringMatch, v string, ignoreCase bool) bool {
	if ignoreCase {
		v = strings.ToLower(v)
	}
	switch {
	case sm.GetExact() != "":
		e := sm.GetExact()
		if ignoreCase {
			e = strings.ToLower(e)
		}
		return v == e
	case sm.GetPrefix() != "":
		pfx := sm.GetPrefix()
		if ignoreCase {
			pfx = strings.ToLower(pfx)
		}
		return strings.HasPrefix(v, pfx)
	case sm.GetRegex() != "":
		re, err := regexp.Compile("^(?:" + sm.GetRegex() + ")$")
		return err == nil && re.MatchString(v)
	}
	return true
}

// weightedDestination is what HTTPRouteDestination and RouteDestination (TCP)
// have in common.
type weightedDestination interface {
	GetDestination() *networkingapi.Destination
	GetWeight() int32
}

func httpDestinations(l []*networkingapi.HTTPRouteDestination) []weightedDestination {
	out := make([]weightedDestination, 0, len(l))
	for _, d := range l {
		out = append(out, d)
	}
	return out
}

// routeDestinations resolves a route's destinations to clusters the way
// route.go GetDestinationCluster does: the destination port, else the only
// port of the service, else the listener port; the first destination is the
// one analysed, several make a weighted split.
//
// For HTTP routes the "only port" rule sees only services that have the
// listener port (httproute.go passes servicesByName of that port as the
// registry): a destination service without it yields
// outbound|LISTENPORT||host, a cluster that does not exist.
func (m *model) routeDestinations(dests []weightedDestination, vsNS string, listenPort int32, sc *sidecarScope, httpRegistry bool) routeAction {
	var act routeAction
	act.split = len(dests) > 1
	if act.split {
		// route.go translateRoute / buildOutboundNetworkFiltersWithWeightedClusters:
		// of several destinations, weight 0 ones are left out; the rest keep
		// the VirtualService's order.
		var keep []weightedDestination
		for _, d := range dests {
			if d.GetWeight() != 0 {
				keep = append(keep, d)
			}
		}
		dests = keep
	}
	for i, d := range dests {
		fq := m.resolveShortHost(d.GetDestination().GetHost(), vsNS)
		var svc *service
		for _, s := range m.byHost[fq] {
			if sc.visible[s] {
				svc = s
				break
			}
		}
		p := int32(d.GetDestination().GetPort().GetNumber())
		if p == 0 {
			p = listenPort
			if svc != nil && len(svc.ports) == 1 && (!httpRegistry || svc.portByNumber(listenPort) != nil) {
				p = svc.ports[0].port
			}
		}
		k := outboundCluster(p, d.GetDestination().GetSubset(), fq)
		if i == 0 {
			act.cluster = k.String()
		}
		act.dests = append(act.dests, routeDest{key: k, svc: svc, weight: d.GetWeight()})
	}
	return act
}

// tcpRoute mirrors buildSidecarOutboundTCPListenerOpts and
// buildSidecarOutboundTCPFilterChainOpts (listener.go, tls.go, Istio 1.31):
// the VirtualServices visible to the proxy whose hosts match the listener's
// service, in order; the first tcp route without match, or with a match that
// selects this proxy (matchTCP: sourceLabels, port, sourceNamespace,
// gateways incl. "mesh") and names no destinationSubnets, decides. Weighted
// splits keep only destinations with weight > 0
// (buildOutboundNetworkFiltersWithWeightedClusters). nil: the service's own
// cluster. Routes restricted to destinationSubnets add CIDR-matched chains
// that are not modelled.
func (m *model) tcpRoute(sc *sidecarScope, svc *service, port int32) *routeAction {
	for _, vs := range m.visibleVirtualServices(sc) {
		hostHit := false
		for _, h := range vs.Spec.GetHosts() {
			if hostMatches(svc.hostname, m.resolveShortHost(h, vs.Namespace)) {
				hostHit = true
			}
		}
		if !hostHit {
			continue
		}
		for _, tr := range vs.Spec.GetTcp() {
			if len(tr.GetRoute()) == 0 {
				continue
			}
			take := len(tr.GetMatch()) == 0
			for _, mt := range tr.GetMatch() {
				if matchTCP(mt, sc, port) && len(mt.GetDestinationSubnets()) == 0 {
					take = true
				}
			}
			if !take {
				continue
			}
			var dests []weightedDestination
			for _, d := range tr.GetRoute() {
				dests = append(dests, d)
			}
			act := m.routeDestinations(dests, vs.Namespace, port, sc, false)
			act.route = vs.Namespace + "/" + vs.Name
			return &act
		}
	}
	return nil
}

// matchTCP mirrors tls.go matchTCP for a sidecar (gateway "mesh").
func matchTCP(mt *networkingapi.L4MatchAttributes, sc *sidecarScope, port int32) bool {
	if gws := mt.GetGateways(); len(gws) > 0 && !contains(gws, "mesh") {
		return false
	}
	if len(mt.GetSourceLabels()) > 0 && !labelsMatch(mt.GetSourceLabels(), sc.proxyLabels) {
		return false
	}
	if mt.GetPort() != 0 && int32(mt.GetPort()) != port {
		return false
	}
	return mt.GetSourceNamespace() == "" || mt.GetSourceNamespace() == sc.proxyNS
}
