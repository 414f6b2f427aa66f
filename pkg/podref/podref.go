// Package podref parses the arguments of `kubectl podreach`: SRC and DST as
// pod references (NAME, NAMESPACE/NAME, TYPE/NAME) or DST as a URL or
// host:port (target.go), and the --port, --header and --traffic values; and
// it picks the pod a reference means from a list of pods (pick.go). It is
// pure: no clients, so the command validates every argument once, and the
// live and the file readers resolve references the same way.
package podref

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Kind is the kind of object a reference names.
type Kind string

const (
	KindPod         Kind = "pod"
	KindDeployment  Kind = "deployment"
	KindStatefulSet Kind = "statefulset"
	KindDaemonSet   Kind = "daemonset"
	KindReplicaSet  Kind = "replicaset"
)

// Ref is a parsed SRC or DST argument.
type Ref struct {
	Kind      Kind
	Namespace string
	Name      string
	// Raw is the argument as the user typed it.
	Raw string

	// typeWord is set when the NAMESPACE of NAMESPACE/NAME is also a
	// resource type podreach cannot resolve to a pod ("svc" in svc/api-0):
	// the reference means that namespace's pod only if the namespace
	// exists, which Resolve settles once the namespaces are known.
	typeWord string
}

// String is the short, kubectl-style form used in messages: "pod/web-0",
// "deploy/web".
func (r Ref) String() string { return shortNames[r.Kind] + "/" + r.Name }

// IsPod tells a pod reference from a workload reference.
func (r Ref) IsPod() bool { return r.Kind == KindPod }

var shortNames = map[Kind]string{
	KindPod:         "pod",
	KindDeployment:  "deploy",
	KindStatefulSet: "sts",
	KindDaemonSet:   "ds",
	KindReplicaSet:  "rs",
}

// typeAliases are the resource names kubectl accepts for the kinds podreach
// can resolve to a pod (singular, plural, short name, group-qualified).
var typeAliases = map[string]Kind{
	"po": KindPod, "pod": KindPod, "pods": KindPod,
	"deploy": KindDeployment, "deployment": KindDeployment, "deployments": KindDeployment,
	"deployment.apps": KindDeployment, "deployments.apps": KindDeployment,
	"sts": KindStatefulSet, "statefulset": KindStatefulSet, "statefulsets": KindStatefulSet,
	"statefulset.apps": KindStatefulSet, "statefulsets.apps": KindStatefulSet,
	"ds": KindDaemonSet, "daemonset": KindDaemonSet, "daemonsets": KindDaemonSet,
	"daemonset.apps": KindDaemonSet, "daemonsets.apps": KindDaemonSet,
	"rs": KindReplicaSet, "replicaset": KindReplicaSet, "replicasets": KindReplicaSet,
	"replicaset.apps": KindReplicaSet, "replicasets.apps": KindReplicaSet,
}

// otherTypes are kubectl resource names that users plausibly type but that do
// not name a pod. `svc/web` is pod "web" of namespace "svc" only when such a
// namespace exists (Resolve); otherwise it is refused with a hint, rather
// than reported as a pod not found.
var otherTypes = map[string]bool{
	"svc": true, "service": true, "services": true,
	"ep": true, "endpoints": true, "endpointslice": true, "endpointslices": true,
	"job": true, "jobs": true, "cj": true, "cronjob": true, "cronjobs": true,
	"no": true, "node": true, "nodes": true, "ns": true, "namespace": true, "namespaces": true,
	"ing": true, "ingress": true, "ingresses": true, "cm": true, "configmap": true, "configmaps": true,
	"secret": true, "secrets": true, "sa": true, "serviceaccount": true, "serviceaccounts": true,
}

// Parse reads a pod reference as kubectl would: NAME and TYPE/NAME live in
// defaultNamespace (from -n or the context), NAMESPACE/NAME names a pod in
// another namespace. A first segment that names a kind podreach resolves
// (pod, deploy, sts, ds, rs and their spellings) wins over a namespace of
// the same name, as in kubectl. Another resource type (svc, cm, ...) is read
// as a namespace, to be confirmed by Resolve.
func Parse(arg, defaultNamespace string) (Ref, error) {
	if defaultNamespace == "" {
		defaultNamespace = "default"
	}
	ref := Ref{Kind: KindPod, Namespace: defaultNamespace, Raw: arg}
	parts := strings.Split(arg, "/")
	switch len(parts) {
	case 1:
		ref.Name = parts[0]
	case 2:
		first := strings.ToLower(parts[0])
		if kind, ok := typeAliases[first]; ok {
			ref.Kind = kind
		} else {
			ref.Namespace = parts[0]
			if otherTypes[first] {
				ref.typeWord = parts[0]
			}
		}
		ref.Name = parts[1]
	default:
		return Ref{}, invalidf("invalid pod reference %q: use NAME, NAMESPACE/NAME or TYPE/NAME (with -n for the namespace)", arg)
	}
	if arg == "" {
		return Ref{}, invalidf("a pod reference is required: NAME, NAMESPACE/NAME or TYPE/NAME")
	}
	if ref.Name == "" {
		return Ref{}, invalidf("invalid pod reference %q: the name is empty", arg)
	}
	if len(validation.IsDNS1123Label(ref.Namespace)) > 0 {
		return Ref{}, invalidf("invalid namespace %q in %q: %s", ref.Namespace, arg, notDNSName(ref.Namespace, dnsLabel))
	}
	if len(validation.IsDNS1123Subdomain(ref.Name)) > 0 {
		return Ref{}, invalidf("invalid name %q in %q: %s", ref.Name, arg, notDNSName(ref.Name, dnsSubdomain))
	}
	return ref, nil
}

// dnsName is a kind of name Kubernetes validates (apimachinery
// validation.IsDNS1123Label, IsDNS1123Subdomain).
type dnsName struct {
	what, chars string
	max         int
}

var (
	dnsLabel     = dnsName{"label", "lower case alphanumeric characters or '-'", validation.DNS1123LabelMaxLength}
	dnsSubdomain = dnsName{"subdomain", "lower case alphanumeric characters, '-' or '.'", validation.DNS1123SubdomainMaxLength}
)

// notDNSName says why s is not a valid name of that kind, in
// apimachinery's words without the regular expression it appends.
func notDNSName(s string, kind dnsName) string {
	if len(s) > kind.max {
		return fmt.Sprintf("must be no more than %d characters", kind.max)
	}
	return fmt.Sprintf("a lowercase RFC 1123 %s must consist of %s, and must start and end with an alphanumeric character", kind.what, kind.chars)
}

// ErrorKind classifies a reference error.
type ErrorKind int

const (
	// Invalid: the argument is malformed.
	Invalid ErrorKind = iota
	// NotFound: no such pod, or no (ready) pod behind the workload.
	NotFound
	// Ambiguous: the reference matches several pods and none can be preferred.
	Ambiguous
	// NoIP: the pod exists but has no IP (not scheduled, not started, finished).
	NoIP
)

func (k ErrorKind) String() string {
	switch k {
	case Invalid:
		return "Invalid"
	case NotFound:
		return "NotFound"
	case Ambiguous:
		return "Ambiguous"
	case NoIP:
		return "NoIP"
	}
	return fmt.Sprintf("ErrorKind(%d)", int(k))
}

// Error is a problem with a SRC or DST reference: the command exits with
// status 2. Msg is one lower-case line without the "error: " prefix.
type Error struct {
	Kind ErrorKind
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

func invalidf(format string, a ...any) error {
	return &Error{Kind: Invalid, Msg: fmt.Sprintf(format, a...)}
}
