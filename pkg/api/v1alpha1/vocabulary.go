package v1alpha1

// Protocol is Istio's protocol name for a port (pkg/config/protocol
// Instance, as protocol.Parse returns it).
type Protocol string

const (
	ProtocolHTTP      Protocol = "HTTP"
	ProtocolHTTP2     Protocol = "HTTP2"
	ProtocolHTTPProxy Protocol = "HTTP_PROXY"
	ProtocolGRPC      Protocol = "GRPC"
	ProtocolGRPCWeb   Protocol = "GRPC-WEB"
	ProtocolTCP       Protocol = "TCP"
	ProtocolHTTPS     Protocol = "HTTPS"
	ProtocolTLS       Protocol = "TLS"
	ProtocolMongo     Protocol = "MONGO"
	ProtocolRedis     Protocol = "REDIS"
	ProtocolMySQL     Protocol = "MYSQL"
	ProtocolUDP       Protocol = "UDP"
	// ProtocolAuto is Istio's "UnsupportedProtocol": sniffed at run time.
	ProtocolAuto Protocol = "AUTO"
)

// Protocols lists every Protocol value.
var Protocols = []Protocol{ProtocolHTTP, ProtocolHTTP2, ProtocolHTTPProxy, ProtocolGRPC, ProtocolGRPCWeb, ProtocolTCP,
	ProtocolHTTPS, ProtocolTLS, ProtocolMongo, ProtocolRedis, ProtocolMySQL, ProtocolUDP, ProtocolAuto}

// IsHTTP mirrors protocol.Instance.IsHTTP: HTTP, HTTP2, HTTP_PROXY, GRPC, GRPC-WEB.
func (p Protocol) IsHTTP() bool {
	switch p {
	case ProtocolHTTP, ProtocolHTTP2, ProtocolHTTPProxy, ProtocolGRPC, ProtocolGRPCWeb:
		return true
	}
	return false
}

// MTLSMode is a PeerAuthentication mode as composed for a workload port.
type MTLSMode string

const (
	MTLSStrict     MTLSMode = "STRICT"
	MTLSPermissive MTLSMode = "PERMISSIVE"
	MTLSDisable    MTLSMode = "DISABLE"
)

// TLS is what leaves the SRC proxy (or the app, without a proxy) toward the endpoint.
type TLS string

const (
	TLSMutual    TLS = "mtls"      // Istio mTLS (ISTIO_MUTUAL / auto-mTLS)
	TLSSimple    TLS = "tls"       // other TLS (DestinationRule SIMPLE/MUTUAL)
	TLSPlaintext TLS = "plaintext" // the app's own bytes
	TLSNone      TLS = "none"      // nothing leaves (BlackHole, direct response, no DNS answer)
)

// TLSValues lists every TLS value.
var TLSValues = []TLS{TLSMutual, TLSSimple, TLSPlaintext, TLSNone}

// Verdict is the request's outcome.
type Verdict string

const (
	VerdictReaches      Verdict = "reaches-destination" // lands on DST (the pod) itself
	VerdictLoadBalanced Verdict = "load-balanced"       // lands on some endpoint of a Service that includes DST
	VerdictFails        Verdict = "fails"               // dropped, rejected, unresolvable or delivered elsewhere
)

// Verdicts lists every Verdict value.
var Verdicts = []Verdict{VerdictReaches, VerdictLoadBalanced, VerdictFails}

// Balancing is who picks the endpoint, and how often.
type Balancing string

const (
	BalancingPerRequest    Balancing = "per-request"    // Envoy HCM + EDS cluster: every HTTP request picks an endpoint
	BalancingPerConnection Balancing = "per-connection" // tcp_proxy + EDS, or kube-proxy: one pick per TCP connection
	BalancingNone          Balancing = "none"           // ORIGINAL_DST / direct: goes to the dialed IP
)

// BalancingValues lists every Balancing value.
var BalancingValues = []Balancing{BalancingPerRequest, BalancingPerConnection, BalancingNone}

// Dataplane is how a pod is in the mesh.
type Dataplane string

const (
	DataplaneSidecar Dataplane = "sidecar"
	DataplaneAmbient Dataplane = "ambient"
	DataplaneNone    Dataplane = "none"
)

// Dataplanes lists every Dataplane value.
var Dataplanes = []Dataplane{DataplaneSidecar, DataplaneAmbient, DataplaneNone}

// OutboundPolicy is meshConfig.outboundTrafficPolicy.mode (or a Sidecar's).
type OutboundPolicy string

const (
	OutboundAllowAny           OutboundPolicy = "ALLOW_ANY"
	OutboundRegistryOnly       OutboundPolicy = "REGISTRY_ONLY"
	OutboundAllowAnyDynamicDNS OutboundPolicy = "ALLOW_ANY_DYNAMIC_DNS" // Istio ≥ 1.31
)

// OutboundPolicies lists every OutboundPolicy value.
var OutboundPolicies = []OutboundPolicy{OutboundAllowAny, OutboundRegistryOnly, OutboundAllowAnyDynamicDNS}

// Traffic is what the application sends.
type Traffic string

const (
	TrafficHTTP Traffic = "http"
	TrafficTCP  Traffic = "tcp"
)

// Traffics lists every Traffic value.
var Traffics = []Traffic{TrafficHTTP, TrafficTCP}

// AddressForm classifies the address the application dials.
type AddressForm string

const (
	FormServiceShort      AddressForm = "service-short"      // web
	FormServiceNamespaced AddressForm = "service-namespaced" // web.demo
	FormServiceSvc        AddressForm = "service-svc"        // web.demo.svc
	FormServiceFQDN       AddressForm = "service-fqdn"       // web.demo.svc.cluster.local
	FormServiceFQDNDot    AddressForm = "service-fqdn-dot"   // web.demo.svc.cluster.local.
	FormClusterIP         AddressForm = "cluster-ip"         // a Service's ClusterIP
	FormPodHostname       AddressForm = "pod-hostname"       // web-0.web.demo.svc.cluster.local
	FormPodIP             AddressForm = "pod-ip"             // a pod's IP
	FormIP                AddressForm = "ip"                 // an IP no pod or Service owns
	FormExternal          AddressForm = "external"           // a name outside the cluster domain
)

// AddressForms lists every AddressForm value.
var AddressForms = []AddressForm{FormServiceShort, FormServiceNamespaced, FormServiceSvc, FormServiceFQDN, FormServiceFQDNDot,
	FormClusterIP, FormPodHostname, FormPodIP, FormIP, FormExternal}

// DNSSource says who answered a name.
type DNSSource string

const (
	DNSSourceCluster    DNSSource = "cluster-dns"     // the pod's resolv.conf nameserver (CoreDNS)
	DNSSourceIstioProxy DNSSource = "istio-dns-proxy" // the SRC sidecar's agent, from istiod's name table (ISTIO_META_DNS_CAPTURE)
)

// DNSSources lists every DNSSource.
var DNSSources = []DNSSource{DNSSourceCluster, DNSSourceIstioProxy}

// ClusterType is the Envoy cluster discovery type.
type ClusterType string

const (
	ClusterEDS                 ClusterType = "EDS"
	ClusterOriginalDst         ClusterType = "ORIGINAL_DST"
	ClusterStrictDNS           ClusterType = "STRICT_DNS"
	ClusterDynamicForwardProxy ClusterType = "DYNAMIC_FORWARD_PROXY"
)

// ClusterTypes lists every ClusterType value.
var ClusterTypes = []ClusterType{ClusterEDS, ClusterOriginalDst, ClusterStrictDNS, ClusterDynamicForwardProxy}

// ReachesKind says what a request reaches.
type ReachesKind string

const (
	ReachesPod       ReachesKind = "pod"       // one pod, pinned
	ReachesEndpoints ReachesKind = "endpoints" // one of several endpoints chosen by a balancer or DNS
	ReachesIP        ReachesKind = "ip"        // an address that is not a pod of this cluster
	ReachesNone      ReachesKind = "none"      // nothing (the request fails before landing)
)

// ReachesKinds lists every ReachesKind value.
var ReachesKinds = []ReachesKind{ReachesPod, ReachesEndpoints, ReachesIP, ReachesNone}

// Rejection classifies why the destination side refused a connection.
type Rejection string

const (
	// RejectNoFilterChain: no inbound filter chain matches the bytes (plaintext
	// into STRICT, TLS into a PERMISSIVE HTTP chain). Envoy: filter_chain_not_found.
	RejectNoFilterChain Rejection = "no-filter-chain"
	// RejectInvalidMTLS: the TLS chain matched but the client certificate is
	// not Istio's (non-Istio TLS into STRICT).
	RejectInvalidMTLS Rejection = "invalid-mtls"
	// RejectProtocolError: a chain matched but its HTTP codec cannot read the bytes.
	RejectProtocolError Rejection = "protocol-error"
	// RejectMTLSToApp: Istio mTLS reaches an application without sidecar.
	RejectMTLSToApp Rejection = "mtls-to-app"
	// RejectMTLSPortExcluded: Istio mTLS reaches a port the sidecar does not capture.
	RejectMTLSPortExcluded Rejection = "mtls-port-excluded"
	// RejectMTLSPassedThrough: a DISABLE port's TCP chain hands Istio mTLS bytes to the application.
	RejectMTLSPassedThrough Rejection = "mtls-passed-through"
)

// Rejections lists every Rejection value.
var Rejections = []Rejection{RejectNoFilterChain, RejectInvalidMTLS, RejectProtocolError, RejectMTLSToApp, RejectMTLSPortExcluded, RejectMTLSPassedThrough}

// AuthzDecision is the outcome of the destination's authorization.
type AuthzDecision string

const (
	AuthzAllow   AuthzDecision = "allow"   // no DENY matched and (no ALLOW policy, or an ALLOW rule matched)
	AuthzDeny    AuthzDecision = "deny"    // a DENY rule matched, or ALLOW policies exist and none matched
	AuthzCustom  AuthzDecision = "custom"  // a CUSTOM (ext_authz) provider or request data the API cannot see decides
	AuthzUnknown AuthzDecision = "unknown" // the AuthorizationPolicies could not be read
)

// AuthzDecisions lists every AuthzDecision value.
var AuthzDecisions = []AuthzDecision{AuthzAllow, AuthzDeny, AuthzCustom, AuthzUnknown}

// AuthzAction is an AuthorizationPolicy action.
type AuthzAction string

const (
	AuthzActionAllow  AuthzAction = "ALLOW"
	AuthzActionDeny   AuthzAction = "DENY"
	AuthzActionAudit  AuthzAction = "AUDIT"
	AuthzActionCustom AuthzAction = "CUSTOM"
)

// AuthzActions lists every AuthzAction value.
var AuthzActions = []AuthzAction{AuthzActionAllow, AuthzActionDeny, AuthzActionAudit, AuthzActionCustom}

// Stage is a stage of the data path, in the order a request passes them.
type Stage string

const (
	StageResolve   Stage = "resolve"       // cluster DNS: the name to IPs
	StageCapture   Stage = "capture"       // the SRC pod's iptables: captured by its sidecar or not
	StageListener  Stage = "listener"      // the SRC proxy's outbound listener and filter chain
	StageRoute     Stage = "route"         // HTTP: route configuration, virtual host, route; TCP: tcp_proxy / VirtualService tcp route
	StageCluster   Stage = "cluster"       // the Envoy cluster and the endpoint it connects to
	StageKubeProxy Stage = "kube-proxy"    // a ClusterIP DNATed by kube-proxy (no SRC proxy, or PassthroughCluster to a ClusterIP)
	StageClientTLS Stage = "clientTLS"     // what the SRC side sends: mTLS, TLS or plaintext
	StageInbound   Stage = "inbound"       // the DST proxy's virtualInbound filter chain (or the app, without sidecar)
	StageAuthz     Stage = "authorization" // the DST proxy's RBAC filters (AuthorizationPolicy)
	StageVerdict   Stage = "verdict"       // where the request lands, compared with what was asked
	StageZtunnel   Stage = "ztunnel"       // the source's ztunnel outbound (ambient): HBONE, waypoint, passthrough or TCP
	StageWaypoint  Stage = "waypoint"      // a waypoint's L7 routing (ambient)
)

// Stages lists the stages in data-path order.
var Stages = []Stage{StageResolve, StageCapture, StageListener, StageRoute, StageCluster, StageKubeProxy, StageZtunnel, StageWaypoint, StageClientTLS, StageInbound, StageAuthz, StageVerdict}

// StepResult is how a request leaves a stage.
type StepResult string

const (
	StepPass StepResult = "pass" // goes on to the next stage
	StepFail StepResult = "fail" // stops here: the request fails at this stage
)

// StepResults lists every StepResult value.
var StepResults = []StepResult{StepPass, StepFail}

// FixRequirement is something a fix needs that its patch does not do and
// the model cannot see.
type FixRequirement string

const (
	// RequiresRestart: the pods must be recreated (sidecar injection
	// happens when a pod is created).
	RequiresRestart FixRequirement = "restart"
	// RequiresCertificates: the caller must mount Istio's certificates and
	// present them (e.g. Prometheus scraping with TLS).
	RequiresCertificates FixRequirement = "certificates"
	// RequiresCNI: the istio-cni node agent on the pod's node must enrol
	// the pod in ambient (it redirects running pods and annotates them
	// ambient.istio.io/redirection=enabled).
	RequiresCNI FixRequirement = "cni"
)

// FixRequirements lists every FixRequirement value.
var FixRequirements = []FixRequirement{RequiresRestart, RequiresCertificates, RequiresCNI}

// DiffChange says how an overlay changes a request's outcome.
type DiffChange string

const (
	DiffBreaks  DiffChange = "breaks"  // reached before, fails after
	DiffFixes   DiffChange = "fixes"   // failed before, reaches after
	DiffChanges DiffChange = "changes" // same side of reach/fail, another verdict, TLS, reasons or symptom
	DiffAdded   DiffChange = "added"   // only with the overlay
	DiffRemoved DiffChange = "removed" // only without the overlay
)

// DiffChangeValues lists every DiffChange value, in the order a diff groups them.
var DiffChangeValues = []DiffChange{DiffBreaks, DiffFixes, DiffChanges, DiffAdded, DiffRemoved}
