package snapshot

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	securityv1 "istio.io/client-go/pkg/apis/security/v1"
)

func base() *Snapshot {
	created := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	ready := true
	name, port, proto := "http", int32(8080), corev1.ProtocolTCP
	pod := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "demo", Labels: map[string]string{"app": "web"}, CreationTimestamp: created},
		Spec:       corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "web", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "metrics", ContainerPort: 9090}}}}},
		Status: corev1.PodStatus{PodIP: "10.1.0.5", PodIPs: []corev1.PodIP{{IP: "10.1.0.5"}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
	svc := corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "demo", CreationTimestamp: created},
		Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.10", ClusterIPs: []string{"10.96.0.10"}, Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}}},
	}
	es := discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "web-abcde", Namespace: "demo", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.1.0.5"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready},
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "demo", Name: "web-0"}}},
		Ports: []discoveryv1.EndpointPort{{Name: &name, Port: &port, Protocol: &proto}},
	}
	pa := &securityv1.PeerAuthentication{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "demo"}}
	return &Snapshot{Pods: []corev1.Pod{pod}, Services: []corev1.Service{svc}, EndpointSlices: []discoveryv1.EndpointSlice{es},
		PeerAuthentications: []*securityv1.PeerAuthentication{pa}, Mesh: DefaultMeshConfig()}
}

func TestApplyRules(t *testing.T) {
	// A Pod manifest without status keeps the pod's IP and node.
	t.Run("pod keeps status", func(t *testing.T) {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "demo", Labels: map[string]string{"app": "web", "v": "2"}}}
		s, err := base().Apply(&Overlay{Objects: Snapshot{Pods: []corev1.Pod{p}}})
		if err != nil {
			t.Fatal(err)
		}
		got := s.Pods[0]
		if got.Status.PodIP != "10.1.0.5" || got.Spec.NodeName != "node-1" || got.Labels["v"] != "2" || got.CreationTimestamp.IsZero() {
			t.Errorf("pod = %+v", got)
		}
	})
	// A Service manifest without clusterIP keeps it; a changed port is
	// reflected in its EndpointSlice (name, appProtocol, target port).
	t.Run("service ports reach the slices", func(t *testing.T) {
		tcp := "tcp"
		svc := corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "demo"},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{
				{Name: "tcp-web", Port: 80, TargetPort: intstr.FromString("http"), AppProtocol: &tcp},
				{Name: "metrics", Port: 9090, TargetPort: intstr.FromInt32(9090)}}}}
		b := base()
		s, err := b.Apply(&Overlay{Objects: Snapshot{Services: []corev1.Service{svc}}})
		if err != nil {
			t.Fatal(err)
		}
		if s.Services[0].Spec.ClusterIP != "10.96.0.10" || s.Services[0].CreationTimestamp.IsZero() {
			t.Errorf("service = %+v", s.Services[0].Spec)
		}
		es := s.EndpointSlices[0]
		if len(es.Ports) != 2 || *es.Ports[0].Name != "tcp-web" || *es.Ports[0].Port != 8080 || *es.Ports[0].AppProtocol != "tcp" || *es.Ports[1].Port != 9090 {
			t.Errorf("slice ports = %+v", es.Ports)
		}
		if len(es.Endpoints) != 1 || es.Endpoints[0].Addresses[0] != "10.1.0.5" {
			t.Errorf("slice endpoints = %+v", es.Endpoints)
		}
		if *b.EndpointSlices[0].Ports[0].Name != "http" {
			t.Error("Apply changed the base snapshot")
		}
	})
	// A new selector Service gets a slice from the pods it selects.
	t.Run("new service gets a slice", func(t *testing.T) {
		svc := corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "metrics", Namespace: "demo"},
			Spec: corev1.ServiceSpec{ClusterIP: "None", Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Name: "tcp-m", Port: 9090, TargetPort: intstr.FromString("metrics")}}}}
		s, err := base().Apply(&Overlay{Objects: Snapshot{Services: []corev1.Service{svc}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(s.EndpointSlices) != 2 || s.EndpointSlices[1].Labels[discoveryv1.LabelServiceName] != "metrics" || *s.EndpointSlices[1].Ports[0].Port != 9090 {
			t.Errorf("slices = %+v", s.EndpointSlices)
		}
	})
	// Deleting a Service deletes its slices; deleting an Istio object
	// removes it.
	t.Run("deletes", func(t *testing.T) {
		s, err := base().Apply(&Overlay{Deletes: []ObjectKey{{Kind: "Service", Namespace: "demo", Name: "web"}, {Kind: "PeerAuthentication", Namespace: "demo", Name: "default"}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Services)+len(s.EndpointSlices)+len(s.PeerAuthentications) != 0 {
			t.Errorf("left %d services, %d slices, %d policies", len(s.Services), len(s.EndpointSlices), len(s.PeerAuthentications))
		}
	})
	// The mesh ConfigMap replaces the mesh config when it is the one used.
	t.Run("mesh configmap", func(t *testing.T) {
		o := &Overlay{MeshConfigMaps: []MeshText{{Namespace: "istio-system", Name: "istio", Text: "outboundTrafficPolicy: {mode: REGISTRY_ONLY}"}}}
		s, err := base().Apply(o)
		if err != nil {
			t.Fatal(err)
		}
		if s.Mesh.OutboundTrafficPolicy != "REGISTRY_ONLY" || !s.Mesh.Found {
			t.Errorf("mesh = %+v", s.Mesh)
		}
		o.MeshConfigMaps[0].Name = "istio-canary"
		if s, _ = base().Apply(o); s.Mesh.OutboundTrafficPolicy != "ALLOW_ANY" {
			t.Errorf("another revision's ConfigMap changed the mesh: %+v", s.Mesh)
		}
	})
}

func TestMergePatch(t *testing.T) {
	for _, c := range []struct{ doc, patch, want string }{
		{`{"a":1,"b":{"c":2,"d":3}}`, `{"b":{"c":null,"e":4}}`, `{"a":1,"b":{"d":3,"e":4}}`},
		{`{"l":[1,2]}`, `{"l":[3]}`, `{"l":[3]}`},
		{`{"a":1}`, `{"a":{"b":1}}`, `{"a":{"b":1}}`},
	} {
		got, err := MergePatch([]byte(c.doc), []byte(c.patch))
		if err != nil || string(got) != c.want {
			t.Errorf("MergePatch(%s, %s) = %s, %v; want %s", c.doc, c.patch, got, err, c.want)
		}
	}
	if _, err := MergePatch([]byte(`{}`), []byte(`{`)); err == nil {
		t.Error("a patch that is not JSON must fail")
	}
}
