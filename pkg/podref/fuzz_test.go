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

// FuzzParseTarget: any input gives a target or an Invalid *Error, never a panic.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"http://10.1.2.3:8080/x", "tcp://h:1", "h:9092", "http://[::1]:80/", "http://a b:1", "::::", "http://x:0"} {
		f.Add(s, "Host: x")
	}
	f.Fuzz(func(t *testing.T, s, h string) {
		tg, err := ParseTarget(s, []string{h})
		if err == nil && (tg.Port < 1 || tg.Host == "") {
			t.Fatalf("ParseTarget(%q) accepted port %d host %q", s, tg.Port, tg.Host)
		}
		var pe *Error
		if err != nil && (!errors.As(err, &pe) || pe.Kind != Invalid) {
			t.Fatalf("ParseTarget(%q) error is %T, want an Invalid *Error", s, err)
		}
	})
}
