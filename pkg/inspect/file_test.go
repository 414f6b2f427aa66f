package inspect

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/podreach/kubectl-podreach/pkg/podref"
	"github.com/podreach/kubectl-podreach/pkg/snapshot"
)

// Two running pods in demo, the smallest world a request can be made in.
const twoPods = `
apiVersion: v1
kind: Pod
metadata: {name: src, namespace: demo}
status: {phase: Running, podIP: 10.1.1.1}
---
apiVersion: v1
kind: Pod
metadata: {name: dst, namespace: demo}
status: {phase: Running, podIP: 10.1.1.2}
`

var srcToDst = Request{
	Source:      podref.Ref{Kind: podref.KindPod, Namespace: "demo", Name: "src"},
	Destination: &podref.Ref{Kind: podref.KindPod, Namespace: "demo", Name: "dst"},
}

// writeFiles writes name → content into a temporary directory.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func readFiles(t *testing.T, req Request, paths ...string) (*Result, error) {
	t.Helper()
	return NewFileReader(paths, nil).Read(context.Background(), req)
}

func mustReadFiles(t *testing.T, req Request, paths ...string) *snapshot.Snapshot {
	t.Helper()
	res, err := readFiles(t, req, paths...)
	if err != nil {
		t.Fatalf("Read(%v): %v", paths, err)
	}
	return res.Snapshot
}

func names[T any](items []T, meta func(*T) metav1.Object) []string {
	var out []string
	for i := range items {
		m := meta(&items[i])
		out = append(out, strings.TrimPrefix(m.GetNamespace()+"/"+m.GetName(), "/"))
	}
	return out
}

func TestFileReaderWorld(t *testing.T) {
	res, err := readFiles(t, Request{Source: mustRef(t, "src", "demo"), Destination: refPtr(mustRef(t, "web-0", "demo"))}, worldFile)
	if err != nil {
		t.Fatal(err)
	}
	s := res.Snapshot
	check := func(what string, got, want []string) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	check("namespaces", names(s.Namespaces, valueMeta[corev1.Namespace]), []string{"demo", "istio-system", "other"})
	check("pods", names(s.Pods, valueMeta[corev1.Pod]), []string{"demo/api-v1", "demo/api-v2", "demo/src", "demo/web-0"})
	check("services", names(s.Services, valueMeta[corev1.Service]), []string{"demo/api", "demo/web", "other/far"})
	check("endpointslices", names(s.EndpointSlices, valueMeta[discoveryv1.EndpointSlice]), []string{"demo/api-auto0", "demo/web-auto0"})
	check("destinationrules", names(s.DestinationRules, pointerMeta), []string{"demo/api"})
	check("virtualservices", names(s.VirtualServices, pointerMeta), []string{"demo/api", "demo/web"})
	check("sidecars", names(s.Sidecars, pointerMeta), []string{"demo/default"})
	check("serviceentries", names(s.ServiceEntries, pointerMeta), []string{"demo/example"})
	if len(s.PeerAuthentications) != 0 || len(s.Unread) != 0 {
		t.Errorf("unexpected PeerAuthentications %v or Unread %v", s.PeerAuthentications, s.Unread)
	}
	if !s.Mesh.Found || s.Mesh.ConfigMap != "istio-system/istio" || s.Mesh.RootNamespace != "istio-system" {
		t.Errorf("mesh = %+v", s.Mesh)
	}
	if s.Origin != "file "+worldFile {
		t.Errorf("origin = %q", s.Origin)
	}
	if res.Source != (snapshot.PodKey{Namespace: "demo", Name: "src"}) || *res.Destination != (snapshot.PodKey{Namespace: "demo", Name: "web-0"}) {
		t.Errorf("resolved %v → %v", res.Source, res.Destination)
	}
	vs := s.VirtualServices[0]
	if vs.Spec.Http[0].Name != "to-v2" || vs.Spec.Http[0].Match[0].Uri.GetPrefix() != "/v2" || vs.Spec.Http[1].Route[0].Weight != 90 {
		t.Errorf("VirtualService spec not decoded: %v", &vs.Spec)
	}
	if s.ServiceEntries[0].Spec.Ports[0].Number != 80 {
		t.Errorf("ServiceEntry spec not decoded: %v", &s.ServiceEntries[0].Spec)
	}
}

func TestFileReaderFormats(t *testing.T) {
	tests := []struct {
		name    string
		content string
		pods    []string
	}{
		{"multi-document with comments and empty documents", "# a dump\n---\n" + twoPods + "\n---\n# nothing\n---\n", []string{"demo/dst", "demo/src"}},
		{"v1 List as kubectl get -A -o yaml writes it", `
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: src, namespace: demo}
  status: {phase: Running, podIP: 10.1.1.1}
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: web, namespace: demo}
- apiVersion: v1
  kind: Pod
  metadata: {name: dst, namespace: demo}
  status: {phase: Running, podIP: 10.1.1.2}
metadata: {resourceVersion: ""}
`, []string{"demo/dst", "demo/src"}},
		{"typed PodList whose items carry no kind", `
apiVersion: v1
kind: PodList
items:
- metadata: {name: src, namespace: demo}
  status: {phase: Running, podIP: 10.1.1.1}
- metadata: {name: dst, namespace: demo}
  status: {phase: Running, podIP: 10.1.1.2}
`, []string{"demo/dst", "demo/src"}},
		{"nested Lists", `
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: List
  items:
  - {apiVersion: v1, kind: Pod, metadata: {name: src, namespace: demo}, status: {phase: Running, podIP: 10.1.1.1}}
- apiVersion: v1
  kind: PodList
  items:
  - {metadata: {name: dst, namespace: demo}, status: {phase: Running, podIP: 10.1.1.2}}
`, []string{"demo/dst", "demo/src"}},
		{"JSON object", `{"apiVersion": "v1", "kind": "List", "items": [
 {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "src", "namespace": "demo"}, "status": {"phase": "Running", "podIP": "10.1.1.1"}},
 {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "dst", "namespace": "demo"}, "status": {"phase": "Running", "podIP": "10.1.1.2"}}]}`,
			[]string{"demo/dst", "demo/src"}},
		{"JSON stream", `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "src", "namespace": "demo"}, "status": {"phase": "Running", "podIP": "10.1.1.1"}}
{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "dst", "namespace": "demo"}, "status": {"phase": "Running", "podIP": "10.1.1.2"}}`,
			[]string{"demo/dst", "demo/src"}},
		{"unknown kinds are ignored", twoPods + `
---
apiVersion: oracle.local/v1
kind: Oracle
calls: [{name: x}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec: {replicas: "not even valid"}
---
apiVersion: networking.istio.io/v2
kind: VirtualService
metadata: {name: future}
---
apiVersion: v1
kind: Secret
metadata: {name: s, namespace: demo}
data: {password: aGk=}
`, []string{"demo/dst", "demo/src"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"in.yaml": tt.content})
			s := mustReadFiles(t, srcToDst, filepath.Join(dir, "in.yaml"))
			if got := names(s.Pods, valueMeta[corev1.Pod]); !reflect.DeepEqual(got, tt.pods) {
				t.Errorf("pods = %v, want %v", got, tt.pods)
			}
		})
	}
}

func TestFileReaderLastDuplicateWins(t *testing.T) {
	dir := writeFiles(t, map[string]string{"a.yaml": twoPods + `
---
apiVersion: v1
kind: Pod
metadata: {name: src, namespace: demo, labels: {second: "yes"}}
status: {phase: Running, podIP: 10.1.1.1}
`})
	s := mustReadFiles(t, srcToDst, filepath.Join(dir, "a.yaml"))
	if s.Pods[1].Name != "src" || s.Pods[1].Labels["second"] != "yes" {
		t.Errorf("want the second src: %+v", s.Pods[1].ObjectMeta)
	}
}

func TestFileReaderDirectoryAndStdin(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"1-src.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: src, namespace: demo}\nstatus: {phase: Running, podIP: 10.1.1.1}\n",
		"2-svc.json": `{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "demo"}, "spec": {"ports": [{"port": 80}]}}`,
		"3-ns.yml":   "apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n",
		"notes.txt":  "not: [yaml",
	})
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "x.yaml"), []byte("broken: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdin := strings.NewReader("apiVersion: v1\nkind: Pod\nmetadata: {name: dst, namespace: demo}\nstatus: {phase: Running, podIP: 10.1.1.2}\n")
	res, err := NewFileReader([]string{dir, "-"}, stdin).Read(context.Background(), srcToDst)
	if err != nil {
		t.Fatal(err)
	}
	s := res.Snapshot
	if len(s.Pods) != 2 || len(s.Services) != 1 || len(s.Namespaces) != 1 {
		t.Errorf("pods %d services %d namespaces %d, want 2 1 1", len(s.Pods), len(s.Services), len(s.Namespaces))
	}
	if want := "file " + dir + ", STDIN"; s.Origin != want {
		t.Errorf("origin = %q, want %q", s.Origin, want)
	}
}

func TestFileReaderDefaults(t *testing.T) {
	dir := writeFiles(t, map[string]string{"a.yaml": twoPods + `
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  clusterIP: 10.96.0.10
  ports: [{name: http, port: 80}, {name: grpc, port: 81, targetPort: 9000, protocol: TCP}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web}
spec: {host: web}
`})
	s := mustReadFiles(t, srcToDst, filepath.Join(dir, "a.yaml"))
	svc := s.Services[0]
	if svc.Namespace != "default" || s.DestinationRules[0].Namespace != "default" {
		t.Errorf("namespace not defaulted: %q %q", svc.Namespace, s.DestinationRules[0].Namespace)
	}
	want := []corev1.ServicePort{
		{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(80)},
		{Name: "grpc", Port: 81, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(9000)},
	}
	if !reflect.DeepEqual(svc.Spec.Ports, want) || svc.Spec.Type != corev1.ServiceTypeClusterIP ||
		!reflect.DeepEqual(svc.Spec.ClusterIPs, []string{"10.96.0.10"}) {
		t.Errorf("service spec not defaulted: %+v", svc.Spec)
	}
}

func TestFileReaderEndpointsConversion(t *testing.T) {
	dir := writeFiles(t, map[string]string{"a.yaml": twoPods + `
---
apiVersion: v1
kind: Endpoints
metadata:
  name: db
  namespace: demo
  uid: uid-1234
  labels: {app: db}
  annotations:
    endpoints.kubernetes.io/last-change-trigger-time: "2026-01-01T00:00:00Z"
    note: kept
subsets:
- addresses:
  - ip: 10.1.2.3
    hostname: db-0
    nodeName: node-1
    targetRef: {kind: Pod, name: db-0, namespace: demo}
  - ip: fd00::3
  notReadyAddresses:
  - ip: 10.1.2.4
    hostname: db-1
    targetRef: {kind: Pod, name: db-1, namespace: demo}
  - ip: not-an-ip
  ports:
  - {name: sql, port: 5432, protocol: TCP}
  - {name: web, port: 8080, appProtocol: http}
- addresses:
  - ip: 10.1.2.9
  ports:
  - {name: web, port: 8080, appProtocol: http}
  - {name: sql, port: 5432, protocol: TCP}
---
# Has its own EndpointSlice: its Endpoints are not converted.
apiVersion: v1
kind: Endpoints
metadata: {name: web, namespace: demo}
subsets: [{addresses: [{ip: 10.9.9.9}], ports: [{port: 80}]}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-abcde
  namespace: demo
  labels: {kubernetes.io/service-name: web}
addressType: IPv4
endpoints: [{addresses: [10.1.1.2], conditions: {ready: true}}]
ports: [{name: http, port: 80}]
`})
	s := mustReadFiles(t, srcToDst, filepath.Join(dir, "a.yaml"))
	owner := []metav1.OwnerReference{{APIVersion: "v1", Kind: "Endpoints", Name: "db", UID: types.UID("uid-1234"),
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: "demo", OwnerReferences: owner,
			Labels: map[string]string{"app": "db", "kubernetes.io/service-name": "db",
				"endpointslice.kubernetes.io/managed-by": "endpointslicemirroring-controller.k8s.io"},
			Annotations: map[string]string{"note": "kept"}}
	}
	ports := []discoveryv1.EndpointPort{
		{Name: ptr.To("sql"), Port: ptr.To[int32](5432), Protocol: ptr.To(corev1.ProtocolTCP)},
		{Name: ptr.To("web"), Port: ptr.To[int32](8080), Protocol: ptr.To(corev1.ProtocolTCP), AppProtocol: ptr.To("http")},
	}
	want := []discoveryv1.EndpointSlice{
		{ObjectMeta: meta("db-mirrored"), AddressType: discoveryv1.AddressTypeIPv4, Ports: ports, Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.1.2.3"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}, Hostname: ptr.To("db-0"),
				NodeName: ptr.To("node-1"), TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: "db-0", Namespace: "demo"}},
			{Addresses: []string{"10.1.2.4"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false)}, Hostname: ptr.To("db-1"),
				TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: "db-1", Namespace: "demo"}},
			// Same ports in another order: the same slice, as in the controller.
			{Addresses: []string{"10.1.2.9"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}},
		}},
		{ObjectMeta: meta("db-mirrored-2"), AddressType: discoveryv1.AddressTypeIPv6, Ports: ports, Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"fd00::3"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}},
		}},
	}
	got := s.EndpointSlices[:2]
	if !reflect.DeepEqual(got, want) {
		g, _ := yaml.Marshal(got)
		w, _ := yaml.Marshal(want)
		t.Errorf("mirrored slices:\n%s\nwant:\n%s", g, w)
	}
	if len(s.EndpointSlices) != 3 || s.EndpointSlices[2].Name != "web-abcde" {
		t.Errorf("want web's own slice only, got %v", names(s.EndpointSlices, valueMeta[discoveryv1.EndpointSlice]))
	}
	if p := s.EndpointSlices[2].Ports[0].Protocol; p == nil || *p != corev1.ProtocolTCP {
		t.Errorf("EndpointSlice port protocol not defaulted to TCP: %v", p)
	}
}

func TestFileReaderEndpointSliceV1beta1(t *testing.T) {
	dir := writeFiles(t, map[string]string{"a.yaml": twoPods + `
---
apiVersion: discovery.k8s.io/v1beta1
kind: EndpointSlice
metadata: {name: web-x, namespace: demo, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints:
- addresses: [10.1.1.2]
  conditions: {ready: true}
  nodeName: node-1
  topology: {kubernetes.io/hostname: node-1, topology.kubernetes.io/zone: z1, rack: r7}
ports: [{name: http, port: 80, protocol: TCP}]
`})
	s := mustReadFiles(t, srcToDst, filepath.Join(dir, "a.yaml"))
	e := s.EndpointSlices[0].Endpoints[0]
	if *e.Zone != "z1" || *e.NodeName != "node-1" || !reflect.DeepEqual(e.DeprecatedTopology, map[string]string{"rack": "r7"}) {
		t.Errorf("topology not converted: zone %v node %v deprecated %v", e.Zone, e.NodeName, e.DeprecatedTopology)
	}
}

// Older Istio API versions decode into the v1 types with the same spec.
func TestFileReaderIstioVersions(t *testing.T) {
	objects := func(networking, security string) string {
		return twoPods + `
---
apiVersion: networking.istio.io/` + networking + `
kind: DestinationRule
metadata: {name: web, namespace: demo}
spec: {host: web, trafficPolicy: {tls: {mode: DISABLE}}, subsets: [{name: v1, labels: {version: v1}}]}
---
apiVersion: networking.istio.io/` + networking + `
kind: VirtualService
metadata: {name: web, namespace: demo}
spec: {hosts: [web], http: [{name: r, route: [{destination: {host: web, subset: v1}}]}]}
---
apiVersion: networking.istio.io/` + networking + `
kind: ServiceEntry
metadata: {name: ext, namespace: demo}
spec: {hosts: [example.com], ports: [{number: 443, name: tls, protocol: TLS}], resolution: DNS}
---
apiVersion: networking.istio.io/` + networking + `
kind: Sidecar
metadata: {name: default, namespace: demo}
spec: {egress: [{hosts: ["./*"]}], outboundTrafficPolicy: {mode: REGISTRY_ONLY}}
---
apiVersion: security.istio.io/` + security + `
kind: PeerAuthentication
metadata: {name: default, namespace: demo}
spec: {mtls: {mode: STRICT}, portLevelMtls: {"8080": {mode: PERMISSIVE}}}
`
	}
	dir := writeFiles(t, map[string]string{
		"v1.yaml":       objects("v1", "v1"),
		"v1beta1.yaml":  objects("v1beta1", "v1beta1"),
		"v1alpha3.yaml": objects("v1alpha3", "v1beta1"),
	})
	want := mustReadFiles(t, srcToDst, filepath.Join(dir, "v1.yaml"))
	if want.PeerAuthentications[0].Spec.PortLevelMtls[8080].Mode.String() != "PERMISSIVE" ||
		want.Sidecars[0].Spec.OutboundTrafficPolicy.Mode.String() != "REGISTRY_ONLY" ||
		want.DestinationRules[0].Spec.TrafficPolicy.Tls.Mode.String() != "DISABLE" {
		t.Fatalf("v1 specs not decoded")
	}
	for _, old := range []string{"v1beta1.yaml", "v1alpha3.yaml"} {
		got := mustReadFiles(t, srcToDst, filepath.Join(dir, old))
		got.Origin = want.Origin
		if !reflect.DeepEqual(got, want) {
			g, _ := yaml.Marshal(got)
			w, _ := yaml.Marshal(want)
			t.Errorf("%s differs from v1:\n%s\nwant:\n%s", old, g, w)
		}
	}
}

func TestFileReaderMeshConfig(t *testing.T) {
	mesh := func(ns, name, text string) string {
		return "\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + name + ", namespace: " + ns + "}\ndata:\n  mesh: |\n    " + text + "\n"
	}
	canarySrc := `
apiVersion: v1
kind: Pod
metadata:
  name: src
  namespace: demo
  annotations: {sidecar.istio.io/status: '{"containers":["istio-proxy"],"revision":"canary"}'}
status: {phase: Running, podIP: 10.1.1.1}
---
apiVersion: v1
kind: Pod
metadata: {name: dst, namespace: demo}
status: {phase: Running, podIP: 10.1.1.2}
`
	tests := []struct {
		name      string
		content   string
		configMap string
		policy    string
		unread    []snapshot.Unread
	}{
		{"none: defaults", twoPods, "", "ALLOW_ANY", []snapshot.Unread{{Resource: "configmaps", Namespace: "istio-system",
			Reason: `configmaps "istio" not found: using Istio's default mesh config`}}},
		{"istio-system preferred", twoPods + mesh("other", "istio", "outboundTrafficPolicy: {mode: ALLOW_ANY}") +
			mesh("istio-system", "istio", "outboundTrafficPolicy: {mode: REGISTRY_ONLY}"), "istio-system/istio", "REGISTRY_ONLY", nil},
		{"elsewhere when not in istio-system", twoPods + mesh("istio-control", "istio", "outboundTrafficPolicy: {mode: REGISTRY_ONLY}"),
			"istio-control/istio", "REGISTRY_ONLY", nil},
		{"revision of the source proxy", canarySrc + mesh("istio-system", "istio", "{}") +
			mesh("istio-system", "istio-canary", "outboundTrafficPolicy: {mode: REGISTRY_ONLY}"), "istio-system/istio-canary", "REGISTRY_ONLY", nil},
		{"revisioned ConfigMap ignored for a default proxy", twoPods + mesh("istio-system", "istio-canary", "outboundTrafficPolicy: {mode: REGISTRY_ONLY}"),
			"", "ALLOW_ANY", []snapshot.Unread{{Resource: "configmaps", Namespace: "istio-system",
				Reason: `configmaps "istio" not found: using Istio's default mesh config`}}},
		{"invalid mesh text", twoPods + mesh("istio-system", "istio", "outboundTrafficPolicy: [oops"), "", "ALLOW_ANY", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"a.yaml": tt.content})
			s := mustReadFiles(t, srcToDst, filepath.Join(dir, "a.yaml"))
			if s.Mesh.ConfigMap != tt.configMap || s.Mesh.Found != (tt.configMap != "") || s.Mesh.OutboundTrafficPolicy != tt.policy {
				t.Errorf("mesh = %+v, want configMap %q policy %s", s.Mesh, tt.configMap, tt.policy)
			}
			if tt.name == "invalid mesh text" {
				if len(s.Unread) != 1 || !strings.Contains(s.Unread[0].Reason, `configmap "istio": invalid mesh config`) {
					t.Errorf("unread = %v", s.Unread)
				}
				return
			}
			if !reflect.DeepEqual(s.Unread, tt.unread) {
				t.Errorf("unread = %v, want %v", s.Unread, tt.unread)
			}
		})
	}
}

func TestFileReaderErrors(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"bad.yaml":      twoPods + "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: [web\n",
		"empty.yaml":    "# nothing here\n---\n",
		"nokind.yaml":   "apiVersion: v1\nmetadata: {name: x}\n",
		"scalar.yaml":   "just a string\n",
		"badfield.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: demo}\nspec: {ports: [{port: eighty}]}\n",
		"badjson.json":  `{"apiVersion": "v1", "kind": "Pod"} {"apiVersion": `,
	})
	tests := []struct {
		path  string
		kind  ErrorKind
		doc   int
		cause string
	}{
		{"bad.yaml", Malformed, 3, "error converting YAML to JSON: yaml: line 4: did not find expected ',' or ']'"},
		{"missing.yaml", NotFound, 0, "stat DIR/missing.yaml: no such file or directory"},
		{"empty.yaml", Malformed, 0, ErrNoObjects.Error()},
		{"nokind.yaml", Malformed, 1, "object 'Kind' is missing"},
		{"scalar.yaml", Malformed, 1, "not a Kubernetes object (want a mapping with apiVersion and kind)"},
		{"badfield.yaml", Malformed, 1, "Service demo/web: json: cannot unmarshal string into Go struct field ServicePort.spec.ports.port of type int32"},
		{"badjson.json", Malformed, 2, "unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			path := filepath.Join(dir, tt.path)
			_, err := readFiles(t, srcToDst, path)
			var re *Error
			if !errors.As(err, &re) {
				t.Fatalf("error = %v (%T), want *Error", err, err)
			}
			cause := strings.ReplaceAll(tt.cause, "DIR", dir)
			if re.Kind != tt.kind || re.Document != tt.doc || !slices.Equal(re.Inputs, []string{path}) || re.Err.Error() != cause {
				t.Errorf("error = %v %q document %d: %v\nwant %v %q document %d: %s", re.Kind, re.Inputs, re.Document, re.Err,
					tt.kind, path, tt.doc, cause)
			}
		})
	}
}

// Reference errors pass through unchanged: the command maps them to exit 2.
func TestFileReaderPodErrors(t *testing.T) {
	dir := writeFiles(t, map[string]string{"a.yaml": twoPods + `
---
apiVersion: v1
kind: Pod
metadata: {name: pending, namespace: demo}
status: {phase: Pending}
`})
	path := filepath.Join(dir, "a.yaml")
	tests := []struct {
		req  Request
		kind podref.ErrorKind
		msg  string
	}{
		{Request{Source: mustRef(t, "nope", "demo"), Destination: srcToDst.Destination}, podref.NotFound, `pods "nope" not found in namespace "demo"`},
		{Request{Source: srcToDst.Source, Destination: refPtr(mustRef(t, "pending", "demo"))}, podref.NoIP,
			"pod demo/pending has no IP yet (phase Pending): podreach needs a scheduled, running pod"},
		{Request{Source: srcToDst.Source, Destination: refPtr(mustRef(t, "deploy/web", "demo"))}, podref.NotFound,
			`no pods found for deploy/web in namespace "demo"`},
	}
	for _, tt := range tests {
		_, err := readFiles(t, tt.req, path)
		var pe *podref.Error
		if !errors.As(err, &pe) || pe.Kind != tt.kind || pe.Msg != tt.msg {
			t.Errorf("error = %v, want %v %q", err, tt.kind, tt.msg)
		}
	}
}

func TestFileReaderTargetIP(t *testing.T) {
	dir := writeFiles(t, map[string]string{"a.yaml": twoPods + `
---
apiVersion: v1
kind: Pod
metadata: {name: old, namespace: demo}
status: {phase: Succeeded, podIP: 10.1.1.2}
---
apiVersion: v1
kind: Pod
metadata: {name: node-agent, namespace: kube-system}
spec: {hostNetwork: true}
status: {phase: Running, podIP: 192.168.0.5}
---
apiVersion: v1
kind: Pod
metadata: {name: node-agent-2, namespace: kube-system}
spec: {hostNetwork: true}
status: {phase: Running, podIP: 192.168.0.6}
---
apiVersion: v1
kind: Pod
metadata: {name: node-proxy, namespace: kube-system}
spec: {hostNetwork: true}
status: {phase: Running, podIP: 192.168.0.6}
`})
	path := filepath.Join(dir, "a.yaml")
	for ip, want := range map[string]*snapshot.PodKey{
		"10.1.1.2":    {Namespace: "demo", Name: "dst"}, // the finished pod that had the IP does not count
		"192.168.0.5": {Namespace: "kube-system", Name: "node-agent"},
		"192.168.0.6": nil, // two host-network pods: a node IP, not a pod
		"10.96.0.1":   nil,
		"web.demo":    nil,
	} {
		res, err := readFiles(t, Request{Source: srcToDst.Source, TargetHost: ip}, path)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(res.Destination, want) {
			t.Errorf("%s: destination = %v, want %v", ip, res.Destination, want)
		}
	}
}
