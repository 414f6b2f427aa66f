package harness

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
)

// FieldManager is the server-side-apply field manager of Apply.
const FieldManager = "podreach-e2e"

// ApplyWorkers is how many objects Apply writes concurrently.
var ApplyWorkers = 16

// objectRef is an object Apply wrote, for DeleteApplied.
type objectRef struct {
	gvr       schema.GroupVersionResource
	namespace string
	name      string
}

// lazyMapper maps kinds to resources through discovery, refreshing its cache
// when a kind is unknown (after CRDs are installed).
type lazyMapper struct {
	*restmapper.DeferredDiscoveryRESTMapper
}

func newLazyMapper(d discovery.DiscoveryInterface) *lazyMapper {
	return &lazyMapper{restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(d))}
}

// LoadYAMLFile reads a multi-document YAML or JSON file (a `kubectl get -o
// yaml` dump, a List, ...) into objects; Lists are flattened.
func LoadYAMLFile(path string) ([]*unstructured.Unstructured, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	objs, err := LoadYAML(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return objs, nil
}

// LoadYAML decodes a multi-document YAML or JSON stream into objects.
func LoadYAML(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.IsList() {
			list, err := u.ToList()
			if err != nil {
				return nil, err
			}
			for i := range list.Items {
				out = append(out, &list.Items[i])
			}
			continue
		}
		out = append(out, u)
	}
}

// builtinNamespaces exist in every cluster; DeleteApplied leaves them.
var builtinNamespaces = []string{"default", "kube-system", "kube-public", "kube-node-lease"}

// Apply writes objects as they are, the way a cluster holding them would
// look: server-side apply (field manager podreach-e2e, forced) of each
// object without its server-set metadata (uid, resourceVersion,
// creationTimestamp, generation, managedFields), then its status through
// the status subresource (Pods: IPs, phase, conditions). ownerReferences are
// kept (podreach resolves deploy/NAME through them): their owners need not
// exist, since no garbage collector runs.
// CustomResourceDefinitions go first and are waited for, then Namespaces,
// then everything else, ApplyWorkers at a time. Apply remembers what it wrote
// for DeleteApplied.
func (c *Cluster) Apply(ctx context.Context, objs []*unstructured.Unstructured) error {
	return c.apply(ctx, objs, true)
}

func (c *Cluster) apply(ctx context.Context, objs []*unstructured.Unstructured, track bool) error {
	var crds, nss, rest []*unstructured.Unstructured
	for _, o := range objs {
		switch o.GetKind() {
		case "CustomResourceDefinition":
			crds = append(crds, o)
		case "Namespace":
			nss = append(nss, o)
		default:
			rest = append(rest, o)
		}
	}
	for _, stage := range [][]*unstructured.Unstructured{crds, nss, rest} {
		if len(stage) == 0 {
			continue
		}
		if err := c.applyAll(ctx, stage, track); err != nil {
			return err
		}
		if stage[0].GetKind() == "CustomResourceDefinition" {
			if err := c.waitEstablished(ctx, stage); err != nil {
				return err
			}
			c.mapper.Reset()
		}
	}
	return nil
}

func (c *Cluster) applyAll(ctx context.Context, objs []*unstructured.Unstructured, track bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan *unstructured.Unstructured)
	errs := make(chan error, len(objs))
	var wg sync.WaitGroup
	for range min(ApplyWorkers, len(objs)) {
		wg.Go(func() {
			for o := range work {
				if err := c.applyOne(ctx, o, track); err != nil {
					errs <- err
					cancel()
				}
			}
		})
	}
feed:
	for _, o := range objs {
		select {
		case work <- o:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

func (c *Cluster) applyOne(ctx context.Context, in *unstructured.Unstructured, track bool) error {
	obj, status := cleanForApply(in)
	gvk := obj.GroupVersionKind()
	mapping, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return fmt.Errorf("%s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	ri := c.resource(mapping, obj.GetNamespace())
	name := obj.GetName()
	desc := fmt.Sprintf("%s %s", strings.ToLower(gvk.Kind), name)
	if obj.GetNamespace() != "" {
		desc = fmt.Sprintf("%s %s/%s", strings.ToLower(gvk.Kind), obj.GetNamespace(), name)
	}
	opts := metav1.ApplyOptions{FieldManager: FieldManager, Force: true}
	if _, err := ri.Apply(ctx, name, obj, opts); err != nil {
		return fmt.Errorf("apply %s: %w", desc, err)
	}
	if track {
		c.mu.Lock()
		c.applied = append(c.applied, objectRef{gvr: mapping.Resource, namespace: obj.GetNamespace(), name: name})
		c.mu.Unlock()
	}
	if len(status) == 0 || gvk.Kind == "Namespace" || gvk.Kind == "CustomResourceDefinition" {
		return nil
	}
	st := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": obj.GetAPIVersion(), "kind": obj.GetKind(),
		"metadata": map[string]any{"name": name, "namespace": obj.GetNamespace()},
		"status":   status,
	}}
	if _, err := ri.ApplyStatus(ctx, name, st, opts); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("apply status of %s: %w", desc, err)
	}
	return nil
}

func (c *Cluster) resource(m *meta.RESTMapping, ns string) dynamic.ResourceInterface {
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return c.dynamic.Resource(m.Resource).Namespace(ns)
	}
	return c.dynamic.Resource(m.Resource)
}

// cleanForApply drops what the API server sets and splits off the status.
func cleanForApply(in *unstructured.Unstructured) (*unstructured.Unstructured, map[string]any) {
	obj := in.DeepCopy()
	status, _, _ := unstructured.NestedMap(obj.Object, "status")
	delete(obj.Object, "status")
	md, _ := obj.Object["metadata"].(map[string]any)
	for _, f := range []string{"uid", "resourceVersion", "creationTimestamp", "generation", "managedFields",
		"selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"} {
		delete(md, f)
	}
	if ann := obj.GetAnnotations(); ann != nil {
		delete(ann, "kubectl.kubernetes.io/last-applied-configuration")
		if len(ann) == 0 {
			ann = nil
		}
		obj.SetAnnotations(ann)
	}
	return obj, status
}

func (c *Cluster) waitEstablished(ctx context.Context, crds []*unstructured.Unstructured) error {
	gvr := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	for _, crd := range crds {
		err := poll(ctx, func() (bool, error) {
			got, err := c.dynamic.Resource(gvr).Get(ctx, crd.GetName(), metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
			for _, ci := range conds {
				cond, _ := ci.(map[string]any)
				if cond["type"] == "Established" && cond["status"] == "True" {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			return fmt.Errorf("CRD %s not established: %w", crd.GetName(), err)
		}
	}
	return nil
}

// DeleteApplied deletes everything Apply wrote, newest first, and then the
// namespaces it wrote (except default, kube-system, kube-public,
// kube-node-lease), finalizing them itself since no namespace controller
// runs: after it returns the same names can be applied again. Objects a test
// created by other means in those namespaces must be deleted by the test.
func (c *Cluster) DeleteApplied(ctx context.Context) error {
	c.mu.Lock()
	applied := c.applied
	c.applied = nil
	c.mu.Unlock()

	var objs, nss []objectRef
	seen := map[objectRef]bool{}
	for i := len(applied) - 1; i >= 0; i-- {
		r := applied[i]
		if seen[r] {
			continue
		}
		seen[r] = true
		if r.gvr.Group == "" && r.gvr.Resource == "namespaces" {
			if !slices.Contains(builtinNamespaces, r.name) {
				nss = append(nss, r)
			}
			continue
		}
		objs = append(objs, r)
	}

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, ApplyWorkers)
		zero = int64(0)
	)
	for _, r := range objs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ri := c.dynamic.Resource(r.gvr).Namespace(r.namespace)
			err := ri.Delete(ctx, r.name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
			if err != nil && !apierrors.IsNotFound(err) {
				mu.Lock()
				errs = append(errs, fmt.Errorf("delete %s %s/%s: %w", r.gvr.Resource, r.namespace, r.name, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, r := range nss {
		if err := c.DeleteNamespace(ctx, r.name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// DeleteNamespace deletes an (emptied) namespace and removes the "kubernetes"
// finalizer as the namespace controller would once the content is gone.
func (c *Cluster) DeleteNamespace(ctx context.Context, name string) error {
	nsc := c.kube.CoreV1().Namespaces()
	if err := nsc.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		return ignoreNotFound(err)
	}
	ns, err := nsc.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return ignoreNotFound(err)
	}
	if len(ns.Spec.Finalizers) > 0 {
		ns.Spec.Finalizers = nil
		if _, err := nsc.Finalize(ctx, ns, metav1.UpdateOptions{}); err != nil {
			return ignoreNotFound(err)
		}
	}
	// With no finalizers left, a second delete removes it.
	if err := nsc.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return poll(ctx, func() (bool, error) {
		_, err := nsc.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
}

// IstioCRDFile returns the path of kubernetes/customresourcedefinitions.gen.yaml
// in the istio.io/api module version that the root go.mod requires.
func IstioCRDFile(ctx context.Context) (string, error) {
	gomod, err := os.ReadFile(filepath.Join(RootDir(), "go.mod"))
	if err != nil {
		return "", err
	}
	version := ""
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "istio.io/api" {
			version = f[1]
		} else if len(f) >= 3 && f[0] == "require" && f[1] == "istio.io/api" {
			version = f[2]
		}
	}
	if version == "" {
		return "", errors.New("istio.io/api is not required by " + filepath.Join(RootDir(), "go.mod"))
	}
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", "istio.io/api@"+version)
	cmd.Dir = RootDir()
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s%s", err, ee.Stderr, out)
		}
		return "", fmt.Errorf("go mod download istio.io/api@%s: %w", version, err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil {
		return "", err
	}
	return filepath.Join(mod.Dir, "kubernetes", "customresourcedefinitions.gen.yaml"), nil
}

// InstallIstioCRDs applies Istio's CRDs (IstioCRDFile) and waits until they
// are established. It returns how many were installed.
func (c *Cluster) InstallIstioCRDs(ctx context.Context) (int, error) {
	path, err := IstioCRDFile(ctx)
	if err != nil {
		return 0, err
	}
	return c.InstallCRDs(ctx, path)
}

// InstallCRDs applies the CustomResourceDefinitions of a file, waits until
// they are established, and leaves them out of DeleteApplied. It returns
// how many were installed.
func (c *Cluster) InstallCRDs(ctx context.Context, path string) (int, error) {
	objs, err := LoadYAMLFile(path)
	if err != nil {
		return 0, err
	}
	if err := c.apply(ctx, objs, false); err != nil {
		return 0, err
	}
	return len(objs), nil
}

// AuditEvent is one line of the audit log (WithAuditLog), reduced.
type AuditEvent struct {
	Verb       string `json:"verb"`
	RequestURI string `json:"requestURI"`
	Stage      string `json:"stage"`
	User       struct {
		Username string   `json:"username"`
		Groups   []string `json:"groups"`
	} `json:"user"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
		APIGroup    string `json:"apiGroup"`
		Subresource string `json:"subresource"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	UserAgent string `json:"userAgent"`
}

func (c *Cluster) auditLogPath() string { return filepath.Join(c.dir, "audit.log") }

// AuditEvents returns the completed requests (stage ResponseComplete) that
// user made, in order. The log is written synchronously (blocking mode), so
// a request that returned is in it.
func (c *Cluster) AuditEvents(user string) ([]AuditEvent, error) {
	if !c.opts.AuditLog {
		return nil, errors.New("the cluster was started without WithAuditLog")
	}
	data, err := os.ReadFile(c.auditLogPath())
	if err != nil {
		return nil, err
	}
	var out []AuditEvent
	for _, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var e AuditEvent
		if err := json.Unmarshal(line, &e); err != nil {
			return nil, fmt.Errorf("audit log: %w", err)
		}
		if e.User.Username == user && e.Stage == "ResponseComplete" {
			out = append(out, e)
		}
	}
	return out, nil
}
