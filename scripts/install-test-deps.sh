#!/usr/bin/env bash
# Installs the Debian packages the test suite uses when they are missing:
# openssl (a throw-away CA for the TLS tests), dnsmasq-base (a real DNS server
# for the DNS discovery tests), iproute2 (network namespaces for the multicast
# tests), curl (the guides' commands, typed as written). Needs root (or sudo) only when something is missing.
set -euo pipefail
need=()
command -v openssl >/dev/null || need+=(openssl)
command -v ip >/dev/null || need+=(iproute2)
command -v curl >/dev/null || need+=(curl)
command -v dnsmasq >/dev/null || [ -x /usr/sbin/dnsmasq ] || need+=(dnsmasq-base)
[ ${#need[@]} -eq 0 ] && exit 0
echo "install-test-deps: installing ${need[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-test-deps: run as root, or install: ${need[*]}" >&2; exit 1; }
  sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q "${need[@]}"
