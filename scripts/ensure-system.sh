#!/usr/bin/env bash
# Installs the Debian packages the stack and its tests use, when they are missing.
set -euo pipefail
need=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v firefox-esr >/dev/null 2>&1 || need+=(firefox-esr)
command -v hey >/dev/null 2>&1 || need+=(hey)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# a Korean font, so the browser tests' screenshots of the (Korean) upload page are legible
[ -d /usr/share/fonts/truetype/nanum ] || need+=(fonts-nanum)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages: ${need[*]} (run as root, or install them)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi
