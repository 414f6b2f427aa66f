package explain

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
	"github.com/podreach/kubectl-podreach/pkg/snapshot"
)

// Fixes are proven, not guessed: every candidate fix is a concrete change
// (api.Fix.Patch to an object, api.Fix.Dial on the caller's side). The
// change is applied to the snapshot with the same overlay machinery as
// --with (snapshot.PatchOverlay, Snapshot.Apply), the model is rebuilt for
// it, and the same call is traced again from the same source to the same
// destination. Only candidates after which the request reaches its
// destination are reported (Verified). Models are cached by the patches'
// identity, so a fleet of failing requests that share a fix builds it once;
// requests that reach are never re-traced.

// candidate is a fix before its proof.
type candidate struct {
	fix api.Fix
	// effect is what the model sees once the fix has taken effect when it
	// is not fix.Patch itself (a namespace label takes effect as injected
	// pods after a restart).
	effect []snapshot.ObjectPatch
}

// variants caches the models of patched snapshots by patch identity, and
// the tracers built on them by source and destination. At most
// maxVariants models are kept (the least recently used goes): a fleet
// whose failing requests each need a different patch (a Service per
// destination) must not hold one model of the whole cluster per patch —
// at 10 000 pods that exhausted memory.
type variants struct {
	mu      sync.Mutex
	models  map[string]*variant
	recent  []string           // keys of models, least recently used first
	tracers map[string]*tracer // on the base model, for dial changes
}

// maxVariants bounds the patched models kept at once.
const maxVariants = 4

type variant struct {
	m       *model
	err     error
	tracers map[string]*tracer
}

// ProofStats counts the work of proving fixes (for docs/PERFORMANCE.md).
type ProofStats struct {
	Models   int // models built for patched snapshots
	Retraces int // requests traced again
}

func (m *model) variantFor(patches []snapshot.ObjectPatch) *variant {
	ids := make([]string, len(patches))
	for i, p := range patches {
		ids[i] = p.Identity()
	}
	key := strings.Join(ids, "\n")
	m.proofs.mu.Lock()
	defer m.proofs.mu.Unlock()
	if v, ok := m.proofs.models[key]; ok {
		m.proofs.touch(key)
		return v
	}
	v := &variant{tracers: map[string]*tracer{}}
	o, err := m.s.PatchOverlay(patches...)
	if err == nil {
		var s *snapshot.Snapshot
		if s, err = m.s.Apply(o); err == nil {
			v.m = newModel(s)
			m.stats.Models++
		}
	}
	v.err = err
	if m.proofs.models == nil {
		m.proofs.models = map[string]*variant{}
	}
	m.proofs.models[key] = v
	m.proofs.touch(key)
	for len(m.proofs.recent) > maxVariants {
		delete(m.proofs.models, m.proofs.recent[0])
		m.proofs.recent = m.proofs.recent[1:]
	}
	return v
}

// touch makes key the most recently used model.
func (vs *variants) touch(key string) {
	if i := slices.Index(vs.recent, key); i >= 0 {
		vs.recent = slices.Delete(vs.recent, i, i+1)
	}
	vs.recent = append(vs.recent, key)
}

// tracerIn returns a tracer of m2 for the pods src and dst name (cached in
// cache), nil when the patched snapshot lost one of them.
func tracerIn(m2 *model, cache map[string]*tracer, srcKey string, dst *corev1.Pod) *tracer {
	key := srcKey + "|" + podKey(dst)
	if t, ok := cache[key]; ok {
		return t
	}
	src := m2.podByKey[srcKey]
	var d *corev1.Pod
	if dst != nil {
		d = m2.podByKey[podKey(dst)]
	}
	var t *tracer
	if src != nil && (dst == nil || d != nil) {
		m2.assumeControlPlane(src)
		t = m2.newTracer(src, d)
	}
	cache[key] = t
	return t
}

// prove re-traces f's call with each candidate applied and keeps those
// after which the request reaches its destination.
func (t *tracer) prove(f *flow, cands []candidate) []api.Fix {
	var out []api.Fix
	for _, c := range cands {
		fx := c.fix
		if fx.Patch == nil && fx.Dial == nil {
			continue // not a concrete change: nothing to prove
		}
		if slices.Contains(fx.Requires, api.RequiresCertificates) {
			// The caller presenting Istio's certificates itself is beyond
			// the model: reported, unverified, saying what it needs.
			out = append(out, fx)
			continue
		}
		patches := c.effect
		if len(patches) == 0 && fx.Patch != nil {
			patches = []snapshot.ObjectPatch{objectPatch(fx.Patch)}
			for i := range fx.Also {
				patches = append(patches, objectPatch(&fx.Also[i]))
			}
		}
		var t2 *tracer
		if len(patches) == 0 {
			t.m.proofs.mu.Lock()
			if t.m.proofs.tracers == nil {
				t.m.proofs.tracers = map[string]*tracer{}
			}
			t2 = tracerIn(t.m, t.m.proofs.tracers, t.srcKey, t.dst)
			t.m.proofs.mu.Unlock()
		} else {
			v := t.m.variantFor(patches)
			if v.err != nil {
				continue
			}
			t.m.proofs.mu.Lock()
			t2 = tracerIn(v.m, v.tracers, t.srcKey, t.dst)
			t.m.proofs.mu.Unlock()
		}
		if t2 == nil {
			continue
		}
		call := f.c
		if d := fx.Dial; d != nil {
			call.address, call.port = d.Address, d.Port
			if d.Path != "" {
				call.path = d.Path
			}
			if call.traffic == api.TrafficHTTP {
				call.host = d.Host
				if call.host == "" {
					call.host = hostHeader(d.Address, d.Port)
				}
			}
		}
		t.m.proofs.mu.Lock()
		t.m.stats.Retraces++
		t.m.proofs.mu.Unlock()
		r := t2.run(call, false)
		if r.Verdict == api.VerdictFails {
			debugProof(call, fx, r)
			continue
		}
		fx.Verified = true
		out = append(out, fx)
	}
	return out
}

func objectPatch(p *api.Patch) snapshot.ObjectPatch {
	return snapshot.ObjectPatch{ObjectKey: snapshot.ObjectKey{Kind: p.Kind, Namespace: p.Namespace, Name: p.Name}, Create: p.Create, MergePatch: p.MergePatch}
}

// mergePatch builds an api.Patch of an existing object.
func mergePatch(apiVersion, kind, ns, name string, patch any) *api.Patch {
	b, err := json.Marshal(patch)
	if err != nil {
		return nil
	}
	return &api.Patch{APIVersion: apiVersion, Kind: kind, Namespace: ns, Name: name, MergePatch: b}
}

// newObject builds an api.Patch that creates an object.
func newObject(apiVersion, kind, ns, name string, spec any) *api.Patch {
	meta := map[string]any{"name": name}
	if ns != "" {
		meta["namespace"] = ns
	}
	obj := map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": meta, "spec": spec}
	b, err := json.Marshal(obj)
	if err != nil {
		return nil
	}
	return &api.Patch{APIVersion: apiVersion, Kind: kind, Namespace: ns, Name: name, Create: true, MergePatch: b}
}

// debugProof sees every candidate the proof drops (tests).
var debugProof = func(call, api.Fix, api.Request) {}
