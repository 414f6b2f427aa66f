#!/usr/bin/env bash
# Differential tests: every world in examples/ and test/istio/worlds/ through
# kubectl-podreach and through Istio's own control plane + simulator
# (istio.io/istio, pinned in go.mod). The first build of istio.io/istio takes
# ~10 minutes on 2 cores; Go's build cache (GOCACHE, ~/.cache/go-build by
# default) keeps later runs to well under a minute.
set -euo pipefail
cd "$(dirname "$0")"
export PATH="/usr/local/go/bin:${PATH}"
export GOFLAGS=-mod=readonly
start=$(date +%s)
go vet ./...
# The oracle's own tests first (oracle/, the harness test/istio-1.27 shares):
# the RBAC evaluator, the Istio side of the authorization comparison on
# hand-checked worlds, and the cross-check with grpc-go's RBAC engine.
go test -count=1 -timeout 10m ./oracle
# Then the differential, the DNS proxy against Istio's name table
# (TestNameTable: every world twice, as written and with DNS capture on) and
# the ambient comparison (TestAmbient: istiod's ambient index with ztunnel's
# outbound and L4 authorization transcribed; TestZtunnelRBAC: ztunnel's own
# rbac.rs cases for that transcription), which prints its own
# "ambient: N requests in M worlds agree" line.
# -v so the closing "N requests in M worlds agree" and "name table: …" lines
# are printed; the per-world RUN/PASS lines are dropped.
go test -count=1 -v -timeout 45m -run 'TestDifferential|TestNameTable|TestZtunnelRBAC|TestAmbient' . | grep -v -E '^\s*(=== RUN|--- PASS)'
echo "test/istio: $(( $(date +%s) - start ))s"
