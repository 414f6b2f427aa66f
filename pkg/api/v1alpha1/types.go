package v1alpha1

import (
	"encoding/json"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// TypeMeta is apiVersion and kind, in that order (metav1.TypeMeta puts kind
// first; the report has always printed apiVersion first).
type TypeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

// GetObjectKind makes the report a runtime.Object.
func (t *TypeMeta) GetObjectKind() schema.ObjectKind { return t }

// SetGroupVersionKind sets apiVersion and kind.
func (t *TypeMeta) SetGroupVersionKind(gvk schema.GroupVersionKind) {
	t.APIVersion, t.Kind = gvk.ToAPIVersionAndKind()
}

// GroupVersionKind reads apiVersion and kind.
func (t *TypeMeta) GroupVersionKind() schema.GroupVersionKind {
	return schema.FromAPIVersionAndKind(t.APIVersion, t.Kind)
}

// Reachability answers `kubectl podreach SRC DST`: every request examined,
// each with its path stage by stage, its verdict, reasons and fixes.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type Reachability struct {
	TypeMeta    `json:",inline"`
	Source      Workload      `json:"source"`
	Destination *Workload     `json:"destination,omitempty"`
	Target      *Target       `json:"target,omitempty"` // set for the URL form
	Mesh        Mesh          `json:"mesh"`
	Ports       []PortSummary `json:"ports,omitempty"` // matrix form: one entry per destination port examined
	Requests    []Request     `json:"requests"`
	Summary     Summary       `json:"summary"`
	Warnings    []string      `json:"warnings,omitempty"`
}

var _ runtime.Object = &Reachability{}

// Workload describes SRC or DST.
type Workload struct {
	Namespace    string    `json:"namespace"`
	Name         string    `json:"name"`
	IP           string    `json:"ip,omitempty"`
	Dataplane    Dataplane `json:"dataplane"`
	IstioVersion string    `json:"istioVersion,omitempty"` // from the istio-proxy image tag
	HostNetwork  bool      `json:"hostNetwork,omitempty"`
	// ChosenFrom is set when the pod was picked from a workload (deploy/NAME ...).
	ChosenFrom string `json:"chosenFrom,omitempty"`
	// PeerAuthentication summarises the effective server-side mTLS policy (DST only).
	PeerAuthentication string `json:"peerAuthentication,omitempty"`
	// PeerAuthenticationRef is the policy that decides the workload's mode (DST only; none: PERMISSIVE by default).
	PeerAuthenticationRef *ObjectRef `json:"peerAuthenticationRef,omitempty"`
	// AuthorizationPolicies are NS/NAME of the policies in force on the
	// workload (DST only): its sidecar's, or those istiod sends its ztunnel
	// (ambient: no targetRefs, CUSTOM, AUDIT or dry-run ones).
	AuthorizationPolicies []string `json:"authorizationPolicies,omitempty"`
	// Sidecar names the Sidecar resource scoping this proxy (SRC only), NS/NAME.
	Sidecar string `json:"sidecar,omitempty"`
	// OutboundTrafficPolicy in force for this proxy (SRC only).
	OutboundTrafficPolicy OutboundPolicy `json:"outboundTrafficPolicy,omitempty"`
	// Revision is the control-plane revision serving this proxy (the
	// injector's sidecar.istio.io/status, else the pod's or namespace's
	// istio.io/rev label).
	Revision string `json:"revision,omitempty"`
	// ControlPlane is NS/NAME of the istiod pod of that revision, when read.
	ControlPlane string `json:"controlPlane,omitempty"`
	// DNSCapture is true when the proxy's agent answers the pod's DNS
	// queries (ISTIO_META_DNS_CAPTURE).
	DNSCapture bool `json:"dnsCapture,omitempty"`
	// Ambient is set for pods selected for ambient mode or redirected by it.
	Ambient *WorkloadAmbient `json:"ambient,omitempty"`
}

// Target is the URL form's input as parsed.
type Target struct {
	URL    string `json:"url"`
	Scheme string `json:"scheme"` // http | https | grpc | tcp | auto
	Host   string `json:"host"`   // Host header override, if any
	// Origins say where --scrape found this URL: "annotations", "annotations
	// (Istio metrics merging, app :9090/metrics)", "PodMonitor NS/NAME
	// endpoint I", "ServiceMonitor NS/NAME endpoint I".
	Origins []string `json:"origins,omitempty"`
}

// Mesh is the mesh-wide configuration the answer assumed.
type Mesh struct {
	OutboundTrafficPolicy OutboundPolicy `json:"outboundTrafficPolicy"`
	RootNamespace         string         `json:"rootNamespace"`
	ClusterDomain         string         `json:"clusterDomain"`
	EnableAutoMtls        bool           `json:"enableAutoMtls"`
	IstioVersion          string         `json:"istioVersion,omitempty"` // the version the model assumed
	ConfigMap             string         `json:"configMap,omitempty"`
	// ControlPlane is NS/NAME of the istiod pod whose configuration the
	// answer assumes SRC's proxy received ("" when none was read).
	ControlPlane string `json:"controlPlane,omitempty"`
	// Revision is the control-plane revision serving SRC's proxy.
	Revision string `json:"revision,omitempty"`
	// ControlPlanes are the istiod pods read.
	ControlPlanes []ControlPlane `json:"controlPlanes,omitempty"`
	// VerifiedVersions are the Istio minors the model is checked against
	// with Istio's own code (the differential suite).
	VerifiedVersions []string `json:"verifiedVersions,omitempty"`
}

// ControlPlane is one istiod pod.
type ControlPlane struct {
	Pod      string `json:"pod"`               // NS/NAME
	Revision string `json:"revision"`          // its istio.io/rev label, "default" when unlabelled
	Version  string `json:"version,omitempty"` // its discovery image tag
	// Flags are the istiod environment variables the model depends on, as
	// the pod spec sets them ("NAME=VALUE", sorted; defaults are not listed).
	Flags []string `json:"flags,omitempty"`
}

// PortSummary describes one destination (pod) port of the matrix.
type PortSummary struct {
	Port     int32    `json:"port"`
	Name     string   `json:"name,omitempty"`
	Protocol Protocol `json:"protocol"` // Istio's protocol on the DST side (inbound)
	// Sources says why the port is examined: "Service demo/web port http", "containerPort", "--port".
	Sources []string `json:"sources,omitempty"`
}

// Request is one (address, port) the application could dial, followed
// through the data path.
type Request struct {
	Address string `json:"address"` // what the app dials (hostname or IP)
	Port    int32  `json:"port"`
	Host    string `json:"host"`           // Host header sent (HTTP); "" for TCP
	Path    string `json:"path,omitempty"` // HTTP path (URL form)
	// Method is the HTTP method the app sends (HTTP only; GET unless --method).
	Method string `json:"method,omitempty"`
	// Protocol is Istio's protocol for that port on the path taken.
	Protocol Protocol `json:"protocol"`
	// Traffic is what the app sends.
	Traffic Traffic `json:"traffic"`
	// Form classifies the address.
	Form AddressForm `json:"form,omitempty"`
	// Service is NS/NAME of the Service the address names, if any.
	Service string `json:"service,omitempty"`
	// DestinationPort is the DST pod port this row belongs to (matrix form).
	DestinationPort int32 `json:"destinationPort,omitempty"`

	ResolvedIPs []string `json:"resolvedIPs"`
	DialedIP    string   `json:"dialedIP,omitempty"`
	DNS         string   `json:"dns,omitempty"` // how the name resolved (or why not)
	// DNSSource is who answered the name: cluster DNS, or the SRC proxy's
	// DNS proxy from istiod's name table.
	DNSSource DNSSource `json:"dnsSource,omitempty"`

	// Captured is false when the SRC sidecar does not intercept this flow.
	Captured bool      `json:"captured"`
	Outbound *Outbound `json:"outbound,omitempty"`
	// KubeProxy describes the path when there is no SRC proxy in the way.
	KubeProxy string `json:"kubeProxy,omitempty"`

	TLS TLS `json:"tls"`
	// Upstream is where the connection lands.
	Upstream *Upstream `json:"upstream,omitempty"`
	Inbound  *Inbound  `json:"inbound,omitempty"`
	// Ambient is set when a ztunnel or a waypoint is on the path.
	Ambient *RequestAmbient `json:"ambient,omitempty"`

	Balancing Balancing `json:"balancing"`
	Verdict   Verdict   `json:"verdict"`
	// Reaches is for people: "web-0", "any of 3 pods", "—". Scripts read
	// ReachesTarget.
	Reaches       string   `json:"reaches"`
	ReachesTarget *Reaches `json:"reachesTarget,omitempty"`
	// Steps is the data path stage by stage, in order; reasons, -o wide,
	// -o dot and the table's why: lines are all drawn from it.
	Steps   []Step   `json:"steps"`
	Reasons []Reason `json:"reasons,omitempty"`
	Symptom string   `json:"symptom,omitempty"`
	Fixes   []Fix    `json:"fixes,omitempty"`
}

// Reaches is the structured form of Request.Reaches.
type Reaches struct {
	Kind ReachesKind `json:"kind"`
	// Pod is NS/NAME of the pod reached (kind pod), or of the one endpoint.
	Pod string `json:"pod,omitempty"`
	// IP is the address reached when it is not a pod (kind ip).
	IP string `json:"ip,omitempty"`
	// Endpoints is how many endpoints the balancer or DNS chooses among (kind endpoints).
	Endpoints int `json:"endpoints,omitempty"`
	// Weight is the percentage of a weighted split that goes to the analysed destination.
	Weight int32 `json:"weight,omitempty"`
}

// Step is one stage of the data path as a request passes it.
type Step struct {
	Stage Stage `json:"stage"`
	// Proxy is who acts: "NS/NAME" of the pod whose proxy (or app) it is,
	// "dns" or "kube-proxy"; in ambient mode "ztunnel NODE" (the ztunnel of
	// that node) or the waypoint's "NS/NAME".
	Proxy string `json:"proxy,omitempty"`
	// Name is the object the stage picked, named as Istio/Envoy name it: a
	// listener, "ROUTECONFIG/VIRTUALHOST", a cluster, a filter chain; an
	// IP list for resolve; the TLS for clientTLS.
	Name string `json:"name,omitempty"`
	// Detail describes for people what happened at this stage (DNS, capture, kube-proxy).
	Detail string     `json:"detail,omitempty"`
	Result StepResult `json:"result"`
	// Reason says why, when the stage has something to say (always on fail).
	Reason *Reason `json:"reason,omitempty"`
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
	ClusterType      ClusterType       `json:"clusterType,omitempty"`
}

// WeightedCluster is one member of a weighted split.
type WeightedCluster struct {
	Cluster string `json:"cluster"`
	Weight  int32  `json:"weight"`
}

// Upstream is the endpoint the connection reaches.
type Upstream struct {
	Pod  string `json:"pod,omitempty"` // NS/NAME of the pod at that IP, if known
	IP   string `json:"ip"`
	Port int32  `json:"port"`
	// Candidates is how many endpoints the balancer (or DNS) chooses among.
	Candidates int `json:"candidates,omitempty"`
}

// Inbound is the DST proxy's verdict (or the app's, without a sidecar).
type Inbound struct {
	Pod         string `json:"pod,omitempty"`
	Port        int32  `json:"port"`
	Captured    bool   `json:"captured"`             // false: no sidecar or port excluded
	Mode        string `json:"mode,omitempty"`       // effective PeerAuthentication mode for the port (MTLSMode, or "not enforced (…)")
	ModeSource  string `json:"modeSource,omitempty"` // which PeerAuthentication decided it
	Protocol    string `json:"protocol,omitempty"`   // inbound protocol of the port (a Protocol, or "undeclared (passthrough)")
	FilterChain string `json:"filterChain,omitempty"`
	VirtualHost string `json:"virtualHost,omitempty"` // inbound|http|8080
	Cluster     string `json:"cluster,omitempty"`     // inbound|8080||, InboundPassthroughCluster
	Accepted    bool   `json:"accepted"`
	// Error is the text Istio's simulation and Envoy use for the rejection
	// (no filter chains matched | protocol error | invalid mTLS) or a
	// description of what the application receives.
	Error string `json:"error,omitempty"`
	// Rejection classifies Error.
	Rejection Rejection `json:"rejection,omitempty"`
	// Authorization is the DST sidecar's AuthorizationPolicy decision for a
	// request its filter chain accepted.
	Authorization *Authorization `json:"authorization,omitempty"`
}

// Authorization is what the destination's RBAC filters decide for a request
// (Istio's AuthorizationPolicy as istiod builds it and Envoy evaluates it:
// CUSTOM, then DENY, then ALLOW; AUDIT and dry-run policies never deny).
type Authorization struct {
	Decision AuthzDecision `json:"decision"`
	// Action is the action of the policy that decided (none when no policy applies).
	Action AuthzAction `json:"action,omitempty"`
	// Policy is NS/NAME of the policy that decided: the DENY that matched, the
	// ALLOW that matched, the CUSTOM in force; empty when no ALLOW matched.
	Policy string `json:"policy,omitempty"`
	// Rule is the index of the matching rule in Policy's rules.
	Rule *int `json:"rule,omitempty"`
	// Reason says why, for people.
	Reason string `json:"reason,omitempty"`
	// Provider is the CUSTOM action's extension provider that decides.
	Provider string `json:"provider,omitempty"`
	// Policies lists NS/NAME of every policy that applies to the workload.
	Policies []string `json:"policies,omitempty"`
	// Principal is the peer identity the request carries ("" for plaintext or non-Istio TLS).
	Principal string `json:"principal,omitempty"`
}

// Reason is why a stage did what it did. Message is rendered from the
// structured fields; tools key on Code and the fields, never on Message.
type Reason struct {
	Code    ReasonCode `json:"code"`
	Message string     `json:"message"`
	// Rule refines Code: which of its Istio rules applied.
	Rule Rule `json:"rule,omitempty"`
	// Object is the Kubernetes or Istio object the reason names.
	Object *ObjectRef `json:"object,omitempty"`
	// Port is the port the reason is about (the dialed port, the target port…).
	Port int32 `json:"port,omitempty"`
	// Mode is the mTLS mode: the server's PeerAuthentication mode
	// (STRICT|PERMISSIVE|DISABLE) or a DestinationRule's tls.mode.
	Mode string `json:"mode,omitempty"`
	// Host is the Host header or hostname the reason is about.
	Host string `json:"host,omitempty"`
	// Cluster is the Envoy cluster the reason is about.
	Cluster string `json:"cluster,omitempty"`
	// RouteConfig is the Envoy route configuration the reason is about.
	RouteConfig string `json:"routeConfig,omitempty"`
	// Pod is NS/NAME of the pod the reason is about.
	Pod string `json:"pod,omitempty"`
	// IP is the address the reason is about.
	IP string `json:"ip,omitempty"`
	// Status is an HTTP status Envoy answers itself (direct response).
	Status int `json:"status,omitempty"`
	// Listener is the Envoy listener the reason is about.
	Listener string `json:"listener,omitempty"`
	// Route is a VirtualService route name (HTTP) or the VirtualService NS/NAME (TCP).
	Route string `json:"route,omitempty"`
	// Path is the HTTP path the reason is about.
	Path string `json:"path,omitempty"`
	// Source says, for people, which policy and level decided Mode
	// ("PeerAuthentication demo/default (namespace)").
	Source string `json:"source,omitempty"`
	// Detail is a further explanation for people (DNS, capture); never parsed.
	Detail string `json:"detail,omitempty"`
	// Endpoints counts the endpoints the reason is about.
	Endpoints int `json:"endpoints,omitempty"`
}

// ObjectRef names an object as kind/namespace/name.
type ObjectRef struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// String is "Kind NS/NAME".
func (o ObjectRef) String() string {
	if o.Namespace == "" {
		return o.Kind + " " + o.Name
	}
	return o.Kind + " " + o.Namespace + "/" + o.Name
}

// Fix is the smallest change that would make a failing request work.
type Fix struct {
	Object  string `json:"object"`          // "Service demo/web", "PeerAuthentication demo/default", "caller"
	Field   string `json:"field,omitempty"` // "spec.ports[0].name"
	Message string `json:"message"`
	// For is the reason code the fix answers.
	For ReasonCode `json:"for,omitempty"`
	// Ref is the object to change, when it exists or is named.
	Ref *ObjectRef `json:"ref,omitempty"`
	// Patch is the change to an object: a JSON merge patch of an existing
	// one, or a whole new object (Create).
	Patch *Patch `json:"patch,omitempty"`
	// Also are further changes the fix needs together with Patch (every
	// one of them applied, e.g. the same port of two Services).
	Also []Patch `json:"also,omitempty"`
	// Dial is the change on the caller's side: what to dial instead.
	Dial *Dial `json:"dial,omitempty"`
	// Verified is true when podreach applied Patch (and Dial) to the
	// snapshot, rebuilt the model, re-traced the request and it then
	// reaches its destination. Only verified fixes are reported, except a
	// fix that requires certificates (RequiresCertificates: the caller
	// presenting Istio's certificates itself), which the model cannot
	// trace: it is reported with Verified false.
	Verified bool `json:"verified"`
	// Requires lists what the change needs beyond the patch that the
	// model cannot see (a restart to re-inject, certificates to mount).
	Requires []FixRequirement `json:"requires,omitempty"`
}

// Patch is one object to change (kubectl patch --type merge) or create
// (kubectl apply -f).
type Patch struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
	// Create is true when the object does not exist: MergePatch is then the
	// whole object.
	Create bool `json:"create,omitempty"`
	// MergePatch is an RFC 7386 JSON merge patch of the object (lists are
	// replaced whole), or the object itself when Create.
	MergePatch json.RawMessage `json:"mergePatch"`
}

// Dial is an address (and port, and Host header for HTTP) for the caller to
// dial instead.
type Dial struct {
	Address string `json:"address"`
	Port    int32  `json:"port"`
	Host    string `json:"host,omitempty"`
	// Path is the HTTP path to request (a scrape path), when it changes.
	Path string `json:"path,omitempty"`
}

// Summary counts the requests by outcome.
type Summary struct {
	Requests int `json:"requests"`
	Reaching int `json:"reaching"` // reaches-destination + load-balanced
	Failing  int `json:"failing"`
}

// ReachabilityDiff answers `kubectl podreach … --with FILE --diff`: the
// requests whose outcome differs between the cluster as read and the
// cluster with the overlay.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type ReachabilityDiff struct {
	TypeMeta `json:",inline"`
	// With names the overlay inputs (--with).
	With []string `json:"with,omitempty"`
	// Items are the changed requests, grouped by Change, then in the order
	// they were examined.
	Items   []DiffItem  `json:"items"`
	Summary DiffSummary `json:"summary"`
}

var _ runtime.Object = &ReachabilityDiff{}

// DiffItem is one request whose outcome the overlay changes. A request is
// the same before and after when source, destination, address, port and
// Host header are.
type DiffItem struct {
	Source      string     `json:"source"`                // NS/NAME
	Destination string     `json:"destination,omitempty"` // NS/NAME (pod DST) or the URL
	Address     string     `json:"address"`
	Port        int32      `json:"port"`
	Host        string     `json:"host,omitempty"`
	Change      DiffChange `json:"change"`
	// Before is absent for a request that only exists with the overlay.
	Before *Outcome `json:"before,omitempty"`
	// After is absent for a request that no longer exists with the overlay.
	After *Outcome `json:"after,omitempty"`
}

// Outcome is what a request comes to: the part of a Request a diff compares.
type Outcome struct {
	Verdict Verdict      `json:"verdict"`
	TLS     TLS          `json:"tls"`
	Reasons []ReasonCode `json:"reasons,omitempty"`
	Symptom string       `json:"symptom,omitempty"`
	Reaches string       `json:"reaches"`
}

// DiffSummary counts the compared and changed requests.
type DiffSummary struct {
	Compared int `json:"compared"` // requests examined before or after
	Changed  int `json:"changed"`
	Breaks   int `json:"breaks"` // reached before, fail after (or are gone: removed rows that reached)
	Fixes    int `json:"fixes"`  // failed before, reach after
}

// ReachabilityList answers the fleet forms of `kubectl podreach` (SRC -l
// SELECTOR, SRC -A, SRC DST1 DST2 …, --peers WORKLOAD): one Reachability per
// (SRC, DST) pair, each equal to the report of `kubectl podreach SRC DST`
// for that pair, and a summary that groups the requests by outcome.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type ReachabilityList struct {
	TypeMeta `json:",inline"`
	// Items are the pairs examined, in order: by source, then destination
	// (namespace, name).
	Items   []Reachability `json:"items"`
	Summary ListSummary    `json:"summary"`
	// Warnings are the items' warnings once each, and what the fleet form
	// left out (SRC among the destinations, pods without an IP, pods
	// without a port to examine).
	Warnings []string `json:"warnings,omitempty"`
}

var _ runtime.Object = &ReachabilityList{}

// ListSummary counts the pairs and requests of a ReachabilityList by
// outcome and groups the requests that share one.
type ListSummary struct {
	Pairs    int `json:"pairs"`
	Requests int `json:"requests"`
	Reaching int `json:"reaching"`
	Failing  int `json:"failing"`
	// Groups partition the requests by port × address form × verdict ×
	// primary reason code: failing groups first, then by port, form (in
	// AddressForms order), verdict and reason.
	Groups []RequestGroup `json:"groups"`
}

// RequestGroup is every request of a list that shares port, address form,
// verdict and primary reason code.
type RequestGroup struct {
	// Port is the port the app dials (Request.port).
	Port int32 `json:"port"`
	// DestinationPort is the destination pod port (Request.destinationPort)
	// when every request of the group has the same one.
	DestinationPort int32       `json:"destinationPort,omitempty"`
	Form            AddressForm `json:"form,omitempty"`
	Verdict         Verdict     `json:"verdict"`
	// Reason is the primary reason code: the reason of the first failing
	// step of a failing request, else the first reason of the request;
	// absent when the request has none.
	Reason ReasonCode `json:"reason,omitempty"`
	Count  int        `json:"count"`
	// Pairs is how many (SRC, DST) pairs have a request in the group.
	Pairs int `json:"pairs"`
	// Examples are up to three pairs of the group, "SRC→DST" as NS/NAME→NS/NAME.
	Examples []string `json:"examples"`
	// Representative is the group's first request: items[item].requests[request].
	Representative RequestIndex `json:"representative"`
}

// RequestIndex points at one request of a ReachabilityList.
type RequestIndex struct {
	Item    int `json:"item"`
	Request int `json:"request"`
}
