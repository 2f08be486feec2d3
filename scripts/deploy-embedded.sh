#!/usr/bin/env bash
# Run Glint's embedded default on this host, laid out as Glance is: /etc/glance,
# /var/lib/glance (SQLite database, file store), /var/log/glance; no auth, 127.0.0.1:9292.
# An existing /etc/glance/glance-api.conf is kept. `deploy-embedded.sh stop` stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/.venv/bin
CONF=/etc/glance/glance-api.conf
PIDFILE=/run/glance-api.pid
URL=http://127.0.0.1:9292

stop() {
  if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    kill "$(cat "$PIDFILE")"
    while kill -0 "$(cat "$PIDFILE")" 2>/dev/null; do sleep 0.2; done
  fi
  rm -f "$PIDFILE"
}

if [ "${1:-}" = stop ]; then stop; exit 0; fi

install -d -m 0750 /etc/glance /var/lib/glance /var/lib/glance/images /var/log/glance
if [ ! -f "$CONF" ]; then
  cat > "$CONF" <<CONF
[DEFAULT]
bind_host = 127.0.0.1
bind_port = 9292
log_file = /var/log/glance/glance-api.log

[database]
connection = sqlite:////var/lib/glance/glance.sqlite

[glance_store]
stores = file,http
default_store = file
filesystem_store_datadir = /var/lib/glance/images

[paste_deploy]
flavor =
CONF
fi
"$BIN/glance-manage" --config-file "$CONF" db sync >/dev/null
stop
setsid "$BIN/glance-api" --config-file "$CONF" >>/var/log/glance/gunicorn.log 2>&1 &
echo $! > "$PIDFILE"
for _ in $(seq 100); do
  if curl -fsS "$URL/healthcheck" >/dev/null 2>&1; then
    echo "glance-api is running at $URL (config $CONF, pid $(cat "$PIDFILE"))"
    exit 0
  fi
  sleep 0.2
done
echo "glance-api did not answer on $URL; see /var/log/glance/" >&2
exit 1
