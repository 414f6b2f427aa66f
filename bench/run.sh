#!/usr/bin/env bash
# Benchmark of kubectl-podreach on a big cluster (docs/PERFORMANCE.md):
#
#   bash bench/run.sh            1 000 pods, measure; grow to 10 000 pods, measure (~10-15 min on 2 cores)
#   bash bench/run.sh --smoke    200 pods, 5 rounds: checks that the benchmark works (~1-2 min warm)
#   bash bench/run.sh --serve    10 000 pods, no measurement: keeps the cluster up for profiling by hand
#                                (kubeconfigs in OUT-serve/serve.env) until interrupted
#
# Starts the end-to-end harness (etcd + kube-apiserver on loopback, test/e2e/harness), loads the cluster
# with bench/ (Go), and runs kubectl-podreach, `kubectl get pod` and `istioctl analyze -n NS` as whole
# processes. Not part of .ci/run. Results: the Markdown table on stdout, results.json and sample outputs in
# ${PODREACH_BENCH_OUT:-/tmp/podreach-bench}.
#
# Binaries: the plugin is built from this tree as the release builds it; istioctl from the istio.io/istio version test/istio pins
# (bench/build-istioctl.sh, cached); kubectl is $PODREACH_KUBECTL, else a cached
# ~/.cache/podreach/kubectl-v*[/kubectl] build, else `command -v kubectl`. PODREACH_BENCH_ISTIOCTL=0 skips istioctl.
# PODREACH_BENCH_BASELINE=BINARY also measures another kubectl-podreach build's single-pair forms in the same
# interleaved rounds (before/after a change); PODREACH_BENCH_HEAVY_ROUNDS (default 3) is how many rounds include
# the -A pair (kubectl get pods -A, podreach SRC -A), which take seconds each at 10 000 pods.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="/usr/local/go/bin:${PATH}"
cache_dir=${PODREACH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/podreach}
out=${PODREACH_BENCH_OUT:-/tmp/podreach-bench}

sizes=1000,10000 rounds=7 istio_runs=5 serve=false
if [[ "${1:-}" == "--smoke" ]]; then
  sizes=200 rounds=5 istio_runs=1
  out="${out}-smoke"
elif [[ "${1:-}" == "--serve" ]]; then
  sizes=10000 serve=true
  out="${out}-serve"
  export PODREACH_BENCH_ISTIOCTL=0
elif [[ -n "${1:-}" ]]; then
  echo "usage: bash bench/run.sh [--smoke|--serve]" >&2; exit 2
fi
mkdir -p "${out}"

start=${SECONDS}
PODREACH_ETCD=$("${root}/test/e2e/install-etcd.sh")
PODREACH_KUBE_APISERVER=$("${root}/test/e2e/build-apiserver.sh")
export PODREACH_ETCD PODREACH_KUBE_APISERVER

bin="${out}/bin"
mkdir -p "${bin}"
# as the release builds it (.goreleaser.yaml): no cgo, -trimpath, stripped
(cd "${root}" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "${bin}/kubectl-podreach" ./cmd/kubectl-podreach)

istioctl=""
if [[ "${PODREACH_BENCH_ISTIOCTL:-1}" != "0" ]]; then
  istioctl=$("${root}/bench/build-istioctl.sh")
fi

kubectl=${PODREACH_KUBECTL:-}
if [[ -z "${kubectl}" ]]; then
  # a kubectl built from the Go module proxy by another script (test/krew): a file or a directory
  kubectl=$(ls -td "${cache_dir}"/kubectl-v*/kubectl "${cache_dir}"/kubectl-v* 2>/dev/null | grep -v '\.tmp$' |
    while read -r f; do [[ -f "$f" && -x "$f" ]] && { echo "$f"; break; }; done || true)
fi
if [[ -z "${kubectl}" ]]; then
  kubectl=$(command -v kubectl || true)
fi
[[ -n "${kubectl}" ]] || { echo "bench: no kubectl (set PODREACH_KUBECTL)" >&2; exit 1; }

{
  echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/ {print $2}') GiB RAM"
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "go: $(go version)"
  echo "kube-apiserver: ${PODREACH_KUBE_APISERVER}"
  echo "etcd: $("${PODREACH_ETCD}" --version | head -1)"
  echo "kubectl: ${kubectl} ($("${kubectl}" version --client 2>/dev/null | head -1))"
  echo "istioctl: ${istioctl:-skipped}"
} | tee "${out}/machine.txt" >&2

cd "${root}/bench"
GOFLAGS=-mod=readonly go run . -plugin "${bin}/kubectl-podreach" -kubectl "${kubectl}" -istioctl "${istioctl}" \
  -sizes "${sizes}" -rounds "${rounds}" -istioctl-runs "${istio_runs}" -serve="${serve}" \
  -baseline "${PODREACH_BENCH_BASELINE:-}" -heavy-rounds "${PODREACH_BENCH_HEAVY_ROUNDS:-3}" -out "${out}" | tee "${out}/table.md"
echo "bench: done in $(( SECONDS - start )) s; results in ${out}" >&2
