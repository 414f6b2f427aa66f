package explain

// The Report is the JSON/YAML contract of DESIGN.md §3. Field names are a
// contract read by other tools: add fields, never rename them.

const (
	APIVersion = "podreach.dev/v1alpha1"
	Kind       = "Reachability"
)

// Verdicts (DESIGN.md §3).
const (
	VerdictReaches      = "reaches-destination" // lands on DST (the pod) itself
	VerdictLoadBalanced = "load-balanced"       // lands on some endpoint of a Service that includes DST
	VerdictFails        = "fails"               // dropped, rejected, unresolvable or delivered elsewhere
)

// Balancing values.
const (
	BalancingPerRequest    = "per-request"    // Envoy HCM + EDS cluster: every HTTP request picks an endpoint
	BalancingPerConnection = "per-connection" // tcp_proxy + EDS, or kube-proxy: one pick per TCP connection
	BalancingNone          = "none"           // ORIGINAL_DST / direct: goes to the dialed IP
)

// TLS values: what leaves the SRC proxy (or the app, without a proxy) toward the endpoint.
const (
	TLSMutual    = "mtls"      // Istio mTLS (ISTIO_MUTUAL / auto-mTLS)
	TLSSimple    = "tls"       // other TLS (DestinationRule SIMPLE/MUTUAL)
	TLSPlaintext = "plaintext" // the app's own bytes
	TLSNone      = "none"      // nothing leaves (BlackHole, direct response, no DNS answer)
)

type Report struct {
	APIVersion  string        `json:"apiVersion"`
	Kind        string        `json:"kind"`
	Source      Workload      `json:"source"`
	Destination *Workload     `json:"destination,omitempty"`
	Target      *Target       `json:"target,omitempty"` // set for the URL form
	Mesh        Mesh          `json:"mesh"`
	Ports       []PortSummary `json:"ports,omitempty"` // matrix form: one entry per destination port examined
	Requests    []Request     `json:"requests"`
	Summary     Summary       `json:"summary"`
	Warnings    []string      `json:"warnings,omitempty"`
}

// Workload describes SRC or DST.
type Workload struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	IP        string `json:"ip,omitempty"`
	// Dataplane: sidecar | ambient | none
	Dataplane    string `json:"dataplane"`
	IstioVersion string `json:"istioVersion,omitempty"` // from the istio-proxy image tag
	HostNetwork  bool   `json:"hostNetwork,omitempty"`
	// ChosenFrom is set when the pod was picked from a workload (deploy/NAME ...).
	ChosenFrom string `json:"chosenFrom,omitempty"`
	// PeerAuthentication summarises the effective server-side mTLS policy (DST only).
	PeerAuthentication string `json:"peerAuthentication,omitempty"`
	// Sidecar names the Sidecar resource scoping this proxy (SRC only).
	Sidecar string `json:"sidecar,omitempty"`
	// OutboundTrafficPolicy in force for this proxy (SRC only).
	OutboundTrafficPolicy string `json:"outboundTrafficPolicy,omitempty"`
}

// Target is the URL form's input as parsed.
type Target struct {
	URL    string `json:"url"`
	Scheme string `json:"scheme"` // http | https | tcp
	Host   string `json:"host"`   // Host header override, if any
}

type Mesh struct {
	OutboundTrafficPolicy string `json:"outboundTrafficPolicy"`
	RootNamespace         string `json:"rootNamespace"`
	ClusterDomain         string `json:"clusterDomain"`
	EnableAutoMtls        bool   `json:"enableAutoMtls"`
	IstioVersion          string `json:"istioVersion,omitempty"` // the version the model assumed
	ConfigMap             string `json:"configMap,omitempty"`
}

// PortSummary describes one destination (pod) port of the matrix.
type PortSummary struct {
	Port     int32  `json:"port"`
	Name     string `json:"name,omitempty"`
	Protocol string `json:"protocol"` // Istio's protocol on the DST side (inbound)
	// Sources says why the port is examined: "Service demo/web port http", "containerPort", "--port".
	Sources []string `json:"sources,omitempty"`
}

type Request struct {
	Address string `json:"address"` // what the app dials (hostname or IP)
	Port    int32  `json:"port"`
	Host    string `json:"host"`           // Host header sent (HTTP); "" for TCP
	Path    string `json:"path,omitempty"` // HTTP path (URL form)
	// Protocol is Istio's protocol for that port on the path taken.
	Protocol string `json:"protocol"`
	// Traffic is what the app sends: http | tcp.
	Traffic string `json:"traffic"`
	// Form classifies the address: service-short, service-namespaced, service-svc,
	// service-fqdn, service-fqdn-dot, cluster-ip, pod-hostname, pod-ip, external.
	Form string `json:"form,omitempty"`
	// Service is ns/name of the Service the address names, if any.
	Service string `json:"service,omitempty"`
	// DestinationPort is the DST pod port this row belongs to (matrix form).
	DestinationPort int32 `json:"destinationPort,omitempty"`

	ResolvedIPs []string `json:"resolvedIPs"`
	DialedIP    string   `json:"dialedIP,omitempty"`
	DNS         string   `json:"dns,omitempty"` // how the name resolved (or why not)

	// Captured is false when the SRC sidecar does not intercept this flow.
	Captured bool      `json:"captured"`
	Outbound *Outbound `json:"outbound,omitempty"`
	// KubeProxy describes the path when there is no SRC proxy in the way.
	KubeProxy string `json:"kubeProxy,omitempty"`

	TLS string `json:"tls"`
	// Upstream is where the connection lands.
	Upstream *Upstream `json:"upstream,omitempty"`
	Inbound  *Inbound  `json:"inbound,omitempty"`

	Balancing string   `json:"balancing"`
	Verdict   string   `json:"verdict"`
	Reaches   string   `json:"reaches"` // human: "web-0", "any of 3 pods", "—"
	Reasons   []Reason `json:"reasons,omitempty"`
	Symptom   string   `json:"symptom,omitempty"`
	Fixes     []Fix    `json:"fixes,omitempty"`
}

// Outbound is the SRC proxy's path, named exactly as Istio names it.
type Outbound struct {
	Listener    string `json:"listener"`              // 0.0.0.0_8080, 10.96.0.10_8080, 10.1.2.3_8080, virtualOutbound
	FilterChain string `json:"filterChain,omitempty"` // PassthroughFilterChain, virtualOutbound-catchall-tcp, ...
	RouteConfig string `json:"routeConfig"`           // "" for TCP paths
	VirtualHost string `json:"virtualHost"`           // or allow_any / block_all
	Route       string `json:"route,omitempty"`       // VirtualService route name, "default", allow_any, block_all
	Cluster     string `json:"cluster"`               // "" when Envoy answers itself
	// WeightedClusters is set when the route splits traffic.
	WeightedClusters []WeightedCluster `json:"weightedClusters,omitempty"`
	DirectResponse   int               `json:"directResponse,omitempty"` // e.g. 502 for block_all
	ClusterType      string            `json:"clusterType,omitempty"`    // EDS | ORIGINAL_DST | STATIC | STRICT_DNS
}

type WeightedCluster struct {
	Cluster string `json:"cluster"`
	Weight  int32  `json:"weight"`
}

// Upstream is the endpoint the connection reaches.
type Upstream struct {
	Pod  string `json:"pod,omitempty"` // ns/name of the pod at that IP, if known
	IP   string `json:"ip"`
	Port int32  `json:"port"`
	// Candidates is how many endpoints the balancer (or DNS) chooses among.
	Candidates int `json:"candidates,omitempty"`
}

// Inbound is the DST proxy's verdict (or the app's, without a sidecar).
type Inbound struct {
	Pod         string `json:"pod,omitempty"`
	Port        int32  `json:"port"`
	Captured    bool   `json:"captured"`              // false: no sidecar or port excluded
	Mode        string `json:"mode,omitempty"`        // effective PeerAuthentication mode for the port
	ModeSource  string `json:"modeSource,omitempty"`  // which PeerAuthentication decided it
	Protocol    string `json:"protocol,omitempty"`    // inbound protocol of the port
	FilterChain string `json:"filterChain,omitempty"` // 0.0.0.0_8080, virtualInbound, virtualInbound-catchall-http
	VirtualHost string `json:"virtualHost,omitempty"` // inbound|http|8080
	Cluster     string `json:"cluster,omitempty"`     // inbound|8080||, InboundPassthroughCluster
	Accepted    bool   `json:"accepted"`
	Error       string `json:"error,omitempty"` // no filter chains matched | protocol error | invalid mTLS
}

type Reason struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Fix is the smallest change that would make a failing request work.
type Fix struct {
	Object  string `json:"object"`          // "Service demo/web", "PeerAuthentication demo/default", "caller"
	Field   string `json:"field,omitempty"` // "spec.ports[0].name"
	Message string `json:"message"`
}

type Summary struct {
	Requests int `json:"requests"`
	Reaching int `json:"reaching"` // reaches-destination + load-balanced
	Failing  int `json:"failing"`
}
