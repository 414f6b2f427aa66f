package inspect

import (
	"errors"
	"os"
	"testing"
)

// FuzzFileInput: any input gives a world or a Malformed *Error, never a panic.
func FuzzFileInput(f *testing.F) {
	if world, err := os.ReadFile(worldFile); err == nil {
		f.Add(world)
	}
	for _, s := range []string{twoPods, "apiVersion: v1\nkind: List\nitems: [{kind: Pod}]", `{"kind": "PodList", "items": [{}]}`,
		"kind: Endpoints\napiVersion: v1\nsubsets: [{addresses: [{ip: fd00::1}], ports: [{port: 1}]}]", "---\n- a\n", "{"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		w := &world{}
		if err := w.addFile("in.yaml", data); err != nil {
			var re *Error
			if !errors.As(err, &re) || re.Kind != Malformed {
				t.Fatalf("error %T: %v", err, err)
			}
			return
		}
		w.addMirroredSlices()
		normalize(&w.snap)
	})
}
