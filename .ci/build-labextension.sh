#!/usr/bin/env bash
# Build the JupyterLab extension (labextension/ -> jupyter_dataops/labextension/) from a fresh
# clone: install the exact packages of the committed yarn.lock, then a production build.
# Needs node >= 18 (installed from Debian's packages when missing and we are root) and jlpm
# (shipped with jupyterlab / jupyter_builder). Run it before `pip install -e .` so the editable
# install copies the built extension into share/jupyter/labextensions.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT/labextension"

if ! command -v node >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "build-labextension: node not found; installing Debian's nodejs"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs >/dev/null
  else
    echo "build-labextension: node (>= 18) is required to build the JupyterLab extension; install nodejs." >&2
    exit 1
  fi
fi
if command -v jlpm >/dev/null 2>&1; then
  JLPM=(jlpm)
else
  echo "build-labextension: jlpm not found; install jupyterlab (or jupyter_builder) first." >&2
  exit 1
fi

start=$(date +%s)
echo "build-labextension: node $(node --version), jlpm $("${JLPM[@]}" --version)"
YARN_ENABLE_IMMUTABLE_INSTALLS=true "${JLPM[@]}" install --immutable
"${JLPM[@]}" build:prod
for f in package.json static/style.js; do
  test -f "$ROOT/jupyter_dataops/labextension/$f" || {
    echo "build-labextension: missing build output jupyter_dataops/labextension/$f" >&2
    exit 1
  }
done
echo "build-labextension: built jupyter_dataops/labextension in $(( $(date +%s) - start )) s"
