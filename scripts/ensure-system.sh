#!/usr/bin/env bash
# Installs the Debian packages that are missing.
#   ensure-system.sh stack   what the running service needs (nginx, openssl): `make up`
#   ensure-system.sh check   node and npm, for ESLint over the page: `make check`
#   ensure-system.sh test    all of these, plus the browsers, the load generator and iproute2: `make test`, `make bench`
set -euo pipefail
what=${1:-test}
need=()
if [ "$what" = check ] || [ "$what" = test ]; then
  # ESLint (package.json) runs on node; Debian's nodejs (18.19 in bookworm) is recent enough
  command -v node >/dev/null 2>&1 || need+=(nodejs)
  command -v npm >/dev/null 2>&1 || need+=(npm)
fi
if [ "$what" != check ]; then
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
  command -v openssl >/dev/null 2>&1 || need+=(openssl)
fi
if [ "$what" = test ]; then
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  command -v firefox-esr >/dev/null 2>&1 || need+=(firefox-esr)
  command -v hey >/dev/null 2>&1 || need+=(hey)
  # network namespaces for tests/test_multihost.py (an nginx host and two app hosts on one machine)
  command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || [ -x /sbin/ip ] || need+=(iproute2)
  # a Korean font, so the browser tests' screenshots of the (Korean) upload page are legible
  [ -d /usr/share/fonts/truetype/nanum ] || need+=(fonts-nanum)
  # pdftotext: the deduction-line tests read the totals the NTS prints on a document's own pages
  command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)
elif [ "$what" != stack ] && [ "$what" != check ]; then
  echo "usage: ensure-system.sh stack|check|test" >&2
  exit 2
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages: ${need[*]} (run as root, or install them)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi
