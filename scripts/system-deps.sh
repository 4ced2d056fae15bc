#!/usr/bin/env bash
# Debian packages the test suite needs beyond Python: Chromium for the browser tests and a
# Japanese font so that screenshots show Japanese. PostgreSQL is handled by scripts/pg.sh.
# Installs only what is missing; needs root (or everything already installed).
set -euo pipefail
missing=()
for pkg in chromium fonts-ipafont-gothic; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${missing[*]} (run as root, or install them)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq "${missing[@]}" >&2
