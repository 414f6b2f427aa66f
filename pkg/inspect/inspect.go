// Package inspect reads the part of a cluster that podreach needs into a
// snapshot.Snapshot, either from the API server (live.go) or from YAML/JSON
// files (file.go). Both readers resolve SRC and DST with pkg/podref and
// finish with the same normalize step, so the same objects give the same
// Snapshot whichever way they were read.
//
// The one intended difference is scope: the file reader keeps every object
// of a kind it uses, while the live reader is namespace-bounded (Pods and
// EndpointSlices only of the namespaces that matter, see LiveReader), so that
// its cost grows with the namespaces involved rather than with the cluster.
package inspect

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/podreach/kubectl-podreach/pkg/podref"
	"github.com/podreach/kubectl-podreach/pkg/snapshot"
)

// Request says which pods to resolve and what else must be read.
type Request struct {
	Source podref.Ref
	// Destination is set for the matrix form (DST is a pod or workload).
	Destination *podref.Ref
	// TargetHost is the hostname or IP the application dials (URL form),
	// "" for the matrix form. It decides which extra namespaces matter.
	TargetHost string
	// Destinations is set for the fleet forms SRC -l SELECTOR, SRC -A,
	// SRC -n NS and SRC DST1 DST2 …: every pod of the set is a DST.
	Destinations *PodSet
	// Peers is set for --peers: every ordered pair of the set's pods is
	// examined; Source is not used.
	Peers *PodSet
}

// PodSet is the pods of a fleet form: the union of Refs (a pod, or every
// pod of a workload) and, when Selector is set, the pods it matches in
// Namespace, or in every namespace with AllNamespaces (kubectl's -l, -n and
// -A). Only pods with an IP that have not finished are members; the others
// are named in Result.Left.
type PodSet struct {
	Refs          []podref.Ref
	Selector      labels.Selector
	Namespace     string
	AllNamespaces bool
}

// namespaces are the namespaces whose pods the set needs ("" for all).
func (s *PodSet) namespaces() []string {
	if s == nil {
		return nil
	}
	if s.Selector != nil && s.AllNamespaces {
		return []string{""}
	}
	var out []string
	if s.Selector != nil {
		out = append(out, s.Namespace)
	}
	for _, r := range s.Refs {
		out = append(out, r.Namespace)
	}
	return out
}

// allNamespaces tells whether req needs the pods of every namespace.
func (req Request) allNamespaces() bool {
	for _, s := range []*PodSet{req.Destinations, req.Peers} {
		if s != nil && s.Selector != nil && s.AllNamespaces {
			return true
		}
	}
	return false
}

// set is the request's fleet set, nil for the single forms.
func (req Request) set() *PodSet {
	if req.Peers != nil {
		return req.Peers
	}
	return req.Destinations
}

// Result is a Snapshot plus the pods that SRC and DST resolved to.
type Result struct {
	Snapshot *snapshot.Snapshot
	Source   snapshot.PodKey
	// Destination is the DST pod for the matrix form; for the URL form it is
	// the pod that owns TargetHost when TargetHost is a pod IP, else nil.
	Destination *snapshot.PodKey
	// Members are the pods of the request's PodSet (fleet forms), sorted by
	// namespace and name: the destinations (SRC included if it is one), or
	// the peers.
	Members []snapshot.PodKey
	// Left names (NS/NAME) the pods of the set that are not members: no IP
	// yet, or finished.
	Left []string
	// Requests lists the API requests the live reader made, in a stable
	// order, one per line ("LIST /api/v1/services 200"),
	// for -v=4. Empty for the file reader.
	Requests []string
	// Warnings are about the read itself (none from the readers today), to
	// print as "Warning: …" lines; what could not be read is in
	// Snapshot.Unread instead.
	Warnings []string
}

// Reader reads a Snapshot for a Request. Errors are an *Error (the cluster
// or the input could not be read: exit 3) or a *podref.Error (SRC or DST
// does not name a usable pod: exit 2).
type Reader interface {
	Read(ctx context.Context, req Request) (*Result, error)
}

// targetIP returns the canonical IP when the target host is an IP literal.
func targetIP(host string) string {
	if ip := net.ParseIP(strings.Trim(host, "[]")); ip != nil {
		return ip.String()
	}
	return ""
}

// resolveRef settles a reference such as svc/api-0 (podref.Resolve): it
// names pod api-0 of namespace svc if that namespace was read, or has pods.
func resolveRef(ref podref.Ref, namespaces []corev1.Namespace, pods []corev1.Pod) (podref.Ref, error) {
	return podref.Resolve(ref, func(ns string) bool {
		return slices.ContainsFunc(namespaces, func(n corev1.Namespace) bool { return n.Name == ns }) ||
			slices.ContainsFunc(pods, func(p corev1.Pod) bool { return p.Namespace == ns })
	})
}

// pickKey resolves ref among pods into a PodKey.
func pickKey(ref podref.Ref, pods []corev1.Pod) (snapshot.PodKey, error) {
	p, chosen, err := podref.Pick(ref, pods)
	if err != nil {
		return snapshot.PodKey{}, err
	}
	return snapshot.PodKey{Namespace: p.Namespace, Name: p.Name, ChosenFrom: chosen}, nil
}

// meshNamespace is where istiod and its mesh ConfigMap live by default; the
// live reader reads the ConfigMap only there (LiveOptions.MeshNamespace).
const meshNamespace = "istio-system"

// meshConfigMapNames returns the ConfigMaps whose `mesh` key configures the
// source proxy, most specific first: a revisioned control plane (istiod-<rev>)
// reads istio-<rev>, the default one reads istio.
func meshConfigMapNames(src *corev1.Pod) []string {
	if rev := proxyRevision(src); rev != "" && rev != "default" {
		return []string{"istio-" + rev, "istio"}
	}
	return []string{"istio"}
}

// proxyRevision reads the control-plane revision the injector recorded in the
// sidecar.istio.io/status annotation, or the istio.io/rev label.
func proxyRevision(p *corev1.Pod) string {
	if p == nil {
		return ""
	}
	var status struct {
		Revision string `json:"revision"`
	}
	if s := p.Annotations["sidecar.istio.io/status"]; s != "" && json.Unmarshal([]byte(s), &status) == nil && status.Revision != "" {
		return status.Revision
	}
	return p.Labels["istio.io/rev"]
}

// meshFrom turns the chosen mesh ConfigMap (nil when none was found) into the
// Snapshot's MeshConfig, with an Unread entry saying why defaults are used.
// Both readers call it so that they word these cases identically.
func meshFrom(cm *corev1.ConfigMap, ns string, names []string) (snapshot.MeshConfig, *snapshot.Unread) {
	if cm == nil {
		return snapshot.DefaultMeshConfig(), &snapshot.Unread{Resource: "configmaps", Namespace: ns,
			Reason: `configmaps "` + names[0] + `" not found: using Istio's default mesh config`}
	}
	text, ok := cm.Data["mesh"]
	if !ok {
		return snapshot.DefaultMeshConfig(), &snapshot.Unread{Resource: "configmaps", Namespace: cm.Namespace,
			Reason: `configmap "` + cm.Name + `" has no "mesh" key: using Istio's default mesh config`}
	}
	m, err := snapshot.ParseMeshConfig(text)
	if err != nil {
		return snapshot.DefaultMeshConfig(), &snapshot.Unread{Resource: "configmaps", Namespace: cm.Namespace,
			Reason: `configmap "` + cm.Name + `": ` + err.Error() + `: using Istio's default mesh config`}
	}
	m.Found = true
	m.ConfigMap = cm.Namespace + "/" + cm.Name
	return m, nil
}

// resolveSet finds the members of a PodSet among pods (both readers call it,
// so that they agree): each Ref through podref.PickAll, then the pods the
// selector matches in its namespace or in all. A Ref that names nothing is
// an error, as in the single forms; a selector that matches no usable pod
// is a NotFound error naming it.
func resolveSet(set *PodSet, s *snapshot.Snapshot, pods []corev1.Pod) (members []snapshot.PodKey, left []string, err error) {
	namespaces := s.Namespaces
	seen := map[string]bool{}
	add := func(ps []corev1.Pod, l []string) {
		for _, p := range ps {
			if k := p.Namespace + "/" + p.Name; !seen[k] {
				seen[k] = true
				members = append(members, snapshot.PodKey{Namespace: p.Namespace, Name: p.Name})
			}
		}
		left = append(left, l...)
	}
	for _, ref := range set.Refs {
		ref, err := resolveRef(ref, namespaces, pods)
		if err != nil {
			return nil, nil, err
		}
		ps, l, err := podref.PickAll(ref, pods)
		if err != nil {
			return nil, nil, err
		}
		add(ps, l)
	}
	if set.Selector != nil {
		var matched []corev1.Pod
		for _, p := range pods {
			if (set.AllNamespaces || p.Namespace == set.Namespace) && set.Selector.Matches(labels.Set(p.Labels)) {
				matched = append(matched, p)
			}
		}
		ok, l := podref.Usable(matched)
		if len(ok) == 0 {
			return nil, nil, &podref.Error{Kind: podref.NotFound, Msg: noPodsMessage(set, len(matched), s.Unread)}
		}
		add(ok, l)
	}
	slices.SortFunc(members, func(a, b snapshot.PodKey) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	slices.Sort(left)
	left = slices.Compact(left)
	return members, left, nil
}

// noPodsMessage words an empty selection as kubectl does ("No resources
// found in demo namespace."), naming the selector.
func noPodsMessage(set *PodSet, withoutIP int, unread []snapshot.Unread) string {
	where := "in namespace " + strconv.Quote(set.Namespace)
	if set.AllNamespaces {
		where = "in any namespace"
	}
	what := "no pods"
	if sel := set.Selector.String(); sel != "" {
		what += " match -l " + strconv.Quote(sel)
	}
	msg := what + " " + where
	if withoutIP > 0 {
		msg += fmt.Sprintf(" with an IP (%d without one or finished)", withoutIP)
	}
	for _, u := range unread {
		if u.Resource == "pods" && (u.Namespace == set.Namespace || set.AllNamespaces) {
			where := "cluster-wide"
			if u.Namespace != "" {
				where = "in namespace " + u.Namespace
			}
			msg += fmt.Sprintf("; pods could not be listed %s (%s)", where, u.Reason)
		}
	}
	return msg
}

// podByKey finds a pod by key among pods (which hold it).
func podByKey(pods []corev1.Pod, k snapshot.PodKey) *corev1.Pod {
	i := slices.IndexFunc(pods, func(p corev1.Pod) bool { return p.Namespace == k.Namespace && p.Name == k.Name })
	return &pods[i]
}
