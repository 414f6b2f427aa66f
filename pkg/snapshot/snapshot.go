// Package snapshot holds the plain data that pkg/inspect reads from a cluster
// (or from files) and pkg/explain reasons about. It imports API types only:
// no clients, no I/O, so explain stays a pure function of a Snapshot.
package snapshot

import (
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
)

// Snapshot is everything explain may look at. Older Istio API versions
// (v1beta1, v1alpha3) are converted to v1 by the readers: the spec messages
// are the same protobuf types in every version.
type Snapshot struct {
	Namespaces     []corev1.Namespace
	Pods           []corev1.Pod
	Services       []corev1.Service
	EndpointSlices []discoveryv1.EndpointSlice

	// Mesh is the parsed `mesh` key of the istio ConfigMap (defaults when absent).
	Mesh MeshConfig

	// ControlPlane holds the istiod pods (label app=istiod) of the mesh
	// namespace and of the namespaces SRC's and DST's proxies connect to
	// (their discoveryAddress): their image tags, istio.io/rev labels and
	// PILOT_* environment say which control plane generated the proxies'
	// configuration and how.
	ControlPlane []corev1.Pod
	// Ztunnels are the ztunnel pods (app=ztunnel) of the mesh namespace,
	// read when SRC or DST is selected for ambient mode.
	Ztunnels []corev1.Pod
	// Gateways are the gateway.networking.k8s.io Gateways (ambient
	// waypoints are Gateways of class istio-waypoint).
	Gateways []Gateway

	PeerAuthentications   []*securityv1.PeerAuthentication
	AuthorizationPolicies []*securityv1.AuthorizationPolicy
	DestinationRules      []*networkingv1.DestinationRule
	VirtualServices       []*networkingv1.VirtualService
	Sidecars              []*networkingv1.Sidecar
	ServiceEntries        []*networkingv1.ServiceEntry

	// PodMonitors and ServiceMonitors (monitoring.coreos.com/v1) are read
	// for --scrape only (monitor.go).
	PodMonitors     []Monitor
	ServiceMonitors []Monitor

	// Unread lists what could not be read and why (forbidden, CRD absent, ...).
	// explain turns each into a warning in the report.
	Unread []Unread

	// Origin says where the data came from ("file examples/x.yaml", "context kind-demo").
	Origin string
}

// Unread records a read that failed without failing the run.
type Unread struct {
	Resource  string `json:"resource"`            // e.g. "peerauthentications.security.istio.io"
	Namespace string `json:"namespace,omitempty"` // "" = cluster-wide
	Reason    string `json:"reason"`              // e.g. "forbidden", "not installed"
	// Cause classifies Reason.
	Cause UnreadCause `json:"cause,omitempty"`
}

// ExtensionProvider is one meshConfig.extensionProviders entry.
type ExtensionProvider struct {
	Kind    string `json:"kind"`              // envoyExtAuthzHttp, envoyExtAuthzGrpc, ...
	Service string `json:"service,omitempty"` // the provider's service host
}

// UnreadCause classifies why a read failed.
type UnreadCause string

const (
	UnreadForbidden    UnreadCause = "forbidden"     // RBAC refused it (a cluster-wide list is retried per namespace)
	UnreadNotInstalled UnreadCause = "not-installed" // the kind (CRD) does not exist: there are none
	UnreadOther        UnreadCause = "other"         // any other failure
)

// MeshConfig is the subset of Istio's MeshConfig (istio.io/api mesh/v1alpha1
// config.proto) that changes the data path. Zero values are not defaults:
// use DefaultMeshConfig and overlay what the ConfigMap says.
type MeshConfig struct {
	// Found is true when an istio mesh ConfigMap was read.
	Found bool `json:"found"`
	// ConfigMap is "namespace/name" of the ConfigMap that was used.
	ConfigMap string `json:"configMap,omitempty"`

	OutboundTrafficPolicy string `json:"outboundTrafficPolicy"` // ALLOW_ANY | REGISTRY_ONLY | ALLOW_ANY_DYNAMIC_DNS
	RootNamespace         string `json:"rootNamespace"`
	TrustDomain           string `json:"trustDomain"`
	// TrustDomainAliases are meshConfig.trustDomainAliases: identities of
	// these trust domains count as the mesh's own in AuthorizationPolicies.
	TrustDomainAliases []string `json:"trustDomainAliases,omitempty"`
	// ExtensionProviders are meshConfig.extensionProviders by name (the
	// CUSTOM authorization providers).
	ExtensionProviders map[string]ExtensionProvider `json:"extensionProviders,omitempty"`
	EnableAutoMtls     bool                         `json:"enableAutoMtls"`
	// InboundTrafficPolicy: PASSTHROUGH | LOCALHOST
	InboundTrafficPolicy string `json:"inboundTrafficPolicy,omitempty"`

	DefaultServiceExportTo         []string `json:"defaultServiceExportTo,omitempty"`
	DefaultVirtualServiceExportTo  []string `json:"defaultVirtualServiceExportTo,omitempty"`
	DefaultDestinationRuleExportTo []string `json:"defaultDestinationRuleExportTo,omitempty"`

	// ProxyMetadata is meshConfig.defaultConfig.proxyMetadata: the
	// injector renders it (overlaid by a pod's proxy.istio.io/config
	// annotation) as the istio-proxy container's environment, e.g.
	// ISTIO_META_DNS_CAPTURE.
	ProxyMetadata map[string]string `json:"proxyMetadata,omitempty"`
}

// DefaultMeshConfig mirrors pkg/config/mesh/mesh.go DefaultMeshConfig (Istio 1.31)
// for the fields above.
func DefaultMeshConfig() MeshConfig {
	return MeshConfig{
		OutboundTrafficPolicy:          "ALLOW_ANY",
		RootNamespace:                  "istio-system",
		TrustDomain:                    "cluster.local",
		EnableAutoMtls:                 true,
		InboundTrafficPolicy:           "PASSTHROUGH",
		DefaultServiceExportTo:         []string{"*"},
		DefaultVirtualServiceExportTo:  []string{"*"},
		DefaultDestinationRuleExportTo: []string{"*"},
	}
}

// PodKey names a pod that the reader already resolved from SRC or DST.
type PodKey struct {
	Namespace string
	Name      string
	// ChosenFrom is a note such as "deploy/web: 1 of 3 ready pods" when the
	// pod was picked from a workload reference.
	ChosenFrom string
}

func (k PodKey) String() string { return k.Namespace + "/" + k.Name }
