package podref

import (
	"errors"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestParse(t *testing.T) {
	tests := []struct {
		arg, ns string
		want    Ref
		errKind ErrorKind
		errHas  string
	}{
		{arg: "web-0", ns: "demo", want: Ref{Kind: KindPod, Namespace: "demo", Name: "web-0"}},
		{arg: "web-0", ns: "", want: Ref{Kind: KindPod, Namespace: "default", Name: "web-0"}},
		{arg: "other/web-0", ns: "demo", want: Ref{Kind: KindPod, Namespace: "other", Name: "web-0"}},
		{arg: "pod/web-0", ns: "demo", want: Ref{Kind: KindPod, Namespace: "demo", Name: "web-0"}},
		{arg: "pods/web-0", ns: "demo", want: Ref{Kind: KindPod, Namespace: "demo", Name: "web-0"}},
		{arg: "po/web-0", ns: "demo", want: Ref{Kind: KindPod, Namespace: "demo", Name: "web-0"}},
		{arg: "deploy/web", ns: "demo", want: Ref{Kind: KindDeployment, Namespace: "demo", Name: "web"}},
		{arg: "deployment/web", ns: "demo", want: Ref{Kind: KindDeployment, Namespace: "demo", Name: "web"}},
		{arg: "deployments.apps/web", ns: "demo", want: Ref{Kind: KindDeployment, Namespace: "demo", Name: "web"}},
		{arg: "Deploy/web", ns: "demo", want: Ref{Kind: KindDeployment, Namespace: "demo", Name: "web"}},
		{arg: "sts/db", ns: "demo", want: Ref{Kind: KindStatefulSet, Namespace: "demo", Name: "db"}},
		{arg: "statefulsets/db", ns: "demo", want: Ref{Kind: KindStatefulSet, Namespace: "demo", Name: "db"}},
		{arg: "ds/agent", ns: "kube-system", want: Ref{Kind: KindDaemonSet, Namespace: "kube-system", Name: "agent"}},
		{arg: "daemonset/agent", ns: "x", want: Ref{Kind: KindDaemonSet, Namespace: "x", Name: "agent"}},
		{arg: "rs/web-5d8f", ns: "demo", want: Ref{Kind: KindReplicaSet, Namespace: "demo", Name: "web-5d8f"}},
		{arg: "replicaset/web-5d8f", ns: "demo", want: Ref{Kind: KindReplicaSet, Namespace: "demo", Name: "web-5d8f"}},
		// A resource type podreach cannot use reads as a namespace, to be
		// confirmed by Resolve; a workload kind never does.
		{arg: "svc/web", ns: "demo", want: Ref{Kind: KindPod, Namespace: "svc", Name: "web", typeWord: "svc"}},
		{arg: "cm/web", ns: "demo", want: Ref{Kind: KindPod, Namespace: "cm", Name: "web", typeWord: "cm"}},
		// Dots are legal in pod names (DNS-1123 subdomain).
		{arg: "demo/web.v1", ns: "x", want: Ref{Kind: KindPod, Namespace: "demo", Name: "web.v1"}},

		{arg: "", ns: "demo", errKind: Invalid, errHas: "a pod reference is required"},
		{arg: "demo/", ns: "demo", errKind: Invalid, errHas: `invalid pod reference "demo/": the name is empty`},
		{arg: "/web", ns: "demo", errKind: Invalid, errHas: `invalid namespace "" in "/web"`},
		{arg: "demo/pod/web", ns: "demo", errKind: Invalid, errHas: "use NAME, NAMESPACE/NAME or TYPE/NAME"},
		{arg: "Web", ns: "demo", errKind: Invalid, errHas: `invalid name "Web" in "Web": a lowercase RFC 1123 subdomain`},
		{arg: "Demo/web", ns: "demo", errKind: Invalid, errHas: `invalid namespace "Demo" in "Demo/web": a lowercase RFC 1123 label`},
		{arg: "web_0", ns: "demo", errKind: Invalid, errHas: `invalid name "web_0"`},
		{arg: strings.Repeat("n", 64) + "/web", ns: "demo", errKind: Invalid, errHas: "must be no more than 63 characters"},
		{arg: "web:8080", ns: "demo", errKind: Invalid, errHas: `invalid name "web:8080"`},
	}
	for _, tt := range tests {
		t.Run(tt.arg, func(t *testing.T) {
			got, err := Parse(tt.arg, tt.ns)
			if tt.errHas != "" {
				assertError(t, err, tt.errKind, tt.errHas)
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.arg, err)
			}
			tt.want.Raw = tt.arg
			if got != tt.want {
				t.Errorf("Parse(%q) = %+v, want %+v", tt.arg, got, tt.want)
			}
		})
	}
}

func TestParseMessagesAreOneLine(t *testing.T) {
	_, err := Parse("Web", "demo")
	if strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "regex") {
		t.Errorf("message should be one short line: %q", err)
	}
}

func TestRefString(t *testing.T) {
	for arg, want := range map[string]string{
		"web-0": "pod/web-0", "demo/web-0": "pod/web-0", "deployment/web": "deploy/web",
		"statefulset/db": "sts/db", "daemonsets/a": "ds/a", "replicasets/r": "rs/r",
	} {
		ref, err := Parse(arg, "demo")
		if err != nil {
			t.Fatal(err)
		}
		if ref.String() != want {
			t.Errorf("Parse(%q).String() = %q, want %q", arg, ref.String(), want)
		}
	}
}

// pod builds a pod; opts tweak it.
func pod(ns, name string, opts ...func(*corev1.Pod)) corev1.Pod {
	p := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Status: corev1.PodStatus{
			Phase:      corev1.PodRunning,
			PodIP:      "10.0.0.1",
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		},
	}
	for _, o := range opts {
		o(&p)
	}
	return p
}

func owner(kind, name string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.OwnerReferences = append(p.OwnerReferences, metav1.OwnerReference{APIVersion: "apps/v1", Kind: kind, Name: name})
	}
}

func label(k, v string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		if p.Labels == nil {
			p.Labels = map[string]string{}
		}
		p.Labels[k] = v
	}
}

func notReady(p *corev1.Pod) { p.Status.Conditions[0].Status = corev1.ConditionFalse }

func pending(p *corev1.Pod) {
	p.Status.Phase = corev1.PodPending
	p.Status.PodIP = ""
	p.Status.Conditions = nil
}

func terminating(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{} }

func TestPick(t *testing.T) {
	deployPod := func(name, hash string, opts ...func(*corev1.Pod)) corev1.Pod {
		return pod("demo", name, append([]func(*corev1.Pod){owner("ReplicaSet", "web-"+hash), label("pod-template-hash", hash)}, opts...)...)
	}
	world := []corev1.Pod{
		pod("demo", "client"),
		pod("other", "client", func(p *corev1.Pod) { p.Status.PodIP = "10.9.9.9" }),
		pod("demo", "starting", pending),
		pod("demo", "done", func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }),
		// Unsorted on purpose: the pick must not depend on list order.
		deployPod("web-5d8f-ccc", "5d8f"),
		deployPod("web-5d8f-aaa", "5d8f", notReady),
		deployPod("web-5d8f-bbb", "5d8f"),
		deployPod("web-5d8f-abc", "5d8f", terminating),
		// A pod of another Deployment whose name shares the prefix "web-".
		pod("demo", "web-api-77-x", owner("ReplicaSet", "web-api-77"), label("pod-template-hash", "77")),
		pod("demo", "db-1", owner("StatefulSet", "db")),
		pod("demo", "db-0", owner("StatefulSet", "db")),
		pod("demo", "agent-x", owner("DaemonSet", "agent")),
		pod("demo", "down-0", owner("StatefulSet", "down"), notReady),
		pod("demo", "down-1", owner("StatefulSet", "down"), pending),
		pod("demo", "down-2", owner("StatefulSet", "down"), notReady),
	}
	tests := []struct {
		arg        string
		wantPod    string
		wantChosen string
		errKind    ErrorKind
		errMsg     string
	}{
		{arg: "client", wantPod: "demo/client"},
		{arg: "other/client", wantPod: "other/client"},
		// A named pod is used even when not ready: only an IP is required.
		{arg: "web-5d8f-aaa", wantPod: "demo/web-5d8f-aaa"},
		{arg: "deploy/web", wantPod: "demo/web-5d8f-bbb", wantChosen: "deploy/web: web-5d8f-bbb (1 of 2 ready pods)"},
		{arg: "deploy/web-api", wantPod: "demo/web-api-77-x", wantChosen: "deploy/web-api: web-api-77-x (1 of 1 ready pod)"},
		{arg: "rs/web-5d8f", wantPod: "demo/web-5d8f-bbb", wantChosen: "rs/web-5d8f: web-5d8f-bbb (1 of 2 ready pods)"},
		{arg: "sts/db", wantPod: "demo/db-0", wantChosen: "sts/db: db-0 (1 of 2 ready pods)"},
		{arg: "ds/agent", wantPod: "demo/agent-x", wantChosen: "ds/agent: agent-x (1 of 1 ready pod)"},

		{arg: "web-9", errKind: NotFound, errMsg: `pods "web-9" not found in namespace "demo"`},
		{arg: "nope/client", errKind: NotFound, errMsg: `pods "client" not found in namespace "nope"`},
		{arg: "starting", errKind: NoIP, errMsg: "pod demo/starting has no IP yet (phase Pending): podreach needs a scheduled, running pod"},
		{arg: "done", errKind: NoIP, errMsg: "pod demo/done has finished (phase Succeeded): podreach needs a scheduled, running pod"},
		{arg: "deploy/nope", errKind: NotFound, errMsg: `no pods found for deploy/nope in namespace "demo"`},
		{arg: "sts/down", errKind: NotFound, errMsg: `no ready pod found for sts/down in namespace "demo" (3 pods, none ready)`},
		// Ownership is checked by kind: a StatefulSet named like the DaemonSet does not match.
		{arg: "sts/agent", errKind: NotFound, errMsg: `no pods found for sts/agent in namespace "demo"`},
	}
	for _, tt := range tests {
		t.Run(tt.arg, func(t *testing.T) {
			ref, err := Parse(tt.arg, "demo")
			if err != nil {
				t.Fatal(err)
			}
			got, chosen, err := Pick(ref, world)
			if tt.errMsg != "" {
				assertError(t, err, tt.errKind, tt.errMsg)
				if err.Error() != tt.errMsg {
					t.Errorf("message = %q, want %q", err, tt.errMsg)
				}
				return
			}
			if err != nil {
				t.Fatalf("Pick: %v", err)
			}
			if key := got.Namespace + "/" + got.Name; key != tt.wantPod {
				t.Errorf("picked %s, want %s", key, tt.wantPod)
			}
			if chosen != tt.wantChosen {
				t.Errorf("chosenFrom = %q, want %q", chosen, tt.wantChosen)
			}
		})
	}
}

// svc/api-0 names pod api-0 of namespace svc when that namespace exists;
// otherwise it is refused as a Service reference. Workload kinds keep their
// meaning whatever namespaces exist.
func TestResolve(t *testing.T) {
	exists := func(names ...string) func(string) bool {
		return func(ns string) bool { return slices.Contains(names, ns) }
	}
	refused := `cannot use "svc/api-0": podreach needs a pod or a workload (pod/NAME, deploy/NAME, sts/NAME, ds/NAME, rs/NAME); ` +
		`to reach a service, give its address, e.g. api-0:PORT`
	tests := []struct {
		arg    string
		exists func(string) bool
		want   Ref
		errMsg string
	}{
		{"svc/api-0", exists("svc", "demo"), Ref{Kind: KindPod, Namespace: "svc", Name: "api-0", Raw: "svc/api-0"}, ""},
		{"svc/api-0", exists("demo"), Ref{}, refused},
		{"deploy/web", exists("deploy"), Ref{Kind: KindDeployment, Namespace: "demo", Name: "web", Raw: "deploy/web"}, ""},
		{"other/web", exists(), Ref{Kind: KindPod, Namespace: "other", Name: "web", Raw: "other/web"}, ""},
	}
	for _, tt := range tests {
		ref, err := Parse(tt.arg, "demo")
		if err != nil {
			t.Fatal(err)
		}
		if got := ref.Ambiguous(); got != (tt.arg == "svc/api-0") {
			t.Errorf("Parse(%q).Ambiguous() = %v", tt.arg, got)
		}
		got, err := Resolve(ref, tt.exists)
		if tt.errMsg != "" {
			assertError(t, err, Invalid, tt.errMsg)
			continue
		}
		if err != nil || got != tt.want || got.Ambiguous() {
			t.Errorf("Resolve(%q) = %+v, %v; want %+v", tt.arg, got, err, tt.want)
		}
	}
}

// Pick settles an unresolved svc/NAME by the pods it is given.
func TestPickAmbiguous(t *testing.T) {
	ref, err := Parse("svc/api-0", "demo")
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := Pick(ref, []corev1.Pod{pod("demo", "api-0"), pod("svc", "api-0")})
	if err != nil || got.Namespace != "svc" {
		t.Errorf("Pick = %s/%s, %v; want svc/api-0", got.Namespace, got.Name, err)
	}
	_, _, err = Pick(ref, []corev1.Pod{pod("demo", "api-0")})
	assertError(t, err, Invalid, `cannot use "svc/api-0"`)
}

func TestPickNoPods(t *testing.T) {
	ref, _ := Parse("deploy/web", "demo")
	_, _, err := Pick(ref, nil)
	assertError(t, err, NotFound, `no pods found for deploy/web in namespace "demo"`)
}

func assertError(t *testing.T, err error, kind ErrorKind, has string) {
	t.Helper()
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatalf("error = %v (%T), want *podref.Error", err, err)
	}
	if pe.Kind != kind {
		t.Errorf("error kind = %v, want %v (%q)", pe.Kind, kind, pe.Msg)
	}
	if !strings.Contains(pe.Msg, has) {
		t.Errorf("error = %q, want it to contain %q", pe.Msg, has)
	}
	if strings.Contains(pe.Msg, "\n") {
		t.Errorf("error must be one line: %q", pe.Msg)
	}
}

func TestOwnerOfIP(t *testing.T) {
	ip := func(addr string, opts ...func(*corev1.Pod)) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			p.Status.PodIP = addr
			for _, o := range opts {
				o(p)
			}
		}
	}
	hostNet := func(p *corev1.Pod) { p.Spec.HostNetwork = true }
	pods := []corev1.Pod{
		pod("demo", "a", ip("10.0.0.1")),
		pod("demo", "old", ip("10.0.0.1", func(p *corev1.Pod) { p.Status.Phase = corev1.PodFailed })),
		pod("demo", "b", ip("10.0.0.2")), pod("other", "b", ip("10.0.0.2")),
		pod("kube-system", "agent", ip("192.168.0.5", hostNet)),
		pod("kube-system", "agent-1", ip("192.168.0.6", hostNet)), pod("kube-system", "agent-2", ip("192.168.0.6", hostNet)),
	}
	for addr, want := range map[string]string{"10.0.0.1": "demo/a", "192.168.0.5": "kube-system/agent", "192.168.0.6": "", "10.9.9.9": ""} {
		p, err := OwnerOfIP(pods, addr)
		got := ""
		if p != nil {
			got = p.Namespace + "/" + p.Name
		}
		if err != nil || got != want {
			t.Errorf("OwnerOfIP(%s) = %q, %v; want %q", addr, got, err, want)
		}
	}
	_, err := OwnerOfIP(pods, "10.0.0.2")
	assertError(t, err, Ambiguous, "ip 10.0.0.2 belongs to several running pods (demo/b, other/b)")
}
