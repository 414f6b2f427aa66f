package snapshot

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// DeleteAnnotation on an overlay object removes its namesake instead of
// replacing it (`--with`).
const DeleteAnnotation = "podreach.dev/delete"

// ObjectKey names an object of the snapshot.
type ObjectKey struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

func (k ObjectKey) String() string {
	if k.Namespace == "" {
		return k.Kind + " " + k.Name
	}
	return k.Kind + " " + k.Namespace + "/" + k.Name
}

// MeshText is the `mesh` key of an istio mesh ConfigMap given by an overlay.
type MeshText struct {
	Namespace, Name string
	Text            string
}

// Overlay is a set of objects put over a snapshot as `kubectl apply` would
// put them: each replaces the object of the same kind, namespace and name
// (or is added), and each of Deletes removes its namesake. See Apply for the
// rules on data the API server or a controller derives.
type Overlay struct {
	// Objects holds the objects to create or replace (Mesh, Unread and
	// Origin are not used).
	Objects Snapshot
	// MeshConfigMaps are mesh ConfigMaps (istio, istio-<rev>) to put.
	MeshConfigMaps []MeshText
	// Deletes are the objects to remove.
	Deletes []ObjectKey
}

// Empty tells whether the overlay changes nothing.
func (o *Overlay) Empty() bool {
	s := &o.Objects
	return len(s.Namespaces)+len(s.Pods)+len(s.Services)+len(s.EndpointSlices)+len(s.PeerAuthentications)+
		len(s.AuthorizationPolicies)+len(s.DestinationRules)+len(s.VirtualServices)+len(s.Sidecars)+
		len(s.ServiceEntries)+len(o.MeshConfigMaps)+len(o.Deletes) == 0
}

// Merge appends other's changes after o's (a later --with wins).
func (o *Overlay) Merge(other *Overlay) {
	s, x := &o.Objects, &other.Objects
	s.Namespaces = append(s.Namespaces, x.Namespaces...)
	s.Pods = append(s.Pods, x.Pods...)
	s.Services = append(s.Services, x.Services...)
	s.EndpointSlices = append(s.EndpointSlices, x.EndpointSlices...)
	s.PeerAuthentications = append(s.PeerAuthentications, x.PeerAuthentications...)
	s.AuthorizationPolicies = append(s.AuthorizationPolicies, x.AuthorizationPolicies...)
	s.DestinationRules = append(s.DestinationRules, x.DestinationRules...)
	s.VirtualServices = append(s.VirtualServices, x.VirtualServices...)
	s.Sidecars = append(s.Sidecars, x.Sidecars...)
	s.ServiceEntries = append(s.ServiceEntries, x.ServiceEntries...)
	o.MeshConfigMaps = append(o.MeshConfigMaps, other.MeshConfigMaps...)
	o.Deletes = append(o.Deletes, other.Deletes...)
}

// Apply returns the snapshot with the overlay put over it; s is not changed
// (the result shares the objects the overlay does not touch). The rules for
// what the API server and controllers would derive:
//
//   - Every object keeps its creationTimestamp and uid when the overlay's
//     has none (Istio orders Services by creation time).
//   - A Pod keeps the status it has (IPs, phase, conditions) and its
//     spec.nodeName when the overlay's Pod has none: a manifest carries no
//     status, and re-applying a pod's spec does not move it. A new Pod
//     without status.podIP has no IP (it is not scheduled).
//   - A Service keeps its spec.clusterIP(s) when the overlay gives none. Its
//     EndpointSlices keep their endpoints (addresses, readiness, hostnames)
//     and get the new ports when the overlay changes its ports (a rename, an
//     appProtocol, a new port), as the EndpointSlice controller would; when
//     its selector changes, or a new selector Service has no slice, one
//     slice is built from the pods it selects (ready as their Ready
//     condition). EndpointSlices the overlay gives are kept as given.
//   - Pods changed by the overlay stay in the EndpointSlices they were in:
//     give the slices in the overlay when labels or readiness change.
//   - A mesh ConfigMap replaces the mesh configuration when it is the one
//     the snapshot used (or, when none was found, istio-system/istio).
//   - An object whose DeleteAnnotation is "true" removes its namesake
//     (Deletes); deleting a Service deletes its EndpointSlices.
func (s *Snapshot) Apply(o *Overlay) (*Snapshot, error) {
	out := *s
	x := &o.Objects
	out.Namespaces = replace(s.Namespaces, x.Namespaces, "Namespace", o.Deletes, nil)
	out.Pods = replace(s.Pods, x.Pods, "Pod", o.Deletes, keepPodStatus)
	changed := map[string]*corev1.Service{} // selector Services whose ports or selector the overlay changes
	out.Services = replace(s.Services, x.Services, "Service", o.Deletes, func(old corev1.Service, n *corev1.Service) {
		keepClusterIP(old, n)
		if len(n.Spec.Selector) > 0 && (!equality.Semantic.DeepEqual(old.Spec.Ports, n.Spec.Ports) || !equality.Semantic.DeepEqual(old.Spec.Selector, n.Spec.Selector)) {
			changed[n.Namespace+"/"+n.Name] = n
		}
	})
	out.EndpointSlices = replace(s.EndpointSlices, x.EndpointSlices, "EndpointSlice", o.Deletes, nil)
	out.EndpointSlices = derivedSlices(out.EndpointSlices, changed, o, out.Services, out.Pods)
	out.PeerAuthentications = replace(s.PeerAuthentications, x.PeerAuthentications, "PeerAuthentication", o.Deletes, nil)
	out.AuthorizationPolicies = replace(s.AuthorizationPolicies, x.AuthorizationPolicies, "AuthorizationPolicy", o.Deletes, nil)
	out.DestinationRules = replace(s.DestinationRules, x.DestinationRules, "DestinationRule", o.Deletes, nil)
	out.VirtualServices = replace(s.VirtualServices, x.VirtualServices, "VirtualService", o.Deletes, nil)
	out.Sidecars = replace(s.Sidecars, x.Sidecars, "Sidecar", o.Deletes, nil)
	out.ServiceEntries = replace(s.ServiceEntries, x.ServiceEntries, "ServiceEntry", o.Deletes, nil)

	used := s.Mesh.ConfigMap
	if !s.Mesh.Found {
		used = "istio-system/istio"
	}
	for _, d := range o.Deletes {
		if d.Kind == "ConfigMap" && d.Namespace+"/"+d.Name == used {
			out.Mesh = DefaultMeshConfig()
		}
	}
	for _, cm := range o.MeshConfigMaps {
		if cm.Namespace+"/"+cm.Name != used {
			continue
		}
		m, err := ParseMeshConfig(cm.Text)
		if err != nil {
			return nil, fmt.Errorf("ConfigMap %s/%s: %w", cm.Namespace, cm.Name, err)
		}
		m.Found, m.ConfigMap = true, used
		out.Mesh = m
	}
	return &out, nil
}

func metaOf(o any) metav1.Object {
	switch v := o.(type) {
	case metav1.Object:
		return v
	case metav1.ObjectMetaAccessor:
		return v.GetObjectMeta()
	}
	return nil
}

// replace puts items over list by namespace/name: a replaced item keeps its
// place, a new one is appended, a deleted one is dropped. fix, when set,
// carries over what the old object had that the new one does not give.
func replace[T any](list, items []T, kind string, deletes []ObjectKey, fix func(old T, n *T)) []T {
	key := func(o *T) string {
		m := metaOf(o)
		if m == nil {
			m = metaOf(*o)
		}
		return m.GetNamespace() + "/" + m.GetName()
	}
	gone := map[string]bool{}
	for _, d := range deletes {
		if d.Kind == kind {
			gone[d.Namespace+"/"+d.Name] = true
		}
	}
	if len(items) == 0 && len(gone) == 0 {
		return list
	}
	at := map[string]int{}
	out := make([]T, 0, len(list)+len(items))
	for i := range list {
		k := key(&list[i])
		if gone[k] {
			continue
		}
		at[k] = len(out)
		out = append(out, list[i])
	}
	for i := range items {
		n := items[i]
		k := key(&n)
		if j, ok := at[k]; ok {
			keepMeta(&out[j], &n)
			if fix != nil {
				fix(out[j], &n)
			}
			out[j] = n
			continue
		}
		at[k] = len(out)
		out = append(out, n)
	}
	return out
}

// keepMeta keeps what the API server set and a manifest does not carry:
// creationTimestamp (Istio orders Services by it), uid.
func keepMeta[T any](old, n *T) {
	om, nm := metaOf(old), metaOf(n)
	if om == nil {
		om, nm = metaOf(*old), metaOf(*n)
	}
	if om == nil || nm == nil {
		return
	}
	if ts := nm.GetCreationTimestamp(); ts.IsZero() {
		nm.SetCreationTimestamp(om.GetCreationTimestamp())
	}
	if nm.GetUID() == "" {
		nm.SetUID(om.GetUID())
	}
}

// keepPodStatus: a Pod manifest carries no status, and applying a pod's
// spec does not reschedule it.
func keepPodStatus(old corev1.Pod, n *corev1.Pod) {
	if n.Status.PodIP == "" && len(n.Status.PodIPs) == 0 {
		n.Status = old.Status
	}
	if n.Spec.NodeName == "" {
		n.Spec.NodeName = old.Spec.NodeName
	}
}

// keepClusterIP: the API server allocated the ClusterIP; a manifest rarely
// carries it.
func keepClusterIP(old corev1.Service, n *corev1.Service) {
	if n.Spec.ClusterIP == "" && len(n.Spec.ClusterIPs) == 0 {
		n.Spec.ClusterIP, n.Spec.ClusterIPs = old.Spec.ClusterIP, old.Spec.ClusterIPs
	}
}

// derivedSlices does what the EndpointSlice controller would do after the
// overlay: the slices of a selector Service whose selector changed are
// rebuilt from the pods it selects; those of a Service whose ports changed
// keep their endpoints and get the new ports (target ports resolved against
// the slice's pods); the slices of a deleted Service go; a new selector
// Service without slices gets one. The overlay's own slices are kept as
// given.
func derivedSlices(list []discoveryv1.EndpointSlice, changed map[string]*corev1.Service, o *Overlay, services []corev1.Service, pods []corev1.Pod) []discoveryv1.EndpointSlice {
	goneSvc := map[string]bool{}
	for _, d := range o.Deletes {
		if d.Kind == "Service" {
			goneSvc[d.Namespace+"/"+d.Name] = true
		}
	}
	given := map[string]bool{}
	for _, es := range o.Objects.EndpointSlices {
		given[es.Namespace+"/"+es.Name] = true
	}
	podByName := map[string]*corev1.Pod{}
	for i := range pods {
		podByName[pods[i].Namespace+"/"+pods[i].Name] = &pods[i]
	}
	has := map[string]bool{}
	rebuilt := map[string]bool{}
	var out []discoveryv1.EndpointSlice
	touched := false
	for _, es := range list {
		svcKey := es.Namespace + "/" + es.Labels[discoveryv1.LabelServiceName]
		if goneSvc[svcKey] {
			touched = true
			continue
		}
		has[svcKey] = true
		svc := changed[svcKey]
		if svc == nil || given[es.Namespace+"/"+es.Name] {
			out = append(out, es)
			continue
		}
		touched = true
		if !selects(svc, podOfSlice(&es, podByName)) {
			// The selector changed: one slice from the pods it selects now.
			if !rebuilt[svcKey] {
				rebuilt[svcKey] = true
				if n := sliceFor(svc, pods); n != nil {
					out = append(out, *n)
				}
			}
			continue
		}
		es = *es.DeepCopy()
		es.Ports = slicePorts(svc, podOfSlice(&es, podByName))
		out = append(out, es)
	}
	for _, svc := range o.Objects.Services {
		k := svc.Namespace + "/" + svc.Name
		if has[k] || len(svc.Spec.Selector) == 0 {
			continue
		}
		for i := range services {
			if services[i].Namespace == svc.Namespace && services[i].Name == svc.Name {
				if es := sliceFor(&services[i], pods); es != nil {
					out = append(out, *es)
					touched = true
				}
			}
		}
	}
	if !touched {
		return list
	}
	return out
}

// podOfSlice is the pod of the slice's first endpoint (by targetRef).
func podOfSlice(es *discoveryv1.EndpointSlice, pods map[string]*corev1.Pod) *corev1.Pod {
	for _, e := range es.Endpoints {
		if e.TargetRef != nil && e.TargetRef.Kind == "Pod" {
			ns := e.TargetRef.Namespace
			if ns == "" {
				ns = es.Namespace
			}
			if p := pods[ns+"/"+e.TargetRef.Name]; p != nil {
				return p
			}
		}
	}
	return nil
}

// selects tells whether svc selects p; a slice without a known pod keeps
// its endpoints.
func selects(svc *corev1.Service, p *corev1.Pod) bool {
	if p == nil {
		return true
	}
	for k, v := range svc.Spec.Selector {
		if p.Labels[k] != v {
			return false
		}
	}
	return true
}

// slicePorts are the slice ports of svc for pod p (targetPort resolved).
func slicePorts(svc *corev1.Service, p *corev1.Pod) []discoveryv1.EndpointPort {
	var out []discoveryv1.EndpointPort
	for _, sp := range svc.Spec.Ports {
		name, proto := sp.Name, sp.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		num := targetPortOf(sp, p)
		if num == 0 {
			continue
		}
		out = append(out, discoveryv1.EndpointPort{Name: &name, Port: &num, Protocol: &proto, AppProtocol: sp.AppProtocol})
	}
	return out
}

// sliceFor builds the EndpointSlice the controller would build for svc
// (pkg/controller/endpointslice: one endpoint per selected pod with an IP,
// ready as the pod's Ready condition, hostname when the pod's
// hostname/subdomain make it addressable; ports resolved per the first
// selected pod's named container ports).
func sliceFor(svc *corev1.Service, pods []corev1.Pod) *discoveryv1.EndpointSlice {
	var sel []*corev1.Pod
	for i := range pods {
		p := &pods[i]
		if p.Namespace != svc.Namespace || p.Status.PodIP == "" || p.DeletionTimestamp != nil {
			continue
		}
		match := true
		for k, v := range svc.Spec.Selector {
			if p.Labels[k] != v {
				match = false
				break
			}
		}
		if match {
			sel = append(sel, p)
		}
	}
	if len(sel) == 0 {
		return nil
	}
	es := &discoveryv1.EndpointSlice{AddressType: discoveryv1.AddressTypeIPv4}
	es.Namespace, es.Name = svc.Namespace, svc.Name+"-overlay"
	es.Labels = map[string]string{discoveryv1.LabelServiceName: svc.Name, discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io"}
	es.Ports = slicePorts(svc, sel[0])
	for _, p := range sel {
		ready := false
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady {
				ready = c.Status == corev1.ConditionTrue
			}
		}
		ep := discoveryv1.Endpoint{Addresses: []string{p.Status.PodIP}, Conditions: discoveryv1.EndpointConditions{Ready: &ready},
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: p.Namespace, Name: p.Name}}
		if p.Spec.NodeName != "" {
			n := p.Spec.NodeName
			ep.NodeName = &n
		}
		if p.Spec.Hostname != "" && p.Spec.Subdomain == svc.Name {
			h := p.Spec.Hostname
			ep.Hostname = &h
		}
		es.Endpoints = append(es.Endpoints, ep)
	}
	return es
}

func targetPortOf(sp corev1.ServicePort, p *corev1.Pod) int32 {
	tp := sp.TargetPort
	switch {
	case tp.Type == intstr.Int && tp.IntVal != 0:
		return tp.IntVal
	case tp.Type == intstr.String && tp.StrVal != "":
		if p == nil {
			return 0
		}
		for _, c := range p.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.Name == tp.StrVal {
					return cp.ContainerPort
				}
			}
		}
		return 0
	}
	return sp.Port
}
