#!/usr/bin/env bash
# The glint.glance deployment on this host, as `make deploy` does it, checked end to end:
#   1. `make deploy` (converges: installs, configures, starts glance-api);
#   2. `make deploy` again: its ansible-playbook run must report changed=0;
#   3. `ansible-playbook --check --diff` on the converged host: changed=0;
#   4. the API answers the openstack client, and an image round-trips through the store.
# GLINT_DEPLOY_PORT=19292 deploys on another port (default 9292); more ansible-playbook
# arguments may follow on the command line. Run from `make test-deploy`.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=$PWD/${GLINT_VENV:-.venv}/bin
PORT=${GLINT_DEPLOY_PORT:-9292}
PIDFILE=/run/glance-api.pid
LOGS=$(mktemp -d /tmp/glint-test-deploy.XXXXXX)
ARGS=(-e "glance_api_bind_port=$PORT" "$@")

fail() { echo "test-deploy: FAILED: $*" >&2; echo "logs: $LOGS" >&2; exit 1; }

# The port must be free, or held by the glance-api this deployment manages.
port_owner_ok() {
  local pids ours
  pids=$(ss -ltnpH "sport = :$PORT" | grep -oE 'pid=[0-9]+' | cut -d= -f2 | sort -u || true)
  [ -z "$pids" ] && return 0
  ours=$(cat "$PIDFILE" 2>/dev/null || true)
  [ -n "$ours" ] && grep -qx "$ours" <<<"$pids"
}
for _ in $(seq 60); do port_owner_ok && break; sleep 2; done
port_owner_ok || fail "port $PORT is held by another process: $(ss -ltnpH "sport = :$PORT")"

# Sum of changed=N over the PLAY RECAP lines of an ansible-playbook log.
changed_count() {
  sed -n '/^PLAY RECAP/,$p' "$1" | grep -oE 'changed=[0-9]+' | awk -F= '{s += $2} END {print s + 0}'
}

run() {   # run NAME COMMAND...: output to $LOGS/NAME.log, changed count on stdout
  local name=$1; shift
  local start=$SECONDS
  if ! "$@" >"$LOGS/$name.log" 2>&1; then
    tail -40 "$LOGS/$name.log" >&2
    fail "$name"
  fi
  echo "$name: changed=$(changed_count "$LOGS/$name.log") in $((SECONDS - start)) s" >&2
  changed_count "$LOGS/$name.log"
}

first=$(run deploy-1 make --no-print-directory deploy DEPLOY_ARGS="${ARGS[*]}")
second=$(run deploy-2 make --no-print-directory deploy DEPLOY_ARGS="${ARGS[*]}")
[ "$second" = 0 ] || { grep -B2 -E '^changed:' "$LOGS/deploy-2.log" >&2; fail "second deploy changed $second task(s)"; }
check=$(run check-diff "$BIN/ansible-playbook" -i inventories/all-in-one site.yml --check --diff "${ARGS[@]}")
[ "$check" = 0 ] || { grep -B2 -E '^changed:' "$LOGS/check-diff.log" >&2; fail "--check --diff on the converged host reports $check change(s)"; }

# The API, through the real client, and an image through the file store.
OS=("$BIN/openstack" --os-auth-type none --os-endpoint "http://127.0.0.1:$PORT")
"${OS[@]}" image list >/dev/null || fail "openstack image list"
name=glint-test-deploy-$$
head -c 1048576 /dev/urandom >"$LOGS/image.raw"
id=$("${OS[@]}" image create --disk-format raw --container-format bare \
      --file "$LOGS/image.raw" "$name" -f value -c id) || fail "image create"
"${OS[@]}" image save --file "$LOGS/image.out" "$id" || fail "image save"
"${OS[@]}" image delete "$id" || fail "image delete"
cmp -s "$LOGS/image.raw" "$LOGS/image.out" || fail "downloaded image differs from the upload"

echo "test-deploy: OK on port $PORT: deploy changed=$first, second deploy changed=$second," \
     "--check --diff changed=$check; image list, upload, download and delete work (logs: $LOGS)"
