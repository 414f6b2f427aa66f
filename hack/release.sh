#!/usr/bin/env bash
# Offline release build: `goreleaser release --snapshot --clean` with
# .goreleaser.yaml (the one build of the release archives), then what
# krew-release-bot does for a tag: plugins/krew.yaml rendered with the real
# URIs and sha256s. Nothing is published and nothing but the Go module proxy
# is contacted. Writes into dist/ (git-ignored):
#
#   kubectl-podreach_<version>_<os>_<arch>.tar.gz   linux/darwin × amd64/arm64
#   kubectl-podreach_<version>_windows_amd64.zip
#   checksums.txt                                   sha256sum format
#   podreach.yaml                                   plugins/krew.yaml rendered
#                                                   with real URIs and sha256s
#
# Each archive holds the binary, LICENSE, README.md and (not on Windows) the
# kubectl_complete-podreach completion helper. Archives are reproducible: the
# same commit and version give the same sha256s.
#
# GoReleaser ${GORELEASER_VERSION} is built once from the Go module proxy into
# ${PODREACH_CACHE:-~/.cache/podreach}/goreleaser-<version>/ (about 10 minutes
# on 2 cores cold; later runs reuse it), or $GORELEASER names a binary to use.
# `goreleaser check` runs before the build.
#
# Usage: hack/release.sh [VERSION]
#   VERSION defaults to $VERSION, else `git describe --tags --exact-match`,
#   else v0.0.0-snapshot.g<short commit> (a valid semver, as Krew requires).
#   All five platforms are always built: `goreleaser release` has no
#   --single-target (the PLATFORMS=... of the hand-made build is gone).
set -euo pipefail

cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:${PATH}"

# v2.17.0 and later need go.digitalxero.dev/go-msix, which the module proxy
# does not serve (403); v2.18.2 also needs Go >= 1.27.1.
goreleaser_version="${GORELEASER_VERSION:-v2.16.0}"
cache="${PODREACH_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/podreach}"

version="${1:-${VERSION:-}}"
if [[ -z "${version}" ]]; then
  version="$(git describe --tags --exact-match --match 'v*' 2>/dev/null || true)"
fi
if [[ -z "${version}" ]]; then
  version="v0.0.0-snapshot.g$(git rev-parse --short=7 HEAD 2>/dev/null || echo unknown)"
fi
if ! [[ "${version}" =~ ^v[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$ ]]; then
  echo "error: version ${version} is not v-prefixed semver (Krew requires one, e.g. v0.1.0)" >&2
  exit 2
fi

if [[ -n "${PLATFORMS:-}" ]]; then
  echo "error: PLATFORMS is no longer supported: GoReleaser builds all five platforms" >&2
  exit 2
fi

dist=dist
repo_url=https://github.com/podreach/kubectl-podreach
start=$SECONDS

# --- GoReleaser ----------------------------------------------------------------
goreleaser="${GORELEASER:-}"
if [[ -z "${goreleaser}" ]]; then
  dir="${cache}/goreleaser-${goreleaser_version}"
  goreleaser="${dir}/goreleaser"
  if [[ ! -x "${goreleaser}" ]]; then
    echo "building goreleaser ${goreleaser_version} from the Go module proxy into ${dir} (once; ~10 min cold)"
    rm -rf "${dir}.tmp" && mkdir -p "${dir}.tmp"
    # Its own go.mod and go.sum decide its dependencies; the host's GOFLAGS
    # (-mod=readonly) and GOOS/GOARCH are not for this build.
    GOFLAGS= GOOS= GOARCH= GOBIN="${dir}.tmp" go install -trimpath -ldflags "-s -w" \
      "github.com/goreleaser/goreleaser/v2@${goreleaser_version}"
    rm -rf "${dir}" && mv "${dir}.tmp" "${dir}"
  fi
fi

# GoReleaser reads the remote URL (git ls-remote --get-url) and, in snapshot
# mode, replaces all git information by "none" when there is no remote (a
# local clone without origin). Name the project's URL for this process only:
# ls-remote --get-url only prints it, nothing is contacted.
if ! git ls-remote --get-url >/dev/null 2>&1; then
  n="${GIT_CONFIG_COUNT:-0}"
  export "GIT_CONFIG_KEY_${n}=remote.origin.url" "GIT_CONFIG_VALUE_${n}=${repo_url}.git"
  export GIT_CONFIG_COUNT=$((n + 1))
fi

"${goreleaser}" check
# .goreleaser.yaml's snapshot version_template takes PODREACH_VERSION.
PODREACH_VERSION="${version}" "${goreleaser}" release --snapshot --clean

# --- Krew manifest -----------------------------------------------------------------
if [[ ! -s "${dist}/checksums.txt" ]]; then
  echo "error: goreleaser wrote no ${dist}/checksums.txt" >&2
  exit 1
fi

# Render plugins/krew.yaml: {{ .TagName }} → version, then every
# {{addURIAndSha "URL" .TagName }} → "uri: URL" + "sha256: <sum>", exactly as
# krew-release-bot does (it indents the sha256 line by four spaces). A
# platform whose archive is missing is dropped.
awk -v tag="${version}" -v sums="${dist}/checksums.txt" '
  BEGIN {
    while ((getline line < sums) > 0) { split(line, f, /  */); sha[f[2]] = f[1] }
  }
  # the template header comment describes the template, not the result
  NR == 1, /^apiVersion:/ { if ($0 !~ /^apiVersion:/) next }
  {
    gsub(/\{\{ *\.TagName *\}\}/, tag)
    if (match($0, /\{\{ *addURIAndSha +"[^"]+" +\.TagName *\}\}/)) {
      s = substr($0, RSTART, RLENGTH)
      sub(/^\{\{ *addURIAndSha +"/, "", s); sub(/" +\.TagName *\}\}$/, "", s)
      n = split(s, parts, "/"); file = parts[n]
      if (!(file in sha)) { drop = 1 }
      prefix = substr($0, 1, RSTART - 1)
      pending = pending prefix "uri: " s "\n    sha256: " sha[file] "\n"
      next
    }
    if ($0 ~ /^  - selector:/ || $0 !~ /^    /) { flush() }
    pending = pending $0 "\n"
  }
  function flush() { if (!drop) printf "%s", pending; pending = ""; drop = 0 }
  END { flush() }
' plugins/krew.yaml >"${dist}/podreach.tmp"
{
  echo "# Generated by hack/release.sh from plugins/krew.yaml for ${version}. DO NOT EDIT."
  cat "${dist}/podreach.tmp"
} >"${dist}/podreach.yaml"
rm -f "${dist}/podreach.tmp"
if grep -n '{{\|REPLACE' "${dist}/podreach.yaml" >&2; then
  echo "error: unrendered template text left in ${dist}/podreach.yaml" >&2
  exit 1
fi
for a in $(awk '{print $2}' "${dist}/checksums.txt"); do
  grep -qF "/${a}" "${dist}/podreach.yaml" || { echo "error: ${a} is not in ${dist}/podreach.yaml" >&2; exit 1; }
done

echo "archives: $(awk '{print $2}' "${dist}/checksums.txt" | tr '\n' ' ')"
echo "checksums: ${dist}/checksums.txt"
echo "krew manifest: ${dist}/podreach.yaml (version ${version}, URIs under ${repo_url}/releases/download/${version}/)"
echo "release build took $((SECONDS - start))s"
