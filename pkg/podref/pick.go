package podref

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Pick finds the pod ref names among pods. For a pod reference that is the
// pod itself; for a workload it is one ready pod owned by it, found through
// ownerReferences only, because podreach may not read Deployments,
// StatefulSets, ... (see the README's RBAC section). chosenFrom explains a
// workload choice ("deploy/web: web-5d8f-abc (1 of 3 ready pods)") and is ""
// for a pod reference.
//
// The choice is deterministic: the first ready, running pod with an IP in
// name order, so two runs on the same cluster explain the same pod.
//
// A reference Resolve has not settled (svc/api-0) is settled by pods alone:
// it names a namespace only if some pod lives there.
func Pick(ref Ref, pods []corev1.Pod) (pod corev1.Pod, chosenFrom string, err error) {
	if ref.typeWord != "" {
		ref, err = Resolve(ref, func(ns string) bool {
			return slices.ContainsFunc(pods, func(p corev1.Pod) bool { return p.Namespace == ns })
		})
		if err != nil {
			return corev1.Pod{}, "", err
		}
	}
	if ref.IsPod() {
		for _, p := range pods {
			if p.Namespace == ref.Namespace && p.Name == ref.Name {
				return p, "", usable(p)
			}
		}
		return corev1.Pod{}, "", &Error{Kind: NotFound,
			Msg: fmt.Sprintf("pods %q not found in namespace %q", ref.Name, ref.Namespace)}
	}

	owned := ownedPods(ref, pods)
	if len(owned) == 0 {
		return corev1.Pod{}, "", &Error{Kind: NotFound,
			Msg: fmt.Sprintf("no pods found for %s in namespace %q", ref, ref.Namespace)}
	}
	var ready []corev1.Pod
	for _, p := range owned {
		if isReadyWithIP(p) {
			ready = append(ready, p)
		}
	}
	if len(ready) == 0 {
		return corev1.Pod{}, "", &Error{Kind: NotFound,
			Msg: fmt.Sprintf("no ready pod found for %s in namespace %q (%s, none ready)", ref, ref.Namespace, plural(len(owned), "pod"))}
	}
	chosen := ready[0]
	return chosen, fmt.Sprintf("%s: %s (1 of %s)", ref, chosen.Name, plural(len(ready), "ready pod")), nil
}

// Ambiguous tells whether ref's NAMESPACE is also a resource type podreach
// cannot use (svc/api-0), so that what it means depends on the namespaces
// that exist (Resolve).
func (r Ref) Ambiguous() bool { return r.typeWord != "" }

// Resolve settles an ambiguous reference once the namespaces are known:
// svc/api-0 is pod api-0 of namespace svc when namespaceExists("svc"), and
// otherwise an Invalid error that says a Service is not a pod and how to
// reach one. Other references are returned unchanged.
func Resolve(ref Ref, namespaceExists func(ns string) bool) (Ref, error) {
	if ref.typeWord == "" {
		return ref, nil
	}
	if namespaceExists(ref.Namespace) {
		ref.typeWord = ""
		return ref, nil
	}
	return Ref{}, invalidf("cannot use %q: podreach needs a pod or a workload "+
		"(pod/NAME, deploy/NAME, sts/NAME, ds/NAME, rs/NAME); to reach a service, give its address, e.g. %s:PORT",
		ref.Raw, ref.Name)
}

// OwnerOfIP finds the pod that owns ip as its primary IP (status.podIP, the
// field the API server can select on), ignoring finished pods whose IP may
// have been reused; nil if none. Pods on the host network share the node's
// IP, so they only count when no regular pod has the IP, and then only if
// there is one. Several regular pods with the IP are an Ambiguous error.
func OwnerOfIP(pods []corev1.Pod, ip string) (*corev1.Pod, error) {
	var regular, hostNet []*corev1.Pod
	for i := range pods {
		p := &pods[i]
		if p.Status.PodIP != ip || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		if p.Spec.HostNetwork {
			hostNet = append(hostNet, p)
		} else {
			regular = append(regular, p)
		}
	}
	switch {
	case len(regular) == 1:
		return regular[0], nil
	case len(regular) > 1:
		names := make([]string, len(regular))
		for i, p := range regular {
			names[i] = p.Namespace + "/" + p.Name
		}
		return nil, &Error{Kind: Ambiguous,
			Msg: "ip " + ip + " belongs to several running pods (" + strings.Join(names, ", ") + ")"}
	case len(hostNet) == 1:
		return hostNet[0], nil
	}
	return nil, nil
}

// usable says why a named pod cannot be analysed: without an IP there is no
// data path to explain, and a finished pod's IP may already belong to another.
func usable(p corev1.Pod) error {
	switch {
	case p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed:
		return &Error{Kind: NoIP, Msg: fmt.Sprintf("pod %s/%s has finished (phase %s): podreach needs a scheduled, running pod",
			p.Namespace, p.Name, p.Status.Phase)}
	case p.Status.PodIP == "":
		phase := p.Status.Phase
		if phase == "" {
			phase = corev1.PodPending
		}
		return &Error{Kind: NoIP, Msg: fmt.Sprintf("pod %s/%s has no IP yet (phase %s): podreach needs a scheduled, running pod",
			p.Namespace, p.Name, phase)}
	}
	return nil
}

// ownedPods returns the pods of ref's workload, sorted by name.
func ownedPods(ref Ref, pods []corev1.Pod) []corev1.Pod {
	var out []corev1.Pod
	for _, p := range pods {
		if p.Namespace == ref.Namespace && ownedBy(ref, p) {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ownedBy matches ownerReferences. A Deployment owns its pods through a
// ReplicaSet named "<deployment>-<pod-template-hash>" (the deployment
// controller's naming, pkg/controller/deployment/sync.go getNewReplicaSet),
// which lets us recognise them without reading the Deployment.
func ownedBy(ref Ref, p corev1.Pod) bool {
	kind, name := ownerKind[ref.Kind], ref.Name
	if ref.Kind == KindDeployment {
		hash := p.Labels["pod-template-hash"]
		if hash == "" {
			return false
		}
		name = ref.Name + "-" + hash
	}
	for _, o := range p.OwnerReferences {
		if o.Kind == kind && o.Name == name {
			return true
		}
	}
	return false
}

var ownerKind = map[Kind]string{
	KindDeployment:  "ReplicaSet",
	KindReplicaSet:  "ReplicaSet",
	KindStatefulSet: "StatefulSet",
	KindDaemonSet:   "DaemonSet",
}

func isReadyWithIP(p corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" || p.DeletionTimestamp != nil {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// PickAll finds every pod ref names among pods, for the fleet forms, where a
// workload means all its pods rather than one: a pod reference gives that
// pod (which must be usable, as for Pick); a workload gives each of its pods
// that has an IP and has not finished, sorted by name, and left names those
// it leaves out (no IP yet, finished). A workload without any such pod is a
// NotFound error.
func PickAll(ref Ref, pods []corev1.Pod) (usablePods []corev1.Pod, left []string, err error) {
	if ref.typeWord != "" || ref.IsPod() {
		p, _, err := Pick(ref, pods)
		if err != nil {
			return nil, nil, err
		}
		return []corev1.Pod{p}, nil, nil
	}
	owned := ownedPods(ref, pods)
	if len(owned) == 0 {
		return nil, nil, &Error{Kind: NotFound,
			Msg: fmt.Sprintf("no pods found for %s in namespace %q", ref, ref.Namespace)}
	}
	usablePods, left = Usable(owned)
	if len(usablePods) == 0 {
		return nil, nil, &Error{Kind: NotFound,
			Msg: fmt.Sprintf("no pod of %s in namespace %q has an IP (%s)", ref, ref.Namespace, plural(len(owned), "pod"))}
	}
	return usablePods, left, nil
}

// Usable splits pods into those a fleet examines (an IP, not finished) and
// the names (NS/NAME) of the others.
func Usable(pods []corev1.Pod) (ok []corev1.Pod, left []string) {
	for _, p := range pods {
		if usable(p) == nil {
			ok = append(ok, p)
		} else {
			left = append(left, p.Namespace+"/"+p.Name)
		}
	}
	return ok, left
}
