package podref

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse: any argument gives a Ref or a one-line *Error, never a panic.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"web-0", "demo/web-0", "deploy/web", "a/b/c", "", "/", "svc/x", "Web", "po/"} {
		f.Add(s, "demo")
	}
	f.Fuzz(func(t *testing.T, arg, ns string) {
		ref, err := Parse(arg, ns)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || strings.Contains(pe.Msg, "\n") && !strings.Contains(arg+ns, "\n") {
				t.Fatalf("Parse(%q, %q): bad error %#v", arg, ns, err)
			}
			return
		}
		if ref.Name == "" || ref.Namespace == "" || shortNames[ref.Kind] == "" {
			t.Fatalf("Parse(%q, %q) = %+v", arg, ns, ref)
		}
	})
}
