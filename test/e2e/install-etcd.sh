#!/usr/bin/env bash
# Installs Debian's etcd-server (etcd 3.4) if no etcd binary is found; prints the path of the binary.
# The package's post-install may start a system etcd on :2379 where systemd runs; the harness uses its own
# ports and data directory, so that does not matter.
set -euo pipefail

find_etcd() {
  if [[ -n "${PODREACH_ETCD:-}" && -x "${PODREACH_ETCD}" ]]; then echo "${PODREACH_ETCD}"; return 0; fi
  command -v etcd 2>/dev/null && return 0
  [[ -x /usr/bin/etcd ]] && { echo /usr/bin/etcd; return 0; }
  return 1
}

if find_etcd; then exit 0; fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "install-etcd: apt-get install etcd-server ..." >&2
export DEBIAN_FRONTEND=noninteractive
${sudo} apt-get update -qq >&2
${sudo} apt-get install -y -qq --no-install-recommends etcd-server >&2
find_etcd || { echo "install-etcd: etcd-server installed but no etcd binary found" >&2; exit 1; }
