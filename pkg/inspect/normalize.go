package inspect

import (
	"cmp"
	"slices"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/podreach/kubectl-podreach/pkg/snapshot"
)

// normalize makes a Snapshot canonical. Both readers end with it, which is
// what makes a live read and a file read of the same objects DeepEqual:
//
//   - TypeMeta is cleared: typed clients return list items without it, files
//     carry it (possibly an older apiVersion such as networking.istio.io/v1beta1);
//   - managedFields are dropped: kubectl hides them in dumps, and they are
//     large and useless to explain; so is what prunePod drops of a pod;
//   - the few API-server defaults explain depends on are applied, so that a
//     hand-written file means what the same objects would mean once created
//     (a no-op for objects read from a server);
//   - every slice is sorted by (namespace, name), empty slices become nil.
func normalize(s *snapshot.Snapshot) {
	for i := range s.Namespaces {
		clean(&s.Namespaces[i].TypeMeta, &s.Namespaces[i].ObjectMeta)
	}
	for i := range s.Pods {
		clean(&s.Pods[i].TypeMeta, &s.Pods[i].ObjectMeta)
		prunePod(&s.Pods[i])
		defaultPod(&s.Pods[i])
	}
	for i := range s.ControlPlane {
		clean(&s.ControlPlane[i].TypeMeta, &s.ControlPlane[i].ObjectMeta)
	}
	for i := range s.Ztunnels {
		clean(&s.Ztunnels[i].TypeMeta, &s.Ztunnels[i].ObjectMeta)
	}
	for i := range s.Gateways {
		clean(&s.Gateways[i].TypeMeta, &s.Gateways[i].ObjectMeta)
	}
	for i := range s.Services {
		clean(&s.Services[i].TypeMeta, &s.Services[i].ObjectMeta)
		defaultService(&s.Services[i])
	}
	for i := range s.EndpointSlices {
		e := &s.EndpointSlices[i]
		clean(&e.TypeMeta, &e.ObjectMeta)
		for j := range e.Ports {
			if e.Ports[j].Protocol == nil {
				tcp := corev1.ProtocolTCP
				e.Ports[j].Protocol = &tcp
			}
		}
	}
	for _, ms := range [][]snapshot.Monitor{s.PodMonitors, s.ServiceMonitors} {
		for i := range ms {
			clean(&ms[i].TypeMeta, &ms[i].ObjectMeta)
		}
	}
	// Istio objects are copied: proto.Clone (their DeepCopy) leaves the
	// protobuf internal state (message info, size caches) in the same shape
	// whether the message came from JSON or from a client, which
	// reflect.DeepEqual compares too.
	s.PeerAuthentications = cleanIstio(s.PeerAuthentications)
	s.AuthorizationPolicies = cleanIstio(s.AuthorizationPolicies)
	s.DestinationRules = cleanIstio(s.DestinationRules)
	s.VirtualServices = cleanIstio(s.VirtualServices)
	s.Sidecars = cleanIstio(s.Sidecars)
	s.ServiceEntries = cleanIstio(s.ServiceEntries)

	s.Namespaces = sortByKey(s.Namespaces, valueMeta[corev1.Namespace])
	s.Pods = sortByKey(s.Pods, valueMeta[corev1.Pod])
	s.ControlPlane = sortByKey(s.ControlPlane, valueMeta[corev1.Pod])
	s.Ztunnels = sortByKey(s.Ztunnels, valueMeta[corev1.Pod])
	s.Gateways = sortByKey(s.Gateways, valueMeta[snapshot.Gateway])
	s.Services = sortByKey(s.Services, valueMeta[corev1.Service])
	s.EndpointSlices = sortByKey(s.EndpointSlices, valueMeta[discoveryv1.EndpointSlice])
	s.PeerAuthentications = sortByKey(s.PeerAuthentications, pointerMeta[*securityv1.PeerAuthentication])
	s.AuthorizationPolicies = sortByKey(s.AuthorizationPolicies, pointerMeta[*securityv1.AuthorizationPolicy])
	s.DestinationRules = sortByKey(s.DestinationRules, pointerMeta[*networkingv1.DestinationRule])
	s.VirtualServices = sortByKey(s.VirtualServices, pointerMeta[*networkingv1.VirtualService])
	s.Sidecars = sortByKey(s.Sidecars, pointerMeta[*networkingv1.Sidecar])
	s.ServiceEntries = sortByKey(s.ServiceEntries, pointerMeta[*networkingv1.ServiceEntry])
	s.PodMonitors = sortByKey(s.PodMonitors, valueMeta[snapshot.Monitor])
	s.ServiceMonitors = sortByKey(s.ServiceMonitors, valueMeta[snapshot.Monitor])

	sortUnread(s)
}

// sortUnread sorts and deduplicates Unread (the same read can fail the same
// way in several namespaces' rounds).
func sortUnread(s *snapshot.Snapshot) {
	slices.SortFunc(s.Unread, func(a, b snapshot.Unread) int {
		return cmp.Or(cmp.Compare(a.Resource, b.Resource), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Reason, b.Reason))
	})
	s.Unread = slices.Compact(s.Unread)
	if len(s.Unread) == 0 {
		s.Unread = nil
	}
}

func clean(tm *metav1.TypeMeta, om *metav1.ObjectMeta) {
	*tm = metav1.TypeMeta{}
	om.ManagedFields = nil
}

// istioObject is what every Istio v1 type provides.
type istioObject[P any] interface {
	metav1.Object
	GetObjectKind() schema.ObjectKind
	DeepCopy() P
}

func cleanIstio[P istioObject[P]](items []P) []P {
	out := make([]P, len(items))
	for i, o := range items {
		c := o.DeepCopy()
		c.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{})
		c.SetManagedFields(nil)
		out[i] = c
	}
	return out
}

// valueMeta and pointerMeta give sortByKey the metadata of an element of a
// slice of values (core types) or of pointers (Istio lists hold pointers).
func valueMeta[T any, P interface {
	*T
	metav1.Object
}](p P) metav1.Object {
	return p
}

func pointerMeta[P metav1.Object](p *P) metav1.Object { return *p }

// sortByKey sorts by (namespace, name), drops duplicates (the last one read
// wins, as applying the same object twice would leave it) and turns an empty
// slice into nil. It sorts indices so that large structs are copied once.
func sortByKey[T any](items []T, meta func(*T) metav1.Object) []T {
	if len(items) == 0 {
		return nil
	}
	if sortedUnique(items, meta) {
		return items // the common case of a single list: no copy
	}
	type entry struct {
		ns, name string
		i        int
	}
	entries := make([]entry, len(items))
	for i := range items {
		m := meta(&items[i])
		entries[i] = entry{m.GetNamespace(), m.GetName(), i}
	}
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.ns, b.ns), cmp.Compare(a.name, b.name), cmp.Compare(a.i, b.i))
	})
	out := make([]T, 0, len(items))
	for k, e := range entries {
		if k+1 < len(entries) && entries[k+1].ns == e.ns && entries[k+1].name == e.name {
			continue // a later duplicate follows
		}
		out = append(out, items[e.i])
	}
	return out
}

// sortedUnique: already in (namespace, name) order without duplicates, as
// the API server returns a list.
func sortedUnique[T any](items []T, meta func(*T) metav1.Object) bool {
	for i := 1; i < len(items); i++ {
		a, b := meta(&items[i-1]), meta(&items[i])
		if cmp.Or(cmp.Compare(a.GetNamespace(), b.GetNamespace()), cmp.Compare(a.GetName(), b.GetName())) >= 0 {
			return false
		}
	}
	return true
}

// defaultService applies the Service defaults of the API server that explain
// reads (pkg/apis/core/v1/defaults.go SetDefaults_Service, and the registry
// filling clusterIPs from clusterIP).
func defaultService(s *corev1.Service) {
	if s.Spec.Type == "" {
		s.Spec.Type = corev1.ServiceTypeClusterIP
	}
	if len(s.Spec.ClusterIPs) == 0 && s.Spec.ClusterIP != "" {
		s.Spec.ClusterIPs = []string{s.Spec.ClusterIP}
	}
	for i := range s.Spec.Ports {
		p := &s.Spec.Ports[i]
		if p.Protocol == "" {
			p.Protocol = corev1.ProtocolTCP
		}
		if p.TargetPort == intstr.FromInt32(0) || p.TargetPort == intstr.FromString("") {
			p.TargetPort = intstr.FromInt32(p.Port)
		}
	}
}

// defaultPod applies SetDefaults_ContainerPort: explain matches container
// ports by protocol.
func defaultPod(p *corev1.Pod) {
	for _, cs := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for i := range cs {
			for j := range cs[i].Ports {
				if cs[i].Ports[j].Protocol == "" {
					cs[i].Ports[j].Protocol = corev1.ProtocolTCP
				}
			}
		}
	}
}

// lastApplied is the annotation `kubectl apply` keeps: a copy of the object.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// prunePod drops what the model never reads of a pod and what makes pods
// large: managedFields, the last-applied-configuration annotation, volumes
// and the container statuses. The live reader prunes each page of a -A list
// as it arrives, so that memory holds pruned pods; normalize prunes every pod
// of both readers, so that live and -f snapshots stay equal. A rule that
// comes to need one of these fields must stop pruning it here.
func prunePod(p *corev1.Pod) {
	p.ManagedFields = nil
	if _, ok := p.Annotations[lastApplied]; ok {
		delete(p.Annotations, lastApplied)
	}
	p.Spec.Volumes = nil
	p.Status.ContainerStatuses = nil
	p.Status.InitContainerStatuses = nil
	p.Status.EphemeralContainerStatuses = nil
}
