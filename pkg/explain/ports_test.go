package explain_test

import (
	"errors"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/podreach/kubectl-podreach/pkg/explain"
	"github.com/podreach/kubectl-podreach/pkg/snapshot"
)

func TestDestinationPorts(t *testing.T) {
	web := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "web-0", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "nginx", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP}}},
			{Name: "istio-proxy", Ports: []corev1.ContainerPort{{Name: "http-envoy-prom", ContainerPort: 15090}}},
		}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.1.2.3"},
	}
	svc := corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "web"},
		Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.10", Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{
			{Name: "http-web", Port: 80, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP},
			{Name: "tcp-admin", Port: 7000, TargetPort: intstr.FromInt32(7001), Protocol: corev1.ProtocolTCP},
		}},
	}
	s := &snapshot.Snapshot{Pods: []corev1.Pod{web}, Services: []corev1.Service{svc}}
	got, err := explain.DestinationPorts(s, snapshot.PodKey{Namespace: "demo", Name: "web-0"})
	if err != nil {
		t.Fatal(err)
	}
	type port struct {
		number int32
		name   string
		svc    []string
	}
	var ports []port
	for _, p := range got {
		ports = append(ports, port{p.Summary.Port, p.Summary.Name, p.ServicePortNames})
	}
	want := []port{{7001, "", []string{"tcp-admin"}}, {8080, "http", []string{"http-web"}}}
	if !reflect.DeepEqual(ports, want) {
		t.Errorf("ports = %+v, want %+v", ports, want)
	}

	var qe *explain.QueryError
	if _, err := explain.DestinationPorts(s, snapshot.PodKey{Namespace: "demo", Name: "nope"}); !errors.As(err, &qe) {
		t.Errorf("unknown pod: error = %v, want a *QueryError", err)
	}
}
