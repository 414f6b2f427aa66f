package snapshot

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The Prometheus-operator kinds --scrape reads (monitoring.coreos.com/v1),
// reduced to the fields that decide which address Prometheus dials
// (prometheus-operator pkg/apis/monitoring/v1 podmonitor_types.go and
// servicemonitor_types.go, v0.8x). They are optional: the API server may
// not serve them, and the root module does not depend on the operator, so
// both readers decode them from JSON into these types.

// Monitor is a monitoring.coreos.com/v1 PodMonitor or ServiceMonitor:
// Snapshot.PodMonitors and Snapshot.ServiceMonitors say which.
type Monitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              MonitorSpec `json:"spec"`
}

// MonitorSpec selects pods (PodMonitor) or Services (ServiceMonitor) and
// says how to scrape them: podMetricsEndpoints for a PodMonitor, endpoints
// for a ServiceMonitor.
type MonitorSpec struct {
	Selector            metav1.LabelSelector     `json:"selector"`
	NamespaceSelector   MonitorNamespaceSelector `json:"namespaceSelector,omitempty"`
	PodMetricsEndpoints []MonitorEndpoint        `json:"podMetricsEndpoints,omitempty"`
	Endpoints           []MonitorEndpoint        `json:"endpoints,omitempty"`
}

// MonitorNamespaceSelector: Any selects every namespace, MatchNames those
// listed; neither means the monitor's own namespace.
type MonitorNamespaceSelector struct {
	Any        bool     `json:"any,omitempty"`
	MatchNames []string `json:"matchNames,omitempty"`
}

// MonitorEndpoint is a PodMonitor podMetricsEndpoints[] or a ServiceMonitor
// endpoints[] entry. Port names a pod container port (PodMonitor) or a
// Service port (ServiceMonitor); PortNumber (PodMonitor only) a container
// port number; TargetPort a container port by name or number.
type MonitorEndpoint struct {
	Port       string              `json:"port,omitempty"`
	PortNumber int32               `json:"portNumber,omitempty"`
	TargetPort *intstr.IntOrString `json:"targetPort,omitempty"`
	Path       string              `json:"path,omitempty"`
	Scheme     string              `json:"scheme,omitempty"`
}
