#!/usr/bin/env bash
# Release and plugin-manager test: build the release with GoReleaser
# (hack/release.sh: `goreleaser check`, `goreleaser release --snapshot
# --clean`, plugins/krew.yaml rendered with the archives' sums), check the
# archives (names, files, modes, checksums, the version stamped in every
# binary), validate the rendered manifest with Krew's own validator, install
# the plugin THROUGH KREW from that manifest and archive, run it through
# kubectl's plugin discovery (`kubectl podreach ...`), complete through
# kubectl_complete-podreach and through plugins/k9s.yaml's command (test/k9s:
# also checked against k9s's own schemas and code), then uninstall. Nothing
# leaves the machine but Go module proxy requests: archives are served from
# loopback.
#
# Tools (cached under ${PODREACH_CACHE:-~/.cache/podreach}/<name>-<version>/):
#   goreleaser                     go install github.com/goreleaser/goreleaser/v2
#                                  (hack/release.sh; ~10 min cold, once)
#   krew, validate-krew-manifest   go install sigs.k8s.io/krew/cmd/...@v0.4.3
#   kubectl                        the one on PATH (>= 1.26 for plugin
#                                  completion), else built from k8s.io/kubectl
#                                  (test/krew/kubectl) — or $KUBECTL;
#                                  PODREACH_BUILD_KUBECTL=1 forces the build
#
# PODREACH_KREW=0 skips the test (exit 0).
set -euo pipefail

if [[ "${PODREACH_KREW:-1}" == 0 ]]; then
  echo "krew: skipped (PODREACH_KREW=0)"
  exit 0
fi

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "${root}"
export PATH="/usr/local/go/bin:${PATH}"
export GOFLAGS=-mod=readonly

krew_version=v0.4.3
kubectl_version=v0.35.4 # k8s.io/kubectl module; kubectl reports v1.35.4
cache="${PODREACH_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/podreach}"
tmp="$(mktemp -d)"
server_pid=""
# HOME changes below (isolation from ~/.krew and ~/.kube); Go's caches stay.
export GOPATH="$(go env GOPATH)" GOMODCACHE="$(go env GOMODCACHE)" GOCACHE="$(go env GOCACHE)"
cleanup() {
  if [[ -n "${server_pid}" ]]; then kill "${server_pid}" 2>/dev/null || true; fi
  rm -rf "${tmp}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t0=$SECONDS
step() { echo "krew: [$((SECONDS - t0))s] $*"; }
fail() { echo "krew: FAIL: $*" >&2; exit 1; }

# --- tools -------------------------------------------------------------------
krew_dir="${cache}/krew-${krew_version}"
if [[ ! -x "${krew_dir}/krew" || ! -x "${krew_dir}/validate-krew-manifest" ]]; then
  step "building krew and validate-krew-manifest ${krew_version} from the module proxy"
  mkdir -p "${krew_dir}.tmp"
  GOFLAGS= GOBIN="${krew_dir}.tmp" go install -trimpath \
    -ldflags "-s -w -X sigs.k8s.io/krew/internal/version.gitTag=${krew_version}" \
    "sigs.k8s.io/krew/cmd/krew@${krew_version}" \
    "sigs.k8s.io/krew/cmd/validate-krew-manifest@${krew_version}"
  rm -rf "${krew_dir}" && mv "${krew_dir}.tmp" "${krew_dir}"
fi

kubectl="${KUBECTL:-$(command -v kubectl || true)}"
if [[ "${PODREACH_BUILD_KUBECTL:-0}" == 1 ]]; then kubectl=""; fi
if [[ -z "${kubectl}" ]]; then
  # Keyed by version and the build inputs, so a changed go.sum rebuilds.
  key="$(cat test/krew/go.mod test/krew/go.sum test/krew/kubectl/main.go | sha256sum | cut -c1-12)"
  kubectl_dir="${cache}/kubectl-${kubectl_version}-${key}"
  if [[ ! -x "${kubectl_dir}/kubectl" ]]; then
    step "no kubectl on PATH: building kubectl ${kubectl_version} from k8s.io/kubectl (several minutes cold)"
    mkdir -p "${kubectl_dir}.tmp"
    minor="${kubectl_version#v0.}" && minor="${minor%%.*}"
    (cd test/krew && go build -trimpath -o "${kubectl_dir}.tmp/kubectl" -ldflags "-s -w \
      -X k8s.io/component-base/version.gitVersion=${kubectl_version/v0./v1.} \
      -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor}" ./kubectl)
    rm -rf "${kubectl_dir}" && mv "${kubectl_dir}.tmp" "${kubectl_dir}"
  fi
  kubectl="${kubectl_dir}/kubectl"
fi

# kubectl finds Krew as the plugin kubectl-krew; nothing else of the
# machine's PATH plugins may shadow what is tested.
bin="${tmp}/bin"
mkdir -p "${bin}"
ln -s "${krew_dir}/krew" "${bin}/kubectl-krew"
ln -s "${krew_dir}/validate-krew-manifest" "${bin}/validate-krew-manifest"
ln -s "${kubectl}" "${bin}/kubectl"
export PATH="${bin}:$(dirname "$(command -v go)"):/usr/bin:/bin"
export HOME="${tmp}/home" KUBECONFIG="${tmp}/no-kubeconfig" NO_COLOR=1
mkdir -p "${HOME}"
step "tools ready: $(kubectl version --client 2>/dev/null | head -1), krew $(kubectl krew version 2>/dev/null | awk '/GitTag/ {print $2}')"

# --- release -------------------------------------------------------------------
step "hack/release.sh (goreleaser check + release --snapshot --clean, Krew manifest)"
PODREACH_CACHE="${cache}" bash hack/release.sh >"${tmp}/release.log" 2>&1 \
  || { cat "${tmp}/release.log" >&2; fail "hack/release.sh"; }
grep -E 'building goreleaser|checking|configuration file|release succeeded|^archives:|release build took' "${tmp}/release.log" | sed 's/^/  /'
grep -q 'configuration file(s) validated' "${tmp}/release.log" || fail "goreleaser check did not validate .goreleaser.yaml"
manifest=dist/podreach.yaml
version="$(awk '/^  version:/ {print $2}' "${manifest}")"
host_os="$(go env GOOS)" host_arch="$(go env GOARCH)"
archive="dist/kubectl-podreach_${version}_${host_os}_${host_arch}.tar.gz"
[[ -f "${archive}" ]] || fail "no archive ${archive}"
(cd test/krew && go build -o "${tmp}/" ./serve ./archls)

# The archives plugins/krew.yaml names, and nothing else; each with exactly
# the files the release promises, the binary executable and stamped with the
# version (`kubectl podreach version` prints it; the host's is run below).
want_archives=""
for p in linux_amd64 linux_arm64 darwin_amd64 darwin_arm64; do
  want_archives+="kubectl-podreach_${version}_${p}.tar.gz "
done
want_archives+="kubectl-podreach_${version}_windows_amd64.zip"
got_archives="$(cd dist && ls -1 *.tar.gz *.zip | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')"
[[ "${got_archives}" == "$(tr ' ' '\n' <<<"${want_archives}" | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')" ]] \
  || fail "archives in dist/: ${got_archives}; want ${want_archives}"
(cd dist && sha256sum --quiet -c checksums.txt) || fail "dist/checksums.txt does not match the archives"
[[ "$(wc -l <dist/checksums.txt)" == 5 ]] || fail "dist/checksums.txt: $(cat dist/checksums.txt)"
for a in dist/*.tar.gz dist/*.zip; do
  case "${a}" in
  *.zip) exe=kubectl-podreach.exe want="0644 LICENSE|0644 README.md|0755 kubectl-podreach.exe" ;;
  *) exe=kubectl-podreach want="0644 LICENSE|0644 README.md|0755 kubectl-podreach|0755 kubectl_complete-podreach" ;;
  esac
  got="$("${tmp}/archls" "${a}" | LC_ALL=C sort -k2 | paste -sd'|')"
  [[ "${got}" == "${want}" ]] || fail "${a} holds ${got}; want ${want}"
  "${tmp}/archls" -x "${exe}" "${a}" >"${tmp}/binary"
  grep -aqF "${version}" "${tmp}/binary" || fail "${a}: ${exe} is not stamped with ${version}"
done
step "5 archives: files, modes, checksums and version ${version} as promised"

# --- validation with Krew's own code ----------------------------------------
step "validate-krew-manifest (structure, platforms, selectors)"
validate-krew-manifest -manifest "${manifest}" -skip-install 2>&1 | sed 's/^/  /'

# The install half of the validator downloads every platform's archive from
# its uri and checks it yields the binary and a LICENSE; serve dist/ on
# loopback and point the uris there.
"${tmp}/serve" dist >"${tmp}/serve.url" 2>"${tmp}/serve.log" &
server_pid=$!
for _ in $(seq 50); do [[ -s "${tmp}/serve.url" ]] && break; sleep 0.1; done
base="$(head -1 "${tmp}/serve.url")"
[[ -n "${base}" ]] || fail "file server did not start: $(cat "${tmp}/serve.log")"
mkdir -p "${tmp}/local"
sed "s#https://github.com/podreach/kubectl-podreach/releases/download/${version}/#${base}#" \
  "${manifest}" >"${tmp}/local/podreach.yaml"
grep -q "uri: ${base}" "${tmp}/local/podreach.yaml" || fail "could not point the manifest at ${base}"
step "validate-krew-manifest (install of all 5 platforms, LICENSE extracted)"
validate-krew-manifest -manifest "${tmp}/local/podreach.yaml" 2>&1 | sed 's/^/  /'

# --- install through Krew, run through kubectl ------------------------------
export KREW_ROOT="${tmp}/krew-root"
export PATH="${KREW_ROOT}/bin:${PATH}"
step "kubectl krew install --manifest=${manifest} --archive=${archive}"
kubectl krew install --manifest="${manifest}" --archive="${archive}" </dev/null 2>&1 | sed 's/^/  /'
receipt="${KREW_ROOT}/receipts/podreach.yaml"
[[ -f "${receipt}" ]] || fail "no Krew receipt ${receipt}"
grep -q "version: ${version}" "${receipt}" || fail "receipt does not record ${version}"
# `krew list` refuses to run before `krew update` has cloned the index from
# GitHub; an empty local git index stands in for it offline.
mkdir -p "${KREW_ROOT}/index/default/plugins" && git -C "${KREW_ROOT}/index/default" init -q
out="$(kubectl krew list 2>/dev/null)"
grep -qx 'detached/podreach' <<<"${out}" || fail "krew list does not show detached/podreach: ${out}"
out="$(kubectl plugin list 2>/dev/null || true)"
grep -qx "${KREW_ROOT}/bin/kubectl-podreach" <<<"${out}" \
  || fail "kubectl plugin list does not find ${KREW_ROOT}/bin/kubectl-podreach: ${out}"

out="$(kubectl podreach --help)" || fail "kubectl podreach --help exited $?"
for want in "kubectl podreach SRC DST [flags]" "Exit status:" "kubectl podreach kafka/kafka-0 kafka/kafka-1" "--kubeconfig"; do
  grep -qF -- "${want}" <<<"${out}" || fail "kubectl podreach --help lacks: ${want}"
done

out="$(kubectl podreach version)"
grep -qF "kubectl-podreach ${version} " <<<"${out}" || fail "kubectl podreach version = ${out}, want ${version}"

set +e
out="$(kubectl podreach --example 2>"${tmp}/stderr")"
code=$?
set -e
[[ ${code} == 1 ]] || fail "kubectl podreach --example exited ${code}, want 1 (one request fails); stderr: $(cat "${tmp}/stderr")"
for want in "SOURCE" "DESTINATION" "web-0.web.demo.svc.cluster.local:8080" "FAILS: 503" "10 requests: 9 ok, 1 fails."; do
  grep -qF -- "${want}" <<<"${out}" || fail "kubectl podreach --example lacks: ${want}"
done
grep -q "Embedded example world" "${tmp}/stderr" || fail "no example notice on stderr"
out="$(kubectl podreach --example -o dot 2>/dev/null || true)"
grep -qx 'digraph podreach {' <<<"${out}" || fail "kubectl podreach --example -o dot: ${out}"

# Completion through kubectl (>= 1.26): kubectl runs kubectl_complete-podreach
# from PATH, which asks the plugin's cobra __complete.
ln -s "${root}/plugins/kubectl_complete-podreach" "${bin}/kubectl_complete-podreach"
out="$(kubectl __complete podreach -o '' 2>/dev/null || true)"
if grep -qx 'dot' <<<"${out}"; then
  step "kubectl __complete podreach -o '' → $(tr '\n' ' ' <<<"${out}")"
else
  minor="$(kubectl version --client -o json 2>/dev/null | sed -n 's/.*"minor": *"\([0-9]*\).*/\1/p' | head -1)"
  if [[ -n "${minor}" && "${minor}" -lt 26 ]]; then
    step "kubectl 1.${minor} < 1.26 does not complete plugins; skipped"
  else
    fail "kubectl __complete podreach -o '' gave: ${out}"
  fi
fi

# plugins/k9s.yaml against k9s's own schemas, fields, keys and argument
# substitution, then run as k9s would run it on a pod with this kubectl and
# the plugin Krew installed (PODREACH_K9S_E2E=1).
step "test/k9s: plugins/k9s.yaml as k9s reads and runs it"
(cd test/k9s && PODREACH_K9S_E2E=1 go test -count=1 ./...) 2>&1 | sed 's/^/  /' || fail "test/k9s"

step "kubectl krew uninstall podreach"
kubectl krew uninstall podreach </dev/null 2>&1 | sed 's/^/  /'
[[ ! -e "${KREW_ROOT}/bin/kubectl-podreach" ]] || fail "kubectl-podreach still installed"
if kubectl podreach version >/dev/null 2>&1; then fail "kubectl podreach still runs after uninstall"; fi

step "ok: installed ${version} through Krew, ran it through kubectl and k9s's plugin command, uninstalled"
