# Sourced by start.sh and test.sh: a virtual environment in .venv with the project installed.
# Reinstalls only when pyproject.toml changes. Needs Python 3.11+; on a fresh Debian machine it
# installs python3-venv when that is missing (as root).

ensure_venv() {
  local extras=${1:-}
  if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "Madoguchi needs Python 3.11 or newer (python3 is $(python3 -V 2>&1))" >&2
    exit 1
  fi
  if [ ! -x .venv/bin/python ] || ! .venv/bin/python -m pip --version >/dev/null 2>&1; then
    rm -rf .venv
    if ! python3 -m venv .venv >/dev/null 2>&1; then
      rm -rf .venv
      if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        echo "installing python3-venv ..." >&2
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >&2
        python3 -m venv .venv
      else
        echo "python3 -m venv failed: install your distribution's python3-venv package" >&2
        exit 1
      fi
    fi
  fi
  local spec="."
  [ -n "$extras" ] && spec=".[$extras]"
  local stamp
  stamp=".venv/.installed-${extras:-base}-$(sha256sum pyproject.toml | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    echo "installing Madoguchi into .venv ..." >&2
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$spec" >&2
    touch "$stamp"
  fi
}
