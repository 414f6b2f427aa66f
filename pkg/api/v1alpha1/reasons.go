package v1alpha1

// ReasonCode names why a stage did what it did. Every code below is part of
// the contract: its meaning does not change within v1alpha1. The Istio rule
// behind each is described in docs/MODEL.md.
type ReasonCode string

const (
	// ReasonDNSNXDomain (stage resolve, fail; rule cluster-dns): the name
	// does not resolve in cluster DNS from the source's namespace (search
	// path, ndots). (stage cluster, fail; rule dynamic-forward-proxy): the
	// dynamic forward proxy cannot resolve the Host. Fields: Host, Detail.
	ReasonDNSNXDomain ReasonCode = "DNS_NXDOMAIN"
	// ReasonNoVirtualHost (stage route, fail): the Host header matches no
	// virtual host of the HTTP route configuration (Envoy 404 NR).
	// Fields: Host, RouteConfig.
	ReasonNoVirtualHost ReasonCode = "NO_VIRTUAL_HOST"
	// ReasonNoRouteMatch (stage route, fail): a VirtualService's routes match
	// none of the request's path/headers (Envoy 404 NR). Field: Object (the VirtualService).
	ReasonNoRouteMatch ReasonCode = "NO_ROUTE_MATCH"
	// ReasonDirectResponse (stage route, fail): a VirtualService route
	// answers itself (directResponse, redirect). Fields: Status, Object.
	ReasonDirectResponse ReasonCode = "DIRECT_RESPONSE"
	// ReasonRegistryOnlyBlocked (stage route or cluster, fail): outbound
	// traffic policy REGISTRY_ONLY and no registered service for the Host
	// (stage route: block_all answers 502; fields Host, RouteConfig, Status)
	// or the IP:port (stage cluster: BlackHoleCluster; Cluster, and Rule
	// no-listener or passthrough-chain as for PASSTHROUGH).
	ReasonRegistryOnlyBlocked ReasonCode = "REGISTRY_ONLY_BLOCKED"
	// ReasonUnknownDestination (stage cluster, fail): the route sends to a
	// host this proxy has no cluster for (Envoy 503 NC; tcp_proxy closes).
	// Fields: Cluster, Host, Route and Object (the VirtualService, TCP).
	ReasonUnknownDestination ReasonCode = "UNKNOWN_DESTINATION"
	// ReasonVirtualServiceTCP (stage route, pass): a VirtualService tcp route
	// picks the cluster. Fields: Object (the VirtualService), Cluster.
	ReasonVirtualServiceTCP ReasonCode = "VIRTUAL_SERVICE_TCP"
	// ReasonPassthrough (stage cluster, pass): the request leaves through
	// PassthroughCluster (or the dynamic forward proxy): the app's bytes to
	// the dialed IP, no mTLS, no L7 balancing. Fields: Host, RouteConfig,
	// Cluster; Rule says which rule sent it there.
	ReasonPassthrough ReasonCode = "PASSTHROUGH"
	// ReasonUnknownPort (stage cluster, fail): the route names a port the
	// service does not have (Envoy 503 NC). Fields: Object, Port.
	ReasonUnknownPort ReasonCode = "UNKNOWN_PORT"
	// ReasonNoEndpoints (stage cluster or kube-proxy, fail): the cluster or
	// the Service has no ready endpoint (503 UH, connection refused).
	// Fields: Object (the Service) or Cluster, Port.
	ReasonNoEndpoints ReasonCode = "NO_ENDPOINTS"
	// ReasonNoServicePort (stage kube-proxy, fail): a ClusterIP dialed on a
	// port no Service declares: kube-proxy has no rule, nothing answers.
	// Fields: IP, Port.
	ReasonNoServicePort ReasonCode = "NO_SERVICE_PORT"
	// ReasonClientTLS (stage clientTLS, pass): what the client side sends
	// and which rule decided it. Fields: Rule (a ClientTLSRule), Object (the
	// DestinationRule, PeerAuthentication or Service), Mode, Pod, IP, Port.
	ReasonClientTLS ReasonCode = "CLIENT_TLS"
	// ReasonStrictRejectsPlaintext (stage inbound, fail): the destination
	// port has no filter chain for these bytes (plaintext into STRICT, or
	// TLS into a PERMISSIVE HTTP port): filter_chain_not_found.
	// Fields: Pod, Port, Mode, Object (the PeerAuthentication).
	ReasonStrictRejectsPlaintext ReasonCode = "STRICT_REJECTS_PLAINTEXT"
	// ReasonStrictRejectsNonIstioTLS (stage inbound, fail): TLS that is not
	// Istio mTLS into a STRICT port: the handshake fails.
	ReasonStrictRejectsNonIstioTLS ReasonCode = "STRICT_REJECTS_NON_ISTIO_TLS"
	// ReasonProtocolError (stage inbound, fail): a chain matched but its HTTP
	// codec cannot read the bytes (raw TCP on an HTTP port, mTLS into a
	// DISABLE HTTP chain).
	ReasonProtocolError ReasonCode = "PROTOCOL_ERROR"
	// ReasonInboundRejected (stage inbound, fail): Istio mTLS reaches an
	// application that cannot read it (no sidecar, port excluded from
	// capture, DISABLE TCP chain). Inbound.Rejection says which.
	ReasonInboundRejected ReasonCode = "INBOUND_REJECTED"
	// ReasonAuthzDenied (stage authorization, fail): a DENY AuthorizationPolicy
	// rule matches the request (403 RBAC: access denied / connection closed).
	// Fields: Object (the policy); the rule index is in inbound.authorization.rule.
	ReasonAuthzDenied ReasonCode = "AUTHZ_DENIED"
	// ReasonAuthzNotAllowed (stage authorization, fail): ALLOW policies apply
	// to the workload and none of their rules matches (an ALLOW policy
	// without rules matches nothing). For plaintext or non-Istio TLS the
	// request carries no identity, so principals/namespaces never match.
	ReasonAuthzNotAllowed ReasonCode = "AUTHZ_NOT_ALLOWED"
	// ReasonAuthzCustom (stage authorization, pass): a CUSTOM policy's
	// external provider, or request data the API cannot see (JWT claims),
	// decides. Fields: Object (the policy), Detail (the provider or the key).
	ReasonAuthzCustom ReasonCode = "AUTHZ_CUSTOM"
	// ReasonAuthzUnknown (stage authorization, pass): AuthorizationPolicies
	// could not be read; the answer assumes there are none.
	ReasonAuthzUnknown ReasonCode = "AUTHZ_UNKNOWN"
	// ReasonWrongDestination (stage verdict, fail): the request is served,
	// but not by the pod that was asked about (another endpoint, another
	// Service, an address outside the cluster). Fields: Pod, IP, Cluster, Object.
	ReasonWrongDestination ReasonCode = "WRONG_DESTINATION"

	// Ambient mode (docs/MODEL.md#ambient).

	// ReasonAmbientNotEnrolled (stage capture or inbound, pass): the pod is
	// selected for ambient (istio.io/dataplane-mode) but carries no
	// ambient.istio.io/redirection: enabled: the CNI node agent has not
	// enrolled it (yet), or is not running on its node; its traffic is not
	// redirected to ztunnel. Fields: Pod.
	ReasonAmbientNotEnrolled ReasonCode = "AMBIENT_NOT_ENROLLED"
	// ReasonAmbientHBONE (stage ztunnel or clientTLS, pass): HBONE (mTLS,
	// port 15008) straight to the destination workload. Fields: Pod, IP,
	// Port; Object (the service waypoint bypassed, if any); Rule.
	ReasonAmbientHBONE ReasonCode = "AMBIENT_HBONE"
	// ReasonAmbientWaypoint (stage ztunnel, pass): HBONE to a waypoint.
	// Fields: Object (the waypoint Gateway), Rule (service-waypoint or
	// workload-waypoint), IP, Port.
	ReasonAmbientWaypoint ReasonCode = "AMBIENT_WAYPOINT"
	// ReasonAmbientPassthrough (stage ztunnel, pass): ztunnel knows no
	// workload or service at the address: plain TCP to it. Fields: IP, Port.
	ReasonAmbientPassthrough ReasonCode = "AMBIENT_PASSTHROUGH"
	// ReasonAmbientPlaintext (stage ztunnel, pass): the destination
	// workload does not accept HBONE (no ztunnel redirection, sidecar without
	// networking.istio.io/tunnel=http): plain TCP. Fields: Pod, IP, Port.
	ReasonAmbientPlaintext ReasonCode = "AMBIENT_PLAINTEXT"
	// ReasonAmbientWaypointUnknown (stage ztunnel, pass): the Gateways could
	// not be read: whether a waypoint is on the path is unknown. Fields: Detail.
	ReasonAmbientWaypointUnknown ReasonCode = "AMBIENT_WAYPOINT_UNKNOWN"
	// ReasonAmbientStrict (stage authorization, fail): the destination is
	// STRICT and the connection arrives without identity: istiod's
	// istio_converted_static_strict policy denies it (ztunnel resets the
	// connection). Fields: Pod, Port, Object (the PeerAuthentication).
	ReasonAmbientStrict ReasonCode = "AMBIENT_STRICT"
	// ReasonAmbientZtunnelDown (stage ztunnel or inbound, fail): the pod is
	// redirected to ztunnel, and the ztunnel pods read have none Ready on
	// its node: its connections (out, or in) have nowhere to go. Fields:
	// Pod, Object (the ztunnel pod, when one is there but not Ready),
	// Detail (the node).
	ReasonAmbientZtunnelDown ReasonCode = "AMBIENT_ZTUNNEL_DOWN"
)

// ReasonCodes lists every ReasonCode.
var ReasonCodes = []ReasonCode{ReasonDNSNXDomain, ReasonNoVirtualHost, ReasonNoRouteMatch, ReasonDirectResponse,
	ReasonRegistryOnlyBlocked, ReasonUnknownDestination, ReasonVirtualServiceTCP, ReasonPassthrough, ReasonUnknownPort,
	ReasonNoEndpoints, ReasonNoServicePort, ReasonClientTLS, ReasonStrictRejectsPlaintext, ReasonStrictRejectsNonIstioTLS,
	ReasonProtocolError, ReasonInboundRejected, ReasonAuthzDenied, ReasonAuthzNotAllowed, ReasonAuthzCustom, ReasonAuthzUnknown,
	ReasonWrongDestination, ReasonAmbientNotEnrolled, ReasonAmbientHBONE, ReasonAmbientWaypoint, ReasonAmbientPassthrough,
	ReasonAmbientPlaintext, ReasonAmbientWaypointUnknown, ReasonAmbientStrict, ReasonAmbientZtunnelDown}

// Rule refines a reason code: which of the code's Istio rules applied.
type Rule string

// Rules of ReasonClientTLS.
const (
	RuleDestinationRuleTLS   Rule = "destination-rule-tls"    // a DestinationRule's tls.mode wins (cluster_tls.go buildUpstreamTLSSettings)
	RuleAutoMTLSOff          Rule = "auto-mtls-off"           // meshConfig.enableAutoMtls false and no DestinationRule TLS
	RuleMeshExternal         Rule = "mesh-external"           // a MESH_EXTERNAL ServiceEntry: auto mTLS does not apply
	RuleHeadlessNoEndpoints  Rule = "headless-no-endpoints"   // auto mTLS on an ORIGINAL_DST port without endpoints
	RuleHeadlessAllOrNothing Rule = "headless-all-or-nothing" // an endpoint of the headless port lacks a sidecar: all plaintext
	RuleNamespaceDisable     Rule = "namespace-disable"       // the service namespace's PeerAuthentication is DISABLE
	RuleAutoMTLS             Rule = "auto-mtls"               // auto mTLS toward an endpoint with a sidecar (EDS, per endpoint)
	RuleAutoMTLSAllEndpoints Rule = "auto-mtls-all-endpoints" // auto mTLS on an ORIGINAL_DST port whose every endpoint has a sidecar
	RuleEndpointNoSidecar    Rule = "endpoint-no-sidecar"     // the endpoint has no tlsMode=istio label
	RuleEndpointDisable      Rule = "endpoint-disable"        // the endpoint workload's own policy is DISABLE for its port
	RulePassthroughPlaintext Rule = "passthrough-plaintext"   // PassthroughCluster never originates mTLS
	RuleNoEndpoint           Rule = "no-endpoint"             // no endpoint to send to
)

// Rules of ReasonPassthrough.
const (
	RuleNoVirtualHost       Rule = "no-virtual-host"       // HTTP: no virtual host for the Host → allow_any
	RuleNoListener          Rule = "no-listener"           // no IP_PORT or 0.0.0.0_PORT listener → virtualOutbound
	RulePassthroughChain    Rule = "passthrough-chain"     // non-HTTP bytes on a listener's PassthroughFilterChain
	RuleDynamicForwardProxy Rule = "dynamic-forward-proxy" // ALLOW_ANY_DYNAMIC_DNS: the Host, not the dialed IP
)

// Rules of ReasonWrongDestination.
const (
	RuleNotAPod       Rule = "not-a-pod"        // the connection goes to an address that is no pod of this cluster
	RuleNotAnEndpoint Rule = "not-an-endpoint"  // the balancer's endpoints do not include DST
	RulePinnedElse    Rule = "pinned-elsewhere" // the connection is pinned to another pod
)

// Rules of ReasonNoEndpoints.
const (
	RuleServiceNoEndpoints Rule = "service" // the Service (kube-proxy) has no ready endpoint
	RuleClusterNoEndpoints Rule = "cluster" // the Envoy cluster's EDS is empty
)

// Rules of ReasonDNSNXDomain.
const (
	RuleClusterDNS Rule = "cluster-dns" // cluster DNS from the source's namespace
)

// Rules of ReasonAmbientWaypoint and ReasonAmbientHBONE.
const (
	RuleServiceWaypoint  Rule = "service-waypoint"  // the Service addressed uses a waypoint (waypoints.go fetchWaypointForService)
	RuleWorkloadWaypoint Rule = "workload-waypoint" // the workload addressed uses a waypoint (waypoints.go fetchWaypointForWorkload)
	RuleSidecarHBONE     Rule = "sidecar-hbone"     // a sidecar tunnels to an ambient endpoint (endpoint_builder.go supportTunnel)
)

// Rules lists every Rule.
var Rules = []Rule{RuleDestinationRuleTLS, RuleAutoMTLSOff, RuleMeshExternal, RuleHeadlessNoEndpoints, RuleHeadlessAllOrNothing,
	RuleNamespaceDisable, RuleAutoMTLS, RuleAutoMTLSAllEndpoints, RuleEndpointNoSidecar, RuleEndpointDisable, RulePassthroughPlaintext, RuleNoEndpoint,
	RuleNoVirtualHost, RuleNoListener, RulePassthroughChain, RuleDynamicForwardProxy,
	RuleNotAPod, RuleNotAnEndpoint, RulePinnedElse, RuleServiceNoEndpoints, RuleClusterNoEndpoints, RuleClusterDNS,
	RuleServiceWaypoint, RuleWorkloadWaypoint, RuleSidecarHBONE}
