#!/usr/bin/env bash
# keystone.sh start|stop|status: a real Keystone for the tests, served by
# gunicorn on 127.0.0.1:${KEYSTONE_PORT:-5000}, everything in the state dir:
#   $GLINT_STATE/keystone-venv   its own venv, from keystone-requirements.txt
#   $GLINT_STATE/keystone/       config, SQLite database, keys, logs, pid file,
#                                clouds.yaml for the accounts keystone.py makes
# start is idempotent: it installs, bootstraps and creates the fixtures only
# when needed, and does nothing more when Keystone is already running.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE=$(realpath -m "${GLINT_STATE:-$PWD/.state}")
VENV=$STATE/keystone-venv
KS=$STATE/keystone
LOG=$KS/keystone.log
PIDFILE=$KS/gunicorn.pid
PORT=${KEYSTONE_PORT:-5000}
# keystone.py reads these too; the defaults must agree with it.
export KEYSTONE_URL=http://127.0.0.1:$PORT/v3
export KEYSTONE_ADMIN_PASSWORD=${KEYSTONE_ADMIN_PASSWORD:-admin-pass}
WAIT_SECONDS=${KEYSTONE_WAIT:-60}
# Hush the 10-line eventlet deprecation banner every Keystone process prints.
export PYTHONWARNINGS=ignore::Warning:oslo_service.backend._eventlet.loopingcall

say() { echo "keystone.sh: $*"; }
pid() { cat "$PIDFILE" 2>/dev/null; }
# Our gunicorn master is alive (checking the name, as pids get reused).
running() { [ -n "$(pid)" ] && grep -qa gunicorn "/proc/$(pid)/cmdline" 2>/dev/null; }
# A step is redone only when what it depends on (KEY) changed since it last
# succeeded and wrote KEY into its STAMP file.
done_for() { [ "$(cat "$1" 2>/dev/null)" = "$2" ]; }  # STAMP KEY

install_venv() {
  local key
  key=$(sha256sum <"$HERE/keystone-requirements.txt")
  done_for "$VENV/.requirements.sha256" "$key" && return
  say "installing Keystone into $VENV"
  python3 -m venv --clear "$VENV"
  "$VENV/bin/pip" install -q -r "$HERE/keystone-requirements.txt"
  echo "$key" >"$VENV/.requirements.sha256"
}

# Again when the URL changed: bootstrap then updates the catalog's endpoints.
bootstrap() {
  done_for "$KS/bootstrapped" "$KEYSTONE_URL" && return
  say "bootstrapping Keystone in $KS"
  mkdir -p "$KS"
  cat >"$KS/keystone.conf" <<EOF
[DEFAULT]
log_file = $LOG
[database]
connection = sqlite:///$KS/keystone.db
[fernet_tokens]
key_repository = $KS/fernet-keys
[credential]
key_repository = $KS/credential-keys
[identity]
# bcrypt's fewest rounds: test logins cost milliseconds instead of ~0.3 s each.
password_hash_rounds = 4
EOF
  # Keystone parses sys.argv with oslo.config, which rejects gunicorn's
  # arguments, and finds its config files through the environment.
  cat >"$KS/keystone_wsgi.py" <<EOF
import os, sys
sys.argv = sys.argv[:1]
os.environ["OS_KEYSTONE_CONFIG_FILES"] = "$KS/keystone.conf"
from keystone.wsgi.api import application  # noqa: E402
EOF
  local manage=("$VENV/bin/keystone-manage" --config-file "$KS/keystone.conf")
  "${manage[@]}" db_sync
  "${manage[@]}" fernet_setup --keystone-user root --keystone-group root
  "${manage[@]}" credential_setup --keystone-user root --keystone-group root
  "${manage[@]}" bootstrap --bootstrap-password "$KEYSTONE_ADMIN_PASSWORD" \
    --bootstrap-admin-url "$KEYSTONE_URL" --bootstrap-public-url "$KEYSTONE_URL" \
    --bootstrap-internal-url "$KEYSTONE_URL" --bootstrap-region-id RegionOne
  echo "$KEYSTONE_URL" >"$KS/bootstrapped"
}

serve() {
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    echo "keystone.sh: 127.0.0.1:$PORT is taken by a process not started from $STATE" >&2
    exit 1
  fi
  say "starting gunicorn on 127.0.0.1:$PORT (log: $LOG)"
  # In the background on its own session, detached from the caller's pipes
  # (pytest's capture), process group and start/stop lock (fd 9), so it
  # outlives this script without holding anything of it.
  setsid "$VENV/bin/gunicorn" --bind "127.0.0.1:$PORT" --workers 2 --pythonpath "$KS" \
    --access-logfile "$KS/access.log" --no-control-socket keystone_wsgi:application \
    </dev/null >>"$LOG" 2>&1 9>&- &
  echo $! >"$PIDFILE"
}

wait_ready() {
  local deadline=$((SECONDS + WAIT_SECONDS))
  until "$VENV/bin/python" -c "import urllib.request as u; u.urlopen('$KEYSTONE_URL', timeout=5)" 2>/dev/null; do
    if ! running || ((SECONDS >= deadline)); then
      echo "keystone.sh: Keystone did not answer on $KEYSTONE_URL; end of $LOG:" >&2
      tail -n 40 "$LOG" >&2 || true
      exit 1
    fi
    sleep 0.5
  done
}

start() {
  if ! running; then
    install_venv
    bootstrap
    serve
  fi
  wait_ready
  local key
  key="$(sha256sum <"$HERE/keystone.py") $KEYSTONE_URL"
  if ! done_for "$KS/fixtures-done" "$key"; then
    say "creating projects, users and roles; writing $KS/clouds.yaml"
    "$VENV/bin/python" "$HERE/keystone.py" fixtures "$KS/clouds.yaml"
    echo "$key" >"$KS/fixtures-done"
  fi
  say "running at $KEYSTONE_URL (pid $(pid))"
}

stop() {
  if running; then
    local master deadline=$((SECONDS + 30))
    master=$(pid)
    kill "$master"  # gunicorn: graceful shutdown
    while kill -0 "$master" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    kill -KILL "$master" 2>/dev/null || true
    say "stopped"
  else
    say "not running"
  fi
  rm -f "$PIDFILE"
}

# One start/stop at a time (parallel test workers may all call start).
lock() {
  mkdir -p "$STATE"
  exec 9>"$STATE/keystone.lock"
  flock -w 300 9 || { echo "keystone.sh: $STATE/keystone.lock still held after 300 s" >&2; exit 1; }
}

case ${1:-} in
  start) lock; start ;;
  stop) lock; stop ;;
  status) if running; then say "running at $KEYSTONE_URL (pid $(pid))"; else say "stopped"; exit 1; fi ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
