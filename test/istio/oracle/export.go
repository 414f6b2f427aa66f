package oracle

import (
	"testing"

	"istio.io/istio/pilot/test/xds"
)

// World is one world file as both sides read it (loadWorld), for the
// comparisons that live beside the calling module's tests (test/istio's
// ambient comparison, which only Istio 1.31's module builds).
type World = world

// LoadWorld reads a world file: its queries, and its objects split by who
// reads them.
func LoadWorld(path string) (*World, error) { return loadWorld(path) }

// WorldFiles lists every world matching the glob patterns, sorted.
func WorldFiles(patterns []string) ([]string, error) { return worldFiles(patterns) }

// Settle waits until istiod has no config update in flight (settle).
func Settle(t *testing.T, s *xds.FakeDiscoveryServer) { settle(t, s) }
