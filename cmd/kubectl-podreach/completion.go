package main

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/podreach/kubectl-podreach/examples"
	"github.com/podreach/kubectl-podreach/pkg/explain"
	"github.com/podreach/kubectl-podreach/pkg/podref"
	"github.com/podreach/kubectl-podreach/pkg/snapshot"
)

// Completion reads the cluster like the command does (pods, services,
// namespaces: get/list only) and never fails loudly: on any error it offers
// what it has, or nothing.
const completionTimeout = 5 * time.Second

// workloadPrefixes are the TYPE/ forms completion offers; podref.Parse
// accepts more spellings.
var workloadPrefixes = []string{"pod/", "deploy/", "sts/", "ds/", "rs/"}

func (f *Flags) registerCompletions(cmd *cobra.Command) {
	fixed := func(flag string, values []string) {
		_ = cmd.RegisterFlagCompletionFunc(flag, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
	}
	fixed("output", f.PrintFlags.AllowedFormats())
	fixed("traffic", podref.TrafficValues)
	_ = cmd.RegisterFlagCompletionFunc("example", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return examples.Names(), cobra.ShellCompDirectiveNoFileComp
	})
	_ = cmd.RegisterFlagCompletionFunc("namespace", f.completeNamespaces)
	_ = cmd.RegisterFlagCompletionFunc("port", f.completePorts)
	_ = cmd.RegisterFlagCompletionFunc("header", cobra.FixedCompletions([]string{"Host: "}, cobra.ShellCompDirectiveNoSpace|cobra.ShellCompDirectiveNoFileComp))
}

func (f *Flags) completeNamespaces(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	kube, err := f.completionClient()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	ctx, cancel := context.WithTimeout(context.Background(), completionTimeout)
	defer cancel()
	names, err := namespaceNames(ctx, kube, toComplete)
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

// completePods offers SRC and DST, namespace-aware:
//
//	""           pods of the default namespace (-n, else the context's)
//	"we"         those pods starting with "we", plus namespaces "web-ns/" and
//	             TYPE/ prefixes ("deploy/") starting with it
//	"demo/"      pods of namespace demo, as "demo/NAME"
//	"deploy/"    Deployments (StatefulSets, ...) owning pods of the default
//	             namespace, found through the pods' ownerReferences
//	"svc/"       pods of namespace svc, if there is one (podref.Resolve)
//
// A DST that is being typed as a URL or host:port gets no completion.
func (f *Flags) completePods(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) >= 2 || strings.Contains(toComplete, ":") {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	kube, err := f.completionClient()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	defaultNS := f.completionNamespace()
	ctx, cancel := context.WithTimeout(context.Background(), completionTimeout)
	defer cancel()

	if i := strings.Index(toComplete, "/"); i >= 0 {
		first := toComplete[:i]
		ns, kind := first, podref.KindPod
		if ref, err := podref.Parse(first+"/x", defaultNS); err == nil && ref.Namespace == defaultNS && first != defaultNS {
			ns, kind = defaultNS, ref.Kind // a TYPE/ prefix
		} else if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp // a/b/c, bad namespace
		}
		pods, err := listPods(ctx, kube, ns)
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		var names []string
		if kind == podref.KindPod {
			for _, p := range pods {
				names = append(names, p.Name)
			}
		} else {
			names = ownerNames(kind, pods)
		}
		return withPrefix(first+"/", names, toComplete), cobra.ShellCompDirectiveNoFileComp
	}

	var out []string
	pods, podErr := listPods(ctx, kube, defaultNS)
	for _, p := range pods {
		if strings.HasPrefix(p.Name, toComplete) {
			out = append(out, p.Name)
		}
	}
	// Typing the start of a namespace (or of a TYPE/) offers "NS/": the
	// next <TAB> completes that namespace's pods. Not on an empty word, where
	// the default namespace's pods are what one wants to see.
	directive := cobra.ShellCompDirectiveNoFileComp
	if toComplete != "" {
		more := 0
		for _, p := range workloadPrefixes {
			if strings.HasPrefix(p, toComplete) {
				out = append(out, p)
				more++
			}
		}
		if nss, err := namespaceNames(ctx, kube, toComplete); err == nil {
			for _, ns := range nss {
				out = append(out, ns+"/")
				more++
			}
		}
		if more > 0 {
			directive |= cobra.ShellCompDirectiveNoSpace
		}
	}
	if podErr != nil && len(out) == 0 {
		return nil, cobra.ShellCompDirectiveError
	}
	return out, directive
}

// completePorts offers the ports of the DST already typed (a pod or a
// workload; not a URL), as the matrix would examine them
// (explain.DestinationPorts): each port by number, then by the names --port
// accepts for it (its containerPort name, the Service ports reaching it),
// described by where it comes from. A comma-separated list completes its
// last element.
func (f *Flags) completePorts(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) < 2 || podref.IsTarget(args[1]) {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	ref, err := podref.Parse(args[1], f.completionNamespace())
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	kube, err := f.completionClient()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	ctx, cancel := context.WithTimeout(context.Background(), completionTimeout)
	defer cancel()
	pods, err := listPods(ctx, kube, ref.Namespace)
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	pod, _, err := podref.Pick(ref, pods)
	if pod.Name == "" && err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	snap := &snapshot.Snapshot{Pods: pods}
	if list, err := kube.CoreV1().Services(ref.Namespace).List(ctx, metav1.ListOptions{ResourceVersion: "0"}); err == nil {
		snap.Services = list.Items
	}
	ports, err := explain.DestinationPorts(snap, snapshot.PodKey{Namespace: pod.Namespace, Name: pod.Name})
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}

	done, word := "", toComplete
	if i := strings.LastIndex(toComplete, ","); i >= 0 {
		done, word = toComplete[:i+1], toComplete[i+1:]
	}
	var out []string
	seen := map[string]bool{}
	add := func(value, description string) {
		if value != "" && !seen[value] && strings.HasPrefix(value, word) {
			seen[value] = true
			out = append(out, done+value+"\t"+description)
		}
	}
	for _, p := range ports {
		from := strings.Join(p.Summary.Sources, "; ")
		add(strconv.Itoa(int(p.Summary.Port)), from)
		for _, name := range append([]string{p.Summary.Name}, p.ServicePortNames...) {
			add(name, fmt.Sprintf("port %d: %s", p.Summary.Port, from))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// ownerNames lists the workloads of kind that own pods, from the pods'
// ownerReferences (podreach may not read Deployments): a Deployment is the
// ReplicaSet owner's name without its pod-template-hash suffix.
func ownerNames(kind podref.Kind, pods []corev1.Pod) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range pods {
		for _, or := range p.OwnerReferences {
			name := ""
			switch {
			case kind == podref.KindStatefulSet && or.Kind == "StatefulSet",
				kind == podref.KindDaemonSet && or.Kind == "DaemonSet",
				kind == podref.KindReplicaSet && or.Kind == "ReplicaSet":
				name = or.Name
			case kind == podref.KindDeployment && or.Kind == "ReplicaSet":
				if hash := p.Labels["pod-template-hash"]; hash != "" && strings.HasSuffix(or.Name, "-"+hash) {
					name = strings.TrimSuffix(or.Name, "-"+hash)
				}
			}
			if name != "" && !seen[name] {
				seen[name] = true
				out = append(out, name)
			}
		}
	}
	sort.Strings(out)
	return out
}

func withPrefix(prefix string, names []string, toComplete string) []string {
	var out []string
	for _, n := range names {
		if s := prefix + n; strings.HasPrefix(s, toComplete) {
			out = append(out, s)
		}
	}
	return out
}

func listPods(ctx context.Context, kube kubernetes.Interface, ns string) ([]corev1.Pod, error) {
	list, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		return nil, err
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	return list.Items, nil
}

func namespaceNames(ctx context.Context, kube kubernetes.Interface, prefix string) ([]string, error) {
	list, err := kube.CoreV1().Namespaces().List(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, ns := range list.Items {
		if strings.HasPrefix(ns.Name, prefix) {
			names = append(names, ns.Name)
		}
	}
	sort.Strings(names)
	return names, nil
}

// completionNamespace is the default namespace for completion: -n, else the
// kubeconfig context's, else "default".
func (f *Flags) completionNamespace() string {
	ns, _, err := f.ConfigFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil || ns == "" {
		return "default"
	}
	return ns
}

// completionClient is the client completion reads with; tests replace it
// through Flags.kubeClient.
func (f *Flags) completionClient() (kubernetes.Interface, error) {
	if f.kubeClient != nil {
		return f.kubeClient()
	}
	cfg, err := f.ConfigFlags.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	cfg.UserAgent = userAgent()
	cfg.Timeout = completionTimeout
	return kubernetes.NewForConfig(cfg)
}
