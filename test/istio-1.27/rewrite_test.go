package istio127

import "testing"

func TestAtRelease(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"image: docker.io/istio/proxyv2:1.31.0", "image: docker.io/istio/proxyv2:1.27.9"},
		{"image: docker.io/istio/proxyv2:1.20.0-distroless", "image: docker.io/istio/proxyv2:1.27.9-distroless"},
		{`image: "gcr.io/istio-release/pilot:v1.26.2"`, `image: "gcr.io/istio-release/pilot:1.27.9"`},
		{"image: docker.io/istio/examples-bookinfo-reviews-v1:1.20.2", "image: docker.io/istio/examples-bookinfo-reviews-v1:1.20.2"},
		{"image: registry.k8s.io/coredns/coredns:v1.11.1", "image: registry.k8s.io/coredns/coredns:v1.11.1"},
		{"image: example.com/proxyv2-fork/app:1.31.0", "image: example.com/proxyv2-fork/app:1.31.0"},
	} {
		if got := string(atRelease([]byte(c.in), "1.27.9")); got != c.want {
			t.Errorf("atRelease(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
