#!/usr/bin/env bash
# Builds istioctl from exactly the istio.io/istio version the differential tests pin (test/istio/go.mod)
# and caches the binary; prints its path.
#
#   bench/build-istioctl.sh     -> ${PODREACH_CACHE:-~/.cache/podreach}/istioctl-<version>
#
# How: a scratch module whose go.mod is test/istio's require list (so every dependency resolves to the
# same versions as in the differential tests), minus this repository; `go build istio.io/istio/istioctl/cmd/istioctl`.
# Cold: a few minutes on 2 cores (most packages are shared with test/istio's build cache).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="/usr/local/go/bin:${PATH}"
version=$(awk '$1=="istio.io/istio" {print $2; exit}' "${root}/test/istio/go.mod")
[[ -n "${version}" ]] || { echo "build-istioctl: istio.io/istio not found in test/istio/go.mod" >&2; exit 1; }
cache_dir=${PODREACH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/podreach}
bin="${cache_dir}/istioctl-${version}"
if [[ -x "${bin}" ]]; then echo "${bin}"; exit 0; fi

mkdir -p "${cache_dir}"
exec 9>"${cache_dir}/.istioctl.lock"
flock 9
if [[ -x "${bin}" ]]; then echo "${bin}"; exit 0; fi

work=$(mktemp -d)
trap 'rm -rf "${work}"' EXIT
# test/istio's go.mod without this repository (its require and replace lines).
sed 's#^module .*#module podreach.local/istioctl-build#' "${root}/test/istio/go.mod" |
  grep -v 'github.com/podreach/kubectl-podreach' > "${work}/go.mod"
cp "${root}/test/istio/go.sum" "${work}/go.sum"
cd "${work}"
export GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0
echo "build-istioctl: building istioctl ${version} ..." >&2
start=$(date +%s)
go build -trimpath -ldflags "-s -w" -o "${bin}.tmp" istio.io/istio/istioctl/cmd/istioctl
mv "${bin}.tmp" "${bin}"
echo "build-istioctl: built ${bin} in $(( $(date +%s) - start )) s" >&2
echo "${bin}"
