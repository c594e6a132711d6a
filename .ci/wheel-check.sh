#!/usr/bin/env bash
# Build the wheel, install it in a fresh virtualenv with no node on PATH, and check that Jupyter
# reports the prebuilt JupyterLab extension and the server extension as enabled and OK, and that
# the REST API answers (and refuses a request without a token).
# Run after .ci/build-labextension.sh (the wheel packs jupyter_dataops/labextension as built).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
WORK="$(mktemp -d -t dataops-wheel-XXXXXX)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
strip_ansi() { sed -e 's/\x1b\[[0-9;]*m//g'; }
fail() { echo "wheel-check: FAIL: $*" >&2; exit 1; }

echo "wheel-check: building the wheel"
"$PY" -m pip wheel --no-deps --quiet -w "$WORK/dist" "$ROOT" >"$WORK/pip-wheel.log" 2>&1 \
  || { cat "$WORK/pip-wheel.log"; fail "pip wheel failed"; }
WHEEL="$(ls "$WORK"/dist/jupyter_dataops-*.whl)"
echo "wheel-check: built $(basename "$WHEEL")"
"$PY" - "$WHEEL" <<'PYEOF'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
data = [n for n in names if ".data/data/" in n]
want = [
    "share/jupyter/labextensions/jupyter-dataops/package.json",
    "share/jupyter/labextensions/jupyter-dataops/install.json",
    "share/jupyter/labextensions/jupyter-dataops/static/style.js",
    "etc/jupyter/jupyter_server_config.d/jupyter_dataops.json",
]
missing = [w for w in want if not any(n.endswith(w) for n in data)]
if not any("labextensions/jupyter-dataops/static/remoteEntry." in n for n in data):
    missing.append("share/jupyter/labextensions/jupyter-dataops/static/remoteEntry.*.js")
for n in sorted(d.split(".data/data/", 1)[1] for d in data):
    print("   ", n)
if missing:
    sys.exit(f"wheel-check: FAIL: the wheel lacks {missing}")
PYEOF

echo "wheel-check: installing it in a fresh virtualenv"
"$PY" -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install --quiet --no-compile "$WHEEL" >"$WORK/pip-install.log" 2>&1 \
  || { cat "$WORK/pip-install.log"; fail "pip install of the wheel failed"; }

# Only the venv and a few shell tools on PATH: no node, no system jupyter.
mkdir -p "$WORK/tools"
for tool in sed grep tee rm cat kill sleep mkdir; do
  ln -s "$(command -v "$tool")" "$WORK/tools/$tool"
done
export PATH="$WORK/venv/bin:$WORK/tools"
export JUPYTER_CONFIG_DIR="$WORK/jupyter-config" JUPYTER_DATA_DIR="$WORK/jupyter-data"
export JUPYTER_PLATFORM_DIRS=1 JUPYTER_NO_CONFIG=
if command -v node >/dev/null 2>&1; then fail "node is on PATH ($(command -v node))"; fi
echo "wheel-check: node on PATH: none"

echo "wheel-check: jupyter labextension list"
jupyter labextension list 2>&1 | strip_ansi | tee "$WORK/labext.txt"
grep -Eq "jupyter-dataops v[0-9.]+ +enabled +OK" "$WORK/labext.txt" \
  || fail "jupyter labextension list does not report jupyter-dataops enabled OK"
grep -q "$WORK/venv/share/jupyter/labextensions" "$WORK/labext.txt" \
  || fail "the extension was not found in the virtualenv's share/jupyter/labextensions"

echo "wheel-check: jupyter server extension list"
jupyter server extension list 2>&1 | strip_ansi | tee "$WORK/serverext.txt"
grep -Eq "jupyter_dataops.server +enabled" "$WORK/serverext.txt" \
  || fail "jupyter server extension list does not report jupyter_dataops.server enabled"
grep -Eq "jupyter_dataops.server +OK" "$WORK/serverext.txt" \
  || fail "jupyter_dataops.server does not validate OK"

echo "wheel-check: the REST API of the installed server extension"
mkdir -p "$WORK/root"
PORT="$(python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
TOKEN="wheel-check-$RANDOM$RANDOM"
jupyter server --no-browser --allow-root --ServerApp.ip=127.0.0.1 --ServerApp.port="$PORT" \
  --ServerApp.port_retries=0 --IdentityProvider.token="$TOKEN" --ServerApp.root_dir="$WORK/root" \
  >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
python - "$PORT" "$TOKEN" "$WORK/server.log" <<'PYEOF'
import json, sys, time, urllib.error, urllib.request
port, token, log = sys.argv[1], sys.argv[2], sys.argv[3]
url = f"http://127.0.0.1:{port}/dataops/api/pipelines"
deadline = time.monotonic() + 60
while True:
    try:
        req = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
        body = json.loads(urllib.request.urlopen(req, timeout=5).read())
        break
    except (urllib.error.URLError, ConnectionError, OSError):
        if time.monotonic() > deadline:
            sys.exit("wheel-check: FAIL: the server did not answer:\n" + open(log).read())
        time.sleep(0.5)
print("   GET /dataops/api/pipelines ->", json.dumps(body)[:200])
if body.get("pipelines") != [] or "dataops promote" not in (body.get("hint") or ""):
    sys.exit("wheel-check: FAIL: unexpected answer for an empty folder")
try:
    urllib.request.urlopen(url, timeout=5)
    sys.exit("wheel-check: FAIL: the API answered without a token")
except urllib.error.HTTPError as exc:
    print("   without a token ->", exc.code)
    if exc.code != 403:
        sys.exit(f"wheel-check: FAIL: expected 403 without a token, got {exc.code}")
PYEOF
echo "wheel-check: OK"
