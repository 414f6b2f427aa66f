#!/usr/bin/env bash
# Builds kube-apiserver from the Go module proxy (no release buckets, no Docker) and caches the binary.
#
#   test/e2e/build-apiserver.sh        prints the path of the cached binary, building it first if needed
#
# The binary lives at ${PODREACH_CACHE:-${XDG_CACHE_HOME:-~/.cache}/podreach}/kube-apiserver-<version>-<hash>,
# where <hash> is the sha256 of this script: editing the script (version, flags, replace list) rebuilds.
# Cold: ~10 s of module download + ~5-6 min of compile on 2 cores; warm: instant.
#
# How: `go install k8s.io/kubernetes/cmd/kube-apiserver@v1.35.4` is refused because k8s.io/kubernetes's
# go.mod replaces its staging modules with local directories. A scratch module that requires
# k8s.io/kubernetes and replaces every staging module with its published version (the list below is
# k8s.io/kubernetes v1.35.4's own replace list) builds the same binary.
set -euo pipefail

K8S_VERSION=v1.35.4     # match the client-go minor of the root go.mod (k8s.io/client-go v0.35.4)
STAGING_VERSION=v0.35.4
STAGING=(
  api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider
  cluster-bootstrap code-generator component-base component-helpers controller-manager cri-api
  cri-client csi-translation-lib dynamic-resource-allocation endpointslice externaljwt kms
  kube-aggregator kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics
  mount-utils pod-security-admission sample-apiserver sample-cli-plugin sample-controller
)

export PATH="/usr/local/go/bin:${PATH}"
script_hash=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12)
cache_dir=${PODREACH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/podreach}
bin="${cache_dir}/kube-apiserver-${K8S_VERSION}-${script_hash}"

if [[ -x "${bin}" ]]; then
  echo "${bin}"
  exit 0
fi

mkdir -p "${cache_dir}"
# One build at a time (two test processes, or CI and a developer, must not both spend 6 minutes).
exec 9>"${cache_dir}/.kube-apiserver.lock"
flock 9
if [[ -x "${bin}" ]]; then
  echo "${bin}"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "${work}"' EXIT
cd "${work}"
export GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0

{
  echo "module podreach.local/kube-apiserver-build"
  echo
  echo "go 1.25.0"
  echo
  echo "godebug default=go1.25"
  echo
  echo "require k8s.io/kubernetes ${K8S_VERSION}"
  echo
  echo "replace ("
  for m in "${STAGING[@]}"; do
    echo "	k8s.io/${m} => k8s.io/${m} ${STAGING_VERSION}"
  done
  echo ")"
} > go.mod

# Every replaced version must exist on the proxy (a missing zip would fail deep inside the build).
for m in "${STAGING[@]}"; do
  if ! go mod download "k8s.io/${m}@${STAGING_VERSION}" 2>"${work}/dl.err"; then
    echo "build-apiserver: k8s.io/${m}@${STAGING_VERSION} is not on the module proxy:" >&2
    cat "${work}/dl.err" >&2
    exit 1
  fi
done

start=$(date +%s)
go get "k8s.io/kubernetes/cmd/kube-apiserver@${K8S_VERSION}" >&2
pkg=k8s.io/component-base/version
major=$(echo "${K8S_VERSION#v}" | cut -d. -f1)
minor=$(echo "${K8S_VERSION#v}" | cut -d. -f2)
ldflags="-s -w -X ${pkg}.gitVersion=${K8S_VERSION} -X ${pkg}.gitMajor=${major} -X ${pkg}.gitMinor=${minor}"
ldflags="${ldflags} -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=1970-01-01T00:00:00Z"
echo "build-apiserver: building kube-apiserver ${K8S_VERSION} (takes ~5-6 min cold on 2 cores) ..." >&2
go build -trimpath -ldflags "${ldflags}" -o "${bin}.tmp" k8s.io/kubernetes/cmd/kube-apiserver
mv "${bin}.tmp" "${bin}"
echo "build-apiserver: built ${bin} in $(( $(date +%s) - start )) s" >&2
echo "${bin}"
