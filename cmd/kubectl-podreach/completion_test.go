package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// completionWorld: namespaces default, demo, demo-two and monitoring; in
// default a Deployment's pod and a DaemonSet's; in demo a StatefulSet web
// (web-0, web-1) behind the Service web (port 80 → targetPort "http").
func completionWorld() *fake.Clientset {
	ns := func(name string) *corev1.Namespace {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	}
	owned := func(ns, name, kind, owner string, labels map[string]string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: name, Labels: labels,
			OwnerReferences: []metav1.OwnerReference{{Kind: kind, Name: owner, Controller: ptrTo(true)}},
		}}
	}
	web := func(name string) *corev1.Pod {
		p := owned("demo", name, "StatefulSet", "web", map[string]string{"app": "web"})
		p.Spec.Containers = []corev1.Container{
			{Name: "nginx", Ports: []corev1.ContainerPort{
				{Name: "http", ContainerPort: 8080},
				{Name: "metrics", ContainerPort: 9090},
				{Name: "dns", ContainerPort: 5353, Protocol: corev1.ProtocolUDP},
			}},
			{Name: "istio-proxy", Ports: []corev1.ContainerPort{{Name: "http-envoy-prom", ContainerPort: 15090}}},
		}
		p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.1.2.3",
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
		return p
	}
	return fake.NewClientset(
		ns("default"), ns("demo"), ns("demo-two"), ns("monitoring"),
		owned("default", "client-5d8f7c9b4-x2x7q", "ReplicaSet", "client-5d8f7c9b4", map[string]string{"pod-template-hash": "5d8f7c9b4"}),
		owned("default", "node-agent-abcde", "DaemonSet", "node-agent", nil),
		web("web-0"), web("web-1"),
		owned("monitoring", "prometheus-0", "StatefulSet", "prometheus", nil),
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "web"},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{
				{Name: "http-web", Port: 80, TargetPort: intstr.FromString("http")},
				{Name: "tcp-admin", Port: 7000, TargetPort: intstr.FromInt32(7001)},
			}},
		},
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "other"},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "other"}, Ports: []corev1.ServicePort{
				{Name: "grpc", Port: 50051},
			}},
		},
	)
}

func ptrTo[T any](v T) *T { return &v }

// complete runs `kubectl podreach __complete args...` as the shell does and
// returns the candidates (without descriptions unless withDesc) and the
// directive.
func complete(t *testing.T, kube kubernetes.Interface, withDesc bool, args ...string) ([]string, cobra.ShellCompDirective) {
	t.Helper()
	streams, _, out, _ := genericiooptions.NewTestIOStreams()
	f := NewFlags(streams)
	f.kubeClient = func() (kubernetes.Interface, error) { return kube, nil }
	cmd := NewCmd(f)
	cmd.SetArgs(append([]string{cobra.ShellCompRequestCmd}, args...))
	cmd.SetOut(out)
	cmd.SetErr(&strings.Builder{})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("__complete %q: %v", args, err)
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, ":") {
		t.Fatalf("__complete %q: no directive line in %q", args, out.String())
	}
	d, err := strconv.Atoi(last[1:])
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range lines[:len(lines)-1] {
		if !withDesc {
			l, _, _ = strings.Cut(l, "\t")
		}
		got = append(got, l)
	}
	return got, cobra.ShellCompDirective(d)
}

func TestCompletion(t *testing.T) {
	isolate(t)
	const (
		noFile  = cobra.ShellCompDirectiveNoFileComp
		noSpace = cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp
	)
	cases := []struct {
		name string
		args []string
		want []string
		dir  cobra.ShellCompDirective
	}{
		{"SRC: pods of the default namespace (and cobra's help, version)", []string{""},
			[]string{"help", "version", "client-5d8f7c9b4-x2x7q", "node-agent-abcde"}, noFile},
		{"SRC: -n picks the namespace", []string{"-n", "demo", ""},
			[]string{"web-0", "web-1"}, noFile},
		{"SRC: a prefix also offers namespaces and TYPE/ with no space", []string{"d"},
			[]string{"deploy/", "ds/", "default/", "demo/", "demo-two/"}, noSpace},
		{"SRC: pod prefix", []string{"cl"},
			[]string{"client-5d8f7c9b4-x2x7q"}, noFile},
		{"SRC: NS/ completes that namespace's pods", []string{"demo/"},
			[]string{"demo/web-0", "demo/web-1"}, noFile},
		{"SRC: NS/prefix", []string{"monitoring/p"},
			[]string{"monitoring/prometheus-0"}, noFile},
		{"SRC: deploy/ from the pods' ReplicaSet owners", []string{"deploy/"},
			[]string{"deploy/client"}, noFile},
		{"SRC: ds/", []string{"ds/"},
			[]string{"ds/node-agent"}, noFile},
		{"SRC: sts/ with -n", []string{"-n", "demo", "sts/"},
			[]string{"sts/web"}, noFile},
		{"SRC: svc/ is not a pod", []string{"svc/"}, nil, noFile},
		{"DST: pods, namespace-aware", []string{"client-5d8f7c9b4-x2x7q", "demo/web-"},
			[]string{"demo/web-0", "demo/web-1"}, noFile},
		{"DST: a URL is not completed", []string{"client", "http://10"}, nil, noFile},
		{"DST: host:port is not completed", []string{"client", "web:80"}, nil, noFile},
		{"no third argument", []string{"a", "b", ""}, nil, noFile},
		{"-n: namespaces", []string{"-n", ""},
			[]string{"default", "demo", "demo-two", "monitoring"}, noFile},
		{"-n: prefix", []string{"--namespace", "mo"},
			[]string{"monitoring"}, noFile},
		{"--port: ports of DST as the matrix examines them, each by number then its names", []string{"client", "demo/web-0", "--port", ""},
			[]string{"7001", "tcp-admin", "8080", "http", "http-web", "9090", "metrics"}, noFile},
		{"--port: DST through a workload", []string{"client", "sts/web", "-n", "demo", "--port", "9"},
			[]string{"9090"}, noFile},
		{"--port: comma-separated list completes the last", []string{"client", "demo/web-1", "--port", "8080,m"},
			[]string{"8080,metrics"}, noFile},
		{"--port: before DST", []string{"client", "--port", ""}, nil, noFile},
		{"--port: URL DST", []string{"client", "http://web/", "--port", ""}, nil, noFile},
		{"--port: unknown DST", []string{"client", "demo/nope", "--port", ""}, nil, noFile},
		{"-o: formats, podreach's then kubectl's templates", []string{"-o", ""},
			[]string{"table", "wide", "json", "yaml", "dot", "go-template", "go-template-file", "template", "templatefile", "jsonpath", "jsonpath-as-json", "jsonpath-file"}, noFile},
		{"--traffic", []string{"--traffic", ""}, []string{"auto", "http", "tcp"}, noFile},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, dir := complete(t, completionWorld(), false, tc.args...)
			if !slices.Equal(got, tc.want) {
				t.Errorf("__complete %q = %q, want %q", tc.args, got, tc.want)
			}
			if dir != tc.dir {
				t.Errorf("__complete %q directive = %d, want %d", tc.args, dir, tc.dir)
			}
		})
	}
}

// svc/ completes the pods of a namespace named svc, the way the command
// reads svc/NAME when that namespace exists.
func TestCompletionServiceWordNamespace(t *testing.T) {
	isolate(t)
	kube := completionWorld()
	for _, o := range []runtime.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "svc"}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "svc", Name: "api-0"}},
	} {
		if err := kube.Tracker().Add(o); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := complete(t, kube, false, "svc/")
	if !slices.Equal(got, []string{"svc/api-0"}) {
		t.Errorf("__complete svc/ = %q", got)
	}
}

func TestCompletionPortDescriptions(t *testing.T) {
	isolate(t)
	got, _ := complete(t, completionWorld(), true, "client", "demo/web-0", "--port", "")
	// The descriptions are the report's port sources; the UDP port and
	// istio-proxy's are not offered.
	want := []string{
		"7001\tService demo/web port tcp-admin 7000→7001 (TCP)",
		"tcp-admin\tport 7001: Service demo/web port tcp-admin 7000→7001 (TCP)",
		"8080\tService demo/web port http-web 80→8080 (HTTP); containerPort nginx/8080",
		"http\tport 8080: Service demo/web port http-web 80→8080 (HTTP); containerPort nginx/8080",
		"http-web\tport 8080: Service demo/web port http-web 80→8080 (HTTP); containerPort nginx/8080",
		"9090\tcontainerPort nginx/9090",
		"metrics\tport 9090: containerPort nginx/9090",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}

// RBAC: a user who may not list namespaces still gets pod names; one who may
// not list pods gets the error directive (the shell then offers nothing).
func TestCompletionForbidden(t *testing.T) {
	isolate(t)
	forbid := func(resource string) *fake.Clientset {
		kube := completionWorld()
		kube.PrependReactor("list", resource, func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: resource}, "", fmt.Errorf("no"))
		})
		return kube
	}
	got, dir := complete(t, forbid("namespaces"), false, "c")
	if !slices.Equal(got, []string{"client-5d8f7c9b4-x2x7q"}) || dir != cobra.ShellCompDirectiveNoFileComp {
		t.Errorf("namespaces forbidden: %q, directive %d", got, dir)
	}
	got, dir = complete(t, forbid("pods"), false, "")
	if !slices.Equal(got, []string{"help", "version"}) || dir != cobra.ShellCompDirectiveError {
		t.Errorf("pods forbidden: %q, directive %d", got, dir)
	}
	got, _ = complete(t, forbid("pods"), false, "de")
	if !slices.Equal(got, []string{"deploy/", "default/", "demo/", "demo-two/"}) {
		t.Errorf("pods forbidden, prefix: %q", got)
	}
}

// Without an injected client, completion reads the cluster of the kubeconfig
// and flags like the command (here --server), with a user agent.
func TestCompletionUsesConnectionFlags(t *testing.T) {
	isolate(t)
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path)
		if !strings.HasPrefix(r.UserAgent(), "kubectl-podreach/") {
			t.Errorf("user agent %q", r.UserAgent())
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"kind":"PodList","apiVersion":"v1","items":[{"metadata":{"name":"web-0","namespace":"demo"}}]}`)
	}))
	defer srv.Close()
	streams, _, out, _ := genericiooptions.NewTestIOStreams()
	cmd := NewCmd(NewFlags(streams))
	cmd.SetArgs([]string{cobra.ShellCompRequestCmd, "--server", srv.URL, "demo/"})
	cmd.SetOut(out)
	cmd.SetErr(&strings.Builder{})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "demo/web-0\n:4\n") {
		t.Errorf("out = %q", out.String())
	}
	if !slices.Equal(paths, []string{"/api/v1/namespaces/demo/pods"}) {
		t.Errorf("requests %q", paths)
	}
}
