package explain

import (
	"fmt"
	"net"
	"strconv"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
)

// Reasons are data: each constructor below fills the structured fields of
// an api.Reason, and message renders its text from those fields only. No
// layer reads the text back; fixes and render key on Code, Rule and fields.

// message renders a reason's text from its code, rule and fields.
func message(r api.Reason) string {
	switch r.Code {
	case api.ReasonDNSNXDomain:
		if r.Rule == api.RuleDynamicForwardProxy {
			return fmt.Sprintf("the dynamic forward proxy resolves Host %q and gets no address (%s)", r.Host, r.Detail)
		}
		return r.Detail
	case api.ReasonNoVirtualHost:
		return fmt.Sprintf("Host %q matches no virtual host of route %q", r.Host, r.RouteConfig)
	case api.ReasonRegistryOnlyBlocked:
		if r.Cluster == blackHoleCluster {
			return passthroughWhy(r) + "; the outbound traffic policy is REGISTRY_ONLY → " + blackHoleCluster
		}
		return fmt.Sprintf("Host %q matches no service on route %q and the outbound traffic policy is REGISTRY_ONLY → %s vhost answers 502 itself", r.Host, r.RouteConfig, vhostBlockAll)
	case api.ReasonDirectResponse:
		return fmt.Sprintf("VirtualService route %q answers %d itself", r.Route, r.Status)
	case api.ReasonNoRouteMatch:
		return fmt.Sprintf("no route of VirtualService %s/%s matches %s", r.Object.Namespace, r.Object.Name, r.Path)
	case api.ReasonUnknownDestination:
		if r.Route != "" {
			return fmt.Sprintf("VirtualService %s sends TCP to %s, which is not a service this proxy knows", r.Route, r.Host)
		}
		return fmt.Sprintf("the route sends to %s, which is not a service this proxy knows", r.Host)
	case api.ReasonVirtualServiceTCP:
		return fmt.Sprintf("VirtualService %s routes this TCP port to %s", r.Route, r.Cluster)
	case api.ReasonPassthrough:
		return passthroughWhy(r) + " → " + r.Cluster + ": plaintext, no L7 load balancing"
	case api.ReasonUnknownPort:
		return fmt.Sprintf("%s has no port %d", r.Object, r.Port)
	case api.ReasonNoEndpoints:
		if r.Rule == api.RuleClusterNoEndpoints {
			return fmt.Sprintf("cluster %s has no ready endpoints", r.Cluster)
		}
		return fmt.Sprintf("%s port %d has no ready endpoints", r.Object, r.Port)
	case api.ReasonNoServicePort:
		return fmt.Sprintf("%s:%d: no Service declares port %d on this ClusterIP, so kube-proxy has no rule for it", r.IP, r.Port, r.Port)
	case api.ReasonClientTLS:
		return clientTLSWhy(r)
	case api.ReasonStrictRejectsPlaintext, api.ReasonStrictRejectsNonIstioTLS, api.ReasonProtocolError, api.ReasonInboundRejected:
		return fmt.Sprintf("%s (%s) on %s port %d: %s", r.Mode, r.Source, r.Pod, r.Port, r.Detail)
	case api.ReasonAuthzDenied, api.ReasonAuthzNotAllowed, api.ReasonAuthzCustom:
		return fmt.Sprintf("authorization on %s port %d: %s", r.Pod, r.Port, r.Detail)
	case api.ReasonAuthzUnknown:
		return fmt.Sprintf("AuthorizationPolicies of %s could not be read (%s): the answer assumes there are none", r.Pod, r.Detail)
	case api.ReasonAmbientNotEnrolled:
		return fmt.Sprintf("%s is selected for ambient but not redirected (no ambient.istio.io/redirection: enabled): the CNI node agent has not enrolled it (yet), or is not running on its node", r.Pod)
	case api.ReasonAmbientHBONE:
		s := fmt.Sprintf("HBONE (mTLS, port %d) straight to %s (%s:%d)", hbonePort, r.Pod, r.IP, r.Port)
		if r.Rule == api.RuleSidecarHBONE {
			s = "the sidecar tunnels it: " + s
		}
		if r.Object != nil {
			s += fmt.Sprintf("; the service waypoint %s/%s (and its L7 policy) is bypassed", r.Object.Namespace, r.Object.Name)
		}
		return s
	case api.ReasonAmbientWaypoint:
		return fmt.Sprintf("HBONE to the %s %s/%s (%s:%d)", r.Rule, r.Object.Namespace, r.Object.Name, r.IP, r.Port)
	case api.ReasonAmbientPassthrough:
		return fmt.Sprintf("ztunnel knows no workload or Service at %s: plain TCP passthrough", hostPort(r.IP, r.Port))
	case api.ReasonAmbientPlaintext:
		s := fmt.Sprintf("%s does not accept HBONE: ztunnel sends plain TCP to %s", r.Pod, hostPort(r.IP, r.Port))
		if r.Object != nil {
			s += fmt.Sprintf("; the service waypoint %s/%s is bypassed", r.Object.Namespace, r.Object.Name)
		}
		return s
	case api.ReasonAmbientWaypointUnknown:
		return fmt.Sprintf("the Gateways could not be read (%s): whether a waypoint is on the path is unknown", r.Detail)
	case api.ReasonAmbientZtunnelDown:
		if r.Object != nil {
			return fmt.Sprintf("%s is redirected to ztunnel, and ztunnel %s/%s on node %s is not Ready: its connections have nowhere to go", r.Pod, r.Object.Namespace, r.Object.Name, r.Detail)
		}
		return fmt.Sprintf("%s is redirected to ztunnel, and no ztunnel pod runs on node %s: its connections have nowhere to go", r.Pod, r.Detail)
	case api.ReasonAmbientStrict:
		return fmt.Sprintf("%s (%s) on %s port %d: the connection carries no identity and istiod's %s policy denies it", r.Mode, r.Source, r.Pod, r.Port, staticStrictPolicy)
	case api.ReasonWrongDestination:
		switch r.Rule {
		case api.RuleNotAPod:
			return fmt.Sprintf("the connection goes to %s, which is not a pod of this cluster", r.IP)
		case api.RuleNotAnEndpoint:
			return fmt.Sprintf("the balancer chooses among %d endpoints and %s is not one of them", r.Endpoints, r.Pod)
		case api.RulePinnedElse:
			return fmt.Sprintf("the connection is pinned to %s/%s, not %s", r.Object.Namespace, r.Object.Name, r.Pod)
		}
	}
	return string(r.Code)
}

// passthroughWhy says which rule sent the request to the passthrough (or
// black hole) cluster.
func passthroughWhy(r api.Reason) string {
	switch r.Rule {
	case api.RuleNoVirtualHost:
		return fmt.Sprintf("Host %q matches no virtual host on route %q → %s", r.Host, r.RouteConfig, vhostAllowAny)
	case api.RuleDynamicForwardProxy:
		return fmt.Sprintf("Host %q matches no virtual host on route %q → %s: the dynamic forward proxy connects to %s:%d (the Host, not the dialed address)",
			r.Host, r.RouteConfig, vhostAllowAnyDynamicDNS, r.IP, r.Port)
	case api.RuleNoListener:
		return "no listener for " + r.IP + ":" + strconv.Itoa(int(r.Port)) + " or 0.0.0.0:" + strconv.Itoa(int(r.Port)) + " → " + virtualOutboundListener + " catch-all"
	case api.RulePassthroughChain:
		return "non-HTTP bytes on " + r.Listener + " take its " + passthroughFilterChain
	}
	return string(r.Rule)
}

func clientTLSWhy(r api.Reason) string {
	switch r.Rule {
	case api.RuleDestinationRuleTLS:
		if r.Mode == "SIMPLE" || r.Mode == "MUTUAL" {
			return fmt.Sprintf("DestinationRule %s/%s sets tls.mode %s (not Istio mTLS)", r.Object.Namespace, r.Object.Name, r.Mode)
		}
		return fmt.Sprintf("DestinationRule %s/%s sets tls.mode %s", r.Object.Namespace, r.Object.Name, r.Mode)
	case api.RuleAutoMTLSOff:
		return "meshConfig.enableAutoMtls is false and no DestinationRule sets TLS"
	case api.RuleMeshExternal:
		return r.Object.String() + " is MESH_EXTERNAL: auto mTLS does not apply"
	case api.RuleHeadlessNoEndpoints:
		return "auto mTLS: the headless port has no endpoints"
	case api.RuleHeadlessAllOrNothing:
		who := r.Pod
		if who == "" {
			who = r.IP
		}
		return fmt.Sprintf("auto mTLS is all-or-nothing on %s port %d: endpoint %s has no sidecar (label security.istio.io/tlsMode=istio missing), so every endpoint gets plaintext", r.Object, r.Port, who)
	case api.RuleNamespaceDisable:
		return fmt.Sprintf("auto mTLS off: namespace %s's PeerAuthentication is DISABLE", r.Object.Name)
	case api.RuleAutoMTLSAllEndpoints:
		return "auto mTLS: every endpoint of the port has a sidecar"
	case api.RuleNoEndpoint:
		return "no endpoint"
	case api.RuleEndpointNoSidecar:
		return fmt.Sprintf("auto mTLS: endpoint %s has no security.istio.io/tlsMode=istio label (no sidecar)", r.IP)
	case api.RuleEndpointDisable:
		return fmt.Sprintf("auto mTLS: the endpoint's %s is DISABLE for port %d", r.Source, r.Port)
	case api.RuleAutoMTLS:
		return "auto mTLS: the endpoint has a sidecar (tlsMode=istio)"
	case api.RulePassthroughPlaintext:
		if r.Object != nil {
			return r.Cluster + " never originates mTLS; kube-proxy then picks an endpoint of " + r.Object.Namespace + "/" + r.Object.Name + " per connection"
		}
		return r.Cluster + " never originates mTLS"
	}
	return string(r.Rule)
}

// newReason fills Message from the fields.
func newReason(r api.Reason) api.Reason {
	r.Message = message(r)
	return r
}

// ref names an object for a Reason or a Fix.
func ref(kind, namespace, name string) *api.ObjectRef {
	return &api.ObjectRef{Kind: kind, Namespace: namespace, Name: name}
}

// serviceRef is the Service or ServiceEntry behind a service.
func serviceRef(s *service) *api.ObjectRef {
	if s.isKube() {
		return ref("Service", s.namespace, s.name)
	}
	return ref("ServiceEntry", s.namespace, s.name)
}

func hostPort(ip string, port int32) string { return net.JoinHostPort(ip, strconv.Itoa(int(port))) }
