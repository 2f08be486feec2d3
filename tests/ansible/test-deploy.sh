#!/usr/bin/env bash
# The glint.glance deployment on this host, as `make deploy` does it, checked end to end:
#   0. multi-store against the real Ceph of tests/infra/ceph.sh (started if it is not
#      running): backends fast (file), ceph (rbd) and objects (s3 on its radosgw), the
#      ceph.conf and client.glance key fetched from the admin host (this one); a second
#      run changes nothing; the keyring, ceph.conf and drop-in have their owners and
#      modes, the virtualenv imports rados and rbd; glint.glance.glance_image puts an
#      image into each store (its stores option), each comes back intact through the API
#      and is where its store keeps it (the file, the RBD image with its protected snap,
#      the S3 object), and is deleted from there; no key or secret in any log;
#   1. `make deploy` (converges back to the defaults: single file store, glance-api restarted);
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

# --- 0. Multi-store: file, rbd and s3 on the real Ceph ------------------------------------
bash tests/infra/ceph.sh start >"$LOGS/ceph-start.log" 2>&1 || { tail -20 "$LOGS/ceph-start.log" >&2; fail "ceph.sh start"; }
eval "$(bash tests/infra/ceph.sh env)"
BUCKET=glint-test-deploy
STORES_VARS=$LOGS/multistore.yml
(umask 077; cat >"$STORES_VARS" <<EOF
glance_store_backends:
  fast: {type: file, filesystem_store_datadir: /var/lib/glance/fast, store_description: Local disk, weight: 100}
  ceph: {type: rbd, rbd_store_pool: $GLINT_TEST_RBD_POOL, store_description: Ceph RBD, weight: 50}
  objects:
    type: s3
    s3_store_host: "$GLINT_TEST_S3_URL"
    s3_store_access_key: "$GLINT_TEST_S3_ACCESS_KEY"
    s3_store_secret_key: "$GLINT_TEST_S3_SECRET_KEY"
    s3_store_bucket: $BUCKET
    s3_store_create_bucket_on_put: true
    store_description: Ceph S3
glance_store_default_backend: ceph
glance_store_ceph_user: $GLINT_TEST_RBD_USER
glance_store_ceph_admin_host: localhost
glance_store_ceph_admin_conf: $GLINT_TEST_CEPH_CONF
EOF
)
multi=$(run multistore-1 "$BIN/ansible-playbook" -i inventories/all-in-one site.yml --diff "${ARGS[@]}" -e "@$STORES_VARS")
multi2=$(run multistore-2 "$BIN/ansible-playbook" -i inventories/all-in-one site.yml "${ARGS[@]}" -e "@$STORES_VARS")
[ "$multi2" = 0 ] || { grep -B2 -E '^changed:' "$LOGS/multistore-2.log" >&2; fail "second multi-store deploy changed $multi2 task(s)"; }
mode_is() {   # mode_is FILE "MODE USER GROUP"
  [ "$(stat -c '%a %U %G' "$1")" = "$2" ] || fail "$1 is $(stat -c '%a %U %G' "$1"), not $2"
}
mode_is "/etc/ceph/ceph.client.$GLINT_TEST_RBD_USER.keyring" "640 root glance"
mode_is /etc/ceph/ceph.conf "644 root root"
mode_is /etc/glance/glance-api.conf.d/glance-store.conf "640 root glance"
/opt/glint/venv/bin/python -c 'import rados, rbd' || fail "the virtualenv does not import rados and rbd"
stores=$(curl -sf "http://127.0.0.1:$PORT/v2/info/stores") || fail "GET /v2/info/stores"
[ "$("$BIN/python" -c 'import json, sys; print(" ".join(s["id"] + ("*" if s.get("default") else "") for s in json.load(sys.stdin)["stores"]))' <<<"$stores")" = "fast ceph* objects" ] \
  || fail "/v2/info/stores: $stores"

OS=("$BIN/openstack" --os-auth-type none --os-endpoint "http://127.0.0.1:$PORT")
head -c 3145728 /dev/urandom >"$LOGS/multistore.raw"
images() {   # images present|absent: the playbook's glance_image tasks
  "$BIN/ansible-playbook" -i localhost, -c local -e "ansible_python_interpreter=$BIN/python" \
    tests/ansible/multistore-images.yml -e "glint_endpoint=http://127.0.0.1:$PORT" \
    -e "glint_image=$LOGS/multistore.raw" -e '{"glint_stores": ["fast", "ceph", "objects"]}' -e "glint_state=$1"
}
s3_object() {   # s3_object ID: the size of the image's object in the bucket, or "none"
  "$BIN/python" - "$BUCKET" "$1" <<'EOF'
import os, sys
import boto3
s3 = boto3.client('s3', endpoint_url=os.environ['GLINT_TEST_S3_URL'],
                  aws_access_key_id=os.environ['GLINT_TEST_S3_ACCESS_KEY'],
                  aws_secret_access_key=os.environ['GLINT_TEST_S3_SECRET_KEY'])
try:
    print(s3.head_object(Bucket=sys.argv[1], Key=sys.argv[2])['ContentLength'])
except s3.exceptions.ClientError:
    print('none')
EOF
}
rbd_snaps() { rbd --conf "$GLINT_TEST_CEPH_CONF" snap ls "$GLINT_TEST_RBD_POOL/$1" 2>/dev/null; }
run multistore-images images present >/dev/null
declare -A ids
for store in fast ceph objects; do
  ids[$store]=$("${OS[@]}" image show "glint-test-deploy-$store" -f value -c id) || fail "image show $store"
  "${OS[@]}" image save --file "$LOGS/multistore.$store" "${ids[$store]}" || fail "image save ($store)"
  cmp -s "$LOGS/multistore.raw" "$LOGS/multistore.$store" || fail "the image from $store differs from the upload"
done
[ -f "/var/lib/glance/fast/${ids[fast]}" ] || fail "no file /var/lib/glance/fast/${ids[fast]}"
rbd_snaps "${ids[ceph]}" | grep -qE ' snap .* yes ' || fail "no RBD image $GLINT_TEST_RBD_POOL/${ids[ceph]} with a protected snap"
[ "$(s3_object "${ids[objects]}")" = 3145728 ] || fail "no S3 object $BUCKET/${ids[objects]} of the image's size"
run multistore-delete images absent >/dev/null
[ ! -e "/var/lib/glance/fast/${ids[fast]}" ] || fail "the file of the deleted image is still there"
[ -z "$(rbd_snaps "${ids[ceph]}")" ] || fail "the RBD image of the deleted image is still there"
[ "$(s3_object "${ids[objects]}")" = none ] || fail "the S3 object of the deleted image is still there"
key=$(ceph --conf "$GLINT_TEST_CEPH_CONF" auth print-key "client.$GLINT_TEST_RBD_USER")
if grep -lF -e "$key" -e "$GLINT_TEST_S3_SECRET_KEY" "$LOGS"/*.log; then fail "a key or secret in the logs above"; fi
echo "multi-store: deploy changed=$multi, again changed=0; an image into and out of fast (file), ceph (rbd), objects (s3); no secret in the logs" >&2

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

echo "test-deploy: OK on port $PORT: multi-store on Ceph (file, rbd, s3) deployed, idempotent, an image through each store;" \
     "deploy changed=$first, second deploy changed=$second," \
     "--check --diff changed=$check; image list, upload, download and delete work; the" \
     "restart handler restarts once and --check reports it; failed prechecks change nothing (logs: $LOGS)"
