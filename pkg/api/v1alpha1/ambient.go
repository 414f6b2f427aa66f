package v1alpha1

// Ambient mode (ztunnel and waypoints): the fields the report adds for pods
// in ambient mode and for requests that a ztunnel or a waypoint carries.
// docs/MODEL.md#ambient describes the rules and their Istio sources.

// WorkloadAmbient is what istiod tells ztunnel about a pod
// (pilot/pkg/serviceregistry/ambient workloads.go podWorkloadBuilder) and
// what the CNI node agent did with it.
type WorkloadAmbient struct {
	// Selected is true when the pod or its namespace asks for ambient
	// (istio.io/dataplane-mode=ambient, no opt-out, no sidecar, not hostNetwork).
	Selected bool `json:"selected"`
	// Redirection is the CNI's observed state (ambient.istio.io/redirection).
	Redirection Redirection `json:"redirection"`
	// Waypoint is NS/NAME of the waypoint the workload uses (istiod's
	// Workload.waypoint: use-waypoint on the pod or its namespace, to a
	// waypoint for workload or all traffic); "" none.
	Waypoint string `json:"waypoint,omitempty"`
	// WaypointUnknown is true when the Gateways could not be read: Waypoint
	// is then not known.
	WaypointUnknown bool `json:"waypointUnknown,omitempty"`
	// TunnelProtocol is istiod's Workload.tunnel_protocol (workloads.go setTunnelProtocol).
	TunnelProtocol TunnelProtocol `json:"tunnelProtocol"`
	// Identity is the workload's SPIFFE identity.
	Identity string `json:"identity,omitempty"`
	// Ztunnel is NS/NAME of the ztunnel pod on the pod's node, when read.
	Ztunnel string `json:"ztunnel,omitempty"`
	// ZtunnelVersion is that ztunnel's image tag.
	ZtunnelVersion string `json:"ztunnelVersion,omitempty"`
}

// Redirection is the ambient enrolment state the CNI node agent records on
// a pod (annotation ambient.istio.io/redirection, cni/pkg/util/podutil.go).
type Redirection string

const (
	RedirectionEnabled Redirection = "enabled" // selected and annotated: ztunnel carries its traffic
	RedirectionPending Redirection = "pending" // selected, not annotated: the CNI has not enrolled it (yet)
	RedirectionStale   Redirection = "stale"   // annotated but no longer selected: still redirected until the CNI removes it
	RedirectionNone    Redirection = "none"    // neither selected nor annotated
)

// Redirections lists every Redirection.
var Redirections = []Redirection{RedirectionEnabled, RedirectionPending, RedirectionStale, RedirectionNone}

// TunnelProtocol is istiod's workloadapi.TunnelProtocol for a workload.
type TunnelProtocol string

const (
	TunnelHBONE TunnelProtocol = "HBONE" // accepts HBONE (port 15008): redirected by ztunnel, or a sidecar with networking.istio.io/tunnel=http
	TunnelNone  TunnelProtocol = "NONE"  // plain TCP to the workload's own port
)

// TunnelProtocols lists every TunnelProtocol.
var TunnelProtocols = []TunnelProtocol{TunnelHBONE, TunnelNone}

// RequestAmbient is how ztunnel (and a waypoint) carry one request.
type RequestAmbient struct {
	// Path is how the source side sends it (ztunnel src/proxy/outbound.rs build_request).
	// Empty when ztunnel sends nothing (the Service has no healthy
	// endpoint for the port: NoHealthyUpstream).
	Path AmbientPath `json:"path,omitempty"`
	// Waypoint is NS/NAME of the waypoint the request goes through; "" none.
	Waypoint string `json:"waypoint,omitempty"`
	// WaypointUnknown is true when the Gateways could not be read.
	WaypointUnknown bool `json:"waypointUnknown,omitempty"`
	// ServiceWaypoint is NS/NAME of the waypoint istiod attaches to the
	// Service addressed (Service VIP forms only); "" none.
	ServiceWaypoint string `json:"serviceWaypoint,omitempty"`
	// BypassedWaypoint is NS/NAME of a service waypoint this request does
	// not use: it was addressed by pod IP or per-pod name, or it comes from
	// a sidecar (which sends straight to the workload).
	BypassedWaypoint string `json:"bypassedWaypoint,omitempty"`
	// WaypointRoute is the waypoint's route for the request ("default": the
	// Service's own route).
	WaypointRoute string `json:"waypointRoute,omitempty"`
	// WaypointCluster is the waypoint's cluster for the request
	// (inbound-vip|PORT|http|HOST or inbound-vip|PORT|tcp|HOST).
	WaypointCluster string `json:"waypointCluster,omitempty"`
	// WaypointAuthorization is the waypoint's authorization (policies with
	// targetRefs to the waypoint Gateway or to the Service).
	WaypointAuthorization *Authorization `json:"waypointAuthorization,omitempty"`
}

// AmbientPath is how ztunnel (or an interop sidecar) sends a request.
type AmbientPath string

const (
	AmbientPathHBONE       AmbientPath = "hbone"        // HBONE straight to the destination pod (its ztunnel or a tunnel-capable sidecar)
	AmbientPathWaypoint    AmbientPath = "waypoint"     // HBONE to a waypoint
	AmbientPathPassthrough AmbientPath = "passthrough"  // ztunnel knows no workload or service at the address: plain TCP to it
	AmbientPathTCP         AmbientPath = "tcp"          // plain TCP to a known workload that does not accept HBONE
	AmbientPathInboundOnly AmbientPath = "inbound-only" // the source is not in ztunnel; the destination's ztunnel takes the connection in
)

// AmbientPaths lists every AmbientPath.
var AmbientPaths = []AmbientPath{AmbientPathHBONE, AmbientPathWaypoint, AmbientPathPassthrough, AmbientPathTCP, AmbientPathInboundOnly}
