package inspect

import (
	"fmt"
	"net"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	// mirroringControllerName is the managed-by label value of mirrored slices.
	mirroringControllerName = "endpointslicemirroring-controller.k8s.io"
	// maxMirroredPerSubset is kube-controller-manager's default
	// --mirroring-max-endpoints-per-subset.
	maxMirroredPerSubset = 1000
)

// addMirroredSlices converts the input's Endpoints into EndpointSlices for
// the Services that have no EndpointSlice in the input, so that explain only
// ever looks at EndpointSlices (as istiod does).
func (w *world) addMirroredSlices() {
	hasSlices := map[string]bool{}
	for _, s := range w.snap.EndpointSlices {
		if svc := s.Labels[discoveryv1.LabelServiceName]; svc != "" {
			hasSlices[s.Namespace+"/"+svc] = true
		}
	}
	for _, ep := range w.endpoints {
		if !hasSlices[ep.Namespace+"/"+ep.Name] {
			w.snap.EndpointSlices = append(w.snap.EndpointSlices, mirrorEndpoints(&ep)...)
		}
	}
}

// mirrorEndpoints converts one Endpoints object as kube-controller-manager's
// EndpointSlice mirroring controller does (pkg/controller/endpointslicemirroring,
// Kubernetes 1.33: reconciler.go reconcile, utils.go newEndpointSlice,
// addressToEndpoint, epPortsToEpsPorts): one slice per (address type, set of
// ports); ready addresses get conditions.ready=true, notReadyAddresses false;
// hostname, nodeName and targetRef are kept; invalid IPs are skipped; at most
// 1000 addresses per subset. Slice names are deterministic here where the
// controller generates random suffixes.
func mirrorEndpoints(ep *corev1.Endpoints) []discoveryv1.EndpointSlice {
	var order []string
	groups := map[string]*discoveryv1.EndpointSlice{}
	for _, subset := range ep.Subsets {
		ports := endpointPorts(subset.Ports)
		added := 0
		add := func(addr corev1.EndpointAddress, ready bool) {
			if added >= maxMirroredPerSubset {
				return
			}
			e, addrType := addressToEndpoint(addr, ready)
			if e == nil {
				return
			}
			added++
			key := string(addrType) + "/" + portsKey(ports)
			s, ok := groups[key]
			if !ok {
				s = newMirroredSlice(ep, ports, addrType, len(order))
				groups[key] = s
				order = append(order, key)
			}
			if len(s.Endpoints) < maxMirroredPerSubset {
				s.Endpoints = append(s.Endpoints, *e)
			}
		}
		for _, a := range subset.Addresses {
			add(a, true)
		}
		for _, a := range subset.NotReadyAddresses {
			add(a, false)
		}
	}
	out := make([]discoveryv1.EndpointSlice, 0, len(order))
	for _, key := range order {
		out = append(out, *groups[key])
	}
	return out
}

func newMirroredSlice(ep *corev1.Endpoints, ports []discoveryv1.EndpointPort, addrType discoveryv1.AddressType, n int) *discoveryv1.EndpointSlice {
	name := ep.Name + "-mirrored"
	if n > 0 {
		name = fmt.Sprintf("%s-%d", name, n+1)
	}
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name:            name,
			Namespace:       ep.Namespace,
			Labels:          map[string]string{},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(ep, corev1.SchemeGroupVersion.WithKind("Endpoints"))},
		},
		AddressType: addrType,
		Ports:       ports,
		Endpoints:   []discoveryv1.Endpoint{},
	}
	for k, v := range ep.Labels {
		s.Labels[k] = v
	}
	s.Labels[discoveryv1.LabelServiceName] = ep.Name
	s.Labels[discoveryv1.LabelManagedBy] = mirroringControllerName
	for k, v := range ep.Annotations {
		if k == corev1.EndpointsLastChangeTriggerTime || k == corev1.LastAppliedConfigAnnotation {
			continue
		}
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		s.Annotations[k] = v
	}
	return s
}

func addressToEndpoint(addr corev1.EndpointAddress, ready bool) (*discoveryv1.Endpoint, discoveryv1.AddressType) {
	ip := net.ParseIP(addr.IP)
	if ip == nil {
		return nil, ""
	}
	addrType := discoveryv1.AddressTypeIPv4
	if ip.To4() == nil {
		addrType = discoveryv1.AddressTypeIPv6
	}
	e := &discoveryv1.Endpoint{
		Addresses:  []string{ip.String()},
		Conditions: discoveryv1.EndpointConditions{Ready: &ready},
		TargetRef:  addr.TargetRef,
		NodeName:   addr.NodeName,
	}
	if addr.Hostname != "" {
		hostname := addr.Hostname
		e.Hostname = &hostname
	}
	return e, addrType
}

// endpointPorts converts ports; the protocol the API server would have
// defaulted on the Endpoints (TCP) is filled in.
func endpointPorts(in []corev1.EndpointPort) []discoveryv1.EndpointPort {
	out := []discoveryv1.EndpointPort{}
	for _, p := range in {
		p := *p.DeepCopy()
		if p.Protocol == "" {
			p.Protocol = corev1.ProtocolTCP
		}
		out = append(out, discoveryv1.EndpointPort{Name: &p.Name, Port: &p.Port, Protocol: &p.Protocol, AppProtocol: p.AppProtocol})
	}
	return out
}

// portsKey identifies a set of ports regardless of order, like the
// controller's port map key.
func portsKey(ports []discoveryv1.EndpointPort) string {
	keys := make([]string, len(ports))
	for i, p := range ports {
		app := ""
		if p.AppProtocol != nil {
			app = *p.AppProtocol
		}
		keys[i] = fmt.Sprintf("%s:%d/%s/%s", *p.Name, *p.Port, *p.Protocol, app)
	}
	slices.Sort(keys)
	return strings.Join(keys, ",")
}
