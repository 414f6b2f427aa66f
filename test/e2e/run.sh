#!/usr/bin/env bash
# End-to-end tests against a real kube-apiserver, from scratch on a clean Debian machine:
#   1. installs etcd (Debian etcd-server) if there is none,
#   2. builds kube-apiserver from the Go module proxy, or reuses the cached binary (~5-6 min cold),
#   3. runs `go test` in this module (builds the plugin, starts etcd + kube-apiserver on loopback).
# PODREACH_E2E=0 skips it, saying so; otherwise any failure (including a harness that cannot start)
# fails the run.
set -euo pipefail

cd "$(dirname "$0")"
export PATH="/usr/local/go/bin:${PATH}"
if [[ "${PODREACH_E2E:-}" == "0" ]]; then
  echo "test/e2e: skipped (PODREACH_E2E=0)"
  exit 0
fi

start=${SECONDS}
PODREACH_ETCD=$(./install-etcd.sh)
export PODREACH_ETCD
echo "test/e2e: etcd ${PODREACH_ETCD} ($(( SECONDS - start )) s)"

t=${SECONDS}
PODREACH_KUBE_APISERVER=$(./build-apiserver.sh)
export PODREACH_KUBE_APISERVER
echo "test/e2e: kube-apiserver ${PODREACH_KUBE_APISERVER} ($(( SECONDS - t )) s)"

t=${SECONDS}
export GOFLAGS=-mod=readonly
go vet ./...
go test -count=1 -timeout=20m -v ./... 2>&1 | grep -v '^=== \(RUN\|PAUSE\|CONT\)'
echo "test/e2e: go test $(( SECONDS - t )) s, total $(( SECONDS - start )) s"
