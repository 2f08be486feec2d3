#!/usr/bin/env bash
# What `make bench` runs: nginx (Debian) if missing, the upstream Glance venv and the bench
# driver's venv under .state/bench (each rebuilt when its pinned requirements change), then
# bench/run.py. Environment: BENCH_QUICK=1, BENCH_DATABASES=sqlite,postgresql, GLINT_VENV,
# BENCH_PROFILE=0, BENCH_STORES=rbd,s3; see bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
STATE=.state/bench
mkdir -p "$STATE"

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  echo "bench: installing nginx (Debian package) for the sendfile limit"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
  # the package may start a system nginx on :80; the bench runs its own, so stop that one
  if [ -f /run/nginx.pid ]; then kill "$(cat /run/nginx.pid)" 2>/dev/null || true; fi
fi
export PATH=$PATH:/usr/sbin

# venv DIR REQUIREMENTS: (re)build DIR from the pinned REQUIREMENTS when they change.
venv() {
  local dir=$1 req=$2 stamp=$1/.installed
  if [ -f "$stamp" ] && cmp -s "$req" "$stamp"; then return; fi
  echo "bench: building $dir from $req"
  rm -rf "$dir"
  "$PYTHON" -m venv "$dir"
  "$dir/bin/pip" install -q --upgrade pip
  "$dir/bin/pip" install -q -r "$req"
  cp "$req" "$stamp"
}
venv "$STATE/venv-upstream" bench/upstream-requirements.txt
venv "$STATE/venv-tools" bench/requirements.txt

# The Ceph rows (BENCH_STORES, default rbd,s3; empty: none): tests/infra/ceph.sh's cluster
# (started if it is not running; never stopped here) and Debian's rados/rbd bindings in
# both venvs (glance_store's rbd driver and Glint's import them).
if [ -n "${BENCH_STORES-rbd,s3}" ]; then
  bash tests/infra/ceph.sh start
  bash tests/infra/ceph.sh bindings "$STATE/venv-upstream"
  bash tests/infra/ceph.sh bindings "${GLINT_VENV:-.venv}"
fi

exec "$STATE/venv-tools/bin/python" bench/run.py "$@"
