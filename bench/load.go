package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// The shape of the cluster, per namespace: 25 Services of 2 pods each (50
// pods), one EndpointSlice per Service; every namespace a PeerAuthentication,
// every 2nd a DestinationRule and a VirtualService, every 4th a Sidecar and a
// ServiceEntry. 200 namespaces = 10 000 pods, 5 000 Services, ~500 Istio
// objects; 20 namespaces = the 1k-pod variant, the same shape at 1/10.
const (
	podsPerNamespace     = 50
	servicesPerNamespace = 25
	podsPerService       = podsPerNamespace / servicesPerNamespace
)

func nsName(i int) string { return fmt.Sprintf("bench-%03d", i) }

// The pods and Services the measurements use.
const (
	srcNS = "bench-000"
	dstNS = "bench-001"
)

var (
	srcPod = srcNS + "/" + podName(0, 0)
	dstPod = dstNS + "/" + podName(1, 0) // app-01: the multi-port ClusterIP Service svc-01
	dstURL = "http://svc-01." + dstNS + ".svc.cluster.local:8080/"
)

func appName(svc int) string    { return fmt.Sprintf("app-%02d", svc) }
func svcName(svc int) string    { return fmt.Sprintf("svc-%02d", svc) }
func podName(svc, k int) string { return fmt.Sprintf("%s-%d", appName(svc), k) }
func podIP(ns, svc, k int) string {
	n := (ns*podsPerNamespace + svc*podsPerService + k)
	return fmt.Sprintf("10.244.%d.%d", n/250, n%250+1)
}

// servicePorts gives the five kinds of Service, by svc % 5.
func servicePorts(svc int) (headless bool, ports []corev1.ServicePort) {
	p := func(name string, port, target int32, app *string) corev1.ServicePort {
		return corev1.ServicePort{Name: name, Port: port, TargetPort: intstr.FromInt32(target), Protocol: corev1.ProtocolTCP, AppProtocol: app}
	}
	switch svc % 5 {
	case 0: // headless, named HTTP port
		return true, []corev1.ServicePort{p("http-web", 8080, 8080, nil)}
	case 1: // multi-port: HTTP, gRPC, and an unnamed-style TCP port
		return false, []corev1.ServicePort{p("http", 8080, 8080, nil), p("grpc", 9090, 9090, nil), p("metrics", 9091, 9091, nil)}
	case 2: // single unnamed port 80 → 8080 (protocol sniffing)
		return false, []corev1.ServicePort{p("", 80, 8080, nil)}
	case 3: // TCP database
		return false, []corev1.ServicePort{p("tcp-db", 5432, 5432, nil)}
	default: // appProtocol http on port 80
		return false, []corev1.ServicePort{p("web", 80, 8080, ptr.To("http"))}
	}
}

// loader writes the cluster with many concurrent workers.
type loader struct {
	kube     kubernetes.Interface
	dyn      dynamic.Interface
	template *corev1.Pod // an injected pod from the example worlds
	workers  int
	writes   atomic.Int64
}

func (l *loader) run(ctx context.Context, jobs []func(context.Context) error) error {
	ch := make(chan func(context.Context) error)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range l.workers {
		wg.Go(func() {
			for j := range ch {
				if err := j(ctx); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		})
	}
	for _, j := range jobs {
		select {
		case ch <- j:
		case <-ctx.Done():
		}
	}
	close(ch)
	wg.Wait()
	return first
}

// loadNamespaces creates namespaces [from, to) and everything in them.
func (l *loader) loadNamespaces(ctx context.Context, from, to int) (time.Duration, error) {
	start := time.Now()
	var jobs []func(context.Context) error
	for i := from; i < to; i++ {
		jobs = append(jobs, func(ctx context.Context) error {
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: nsName(i), Labels: map[string]string{"istio-injection": "enabled"}}}
			_, err := l.kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
			l.writes.Add(1)
			return err
		})
	}
	if err := l.run(ctx, jobs); err != nil {
		return 0, fmt.Errorf("namespaces: %w", err)
	}
	jobs = nil
	for i := from; i < to; i++ {
		for svc := range servicesPerNamespace {
			jobs = append(jobs, func(ctx context.Context) error { return l.loadService(ctx, i, svc) })
		}
		for _, obj := range istioObjects(i) {
			jobs = append(jobs, func(ctx context.Context) error { return l.create(ctx, obj) })
		}
	}
	if err := l.run(ctx, jobs); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// loadService writes one Service of a bench namespace, its pods (owned by
// a Deployment's ReplicaSet) and its EndpointSlice.
func (l *loader) loadService(ctx context.Context, nsi, svc int) error {
	headless, ports := servicePorts(svc)
	var pods []podSpec
	for k := range podsPerService {
		pods = append(pods, podSpec{name: podName(svc, k), app: appName(svc), ip: podIP(nsi, svc, k),
			node: fmt.Sprintf("node-%02d", (nsi+svc)%40), owner: "ReplicaSet", ownerName: appName(svc) + "-7d9f8c6b5"})
	}
	return l.loadWorkload(ctx, nsName(nsi), svcName(svc), headless, ports, pods)
}

// podSpec is what varies between the pods the loader writes.
type podSpec struct {
	name, app, ip, node string
	owner, ownerName    string // ownerReferences[0]: "ReplicaSet" or "StatefulSet"
}

// loadWorkload writes a Service selecting app=pods[0].app, its pods (with
// status) and one EndpointSlice of them.
func (l *loader) loadWorkload(ctx context.Context, ns, name string, headless bool, ports []corev1.ServicePort, pods []podSpec) error {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": pods[0].app}},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": pods[0].app}, Ports: ports},
	}
	if headless {
		s.Spec.ClusterIP = corev1.ClusterIPNone
	}
	if _, err := l.kube.CoreV1().Services(ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("service %s/%s: %w", ns, s.Name, err)
	}
	l.writes.Add(1)
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name: s.Name + "-abcde", Namespace: ns,
			Labels: map[string]string{discoveryv1.LabelServiceName: s.Name},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	if headless {
		slice.Labels[corev1.IsHeadlessService] = ""
	}
	for _, p := range ports {
		slice.Ports = append(slice.Ports, discoveryv1.EndpointPort{Name: ptr.To(p.Name), Port: ptr.To(p.TargetPort.IntVal), Protocol: ptr.To(corev1.ProtocolTCP), AppProtocol: p.AppProtocol})
	}
	for _, spec := range pods {
		pod := l.pod(ns, spec, s.Name, ports, headless)
		created, err := l.kube.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("pod %s/%s: %w", ns, pod.Name, err)
		}
		created.Status = pod.Status
		if _, err := l.kube.CoreV1().Pods(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("pod status %s/%s: %w", ns, pod.Name, err)
		}
		l.writes.Add(2)
		ep := discoveryv1.Endpoint{
			Addresses:  []string{pod.Status.PodIP},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true), Serving: ptr.To(true), Terminating: ptr.To(false)},
			NodeName:   ptr.To(pod.Spec.NodeName),
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: pod.Name, UID: created.UID},
		}
		if headless {
			ep.Hostname = ptr.To(pod.Name)
		}
		slice.Endpoints = append(slice.Endpoints, ep)
	}
	if _, err := l.kube.DiscoveryV1().EndpointSlices(ns).Create(ctx, slice, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("endpointslice %s/%s: %w", ns, slice.Name, err)
	}
	l.writes.Add(1)
	return nil
}

// pod is the example worlds' injected pod (istio-proxy container,
// sidecar.istio.io/status, security.istio.io/tlsMode) renamed and given the
// app's container ports and an IP; behind a headless Service it gets the
// hostname and subdomain of its per-pod DNS name.
func (l *loader) pod(ns string, spec podSpec, service string, ports []corev1.ServicePort, headless bool) *corev1.Pod {
	p := l.template.DeepCopy()
	p.ObjectMeta = metav1.ObjectMeta{
		Name: spec.name, Namespace: ns,
		Labels:      map[string]string{},
		Annotations: map[string]string{},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: spec.owner, Name: spec.ownerName,
			UID: "00000000-0000-0000-0000-000000000000", Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}},
	}
	for key, v := range l.template.Labels {
		p.Labels[key] = v
	}
	for key, v := range l.template.Annotations {
		p.Annotations[key] = v
	}
	p.Labels["app"] = spec.app
	p.Labels["service.istio.io/canonical-name"] = spec.app
	switch spec.owner {
	case "StatefulSet":
		p.Labels["statefulset.kubernetes.io/pod-name"] = spec.name
		p.Labels["controller-revision-hash"] = spec.ownerName + "-6c8f9d7b4"
	default:
		p.Labels["pod-template-hash"] = "7d9f8c6b5"
	}
	p.Spec.NodeName = spec.node
	if headless {
		p.Spec.Hostname, p.Spec.Subdomain = p.Name, service
	}
	var cports []corev1.ContainerPort
	for _, sp := range ports {
		cports = append(cports, corev1.ContainerPort{Name: sp.Name, ContainerPort: sp.TargetPort.IntVal, Protocol: corev1.ProtocolTCP})
	}
	p.Spec.Containers[0].Ports = cports
	p.Status.PodIP, p.Status.PodIPs = spec.ip, []corev1.PodIP{{IP: spec.ip}}
	p.Status.HostIP, p.Status.HostIPs = "172.18.0.2", []corev1.HostIP{{IP: "172.18.0.2"}}
	return p
}

// The StatefulSet of the --peers measurement: etcd's layout (a headless
// Service with the client and peer ports, one pod per member) in a
// namespace of its own, STRICT, so that the namespaces the single-pair
// forms read are the same as before it was added. Only its pods exist (with
// their ownerReferences, which is how podreach finds a workload's pods): no
// controller runs in the bench cluster.
const (
	stsNS       = "bench-sts"
	stsName     = "etcd"
	stsReplicas = 5
)

// loadStatefulSet writes the namespace, its PeerAuthentication, the
// headless Service, the pods and their EndpointSlice.
func (l *loader) loadStatefulSet(ctx context.Context) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: stsNS, Labels: map[string]string{"istio-injection": "enabled"}}}
	if _, err := l.kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("namespace %s: %w", stsNS, err)
	}
	l.writes.Add(1)
	pa := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
		"metadata": map[string]any{"name": "default", "namespace": stsNS},
		"spec":     map[string]any{"mtls": map[string]any{"mode": "STRICT"}},
	}}
	if err := l.create(ctx, pa); err != nil {
		return err
	}
	p := func(name string, port int32) corev1.ServicePort {
		return corev1.ServicePort{Name: name, Port: port, TargetPort: intstr.FromInt32(port), Protocol: corev1.ProtocolTCP}
	}
	var pods []podSpec
	for k := range stsReplicas {
		pods = append(pods, podSpec{name: fmt.Sprintf("%s-%d", stsName, k), app: stsName, ip: fmt.Sprintf("10.245.0.%d", k+1),
			node: fmt.Sprintf("node-%02d", k), owner: "StatefulSet", ownerName: stsName})
	}
	return l.loadWorkload(ctx, stsNS, stsName, true, []corev1.ServicePort{p("client", 2379), p("peer", 2380)}, pods)
}

func (l *loader) create(ctx context.Context, obj *unstructured.Unstructured) error {
	gv, err := schema.ParseGroupVersion(obj.GetAPIVersion())
	if err != nil {
		return err
	}
	gvr := gv.WithResource(resourceOf[obj.GetKind()])
	if _, err := l.dyn.Resource(gvr).Namespace(obj.GetNamespace()).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("%s %s/%s: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
	}
	l.writes.Add(1)
	return nil
}

var resourceOf = map[string]string{
	"PeerAuthentication": "peerauthentications",
	"DestinationRule":    "destinationrules",
	"VirtualService":     "virtualservices",
	"Sidecar":            "sidecars",
	"ServiceEntry":       "serviceentries",
}

// istioObjects of namespace i. Namespaces bench-000 (SRC) and bench-001
// (DST) get no Sidecar, so that SRC sees the whole mesh (Istio's default).
func istioObjects(i int) []*unstructured.Unstructured {
	ns := nsName(i)
	obj := func(apiVersion, kind, name string, spec map[string]any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": apiVersion, "kind": kind,
			"metadata": map[string]any{"name": name, "namespace": ns},
			"spec":     spec,
		}}
	}
	mode := "STRICT"
	if i%3 == 2 {
		mode = "PERMISSIVE"
	}
	out := []*unstructured.Unstructured{obj("security.istio.io/v1", "PeerAuthentication", "default", map[string]any{"mtls": map[string]any{"mode": mode}})}
	host := svcName(4) + "." + ns + ".svc.cluster.local"
	if i%2 == 0 {
		out = append(out,
			obj("networking.istio.io/v1", "DestinationRule", svcName(4), map[string]any{
				"host": host,
				"trafficPolicy": map[string]any{
					"connectionPool":   map[string]any{"http": map[string]any{"http2MaxRequests": int64(1000)}},
					"outlierDetection": map[string]any{"consecutive5xxErrors": int64(5), "interval": "10s"},
				},
			}),
			obj("networking.istio.io/v1", "VirtualService", svcName(4), map[string]any{
				"hosts": []any{host},
				"http": []any{map[string]any{
					"match":   []any{map[string]any{"uri": map[string]any{"prefix": "/v2"}}},
					"route":   []any{map[string]any{"destination": map[string]any{"host": host, "port": map[string]any{"number": int64(80)}}}},
					"timeout": "5s",
				}, map[string]any{
					"route": []any{map[string]any{"destination": map[string]any{"host": host}}},
				}},
			}))
	}
	if i%4 == 3 {
		out = append(out,
			obj("networking.istio.io/v1", "Sidecar", "default", map[string]any{
				"egress": []any{map[string]any{"hosts": []any{"./*", "istio-system/*", nsName(i-1) + "/*"}}},
			}),
			obj("networking.istio.io/v1", "ServiceEntry", "external-api", map[string]any{
				"hosts":      []any{fmt.Sprintf("api-%03d.example.com", i)},
				"location":   "MESH_EXTERNAL",
				"resolution": "DNS",
				"ports":      []any{map[string]any{"number": int64(443), "name": "tls", "protocol": "TLS"}},
			}))
	}
	return out
}

// podTemplate finds the first injected pod in the example worlds' objects.
func podTemplate(objs []*unstructured.Unstructured) (*corev1.Pod, error) {
	for _, o := range objs {
		if o.GetKind() != "Pod" || o.GetAnnotations()["sidecar.istio.io/status"] == "" {
			continue
		}
		var p corev1.Pod
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &p); err != nil {
			return nil, err
		}
		p.Status.Phase = corev1.PodRunning
		return &p, nil
	}
	return nil, fmt.Errorf("no injected pod in the example world")
}
