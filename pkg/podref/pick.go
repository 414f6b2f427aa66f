package podref

import (
	"fmt"
	"sort"

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
func Pick(ref Ref, pods []corev1.Pod) (pod corev1.Pod, chosenFrom string, err error) {
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
