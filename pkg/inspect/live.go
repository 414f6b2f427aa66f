package inspect

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/dynamic"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	discoveryv1client "k8s.io/client-go/kubernetes/typed/discovery/v1"

	networkingv1client "istio.io/client-go/pkg/clientset/versioned/typed/networking/v1"
	networkingv1alpha3client "istio.io/client-go/pkg/clientset/versioned/typed/networking/v1alpha3"
	networkingv1beta1client "istio.io/client-go/pkg/clientset/versioned/typed/networking/v1beta1"
	securityv1client "istio.io/client-go/pkg/clientset/versioned/typed/security/v1"
	securityv1beta1client "istio.io/client-go/pkg/clientset/versioned/typed/security/v1beta1"

	"github.com/podreach/kubectl-podreach/pkg/podref"
	"github.com/podreach/kubectl-podreach/pkg/snapshot"
)

// KubeClient is the part of kubernetes.Interface the live reader uses.
type KubeClient interface {
	CoreV1() corev1client.CoreV1Interface
	DiscoveryV1() discoveryv1client.DiscoveryV1Interface
}

// IstioClient is the part of istio.io/client-go's versioned.Interface the
// live reader uses: the v1 APIs and the older versions it falls back to.
type IstioClient interface {
	NetworkingV1() networkingv1client.NetworkingV1Interface
	NetworkingV1beta1() networkingv1beta1client.NetworkingV1beta1Interface
	NetworkingV1alpha3() networkingv1alpha3client.NetworkingV1alpha3Interface
	SecurityV1() securityv1client.SecurityV1Interface
	SecurityV1beta1() securityv1beta1client.SecurityV1beta1Interface
}

// LiveOptions tune the live reader.
type LiveOptions struct {
	// Context is the kubeconfig context; Origin becomes "context <name>"
	// ("cluster" when empty).
	Context string
	// MeshNamespace is where the istio mesh ConfigMap is read
	// (default istio-system).
	MeshNamespace string
	// Dynamic reads the optional kinds no typed client covers: the
	// Prometheus-operator monitors of --scrape (monitoring.go). Nil: they
	// are reported as not read.
	Dynamic dynamic.Interface
}

// LiveReader reads a Snapshot from the API server. It only reads (get and
// list; never Secrets, never writes) and its cost grows with the namespaces
// involved, not with the cluster (docs/PERFORMANCE.md):
//
//  1. concurrently: the Pods and EndpointSlices of SRC's and DST's
//     namespaces (SRC and DST are picked from that list: one request per
//     namespace instead of a GET per pod and a list; when listing is
//     forbidden, SRC and DST are read by name); for an IP target, the pods
//     with that status.podIP; Namespaces, Services (all namespaces: every
//     Service visible to the source proxy shapes its listeners), and the
//     Istio DestinationRules, VirtualServices, ServiceEntries, Sidecars and
//     PeerAuthentications (all namespaces: exportTo and the root namespace
//     make other namespaces matter, and there are few of them);
//  2. concurrently, for each other namespace that matters (those the target
//     host names or whose pod or Service owns the target IP): its Pods and
//     EndpointSlices; the kinds forbidden cluster-wide in every namespace
//     that matters, the mesh root namespace included; the mesh
//     ConfigMap (istio-<revision> of the source proxy, then istio); and the
//     istiod pods (label app=istiod) of the mesh namespace and of the
//     namespaces SRC's and DST's discoveryAddress name (controlplane.go).
//
// Typically 13 requests (SRC and DST in two namespaces), whatever the
// number of pods; the cost that grows with the cluster is the cluster-wide
// Service list (docs/PERFORMANCE.md).
//
// Every list is a consistent read (no resourceVersion), as kubectl's: an
// object changed a moment ago (the PeerAuthentication just applied, the pod
// just recreated) is seen as it is now, never as a lagging watch cache
// still holds it. Since Kubernetes 1.31 the API server serves consistent
// lists from its watch cache too, once it has caught up with etcd. A forbidden or
// absent kind leaves an Unread entry and the run goes on; a kind forbidden
// cluster-wide is read again in each namespace that matters, which is what
// a namespace-scoped Role allows. Connection failures, timeouts and bad
// credentials end the run with an *Error.
type LiveReader struct {
	kube  KubeClient
	istio IstioClient
	opts  LiveOptions
}

var _ Reader = (*LiveReader)(nil)

// NewLiveReader returns a reader of the cluster behind the two clients.
func NewLiveReader(kube KubeClient, istio IstioClient, opts LiveOptions) *LiveReader {
	if opts.MeshNamespace == "" {
		opts.MeshNamespace = meshNamespace
	}
	return &LiveReader{kube: kube, istio: istio, opts: opts}
}

// Read reads what the request needs.
func (r *LiveReader) Read(ctx context.Context, req Request) (*Result, error) {
	l := &liveRead{r: r, req: req, podsListed: map[string]bool{}, slicesListed: map[string]bool{}, namespacesRead: map[string]bool{}}
	if err := l.read(ctx); err != nil {
		return nil, err
	}
	return l.result()
}

// liveRead is the state of one Read. Tasks run concurrently and append to it
// under mu; normalize sorts everything at the end.
type liveRead struct {
	r   *LiveReader
	req Request

	mu       sync.Mutex
	snap     snapshot.Snapshot
	requests []string

	// SRC and DST once resolved.
	src, dst       *corev1.Pod
	srcKey         snapshot.PodKey
	dstKey         *snapshot.PodKey
	extraPods      []corev1.Pod    // read by name or IP; kept even if their namespace's list fails
	podsListed     map[string]bool // namespaces whose pods phase 1 listed already
	slicesListed   map[string]bool // namespaces whose EndpointSlices phase 1 read (or tried)
	namespacesRead map[string]bool // namespaces phase 2 (or 3) read

	allPods         bool         // the cluster-wide pod list (-A) succeeded: every namespace's pods are read
	namespacesKnown bool         // the cluster-wide Namespace list succeeded
	fallback        []kindReader // kinds forbidden cluster-wide, to read per namespace
}

// kindReader reads one kind, cluster-wide (ns "") or in one namespace, and
// appends what it read to the snapshot.
type kindReader struct {
	resource string // as Unread names it: "services", "sidecars.networking.istio.io"
	read     func(ctx context.Context, ns string) error
}

func (l *liveRead) read(ctx context.Context) error {
	// Phase 1: what does not depend on anything. With -A, the pods and
	// EndpointSlices of every namespace, in pages, instead of SRC's and
	// DST's namespaces.
	var tasks []func(context.Context) error
	if l.req.allNamespaces() {
		tasks = append(tasks, l.listAllPods, func(ctx context.Context) error {
			err := l.listAllEndpointSlices(ctx)
			if err == nil {
				l.mu.Lock()
				l.slicesListed[""] = true // else phase 2 reads each namespace's
				l.mu.Unlock()
			}
			return l.degrade("endpointslices.discovery.k8s.io", "", err)
		})
	} else {
		tasks = l.resolveTasks()
	}
	for _, k := range l.clusterWideKinds() {
		tasks = append(tasks, func(ctx context.Context) error { return l.readClusterWide(ctx, k) })
	}
	if ip := targetIP(l.req.TargetHost); ip != "" {
		tasks = append(tasks, func(ctx context.Context) error { return l.podsWithIP(ctx, ip) })
	}
	tasks = append(tasks, l.scrapeTasks()...)
	if err := runAll(ctx, tasks...); err != nil {
		return err
	}
	if l.req.allNamespaces() && !l.allPods {
		// Listing pods cluster-wide is forbidden: SRC's namespace as in
		// the single forms, then (phase 2) each namespace in turn.
		if err := runAll(ctx, l.resolveTasks()...); err != nil {
			return err
		}
	}
	if err := l.resolve(); err != nil {
		return err
	}

	// Phase 2: the other namespaces that matter, the kinds forbidden
	// cluster-wide (also in the root namespace), and the mesh config.
	tasks = l.namespaceTasks(l.namespacesThatMatter(), l.r.opts.MeshNamespace)
	tasks = append(tasks, l.readMeshConfig)
	for _, ns := range controlPlaneNamespaces(l.r.opts.MeshNamespace, l.src, l.dst) {
		if l.allPods || l.podsListed[ns] {
			// The namespace's pods are read already: its istiod pods are
			// among them, as the -f reader finds them.
			l.snap.ControlPlane = append(l.snap.ControlPlane, controlPlanePods(l.snap.Pods, []string{ns})...)
			continue
		}
		tasks = append(tasks, func(ctx context.Context) error {
			return l.degrade(controlPlaneResource, ns, l.listControlPlane(ctx, ns))
		})
	}
	if err := runAll(ctx, tasks...); err != nil {
		return err
	}
	// The namespaces are read now: are SRC or DST in ambient?
	if err := l.readZtunnels(ctx); err != nil {
		return err
	}

	// Phase 3, rare: the mesh config names another root namespace.
	if root := l.snap.Mesh.RootNamespace; root != "" && !l.namespacesRead[root] {
		return runAll(ctx, l.namespaceTasks(nil, root)...)
	}
	return nil
}

// resolveTasks lists the Pods and EndpointSlices of SRC's and DST's
// namespaces, once per namespace; SRC and DST are picked from the pod list.
// A workload cannot be resolved without that list; a pod named by the user
// can: when listing is forbidden, it is read by name instead (a GET that
// must succeed) and the list is left as unread.
func (l *liveRead) resolveTasks() []func(context.Context) error {
	var refs []*podref.Ref
	if l.req.Peers == nil {
		refs = append(refs, &l.req.Source)
	}
	if l.req.Destination != nil {
		refs = append(refs, l.req.Destination)
	}
	var nss []string
	byNS := map[string][]podref.Ref{}
	for _, ref := range refs {
		if _, ok := byNS[ref.Namespace]; !ok {
			nss = append(nss, ref.Namespace)
		}
		byNS[ref.Namespace] = append(byNS[ref.Namespace], *ref)
	}
	// A fleet's namespaces: each workload or pod DST's, the selector's.
	// Their pods must be listed (a workload's pods, the selector's matches
	// are found in the list); a pod named by the user is read by name when
	// listing is forbidden, as SRC is.
	if set := l.req.set(); set != nil {
		for _, ref := range set.Refs {
			if _, ok := byNS[ref.Namespace]; !ok {
				nss = append(nss, ref.Namespace)
			}
			byNS[ref.Namespace] = append(byNS[ref.Namespace], ref)
		}
		for _, ns := range set.namespaces() {
			if _, ok := byNS[ns]; !ok && ns != "" {
				nss = append(nss, ns)
				byNS[ns] = nil
			}
		}
	}
	var tasks []func(context.Context) error
	for _, ns := range nss {
		l.podsListed[ns] = true
		l.slicesListed[ns] = true
		tasks = append(tasks, func(ctx context.Context) error {
			err := l.listPods(ctx, ns)
			if err == nil {
				return nil
			}
			byName := apierrors.IsForbidden(err)
			for _, ref := range byNS[ns] {
				byName = byName && ref.IsPod()
			}
			if !byName {
				return classify(err) // cannot resolve SRC/DST without it
			}
			// A fleet's selector namespace that cannot be listed has no
			// members: a warning names it (Unread).
			l.mu.Lock()
			l.snap.Unread = append(l.snap.Unread, unreadFor("pods", ns, err))
			l.mu.Unlock()
			for _, ref := range byNS[ns] {
				if err := l.getPod(ctx, ref); err != nil {
					return err
				}
			}
			return nil
		}, func(ctx context.Context) error {
			return l.degrade("endpointslices.discovery.k8s.io", ns, l.listEndpointSlices(ctx, ns))
		})
	}
	return tasks
}

// getPod reads a pod reference by name. Not found is the user's mistake
// (exit 2), reported here unless what ref means waits for the namespace
// list (svc/NAME, see resolve); any other failure, forbidden included,
// means we cannot answer.
func (l *liveRead) getPod(ctx context.Context, ref podref.Ref) error {
	pod, err := l.r.kube.CoreV1().Pods(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	l.log("GET", apiPath("", "v1", ref.Namespace, "pods", ref.Name), "", err)
	var found []corev1.Pod
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return classify(err)
	default:
		found = []corev1.Pod{*pod}
	}
	if !ref.Ambiguous() {
		if _, _, err := podref.Pick(ref, found); err != nil {
			return err
		}
	}
	l.mu.Lock()
	l.extraPods = append(l.extraPods, found...)
	l.mu.Unlock()
	return nil
}

// resolve picks SRC and DST once phase 1 has read them (and the Namespace
// list, which settles what svc/NAME means).
func (l *liveRead) resolve() error {
	pick := func(ref podref.Ref) (*corev1.Pod, snapshot.PodKey, error) {
		ref, err := resolveRef(ref, l.snap.Namespaces, append(slices.Clip(l.snap.Pods), l.extraPods...))
		if err != nil {
			return nil, snapshot.PodKey{}, err
		}
		pool := l.snap.Pods
		if ref.IsPod() && !slices.ContainsFunc(pool, func(p corev1.Pod) bool { return p.Namespace == ref.Namespace }) {
			pool = l.extraPods // listing was forbidden: read by name
		}
		p, chosen, err := podref.Pick(ref, pool)
		if err != nil {
			return nil, snapshot.PodKey{}, err
		}
		return &p, snapshot.PodKey{Namespace: p.Namespace, Name: p.Name, ChosenFrom: chosen}, nil
	}
	var err error
	if l.req.Peers != nil {
		// The mesh ConfigMap is the one of the peers' control plane: the
		// first peer's revision stands for all (result resolves the set).
		pods := append(slices.Clip(l.snap.Pods), l.extraPods...)
		if members, _, err := resolveSet(l.req.Peers, &l.snap, pods); err == nil {
			l.src = podByKey(pods, members[0])
			l.extraPods = append(l.extraPods, *l.src)
		}
		return nil
	}
	if l.src, l.srcKey, err = pick(l.req.Source); err != nil {
		return err
	}
	if l.req.Destination != nil {
		var key snapshot.PodKey
		if l.dst, key, err = pick(*l.req.Destination); err != nil {
			return err
		}
		l.dstKey = &key
	}
	// Keep the picked pods even if a later list of their namespace fails.
	l.extraPods = append(l.extraPods, *l.src)
	if l.dst != nil {
		l.extraPods = append(l.extraPods, *l.dst)
	}
	return nil
}

// podsWithIP finds the pods that own an IP target. Fake clientsets ignore
// field selectors, so the result is filtered here too.
func (l *liveRead) podsWithIP(ctx context.Context, ip string) error {
	selector := "status.podIP=" + ip
	list, err := l.r.kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: selector})
	l.log("LIST", apiPath("", "v1", "", "pods", ""), "fieldSelector="+selector, err)
	if err != nil {
		return l.degrade("pods", "", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range list.Items {
		if p.Status.PodIP == ip {
			l.extraPods = append(l.extraPods, p)
		}
	}
	return nil
}

// namespacesThatMatter: SRC's and DST's, and those the target names or
// owns. Sorted, valid names only.
func (l *liveRead) namespacesThatMatter() []string {
	set := map[string]bool{}
	if l.req.Peers == nil {
		set[l.req.Source.Namespace] = true
	}
	if l.req.Destination != nil {
		set[l.req.Destination.Namespace] = true
	}
	for _, ns := range l.req.set().namespaces() {
		set[ns] = ns != ""
	}
	if l.req.allNamespaces() && (!l.allPods || !l.slicesListed[""]) {
		for _, n := range l.snap.Namespaces {
			set[n.Name] = true
		}
	}
	for _, p := range l.extraPods {
		set[p.Namespace] = true
	}
	if l.req.Scrape != nil {
		for _, ns := range l.req.Scrape.Namespaces {
			set[ns] = true
		}
	}
	if host := l.req.TargetHost; host != "" {
		if ip := targetIP(host); ip != "" {
			for _, s := range l.snap.Services {
				if s.Spec.ClusterIP == ip || slices.Contains(s.Spec.ClusterIPs, ip) {
					set[s.Namespace] = true
				}
			}
		} else {
			for _, ns := range l.hostNamespaces(host) {
				set[ns] = true
			}
		}
	}
	var out []string
	for ns, ok := range set {
		if ok && len(validation.IsDNS1123Label(ns)) == 0 {
			out = append(out, ns)
		}
	}
	sort.Strings(out)
	return out
}

// hostNamespaces returns the labels of a hostname that are namespaces
// ("web-0.web.demo.svc.cluster.local" → demo). Without the Namespace list,
// it guesses as cluster DNS would parse the name: the label before "svc",
// else the last label ("api.demo", "web-0.web.demo").
func (l *liveRead) hostNamespaces(host string) []string {
	labels := strings.Split(strings.TrimSuffix(host, "."), ".")
	if len(labels) < 2 {
		return nil // a short name resolves in SRC's namespace
	}
	if l.namespacesKnown {
		exists := map[string]bool{}
		for _, ns := range l.snap.Namespaces {
			exists[ns.Name] = true
		}
		var out []string
		for _, label := range labels[1:] {
			if exists[label] {
				out = append(out, label)
			}
		}
		return out
	}
	if i := slices.Index(labels, "svc"); i > 1 {
		return []string{labels[i-1]}
	}
	return []string{labels[len(labels)-1]}
}

// namespaceTasks reads Pods and EndpointSlices of each namespace (unless
// phase 1 did), plus the kinds that were forbidden cluster-wide, which it
// also reads in root, the mesh root namespace (its PeerAuthentications and
// Sidecars apply everywhere; its pods and endpoints matter only if it is one
// of nss).
func (l *liveRead) namespaceTasks(nss []string, root string) []func(context.Context) error {
	var tasks []func(context.Context) error
	add := func(ns string, k kindReader) {
		tasks = append(tasks, func(ctx context.Context) error {
			return l.degrade(k.resource, ns, k.read(ctx, ns))
		})
	}
	for _, ns := range nss {
		l.namespacesRead[ns] = true
		if !l.podsListed[ns] && !l.allPods {
			add(ns, kindReader{"pods", l.listPods})
		}
		if !l.slicesListed[ns] && !l.slicesListed[""] {
			add(ns, kindReader{"endpointslices.discovery.k8s.io", l.listEndpointSlices})
		}
		for _, k := range l.fallback {
			add(ns, k)
		}
	}
	if root != "" && !l.namespacesRead[root] && len(validation.IsDNS1123Label(root)) == 0 {
		l.namespacesRead[root] = true
		for _, k := range l.fallback {
			add(root, k)
		}
	}
	return tasks
}

// readClusterWide reads a kind in all namespaces; when that is forbidden,
// phase 2 reads it in each namespace that matters.
func (l *liveRead) readClusterWide(ctx context.Context, k kindReader) error {
	err := k.read(ctx, "")
	if apierrors.IsForbidden(err) {
		l.mu.Lock()
		l.fallback = append(l.fallback, k)
		l.mu.Unlock()
	}
	return l.degrade(k.resource, "", err)
}

// degrade records a non-fatal error as Unread and returns nil, or returns a
// fatal one as an *Error.
func (l *liveRead) degrade(resource, ns string, err error) error {
	if err == nil {
		return nil
	}
	if isFatal(err) {
		return classify(err)
	}
	l.mu.Lock()
	l.snap.Unread = append(l.snap.Unread, unreadFor(resource, ns, err))
	l.mu.Unlock()
	return nil
}

// scrapeTasks are --scrape's reads in phase 1: the monitors, cluster-wide.
// The targets' pods and EndpointSlices are the request's Destinations
// (PodSet): -n's namespace, or with -A every namespace in pages.
func (l *liveRead) scrapeTasks() []func(context.Context) error {
	if l.req.Scrape == nil {
		return nil
	}
	var tasks []func(context.Context) error
	for _, k := range l.monitorKinds() {
		tasks = append(tasks, func(ctx context.Context) error { return l.readClusterWide(ctx, k) })
	}
	return tasks
}

func (l *liveRead) clusterWideKinds() []kindReader {
	return []kindReader{
		{"namespaces", l.readNamespaces},
		{"services", l.listServices},
		{"destinationrules.networking.istio.io", l.listDestinationRules},
		{"virtualservices.networking.istio.io", l.listVirtualServices},
		{"serviceentries.networking.istio.io", l.listServiceEntries},
		{"sidecars.networking.istio.io", l.listSidecars},
		{"peerauthentications.security.istio.io", l.listPeerAuthentications},
		{"authorizationpolicies.security.istio.io", l.listAuthorizationPolicies},
		{GatewaysResource, l.listGateways},
	}
}

// listOptions: a consistent read (see LiveReader). resourceVersion=0 would
// be answered from the watch cache as it is, possibly behind etcd: a wrong
// answer about a change made a second ago is worse than a slower one.
func listOptions() metav1.ListOptions { return metav1.ListOptions{} }

// listPods lists the pods of a namespace.
func (l *liveRead) listPods(ctx context.Context, ns string) error {
	list, err := l.r.kube.CoreV1().Pods(ns).List(ctx, listOptions())
	l.log("LIST", apiPath("", "v1", ns, "pods", ""), "", err)
	if err != nil {
		return err
	}
	l.mu.Lock()
	keep(&l.snap.Pods, list.Items)
	l.mu.Unlock()
	return nil
}

// pageSize is how many objects a cluster-wide list asks for at a time, as
// kubectl's --chunk-size: memory stays bounded by a page plus what the model
// keeps of each pod (prunePod).
const pageSize = 500

// listAllPods lists the pods of every namespace (-A) in pages, pruning each
// page as it arrives. Forbidden is not fatal: read then falls back to the
// namespaces one by one.
func (l *liveRead) listAllPods(ctx context.Context) error {
	err := paged(ctx, func(ctx context.Context, opts metav1.ListOptions) (string, error) {
		list, err := l.r.kube.CoreV1().Pods("").List(ctx, opts)
		l.log("LIST", apiPath("", "v1", "", "pods", ""), pageQuery(opts), err)
		if err != nil {
			return "", err
		}
		for i := range list.Items {
			prunePod(&list.Items[i])
		}
		l.mu.Lock()
		l.snap.Pods = append(l.snap.Pods, list.Items...)
		l.mu.Unlock()
		return list.Continue, nil
	})
	if err == nil {
		l.allPods = true
		return nil
	}
	if apierrors.IsForbidden(err) {
		l.mu.Lock()
		l.snap.Pods = nil // a partial list would not be "every pod"
		l.mu.Unlock()
	}
	return l.degrade("pods", "", err)
}

// listAllEndpointSlices lists the EndpointSlices of every namespace (-A) in pages.
func (l *liveRead) listAllEndpointSlices(ctx context.Context) error {
	return paged(ctx, func(ctx context.Context, opts metav1.ListOptions) (string, error) {
		list, err := l.r.kube.DiscoveryV1().EndpointSlices("").List(ctx, opts)
		l.log("LIST", apiPath(discoveryv1.GroupName, "v1", "", "endpointslices", ""), pageQuery(opts), err)
		if err != nil {
			return "", err
		}
		for i := range list.Items {
			list.Items[i].ManagedFields = nil
		}
		l.mu.Lock()
		l.snap.EndpointSlices = append(l.snap.EndpointSlices, list.Items...)
		l.mu.Unlock()
		return list.Continue, nil
	})
}

// paged calls page with limit and continue until the server has no more
// (a consistent read: the first page sets no resourceVersion, the next
// ones continue its snapshot).
func paged(ctx context.Context, page func(context.Context, metav1.ListOptions) (string, error)) error {
	opts := listOptions()
	opts.Limit = pageSize
	for {
		next, err := page(ctx, opts)
		if err != nil || next == "" {
			return err
		}
		opts.Continue = next
	}
}

// pageQuery is a page request's query as -v logs it (the continue token
// itself is opaque and left out).
func pageQuery(opts metav1.ListOptions) string {
	q := fmt.Sprintf("limit=%d", opts.Limit)
	if opts.Continue != "" {
		q += "&continue"
	}
	return q
}

func (l *liveRead) listServices(ctx context.Context, ns string) error {
	list, err := l.r.kube.CoreV1().Services(ns).List(ctx, listOptions())
	l.log("LIST", apiPath("", "v1", ns, "services", ""), "", err)
	if err != nil {
		return err
	}
	l.mu.Lock()
	keep(&l.snap.Services, list.Items)
	l.mu.Unlock()
	return nil
}

func (l *liveRead) listEndpointSlices(ctx context.Context, ns string) error {
	list, err := l.r.kube.DiscoveryV1().EndpointSlices(ns).List(ctx, listOptions())
	l.log("LIST", apiPath(discoveryv1.GroupName, "v1", ns, "endpointslices", ""), "", err)
	if err != nil {
		return err
	}
	l.mu.Lock()
	keep(&l.snap.EndpointSlices, list.Items)
	l.mu.Unlock()
	return nil
}

// readNamespaces lists Namespaces (ns "") or, as the per-namespace fallback
// when that is forbidden, gets one.
func (l *liveRead) readNamespaces(ctx context.Context, ns string) error {
	var items []corev1.Namespace
	if ns == "" {
		list, err := l.r.kube.CoreV1().Namespaces().List(ctx, listOptions())
		l.log("LIST", apiPath("", "v1", "", "namespaces", ""), "", err)
		if err != nil {
			return err
		}
		items = list.Items
	} else {
		n, err := l.r.kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		l.log("GET", apiPath("", "v1", "", "namespaces", ns), "", err)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		items = []corev1.Namespace{*n}
	}
	l.mu.Lock()
	keep(&l.snap.Namespaces, items)
	if ns == "" {
		l.namespacesKnown = true
	}
	l.mu.Unlock()
	return nil
}

// readMeshConfig reads the mesh ConfigMap of the source proxy's control
// plane: istio-<revision>, then istio, in the mesh namespace.
func (l *liveRead) readMeshConfig(ctx context.Context) error {
	ns := l.r.opts.MeshNamespace
	names := meshConfigMapNames(l.src)
	var found *corev1.ConfigMap
	for _, name := range names {
		cm, err := l.r.kube.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
		l.log("GET", apiPath("", "v1", ns, "configmaps", name), "", err)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			l.mu.Lock()
			l.snap.Mesh = snapshot.DefaultMeshConfig()
			l.mu.Unlock()
			return l.degrade("configmaps", ns, err)
		}
		found = cm
		break
	}
	m, u := meshFrom(found, ns, names)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.snap.Mesh = m
	if u != nil {
		l.snap.Unread = append(l.snap.Unread, *u)
	}
	return nil
}

// result assembles the Result once everything is read.
func (l *liveRead) result() (*Result, error) {
	s := &l.snap
	var warnings []string
	// Pods read by name or IP stay even when their namespace's list failed.
	have := map[string]bool{}
	for _, p := range s.Pods {
		have[p.Namespace+"/"+p.Name] = true
	}
	for _, p := range l.extraPods {
		if key := p.Namespace + "/" + p.Name; !have[key] {
			have[key] = true
			s.Pods = append(s.Pods, p)
		}
	}
	res := &Result{Snapshot: s, Source: l.srcKey, Destination: l.dstKey, Warnings: warnings}
	if set := l.req.set(); set != nil {
		var err error
		if res.Members, res.Left, err = resolveSet(set, s, s.Pods); err != nil {
			return nil, err
		}
	}
	if l.req.Destination == nil {
		if ip := targetIP(l.req.TargetHost); ip != "" {
			p, err := podref.OwnerOfIP(s.Pods, ip)
			if err != nil {
				return nil, err
			}
			if p != nil {
				res.Destination = &snapshot.PodKey{Namespace: p.Namespace, Name: p.Name}
			}
		}
	}
	s.Origin = "cluster"
	if l.r.opts.Context != "" {
		s.Origin = "context " + l.r.opts.Context
	}
	normalize(s)
	sort.Strings(l.requests)
	res.Requests = l.requests
	return res, nil
}

// keep adds the items of a list to the snapshot (under mu). It drops their
// managedFields at once, as normalize would at the end: at 10 000 pods the
// cluster-wide Service list is most of what a run holds and managedFields
// are a third of it, so they are garbage from the first GC on instead of
// live until the last list arrives. The first list of a kind is taken as
// it is, without a copy (docs/PERFORMANCE.md).
func keep[T any, P interface {
	*T
	metav1.Object
}](dst *[]T, items []T) {
	for i := range items {
		P(&items[i]).SetManagedFields(nil)
	}
	if len(*dst) == 0 {
		*dst = items
		return
	}
	*dst = append(*dst, items...)
}

// log records one API request and its outcome for Result.Requests.
func (l *liveRead) log(verb, path, query string, err error) {
	if query != "" {
		path += "?" + query
	}
	outcome := fmt.Sprint(http.StatusOK)
	if err != nil {
		outcome = "error"
		var status apierrors.APIStatus
		if errors.As(err, &status) {
			outcome = fmt.Sprint(status.Status().Code)
		}
	}
	l.mu.Lock()
	l.requests = append(l.requests, verb+" "+path+" "+outcome)
	l.mu.Unlock()
}

// apiPath is the REST path of a request, as kubectl -v=6 shows it.
func apiPath(group, version, ns, resource, name string) string {
	p := "/api/" + version
	if group != "" {
		p = "/apis/" + group + "/" + version
	}
	if ns != "" {
		p += "/namespaces/" + ns
	}
	p += "/" + resource
	if name != "" {
		p += "/" + name
	}
	return p
}

// runAll runs tasks concurrently and returns the first error in task order
// (not in time order), so that the same failure gives the same message.
func runAll(ctx context.Context, tasks ...func(context.Context) error) error {
	errs := make([]error, len(tasks))
	var wg sync.WaitGroup
	for i, task := range tasks {
		wg.Go(func() { errs[i] = task(ctx) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
