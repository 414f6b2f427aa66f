package inspect

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/podreach/kubectl-podreach/pkg/podref"
)

// svc/api-0 names pod api-0 of namespace svc when that namespace exists,
// in both readers; without it, the reference is refused as a Service.
func TestServiceWordAsNamespace(t *testing.T) {
	const svcNamespace = `
---
apiVersion: v1
kind: Namespace
metadata: {name: svc}
`
	const apiPod = `
---
apiVersion: v1
kind: Pod
metadata: {name: api-0, namespace: svc}
status: {phase: Running, podIP: 10.1.1.9}
`
	tests := []struct {
		name  string
		world string
		kind  podref.ErrorKind // -1: no error
		msg   string
	}{
		{"namespace svc with the pod", twoPods + svcNamespace + apiPod, -1, ""},
		{"namespace svc without the pod", twoPods + svcNamespace, podref.NotFound, `pods "api-0" not found in namespace "svc"`},
		{"no namespace svc", twoPods, podref.Invalid, `cannot use "svc/api-0": podreach needs a pod or a workload ` +
			`(pod/NAME, deploy/NAME, sts/NAME, ds/NAME, rs/NAME); to reach a service, give its address, e.g. api-0:PORT`},
	}
	for _, tt := range tests {
		path := filepath.Join(writeFiles(t, map[string]string{"w.yaml": tt.world}), "w.yaml")
		req := Request{Source: srcToDst.Source, Destination: refPtr(mustRef(t, "svc/api-0", "demo"))}
		kube, istio := fakesFor(loadWorld(t, path))
		for reader, read := range map[string]func() (*Result, error){
			"file": func() (*Result, error) { return readFiles(t, req, path) },
			"live": func() (*Result, error) { return readLive(t, kube, istio, req) },
		} {
			t.Run(tt.name+"/"+reader, func(t *testing.T) {
				res, err := read()
				if tt.kind < 0 {
					if err != nil {
						t.Fatal(err)
					}
					if d := res.Destination; d == nil || d.Namespace != "svc" || d.Name != "api-0" {
						t.Errorf("destination = %v, want svc/api-0", d)
					}
					return
				}
				var pe *podref.Error
				if !errors.As(err, &pe) || pe.Kind != tt.kind || pe.Msg != tt.msg {
					t.Errorf("error = %#v, want %v %q", err, tt.kind, tt.msg)
				}
			})
		}
	}
}
