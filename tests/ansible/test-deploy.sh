#!/usr/bin/env bash
# The glint.glance deployment on this host, as `make deploy` does it, checked end to end:
#   1. `make deploy` (converges: installs, configures, starts glance-api);
#   2. `make deploy` again: its ansible-playbook run must report changed=0;
#   3. `ansible-playbook --check --diff` on the converged host: changed=0;
#   4. the API answers the openstack client, and an image round-trips through the store;
#   5. the restart handler: --check with a changed option reports the restart and does
#      nothing; a real run with it restarts glance-api once (a new process that answers),
#      and the run back to the defaults restarts it again;
#   6. the prechecks: a bind port held by another process, an unreachable database and
#      RabbitMQ, an unreachable Keystone each fail the run with a message naming the
#      variable to fix, before any change (changed=0, glance-api.conf and the running
#      glance-api untouched).
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

conf_sum() { sha256sum /etc/glance/glance-api.conf | cut -d' ' -f1; }
api_pid() { ss -ltnpH "sport = :$PORT" | grep -oE 'pid=[0-9]+' | sort | head -n1; }

# The restart handler (topic "glance-api config changed").
restarted() {   # restarted LOG: the handler's restart task reported a change
  grep -A3 'RUNNING HANDLER \[glance_api : Restart glance-api\]' "$1" | grep -q '^changed:'
}
pid_before=$(api_pid) sum_before=$(conf_sum)
run restart-check "$BIN/ansible-playbook" -i inventories/all-in-one site.yml --check "${ARGS[@]}" -e glance_api_debug=true >/dev/null
restarted "$LOGS/restart-check.log" || fail "--check with a changed option does not report the restart"
[ "$(api_pid)" = "$pid_before" ] && [ "$(conf_sum)" = "$sum_before" ] || fail "--check changed the host"
run restart "$BIN/ansible-playbook" -i inventories/all-in-one site.yml "${ARGS[@]}" -e glance_api_debug=true >/dev/null
restarted "$LOGS/restart.log" || fail "a changed glance-api.conf did not restart glance-api"
[ "$(grep -c 'changed: \[localhost\]' <(grep -A3 'RUNNING HANDLER' "$LOGS/restart.log"))" = 1 ] \
  || fail "glance-api restarted more than once"
[ "$(api_pid)" != "$pid_before" ] || fail "glance-api runs the same process after the restart"
run restart-back "$BIN/ansible-playbook" -i inventories/all-in-one site.yml "${ARGS[@]}" >/dev/null
restarted "$LOGS/restart-back.log" || fail "the run back to the defaults did not restart glance-api"
echo "restart handler: --check reports it, a changed glance-api.conf restarts glance-api once" >&2

# A failed precheck: the run fails, names the variable, and changes nothing.
precheck_fails() {   # precheck_fails NAME VARIABLE ANSIBLE-ARGS...
  local name=$1 variable=$2; shift 2
  local before pid_before changed
  before=$(conf_sum) pid_before=$(api_pid)
  if "$BIN/ansible-playbook" -i inventories/all-in-one site.yml "${ARGS[@]}" "$@" >"$LOGS/$name.log" 2>&1; then
    fail "precheck $name: the run succeeded"
  fi
  grep -q "$variable" "$LOGS/$name.log" || { tail -30 "$LOGS/$name.log" >&2; fail "precheck $name: $variable not named"; }
  changed=$(changed_count "$LOGS/$name.log")
  [ "$changed" = 0 ] || fail "precheck $name: changed=$changed"
  [ "$(conf_sum)" = "$before" ] && [ "$(api_pid)" = "$pid_before" ] \
    || fail "precheck $name: glance-api.conf or the running glance-api changed"
  echo "precheck $name: fails naming $variable, changed=0" >&2
}
# Another process on the port glance-api is asked to bind (this script starts and stops it).
busy=$((PORT + 100))
python3 -m http.server --bind 127.0.0.1 "$busy" >/dev/null 2>&1 &
squatter=$!
trap 'kill "$squatter" 2>/dev/null || true' EXIT
for _ in $(seq 50); do ss -ltnH "sport = :$busy" | grep -q . && break; sleep 0.1; done
precheck_fails port-busy glance_api_bind_port -e "glance_api_bind_port=$busy"
kill "$squatter"
# Port 9 (discard) answers nothing here.
precheck_fails database-rabbitmq glance_api_database_connection \
  -e glance_api_database_connection=mysql+pymysql://glance:x@127.0.0.1:9/glance \
  -e glance_api_notification_driver=messagingv2 -e glance_api_transport_url=rabbit://guest:guest@127.0.0.1:9/
grep -q glance_api_transport_url "$LOGS/database-rabbitmq.log" || fail "precheck database-rabbitmq: glance_api_transport_url not named"
precheck_fails keystone glance_api_keystone_auth_url \
  -e glance_api_flavor=keystone -e glance_api_keystone_auth_url=http://127.0.0.1:9/v3

echo "test-deploy: OK on port $PORT: deploy changed=$first, second deploy changed=$second," \
     "--check --diff changed=$check; image list, upload, download and delete work; the" \
     "restart handler restarts once and --check reports it; failed prechecks change nothing (logs: $LOGS)"
