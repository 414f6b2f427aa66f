package oracle

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"

	matcher "github.com/cncf/xds/go/xds/type/matcher/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pilot/pkg/simulation"
	"istio.io/istio/pilot/test/xds"
)

// WaypointHop is what a waypoint proxy does with a request addressed to a
// Service VIP:port, as istiod configures it (SetupProxy with Type
// model.Waypoint, as pilot/pkg/xds/waypoint_test.go setupWaypointTest):
// the main_internal filter chain its FilterChainMatcher picks for the
// destination, then the route and cluster of that chain, and the decision
// of the chain's RBAC filters.
type WaypointHop struct {
	Chain   string // inbound-vip|PORT|http|HOST or inbound-vip|PORT|tcp|HOST
	Route   string // the route's name ("" on a TCP chain)
	Cluster string
	Error   string // the simulator's error, or why no chain matched
	// Decision is the chain's authorization: allow | deny (istioAuthz);
	// Policies are NS/NAME of the policies that decided it (any of the
	// matching ones Envoy may log; none when no ALLOW matched).
	Decision string
	Policies []string
}

// WaypointRequest is the request as the waypoint sees it after the HBONE
// CONNECT: the original destination VIP:port, the HTTP request (when
// HTTP), and the peer the CONNECT came from.
type WaypointRequest struct {
	DestIP       string
	DestPort     int
	HTTP         bool
	Host, Path   string
	Method       string
	Headers      map[string]string
	SourceIP     string
	Principal    string // the client's SPIFFE identity (HBONE)
	PodIP        string // the waypoint pod's IP
	Namespace    string // the waypoint's namespace
	Name         string // the waypoint Gateway's name
	IstioVersion string // the waypoint proxy's version
}

// WaypointSends builds the waypoint's xDS on the fake discovery server s
// (ambient on) and runs the request through it.
//
// pilot/pkg/simulation does not follow main_internal: its filter chains
// are chosen by a FilterChainMatcher (listener_waypoint.go
// buildWaypointInternal: destination IP → destination port → application
// protocol), not by FilterChainMatch, so the chain is picked here by
// walking that matcher, then simulated on its own as the only chain of a
// listener on the destination port.
func WaypointSends(t *testing.T, s *xds.FakeDiscoveryServer, req WaypointRequest) WaypointHop {
	labels := map[string]string{
		"gateway.networking.k8s.io/gateway-name": req.Name,
		"gateway.istio.io/managed":               "istio.io-mesh-controller",
	}
	p := s.SetupProxy(&model.Proxy{
		Type:            model.Waypoint,
		ID:              req.Name + "." + req.Namespace,
		ConfigNamespace: req.Namespace,
		IPAddresses:     []string{req.PodIP},
		Labels:          labels,
		Metadata: &model.NodeMetadata{
			Labels: labels, Namespace: req.Namespace, IstioVersion: req.IstioVersion,
			// ServiceTargets → WaypointKeyForProxy need the cluster's VIPs.
			ClusterID: "Kubernetes",
		},
	})
	sim := simulation.NewSimulation(t, s, p)
	var main *listener.Listener
	for _, l := range sim.Listeners {
		if l.Name == "main_internal" {
			main = l
		}
	}
	if main == nil {
		return WaypointHop{Error: "no main_internal listener"}
	}
	name, err := pickChain(main.GetFilterChainMatcher(), req)
	if err != nil {
		return WaypointHop{Error: err.Error()}
	}
	hop := WaypointHop{Chain: name}
	var chain *listener.FilterChain
	for _, fc := range main.FilterChains {
		if fc.Name == name {
			chain = fc
		}
	}
	if chain == nil {
		hop.Error = "matcher names chain " + name + ", which main_internal lacks"
		return hop
	}
	only := &listener.Listener{
		Name: "main_internal",
		Address: &core.Address{Address: &core.Address_SocketAddress{SocketAddress: &core.SocketAddress{
			Address: "0.0.0.0", PortSpecifier: &core.SocketAddress_PortValue{PortValue: uint32(req.DestPort)},
		}}},
		FilterChains: []*listener.FilterChain{{Name: chain.Name, Filters: chain.Filters}},
	}
	sim.Listeners = []*listener.Listener{only}
	proto := simulation.TCP
	if req.HTTP {
		proto = simulation.HTTP
	}
	res := sim.Run(simulation.Call{Address: req.DestIP, Port: req.DestPort, Protocol: proto, HostHeader: req.Host, Path: req.Path})
	if res.Error != nil {
		hop.Error = res.Error.Error()
		return hop
	}
	hop.Route, hop.Cluster = res.RouteMatched, res.ClusterMatched
	ac, err := authzOf(chain)
	if err != nil {
		hop.Error = err.Error()
		return hop
	}
	rr := &rbacRequest{
		HTTP: ac.HTTP, SourceIP: net.ParseIP(req.SourceIP), DestIP: net.ParseIP(req.DestIP), DestPort: uint32(req.DestPort),
		Principal: req.Principal, TLS: req.Principal != "", Headers: map[string]string{},
	}
	if ac.HTTP {
		for k, v := range req.Headers {
			rr.Headers[k] = v
		}
		path := req.Path
		if path == "" {
			path = "/"
		}
		method := req.Method
		if method == "" {
			method = "GET"
		}
		rr.Headers[":authority"], rr.Headers[":method"], rr.Headers[":path"] = req.Host, method, normalizePath(ac.HCM, path)
	}
	rr.RemoteIP = remoteIP(ac.HCM, rr.SourceIP, rr.Headers["x-forwarded-for"])
	got, err := ac.decide(rr)
	if err != nil {
		hop.Error = "authorization: " + err.Error()
		return hop
	}
	hop.Decision = got.Decision
	for _, n := range append([]string{got.Policy}, got.Matching...) {
		if p, _, _, ok := parsePolicyName(n); ok && !slices.Contains(hop.Policies, p) {
			hop.Policies = append(hop.Policies, p)
		}
	}
	return hop
}

// pickChain walks a listener's FilterChainMatcher (xds.type.matcher.v3)
// with the inputs istiod's waypoint matcher reads.
func pickChain(m *matcher.Matcher, req WaypointRequest) (string, error) {
	for depth := 0; m != nil && depth < 10; depth++ {
		tree := m.GetMatcherTree()
		if tree == nil {
			return "", fmt.Errorf("matcher without a tree")
		}
		input := tree.GetInput().GetTypedConfig().GetTypeUrl()
		var next *matcher.Matcher_OnMatch
		switch {
		case strings.HasSuffix(input, ".DestinationIPInput"):
			ipm := &matcher.IPMatcher{}
			if err := tree.GetCustomMatch().GetTypedConfig().UnmarshalTo(ipm); err != nil {
				return "", err
			}
			ip := net.ParseIP(req.DestIP)
			for _, rm := range ipm.GetRangeMatchers() {
				for _, r := range rm.GetRanges() {
					_, cidr, err := net.ParseCIDR(r.GetAddressPrefix() + "/" + strconv.Itoa(int(r.GetPrefixLen().GetValue())))
					if err == nil && cidr.Contains(ip) && next == nil {
						next = rm.GetOnMatch()
					}
				}
			}
		case strings.HasSuffix(input, ".DestinationPortInput"):
			next = tree.GetExactMatchMap().GetMap()[strconv.Itoa(req.DestPort)]
		case strings.HasSuffix(input, ".ApplicationProtocolInput"):
			if req.HTTP {
				next = tree.GetExactMatchMap().GetMap()["'http/1.1'"]
			}
		default:
			return "", fmt.Errorf("matcher input %s not modelled", input)
		}
		if next == nil {
			next = m.GetOnNoMatch()
		}
		if next == nil {
			return "", fmt.Errorf("no filter chain for %s:%d", req.DestIP, req.DestPort)
		}
		if a := next.GetAction(); a != nil {
			sv := &wrapperspb.StringValue{}
			if err := a.GetTypedConfig().UnmarshalTo(sv); err != nil {
				return a.GetName(), nil
			}
			return sv.GetValue(), nil
		}
		m = next.GetMatcher()
	}
	return "", fmt.Errorf("matcher too deep")
}
