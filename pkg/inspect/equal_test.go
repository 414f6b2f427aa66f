package inspect

import (
	"context"
	"reflect"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestLiveMatchesFile: the live reader, on a cluster holding a world, gives
// the Snapshot the file reader gives for the world's file. Every object of
// the world lies in a namespace that matters for these requests (or is of a
// kind read cluster-wide), the one case where the two must agree.
func TestLiveMatchesFile(t *testing.T) {
	tests := []struct {
		name string
		req  Request
	}{
		{"matrix", Request{Source: mustRef(t, "src", "demo"), Destination: refPtr(mustRef(t, "web-0", "demo"))}},
		{"namespace-qualified", Request{Source: mustRef(t, "demo/src", "x"), Destination: refPtr(mustRef(t, "demo/api-v1", "x"))}},
		{"url-ip", Request{Source: mustRef(t, "src", "demo"), TargetHost: "10.1.2.3"}},
		{"url-host", Request{Source: mustRef(t, "src", "demo"), TargetHost: "web-0.web.demo.svc.cluster.local"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fileRes, liveRes := readBoth(t, tt.req)
			if fileRes.Source != liveRes.Source || !reflect.DeepEqual(fileRes.Destination, liveRes.Destination) {
				t.Errorf("resolved pods differ: file %v %v, live %v %v", fileRes.Source, fileRes.Destination, liveRes.Source, liveRes.Destination)
			}
		})
	}
}

// readBoth reads req from worldFile and from a fake cluster holding it, and
// requires the two Snapshots to be equal but for their origin.
func readBoth(t *testing.T, req Request) (fileRes, liveRes *Result) {
	t.Helper()
	fileRes, err := NewFileReader([]string{worldFile}, nil).Read(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	kube, istio := fakesFor(loadWorld(t, worldFile))
	if liveRes, err = readLive(t, kube, istio, req); err != nil {
		t.Fatal(err)
	}
	if liveRes.Snapshot.Origin != "cluster" {
		t.Errorf("live origin = %q", liveRes.Snapshot.Origin)
	}
	liveRes.Snapshot.Origin = fileRes.Snapshot.Origin
	if !reflect.DeepEqual(fileRes.Snapshot, liveRes.Snapshot) {
		f, _ := yaml.Marshal(fileRes.Snapshot)
		l, _ := yaml.Marshal(liveRes.Snapshot)
		t.Errorf("snapshots differ\n--- file\n%s\n--- live\n%s", f, l)
	}
	return fileRes, liveRes
}
