#!/usr/bin/env bash
# Host packages for tier 3 ("local"): containerd, runc and the CNI plugins from Debian, iptables for kube-proxy.
# Idempotent; installs only what is missing. The cluster itself (a private containerd, kubelet, kube-proxy, CoreDNS)
# is started and removed by e2e/src/cluster/local.ts, so nothing here is left running or reconfigured.
set -euo pipefail
declare -A NEED=(
  [/usr/bin/containerd]=containerd
  [/usr/bin/ctr]=containerd
  [/usr/sbin/runc]=runc
  [/usr/lib/cni/ptp]=containernetworking-plugins
  [/usr/sbin/iptables]=iptables
  [/usr/sbin/conntrack]=conntrack
  [/usr/bin/jq]=jq
  [/usr/bin/gcc]=gcc
  [/usr/sbin/debootstrap]=debootstrap
)
missing=()
for path in "${!NEED[@]}"; do [[ -e "$path" ]] || missing+=("${NEED[$path]}"); done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "[host-setup] containerd, runc, CNI plugins, iptables: present" >&2
  exit 0
fi
mapfile -t pkgs < <(printf '%s\n' "${missing[@]}" | sort -u)
if [[ $(id -u) != 0 ]]; then
  echo "[host-setup] missing Debian packages: ${pkgs[*]} (run as root: apt-get install ${pkgs[*]})" >&2
  exit 1
fi
echo "[host-setup] apt-get install ${pkgs[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
