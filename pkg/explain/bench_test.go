package explain_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/podreach/kubectl-podreach/pkg/explain"
	"github.com/podreach/kubectl-podreach/pkg/inspect"
	"github.com/podreach/kubectl-podreach/pkg/podref"
	"github.com/podreach/kubectl-podreach/pkg/snapshot"
)

// bigWorld is an example world plus the Services of a 10 000-pod cluster:
// 200 namespaces × 25 Services of five shapes. The live reader lists
// Services cluster-wide but pods and EndpointSlices only in the namespaces
// that matter, so that is what explain gets at that scale.
func bigWorld(b *testing.B) (*snapshot.Snapshot, *inspect.Result) {
	b.Helper()
	src, _ := podref.Parse("demo/client-btpkt9bzdx-b5htm", "default")
	dst, _ := podref.Parse("demo/web-0", "default")
	res, err := inspect.NewFileReader([]string{filepath.Join("..", "..", "examples", "headless-http-podip.yaml")}, nil).
		Read(context.Background(), inspect.Request{Source: src, Destination: &dst})
	if err != nil {
		b.Fatal(err)
	}
	s := res.Snapshot
	for n := 0; n < 200; n++ {
		ns := fmt.Sprintf("bench-%03d", n)
		s.Namespaces = append(s.Namespaces, corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		for i := 0; i < 25; i++ {
			svc := corev1.Service{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("svc-%02d", i), Namespace: ns},
				Spec: corev1.ServiceSpec{
					Selector:  map[string]string{"app": fmt.Sprintf("app-%02d", i)},
					ClusterIP: fmt.Sprintf("10.%d.%d.%d", 100+n/100, n%100, i+1),
				},
			}
			switch i % 5 {
			case 0:
				svc.Spec.ClusterIP = "None"
				svc.Spec.Ports = []corev1.ServicePort{{Name: "http", Port: 8080}}
			case 1:
				svc.Spec.Ports = []corev1.ServicePort{{Name: "http", Port: 8080}, {Name: "grpc", Port: 9090}, {Name: "metrics", Port: 9102}}
			case 2:
				svc.Spec.Ports = []corev1.ServicePort{{Port: 7000, TargetPort: intstr.FromInt32(7000)}}
			case 3:
				svc.Spec.Ports = []corev1.ServicePort{{Name: "tcp-db", Port: 5432}}
			case 4:
				ap := "http"
				svc.Spec.Ports = []corev1.ServicePort{{Name: "web", Port: 80, TargetPort: intstr.FromInt32(8080), AppProtocol: &ap}}
			}
			svc.Spec.ClusterIPs = []string{svc.Spec.ClusterIP}
			s.Services = append(s.Services, svc)
		}
	}
	return s, res
}

func BenchmarkExplainMatrix10k(b *testing.B) {
	s, res := bigWorld(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := explain.Explain(s, explain.Query{Source: res.Source, Destination: res.Destination}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkExplainURL10k(b *testing.B) {
	s, res := bigWorld(b)
	tg, err := podref.ParseTarget("http://web.demo.svc.cluster.local:8080/", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := explain.Explain(s, explain.Query{Source: res.Source, Target: tg}); err != nil {
			b.Fatal(err)
		}
	}
}
