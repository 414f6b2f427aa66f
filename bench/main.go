// Command bench loads a big cluster into the end-to-end harness (real
// kube-apiserver + etcd on loopback) and measures kubectl-podreach against
// `kubectl get pod` and `istioctl analyze`: wall time, API requests, bytes
// received, peak RSS. See docs/PERFORMANCE.md; run it through bench/run.sh.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/podreach/kubectl-podreach/test/e2e/harness"
)

type config struct {
	plugin, kubectl, istioctl string
	sizes                     []int
	baseline                  string // a second plugin binary, measured interleaved (before/after)
	rounds, istioRuns         int
	heavyRounds               int
	workers                   int
	out                       string
	serve                     bool
}

// result of one cluster size.
type result struct {
	Pods, Services, Namespaces, IstioObjects int
	LoadSeconds                              float64 `json:"loadSeconds"`
	LoadWrites                               int64   `json:"loadWrites"`
	Timings                                  map[string]stats
	Requests                                 map[string][]requestRecord
	SelfReported                             map[string]int
	LoadAverage                              string
}

func main() {
	var c config
	var sizes string
	flag.StringVar(&c.plugin, "plugin", "", "kubectl-podreach binary")
	flag.StringVar(&c.kubectl, "kubectl", "", "kubectl binary")
	flag.StringVar(&c.istioctl, "istioctl", "", "istioctl binary (empty: skip istioctl analyze)")
	flag.StringVar(&sizes, "sizes", "1000,10000", "cluster sizes in pods (multiples of 50), loaded one after the other")
	flag.IntVar(&c.rounds, "rounds", 7, "measured runs of each podreach/kubectl command (after one warm-up)")
	flag.StringVar(&c.baseline, "baseline", "", "another kubectl-podreach binary whose single-pair forms are measured in the same interleaved rounds, as \"... (baseline)\" (before/after a change)")
	flag.IntVar(&c.heavyRounds, "heavy-rounds", 3, "rounds that include the -A pair (kubectl get pods -A, podreach SRC -A): seconds each at 10 000 pods; 0 skips it")
	flag.IntVar(&c.istioRuns, "istioctl-runs", 5, "measured runs of istioctl analyze (after one warm-up)")
	flag.IntVar(&c.workers, "workers", 32, "concurrent writers while loading")
	flag.StringVar(&c.out, "out", "", "directory for results.json and sample outputs")
	flag.BoolVar(&c.serve, "serve", false, "load the largest size, write kubeconfigs to OUT/serve.env and keep the cluster up until interrupted (for profiling); each SIGUSR1 measures the plugin binary as it is then")
	flag.Parse()
	for _, s := range strings.Split(sizes, ",") {
		var n int
		if _, err := fmt.Sscan(s, &n); err != nil || n <= 0 || n%podsPerNamespace != 0 {
			fatalf("bad size %q (a multiple of %d pods)", s, podsPerNamespace)
		}
		c.sizes = append(c.sizes, n)
	}
	if c.plugin == "" || c.kubectl == "" || c.out == "" {
		fatalf("-plugin, -kubectl and -out are required")
	}
	// Interrupted at any point, run returns and stops the cluster (its
	// data directory is in /dev/shm).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, c)
	stop()
	if err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s bench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func run(ctx context.Context, c config) error {
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return err
	}
	cl, err := harness.Launch(ctx, harness.Options{IstioCRDs: true, Log: logf})
	if err != nil {
		return err
	}
	defer cl.Stop()

	cfg := cl.AdminConfig()
	cfg.QPS, cfg.Burst = 5000, 10000
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	cfg.WarningHandler = rest.NoWarnings{}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	world, err := harness.LoadYAMLFile(filepath.Join(harness.RootDir(), "examples", "headless-http-podip.yaml"))
	if err != nil {
		return err
	}
	tmpl, err := podTemplate(world)
	if err != nil {
		return err
	}
	if err := setUp(ctx, cl, kube, world); err != nil {
		return err
	}
	ld := &loader{kube: kube, dyn: cl.DynamicClient(), template: tmpl, workers: c.workers}

	var results []*result
	loaded := 0
	if c.serve {
		c.sizes = c.sizes[len(c.sizes)-1:]
	}
	for _, size := range c.sizes {
		nss := size / podsPerNamespace
		logf("loading namespaces %d..%d (%d pods in all) ...", loaded, nss-1, size)
		before := ld.writes.Load()
		d, err := ld.loadNamespaces(ctx, loaded, nss)
		if err != nil {
			return err
		}
		istioObjs := 0
		for i := range nss {
			istioObjs += len(istioObjects(i))
		}
		if loaded == 0 {
			if err := ld.loadStatefulSet(ctx); err != nil {
				return err
			}
		}
		r := &result{Pods: size, Services: nss * servicesPerNamespace, Namespaces: nss, IstioObjects: istioObjs,
			LoadSeconds: d.Seconds(), LoadWrites: ld.writes.Load() - before}
		logf("loaded %d writes in %.1f s (%.0f/s)", r.LoadWrites, d.Seconds(), float64(r.LoadWrites)/d.Seconds())
		loaded = nss
		if c.serve {
			return serve(ctx, c, cl, r)
		}
		if err := measure(ctx, c, cl, r); err != nil {
			return err
		}
		results = append(results, r)
		data, _ := json.MarshalIndent(results, "", "  ")
		if err := os.WriteFile(filepath.Join(c.out, "results.json"), data, 0o644); err != nil {
			return err
		}
	}
	fmt.Print(table(c, results))
	return nil
}

// setUp writes what every size shares: istio-system with the mesh
// ConfigMap of the example world and a mesh-wide PeerAuthentication, and
// the README's podreach-reader ClusterRole bound to the bench users.
func setUp(ctx context.Context, cl *harness.Cluster, kube kubernetes.Interface, world []*unstructured.Unstructured) error {
	var objs []*unstructured.Unstructured
	for _, o := range world {
		if o.GetKind() == "ConfigMap" && o.GetName() == "istio" && o.GetNamespace() == "istio-system" {
			objs = append(objs, o)
		}
	}
	if len(objs) == 0 {
		return fmt.Errorf("no istio-system/istio ConfigMap in the example world")
	}
	objs = append(objs,
		&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "istio-system"}}},
		&unstructured.Unstructured{Object: map[string]any{"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
			"metadata": map[string]any{"name": "default", "namespace": "istio-system"},
			"spec":     map[string]any{"mtls": map[string]any{"mode": "PERMISSIVE"}}}})
	if err := cl.Apply(ctx, objs); err != nil {
		return err
	}
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "podreach-reader"},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"pods", "services", "namespaces", "configmaps"}, Verbs: []string{"get", "list"}},
			{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"get", "list"}},
			{APIGroups: []string{"networking.istio.io"}, Resources: []string{"destinationrules", "virtualservices", "serviceentries", "sidecars"}, Verbs: []string{"get", "list"}},
			{APIGroups: []string{"security.istio.io"}, Resources: []string{"peerauthentications", "authorizationpolicies"}, Verbs: []string{"get", "list"}},
			{APIGroups: []string{"gateway.networking.k8s.io"}, Resources: []string{"gateways"}, Verbs: []string{"get", "list"}},
		},
	}
	if _, err := kube.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		return err
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "podreach-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects: []rbacv1.Subject{
			{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: podreachUser},
			{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: kubectlUser},
		},
	}
	_, err := kube.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{})
	return err
}

// The users: podreach and kubectl hold only the README's ClusterRole;
// istioctl analyze reads many more kinds and runs as the admin.
const (
	podreachUser = "bench-podreach"
	kubectlUser  = "bench-kubectl"
)

type command struct {
	name  string
	bin   string
	args  []string
	ok    []int
	heavy bool // the -A pair: no warm-up, only in the first heavyRounds rounds
}

// commands are the quick ones, measured interleaved (the fleet forms only
// when the plugin has them), and istioctl analyze last. Every argument list
// starts with --kubeconfig FILE (the counting proxy run replaces FILE).
func commands(c config, fleet bool, podreachKC, kubectlKC, istioctlKC string) (quick []command, istio command) {
	dstName := strings.SplitN(dstPod, "/", 2)[1]
	quick = []command{
		{"kubectl get pod", c.kubectl, []string{"--kubeconfig", kubectlKC, "get", "pod", "-n", dstNS, dstName, "-o", "json"}, []int{0}, false},
		{"podreach SRC DST", c.plugin, []string{"--kubeconfig", podreachKC, srcPod, dstPod, "-o", "json"}, []int{0, 1}, false},
		{"podreach SRC URL", c.plugin, []string{"--kubeconfig", podreachKC, srcPod, dstURL, "-o", "json"}, []int{0, 1}, false},
	}
	if c.baseline != "" {
		for _, cmd := range quick[1:3] {
			quick = append(quick, command{cmd.name + " (baseline)", c.baseline, cmd.args, cmd.ok, false})
		}
	}
	if fleet {
		// The fleet forms print their default, grouped table (what a person
		// reads at 10 000 rows); exit 1 says some request fails.
		quick = append(quick,
			command{"kubectl get pods -A", c.kubectl, []string{"--kubeconfig", kubectlKC, "get", "pods", "-A", "-o", "json"}, []int{0}, true},
			command{"podreach SRC -A --port P", c.plugin, []string{"--kubeconfig", podreachKC, srcPod, "-A", "--port", fleetPort}, []int{0, 1}, true},
			command{"podreach SRC -n NS", c.plugin, []string{"--kubeconfig", podreachKC, srcPod, "-n", dstNS}, []int{0, 1}, false},
			command{"podreach --peers sts/NAME", c.plugin, []string{"--kubeconfig", podreachKC, "--peers", "sts/" + stsName, "-n", stsNS}, []int{0, 1}, false},
		)
	}
	istio = command{"istioctl analyze -n NS", c.istioctl, []string{"--kubeconfig", istioctlKC, "analyze", "-n", dstNS}, []int{0, 79}, false}
	return quick, istio
}

// fleetPort is the --port of the -A form: the port most bench pods serve.
const fleetPort = "8080"

// hasFleetForms: the plugin's --help documents --peers (the fleet forms of
// issue 13 came in together).
func hasFleetForms(plugin string) bool {
	out, _ := execOutput(plugin, "--help")
	return strings.Contains(string(out), "--peers")
}

func measure(ctx context.Context, c config, cl *harness.Cluster, r *result) error {
	r.Timings = map[string]stats{}
	r.Requests = map[string][]requestRecord{}
	r.SelfReported = map[string]int{}
	fleet := hasFleetForms(c.plugin)
	if !fleet {
		logf("%s has no fleet forms (no --peers in --help): measuring the single-pair forms only", c.plugin)
	}
	quick, istio := commands(c, fleet, cl.Kubeconfig(podreachUser), cl.Kubeconfig(kubectlUser), cl.AdminKubeconfig())
	cmds := append(slices.Clip(quick), istio)

	// Warm-up: page cache, kubectl's discovery cache, the API server's.
	for _, cmd := range cmds {
		if cmd.bin == "" || cmd.heavy {
			continue
		}
		s, err := runOnce(ctx, cmd.ok, cmd.bin, cmd.args...)
		if err != nil {
			return err
		}
		logf("%d pods: warm-up %s: %v", r.Pods, cmd.name, s.wall.Round(time.Millisecond))
	}
	// Rounds: the quick commands interleaved (rotating which goes first),
	// so that load changes on the machine hit all of them alike; the -A
	// pair only in the first heavyRounds rounds.
	r.LoadAverage = loadAverage()
	samples := map[string][]sample{}
	outputs := map[string][]byte{}
	for round := range c.rounds {
		for i := range quick {
			cmd := quick[(i+round)%len(quick)]
			if cmd.heavy && round >= c.heavyRounds {
				continue
			}
			s, err := runOnce(ctx, cmd.ok, cmd.bin, cmd.args...)
			if err != nil {
				return err
			}
			if strings.HasPrefix(cmd.name, "podreach") {
				outputs[cmd.name] = s.stdout // the last one is kept, for the record
			}
			s.stdout = nil
			samples[cmd.name] = append(samples[cmd.name], s)
		}
	}
	if istio.bin != "" {
		for range c.istioRuns {
			s, err := runOnce(ctx, istio.ok, istio.bin, istio.args...)
			if err != nil {
				return err
			}
			samples[istio.name] = append(samples[istio.name], s)
		}
	}
	r.LoadAverage += " → " + loadAverage()
	for name, ss := range samples {
		r.Timings[name] = summarize(ss)
		logf("%d pods: %s: median %.0f ms, peak RSS %.1f MB", r.Pods, name, r.Timings[name].MedianMS, r.Timings[name].PeakRSSMB)
	}

	// API requests and bytes: one run of each through a counting proxy that
	// authenticates upstream as the same user.
	for _, cmd := range cmds {
		if cmd.bin == "" || (cmd.heavy && c.heavyRounds == 0) {
			continue
		}
		user := podreachUser
		switch {
		case strings.HasPrefix(cmd.name, "kubectl"):
			user = kubectlUser
		case strings.HasPrefix(cmd.name, "istioctl"):
			user = harness.AdminUser
		}
		upstream, err := cl.UserConfig(user, groupsOf(user)...)
		if err != nil {
			return err
		}
		p, err := startCountingProxy(cl, upstream)
		if err != nil {
			return err
		}
		kc := cl.KubeconfigFor(harness.User{Name: user, Groups: groupsOf(user), Server: p.URL})
		args := append([]string{}, cmd.args...)
		args[1] = kc
		if strings.HasPrefix(cmd.name, "podreach") {
			args = append(args, "-v=4")
		}
		if strings.HasPrefix(cmd.name, "kubectl") {
			// a new server URL: fill kubectl's discovery cache first.
			if _, err := runOnce(ctx, cmd.ok, cmd.bin, args...); err != nil {
				return err
			}
			time.Sleep(200 * time.Millisecond)
			p.reset()
		}
		s, err := runOnce(ctx, cmd.ok, cmd.bin, args...)
		if err != nil {
			return err
		}
		time.Sleep(300 * time.Millisecond) // let the last response bodies close
		recs := p.reset()
		p.Close()
		r.Requests[cmd.name] = recs
		if strings.HasPrefix(cmd.name, "podreach") {
			r.SelfReported[cmd.name] = selfReportedRequests(s.stderr)
			_ = os.WriteFile(filepath.Join(c.out, fmt.Sprintf("%s-%d.stderr", fileName(cmd.name), r.Pods)), []byte(s.stderr), 0o644)
		}
		n, b := totals(recs)
		logf("%d pods: %s: %d API requests, %.1f KiB received", r.Pods, cmd.name, n, float64(b)/1024)
	}
	// One output of each podreach form, for the record.
	for name, out := range outputs {
		_ = os.WriteFile(filepath.Join(c.out, fmt.Sprintf("%s-%d.out", fileName(name), r.Pods)), out, 0o644)
	}
	return nil
}

// fileName of a command's sample output: "podreach_--peers_sts_NAME".
func fileName(name string) string {
	return strings.NewReplacer(" ", "_", "/", "_").Replace(name)
}

// serve keeps the loaded cluster up for profiling by hand: the kubeconfigs
// of the bench users and the measured pods go to OUT/serve.env. Each
// SIGUSR1 measures the binaries as they are then (rebuild the plugin in
// place between two), appending to OUT/table-serve.md.
func serve(ctx context.Context, c config, cl *harness.Cluster, r *result) error {
	env := fmt.Sprintf("PODREACH_KC=%s\nKUBECTL_KC=%s\nADMIN_KC=%s\nSRC=%s\nDST=%s\nURL=%s\nSTS_NS=%s\nSTS=sts/%s\n",
		cl.Kubeconfig(podreachUser), cl.Kubeconfig(kubectlUser), cl.AdminKubeconfig(), srcPod, dstPod, dstURL, stsNS, stsName)
	path := filepath.Join(c.out, "serve.env")
	if err := os.WriteFile(path, []byte(env), 0o644); err != nil {
		return err
	}
	logf("cluster up, kubeconfigs in %s; measure with kill -USR1 %d, stop with kill -INT %d", path, os.Getpid(), os.Getpid())
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return nil
		case <-usr1:
		}
		if err := measure(ctx, c, cl, r); err != nil {
			logf("measure: %v", err)
			continue
		}
		data, _ := json.MarshalIndent([]*result{r}, "", "  ")
		if err := os.WriteFile(filepath.Join(c.out, fmt.Sprintf("results-serve-%d.json", n)), data, 0o644); err != nil {
			return err
		}
		out := table(c, []*result{r})
		fmt.Print(out)
		f, err := os.OpenFile(filepath.Join(c.out, "table-serve.md"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		fmt.Fprintf(f, "\n<!-- measurement %d, %s -->\n%s", n, time.Now().UTC().Format(time.RFC3339), out)
		f.Close()
		logf("measurement %d done", n)
	}
}

func groupsOf(user string) []string {
	if user == harness.AdminUser {
		return []string{"system:masters"}
	}
	return nil
}

func totals(recs []requestRecord) (n int, bytes int64) {
	for _, r := range recs {
		bytes += r.Bytes
	}
	return len(recs), bytes
}

func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	return strings.Join(f[:3], " ")
}

var _ = corev1.ProtocolTCP
