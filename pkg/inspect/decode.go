package inspect

import (
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	discoveryv1beta1 "k8s.io/api/discovery/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/podreach/kubectl-podreach/pkg/snapshot"
)

// world accumulates the objects of a -f input.
type world struct {
	snap snapshot.Snapshot
	// endpoints become EndpointSlices once all input is read (only for
	// Services that have no EndpointSlice of their own).
	endpoints []corev1.Endpoints
	// configMaps holds the candidates for the mesh ConfigMap.
	configMaps []corev1.ConfigMap
	// objects counts every object, used kind or not, to tell an empty input.
	objects int
	// ignored names the objects of kinds podreach does not model
	// ("Deployment demo/web"), for --with's warning.
	ignored []string
}

// header is what every document or list item is first decoded into.
type header struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Items      []json.RawMessage `json:"items"`
}

// addDocument adds one document (JSON) of the input: an object or a List.
func (w *world) addDocument(doc []byte) error {
	return w.add("", "", doc)
}

// add decodes raw. defaultAPIVersion and defaultKind come from an enclosing
// typed list (PodList items as the API returns them carry no kind).
func (w *world) add(defaultAPIVersion, defaultKind string, raw []byte) error {
	var h header
	if !strings.HasPrefix(strings.TrimSpace(string(raw)), "{") {
		return fmt.Errorf("not a Kubernetes object (want a mapping with apiVersion and kind)")
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return err
	}
	if h.APIVersion == "" {
		h.APIVersion = defaultAPIVersion
	}
	if h.Kind == "" {
		h.Kind = defaultKind
	}
	if h.Kind == "" {
		return fmt.Errorf("object 'Kind' is missing")
	}
	if h.Kind == "List" || (strings.HasSuffix(h.Kind, "List") && h.Items != nil) {
		itemKind := strings.TrimSuffix(h.Kind, "List")
		itemAPIVersion := h.APIVersion
		if h.Kind == "List" {
			itemKind, itemAPIVersion = "", "" // a v1 List holds objects of any kind
		}
		for i, item := range h.Items {
			if err := w.add(itemAPIVersion, itemKind, item); err != nil {
				return fmt.Errorf("%s item %d: %w", h.Kind, i+1, err)
			}
		}
		return nil
	}
	w.objects++
	if err := w.addObject(h, raw); err != nil {
		name := h.Metadata.Name
		if h.Metadata.Namespace != "" {
			name = h.Metadata.Namespace + "/" + name
		}
		return fmt.Errorf("%s %s: %w", h.Kind, name, err)
	}
	return nil
}

// addObject decodes the kinds podreach uses and ignores the others: a dump
// of a whole cluster is valid input.
func (w *world) addObject(h header, raw []byte) error {
	group, version, _ := strings.Cut(h.APIVersion, "/")
	if version == "" {
		group, version = "", group // core "v1"
	}
	switch {
	case group == "" && version == "v1":
		return w.addCore(h.Kind, raw)
	case group == "discovery.k8s.io" && h.Kind == "EndpointSlice" && (version == "v1" || version == "v1beta1"):
		s, err := decodeEndpointSlice(version, raw)
		if err != nil {
			return err
		}
		w.snap.EndpointSlices = append(w.snap.EndpointSlices, *s)
	case group == "networking.istio.io" && (version == "v1" || version == "v1beta1" || version == "v1alpha3"):
		return w.addNetworking(h.Kind, raw)
	case group == "security.istio.io" && h.Kind == "PeerAuthentication" && (version == "v1" || version == "v1beta1"):
		return decodeIstio(raw, &w.snap.PeerAuthentications)
	case group == "security.istio.io" && h.Kind == "AuthorizationPolicy" && (version == "v1" || version == "v1beta1"):
		return decodeIstio(raw, &w.snap.AuthorizationPolicies)
	case group == gatewayGroup && h.Kind == "Gateway" && (version == "v1" || version == "v1beta1"):
		return decodeGateway(raw, &w.snap.Gateways)
	case group == monitoringGroup && version == "v1" && h.Kind == "PodMonitor":
		return decodeMonitor(raw, &w.snap.PodMonitors)
	case group == monitoringGroup && version == "v1" && h.Kind == "ServiceMonitor":
		return decodeMonitor(raw, &w.snap.ServiceMonitors)
	default:
		name := h.Metadata.Name
		if h.Metadata.Namespace != "" {
			name = h.Metadata.Namespace + "/" + name
		}
		w.ignored = append(w.ignored, h.Kind+" "+name)
	}
	return nil
}

func (w *world) addCore(kind string, raw []byte) error {
	switch kind {
	case "Namespace":
		var o corev1.Namespace
		if err := json.Unmarshal(raw, &o); err != nil {
			return err
		}
		w.snap.Namespaces = append(w.snap.Namespaces, o)
	case "Pod":
		return decodeCore(raw, &w.snap.Pods)
	case "Service":
		return decodeCore(raw, &w.snap.Services)
	case "Endpoints":
		return decodeCore(raw, &w.endpoints)
	case "ConfigMap":
		var cm corev1.ConfigMap
		if err := json.Unmarshal(raw, &cm); err != nil {
			return err
		}
		defaultNamespace(&cm)
		// Only mesh ConfigMaps matter: "istio" (meshFrom reports it when it
		// lacks the mesh key) and "istio-<revision>" with a mesh key, which
		// leaves out istio-ca-root-cert, istio-sidecar-injector, ...
		if cm.Name == "istio" || (strings.HasPrefix(cm.Name, "istio-") && cm.Data["mesh"] != "") {
			w.configMaps = append(w.configMaps, cm)
		}
	}
	return nil
}

func (w *world) addNetworking(kind string, raw []byte) error {
	switch kind {
	case "DestinationRule":
		return decodeIstio(raw, &w.snap.DestinationRules)
	case "VirtualService":
		return decodeIstio(raw, &w.snap.VirtualServices)
	case "Sidecar":
		return decodeIstio(raw, &w.snap.Sidecars)
	case "ServiceEntry":
		return decodeIstio(raw, &w.snap.ServiceEntries)
	}
	return nil
}

// decodeCore decodes a namespaced core object and appends it to list.
func decodeCore[T any, P interface {
	*T
	metav1.Object
}](raw []byte, list *[]T) error {
	var o T
	if err := json.Unmarshal(raw, &o); err != nil {
		return err
	}
	defaultNamespace(P(&o))
	*list = append(*list, o)
	return nil
}

// decodeIstio decodes any served version of an Istio kind into its v1 type:
// v1, v1beta1 and v1alpha3 share the istio.io/api spec messages, whose
// UnmarshalJSON encoding/json calls.
func decodeIstio[T any, P interface {
	*T
	metav1.Object
}](raw []byte, list *[]P) error {
	o := P(new(T))
	if err := json.Unmarshal(raw, o); err != nil {
		return err
	}
	defaultNamespace(o)
	*list = append(*list, o)
	return nil
}

// defaultNamespace mirrors kubectl apply -f: a namespaced object without a
// namespace lands in "default".
func defaultNamespace(o metav1.Object) {
	if o.GetNamespace() == "" {
		o.SetNamespace(metav1.NamespaceDefault)
	}
}

// decodeEndpointSlice decodes discovery.k8s.io/v1 or v1beta1. The two differ
// only in the endpoint topology map, converted as the API server does
// (pkg/apis/discovery/v1beta1/conversion.go Convert_v1beta1_Endpoint_To_discovery_Endpoint).
func decodeEndpointSlice(version string, raw []byte) (*discoveryv1.EndpointSlice, error) {
	var s discoveryv1.EndpointSlice
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	defaultNamespace(&s)
	if version == "v1" {
		return &s, nil
	}
	var old discoveryv1beta1.EndpointSlice
	if err := json.Unmarshal(raw, &old); err != nil {
		return nil, err
	}
	for i := range s.Endpoints {
		convertTopology(old.Endpoints[i].Topology, &s.Endpoints[i])
	}
	return &s, nil
}

func convertTopology(topology map[string]string, out *discoveryv1.Endpoint) {
	if topology == nil {
		return
	}
	out.DeprecatedTopology = make(map[string]string, len(topology))
	for k, v := range topology {
		out.DeprecatedTopology[k] = v
	}
	if zone, ok := topology[corev1.LabelTopologyZone]; ok {
		out.Zone = &zone
		delete(out.DeprecatedTopology, corev1.LabelTopologyZone)
	}
	if node, ok := topology[corev1.LabelHostname]; ok && out.NodeName != nil && node == *out.NodeName {
		delete(out.DeprecatedTopology, corev1.LabelHostname)
	}
	if len(out.DeprecatedTopology) == 0 {
		out.DeprecatedTopology = nil
	}
}
