package istio127

import (
	"maps"
	"os"
	"regexp"
	"testing"

	"github.com/podreach/kubectl-podreach/test/istio/oracle"
)

// Release is the Istio release this module pins (go.mod: istio.io/istio at
// tag 1.27.9, commit b9159ca3e5d5) and the one every world is moved to.
const Release = "1.27.9"

// IstioVersion names the pinned module for the closing line.
const IstioVersion = "istio.io/istio v0.0.0-20260403063052-b9159ca3e5d5 (tag 1.27.9)"

func TestMain(m *testing.M) { os.Exit(oracle.Main(m, "../..")) }

// TestDifferential runs the worlds of test/istio (examples/ and
// test/istio/worlds/) with every istio-proxy and istiod image at 1.27.9,
// through the plugin and through Istio 1.27.9's control plane + simulator.
func TestDifferential(t *testing.T) {
	gaps := maps.Clone(oracle.SimulatorGaps)
	maps.Copy(gaps, exceptions)
	oracle.Differential(t, oracle.Config{
		Istio:        IstioVersion,
		Version:      Release,
		Worlds:       []string{"../../examples/*.yaml", "../istio/worlds/*.yaml"},
		Rewrite:      func(b []byte) []byte { return atRelease(b, Release) },
		ReadAsIstiod: true,
		Exceptions:   gaps,
		MinWorlds:    20,
		MinRequests:  150,
	})
}

// exceptions are the requests where Istio 1.27's simulator, not its
// control plane, differs from Envoy (beyond oracle.SimulatorGaps).
var exceptions = map[string]string{}

// istioImage is the tag of Istio's proxy (proxyv2) and istiod (pilot)
// images: "docker.io/istio/proxyv2:1.31.0", "…/pilot:1.26.2-distroless".
var istioImage = regexp.MustCompile(`(/(?:proxyv2|pilot):)v?[0-9]+\.[0-9]+\.[0-9]+`)

// atRelease moves every istio-proxy and istiod image of a world to the
// release: podreach reads the proxy's version from that tag
// (pkg/explain imageVersion), istiod from the proxy's ISTIO_VERSION (the
// oracle's proxyVersion reads the same tag). A suffix such as -distroless
// is kept.
func atRelease(world []byte, release string) []byte {
	return istioImage.ReplaceAll(world, []byte("${1}"+release))
}
