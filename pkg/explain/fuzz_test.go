package explain

import "testing"

// FuzzParseTarget: any input gives a target or a UsageError, never a panic.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"http://10.1.2.3:8080/x", "tcp://h:1", "h:9092", "http://[::1]:80/", "http://a b:1", "::::", "http://x:0"} {
		f.Add(s, "Host: x")
	}
	f.Fuzz(func(t *testing.T, s, h string) {
		tg, err := ParseTarget(s, []string{h})
		if err == nil && (tg.Port < 1 || tg.Host == "") {
			t.Fatalf("ParseTarget(%q) accepted port %d host %q", s, tg.Port, tg.Host)
		}
		if err != nil {
			if _, ok := err.(*UsageError); !ok {
				t.Fatalf("ParseTarget(%q) error is %T, want *UsageError", s, err)
			}
		}
	})
}
