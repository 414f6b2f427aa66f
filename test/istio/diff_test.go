package istiodiff

import (
	dnsclient "istio.io/istio/pkg/dns/client"

	"os"
	"testing"

	"github.com/podreach/kubectl-podreach/test/istio/oracle"
)

// IstioVersion is the istio.io/istio commit this suite pins (go.mod):
// release-1.31 branch, 1.31.0-rc (istio.io/api v1.31.0-rc.0).
const IstioVersion = "istio.io/istio v0.0.0-20260827124520-eed52ebb66ad (release-1.31, 1.31.0-rc)"

func TestMain(m *testing.M) { os.Exit(oracle.Main(m, "../..")) }

// TestDifferential runs every world of examples/ and worlds/ through the
// plugin and through Istio 1.31's control plane + simulator (the worlds'
// own proxy versions), and compares each request field by field.
func TestDifferential(t *testing.T) {
	oracle.Differential(t, oracle.Config{
		Istio:       IstioVersion,
		Worlds:      []string{"../../examples/*.yaml", "worlds/*.yaml"},
		Exceptions:  oracle.SimulatorGaps,
		MinWorlds:   20,
		MinRequests: 150,
	})
}

// TestNameTable checks the sidecar's DNS proxy against Istio's name table
// (pkg/dns/server BuildNameTable) on every world, as written and with DNS
// capture forced on.
func TestNameTable(t *testing.T) {
	oracle.NameTable(t, oracle.Config{
		Istio:  IstioVersion,
		Worlds: []string{"../../examples/*.yaml", "worlds/*.yaml"},
		LocalDNS: func(ns, search string) (*dnsclient.LocalDNSServer, error) {
			return dnsclient.NewLocalDNSServer(ns, search, "127.0.0.1:0")
		},
	})
}
