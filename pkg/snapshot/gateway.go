package snapshot

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Gateway is a gateway.networking.k8s.io/v1 Gateway reduced to what
// istiod's ambient index reads of a waypoint
// (pilot/pkg/serviceregistry/ambient/waypoints.go gatewayToWaypointTransform,
// makeAllowedRoutes, getGatewayAddress, Istio 1.31): its class, its
// listeners' ports, protocols and allowed route namespaces, its status
// addresses. The kind is optional: the API server may not serve it, and the
// root module does not depend on the Gateway API package, so both readers
// decode it from JSON into this type.
type Gateway struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              GatewaySpec   `json:"spec"`
	Status            GatewayStatus `json:"status,omitempty"`
}

// GatewaySpec is the part of a Gateway's spec a waypoint depends on.
type GatewaySpec struct {
	GatewayClassName string            `json:"gatewayClassName"`
	Listeners        []GatewayListener `json:"listeners,omitempty"`
}

// GatewayListener is one listener of a Gateway.
type GatewayListener struct {
	Name          string                `json:"name,omitempty"`
	Port          int32                 `json:"port"`
	Protocol      string                `json:"protocol"`
	AllowedRoutes *GatewayAllowedRoutes `json:"allowedRoutes,omitempty"`
}

// GatewayAllowedRoutes says which namespaces may attach to a listener.
type GatewayAllowedRoutes struct {
	Namespaces *GatewayRouteNamespaces `json:"namespaces,omitempty"`
}

// GatewayRouteNamespaces: From is All, Same (the default) or Selector.
type GatewayRouteNamespaces struct {
	From     string                `json:"from,omitempty"`
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
}

// GatewayStatus carries the addresses the controller assigned; istiod
// ignores a Gateway without any (not ready).
type GatewayStatus struct {
	Addresses []GatewayStatusAddress `json:"addresses,omitempty"`
}

// GatewayStatusAddress is one status address: Type Hostname or IPAddress.
type GatewayStatusAddress struct {
	Type  string `json:"type,omitempty"`
	Value string `json:"value"`
}
