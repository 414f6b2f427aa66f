// Package explain is the model of Istio's sidecar data path: pure functions
// from a snapshot.Snapshot and a Query to a Report. No clients, no I/O.
package explain

import (
	corev1 "k8s.io/api/core/v1"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
	"github.com/podreach/kubectl-podreach/pkg/snapshot"
)

// Explain answers the query against the snapshot.
func Explain(s *snapshot.Snapshot, q Query) (*api.Reachability, error) {
	return NewEngine(s).Explain(q)
}

// Engine answers many queries against one snapshot: the model (services,
// endpoints, indexes) is built once, and what depends on the source pod only
// (its sidecar scope, outbound listeners and route configurations) once per
// source. A fleet asks one Engine for every pair.
//
// An Engine is not safe for concurrent use.
type Engine struct {
	m *model
	// tracers by source pod: listeners, routes and the sidecar scope are
	// functions of the source proxy and the snapshot alone, never of the
	// destination (tracer.dst is set per query).
	tracers map[*corev1.Pod]*tracer
}

// NewEngine builds the model of s.
func NewEngine(s *snapshot.Snapshot) *Engine {
	return &Engine{m: newModel(s), tracers: map[*corev1.Pod]*tracer{}}
}

// Explain answers one query; the answer is the same as Explain's.
func (e *Engine) Explain(q Query) (*api.Reachability, error) {
	return e.m.explain(q, e.tracer)
}

// tracer returns the source's tracer, built on first use.
func (e *Engine) tracer(src *corev1.Pod) *tracer {
	t := e.tracers[src]
	if t == nil {
		t = e.m.newTracer(src, nil)
		e.tracers[src] = t
	}
	return t
}
