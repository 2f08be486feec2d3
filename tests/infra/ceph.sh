#!/usr/bin/env bash
# ceph.sh start|stop [--purge]|status|env|bindings VENV: a real single-node Ceph
# for the rbd and s3 stores' tests, from Debian's ceph 16.2 packages, without
# systemd or cephadm: one mon, one mgr, one bluestore OSD on a sparse file,
# pools of size 1, the `images` pool (rbd) with a client.glance key, and a
# radosgw serving S3 to a user of its own. Everything is in one directory,
# $GLINT_CEPH_DIR (default $GLINT_STATE/ceph, else .state/ceph at the root of
# the checkout):
#   ceph.conf, ceph.client.*.keyring   what clients read (`env` prints them)
#   mon.a mgr.a osd.0 client.rgw.a     the daemons' data (osd.0/block: the OSD)
#   run/ log/ done/                    pid files and sockets, logs, bootstrap steps
# All on 127.0.0.1, in 16000-16999 where nothing else of the tests listens
# (the suites' free ports are ephemeral ones, 32768 and up): the mon on
# $GLINT_CEPH_MON_PORT (16400, msgr2) and the next port (v1), radosgw on
# $GLINT_CEPH_RGW_PORT (16480), the daemons' messengers in 16500-16599.
#
# start is idempotent: it installs the packages, creates the cluster, pools and
# users only when missing, starts the daemons that are not running, and
# returns once every PG is active+clean, health is OK and radosgw answers.
# stop stops the daemons (the data stays; --purge deletes it). env prints the
# GLINT_TEST_* exports the tests read. bindings VENV links Debian's rados and
# rbd modules into a virtualenv of the same Python minor version, as
# OpenStack-Ansible does for glance.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
D=$(realpath -m "${GLINT_CEPH_DIR:-${GLINT_STATE:-$ROOT/.state}/ceph}")
CONF=$D/ceph.conf
MON_PORT=${GLINT_CEPH_MON_PORT:-16400}
RGW_PORT=${GLINT_CEPH_RGW_PORT:-16480}
MSGR_PORTS=${GLINT_CEPH_MSGR_PORTS:-16500-16599}
# Sparse: only what is written takes disk. The file never shrinks (bluestore
# does not give freed space back to the file system); `stop --purge` does.
OSD_SIZE=${GLINT_CEPH_OSD_SIZE:-$((20 << 30))}
# Bluestore's caches grow towards this; the least Ceph accepts is 896 MiB.
OSD_MEMORY=${GLINT_CEPH_OSD_MEMORY:-$((896 << 20))}
WAIT_SECONDS=${GLINT_CEPH_WAIT:-180}
POOL=images
RBD_USER=glance
S3_USER=glint-tests
PACKAGES=(ceph-mon ceph-mgr ceph-osd radosgw ceph-common python3-rados python3-rbd)
# Debian's own Python: the one that sees python3-rados (ceph_admin.py needs it).
SYS_PYTHON=/usr/bin/python3
export CEPH_CONF=$CONF  # for the ceph, rbd and radosgw-admin commands below

# The daemons in start order: NAME BINARY ARGUMENTS
DAEMONS=("mon.a ceph-mon -i a" "mgr.a ceph-mgr -i a" "osd.0 ceph-osd -i 0" "client.rgw.a radosgw -n client.rgw.a")

say() { echo "ceph.sh: $*"; }
die() { echo "ceph.sh: $*" >&2; exit 1; }
pid() { cat "$D/run/$1.pid" 2>/dev/null; }
# NAME's pid file names a live process started with our ceph.conf (pids get
# reused, and another checkout may run a cluster of its own).
running() { [ -n "$(pid "$1")" ] && grep -qaF -- "$CONF" "/proc/$(pid "$1")/cmdline" 2>/dev/null; }
all_running() { local d; for d in "${DAEMONS[@]}"; do running "${d%% *}" || return 1; done; }
done_step() { [ -e "$D/done/$1" ]; }
mark_done() { touch "$D/done/$1"; }
# PID has not exited. A zombie has: the daemons' parent here is PID 1, which may
# take seconds to reap them.
alive() { local s; s=$(ps -o stat= -p "$1") && [[ $s != Z* ]]; }
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
admin() { "$SYS_PYTHON" "$HERE/ceph_admin.py" "$@"; }

install_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  say "installing ${missing[*]}"
  # No daemon of the packages may start (their init scripts would use /etc/ceph).
  local policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy"
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  # Another job may be installing packages: wait for dpkg's lock, don't fail.
  local apt=(apt-get -q -o DPkg::Lock::Timeout=600)
  export DEBIAN_FRONTEND=noninteractive
  "${apt[@]}" install -y --no-install-recommends "${missing[@]}" ||
    { "${apt[@]}" update && "${apt[@]}" install -y --no-install-recommends "${missing[@]}"; }
}

write_conf() {
  local fsid tmp=$CONF.tmp
  fsid=$(cat "$D/fsid")
  cat >"$tmp" <<EOF
# Written by tests/infra/ceph.sh at every start; edit the script, not this file.
[global]
fsid = $fsid
mon_host = [v2:127.0.0.1:$MON_PORT,v1:127.0.0.1:$((MON_PORT + 1))]
public_addr = 127.0.0.1
ms_bind_port_min = ${MSGR_PORTS%-*}
ms_bind_port_max = ${MSGR_PORTS#*-}
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
auth_allow_insecure_global_id_reclaim = false
run_dir = $D/run
# One OSD: pools of one replica, no warnings about it, and 8 PGs a pool.
osd_pool_default_size = 1
osd_pool_default_min_size = 1
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
mon_allow_pool_delete = true
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
mon_max_pg_per_osd = 1000
osd_crush_chooseleaf_type = 0
# The default (30 % free) turns health to WARN on a disk that is just busy.
mon_data_avail_warn = 1
mgr_initial_modules = iostat
# Daemons send their stats to the mgr every second, not 5: start waits on them.
mgr_stats_period = 1

# Daemons only: clients (the tests, the service) keep librados' defaults of no
# log file and no admin socket.
[mon]
mon_data = $D/\$name
keyring = \$mon_data/keyring
log_file = $D/log/\$name.log
pid_file = $D/run/\$name.pid
admin_socket = $D/run/\$name.asok
# 1 s by default: then every pool create waits about 2 s for its map.
paxos_propose_interval = 0.1
[mgr]
mgr_data = $D/\$name
keyring = \$mgr_data/keyring
log_file = $D/log/\$name.log
pid_file = $D/run/\$name.pid
admin_socket = $D/run/\$name.asok
[osd]
osd_data = $D/\$name
keyring = \$osd_data/keyring
log_file = $D/log/\$name.log
pid_file = $D/run/\$name.pid
admin_socket = $D/run/\$name.asok
osd_objectstore = bluestore
bluestore_block_create = true
bluestore_block_size = $OSD_SIZE
osd_memory_target = $OSD_MEMORY
[client]
keyring = $D/ceph.\$name.keyring
[client.rgw.a]
rgw_data = $D/\$name
keyring = \$rgw_data/keyring
log_file = $D/log/\$name.log
pid_file = $D/run/\$name.pid
admin_socket = $D/run/\$name.asok
rgw_frontends = beast endpoint=127.0.0.1:$RGW_PORT
# Deleted objects' data is freed by radosgw's garbage collector, by default 2 h
# after the delete and once an hour: a few 1 GiB benchmark rounds would fill the OSD.
rgw_gc_obj_min_wait = 30
rgw_gc_processor_period = 30
EOF
  mv "$tmp" "$CONF"
}

# Start daemon NAME unless it runs. Each forks into the background itself once
# it is up; it must hold neither the caller's pipes (pytest's capture) nor the
# start/stop lock (fd 9).
launch() {
  local name=$1 binary=$2
  running "$name" && return
  say "starting $name"
  "$binary" --conf "$CONF" "${@:3}" </dev/null >>"$D/log/$name.stderr" 2>&1 9>&- ||
    { tail -n 20 "$D/log/$name.log" "$D/log/$name.stderr" >&2 2>/dev/null; die "$name did not start"; }
}
launch_daemon() {  # NAME
  local d
  for d in "${DAEMONS[@]}"; do
    if [ "${d%% *}" = "$1" ]; then launch $d; fi
  done
}

create_mon() {
  done_step mon && return
  say "creating the cluster in $D"
  local keys=$D/mon.keyring.tmp mon_v1=$((MON_PORT + 1))
  local CEPH_CONF=/dev/null  # the tools below would log as "mon." under [mon]
  ceph-authtool --create-keyring "$keys" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool --create-keyring "$D/ceph.client.admin.keyring" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
  ceph-authtool "$keys" --import-keyring "$D/ceph.client.admin.keyring" >/dev/null
  monmaptool --create --fsid "$(cat "$D/fsid")" \
    --addv a "[v2:127.0.0.1:$MON_PORT,v1:127.0.0.1:$mon_v1]" "$D/monmap" >/dev/null
  rm -rf "$D/mon.a"
  ceph-mon --conf "$CONF" --mkfs -i a --monmap "$D/monmap" --keyring "$keys"
  rm -f "$keys" "$D/monmap"
  echo "$MON_PORT" >"$D/mon-port"
  mark_done mon
}

create_mgr() {
  done_step mgr && return
  mkdir -p "$D/mgr.a"
  ceph auth get-or-create mgr.a mon 'allow profile mgr' osd 'allow *' mds 'allow *' \
    -o "$D/mgr.a/keyring"
  mark_done mgr
}

# Bluestore on $D/osd.0/block, which mkfs creates (bluestore_block_create).
# The uuid and key are kept, so that a step that failed half-way can be redone.
create_osd() {
  done_step osd && return
  local o=$D/osd.0
  mkdir -p "$o"
  [ -s "$D/osd.uuid" ] || cat /proc/sys/kernel/random/uuid >"$D/osd.uuid"
  [ -s "$D/osd.secret" ] || ceph-authtool --gen-print-key >"$D/osd.secret"
  echo "{\"cephx_secret\": \"$(cat "$D/osd.secret")\"}" |
    ceph osd new "$(cat "$D/osd.uuid")" 0 -i - >/dev/null
  rm -f "$o"/*
  ceph-authtool --create-keyring "$o/keyring" --name osd.0 --add-key "$(cat "$D/osd.secret")" >/dev/null
  # mkfs logs a few _read_bdev_label errors on the new file: harmless.
  ceph-osd --conf "$CONF" -i 0 --mkfs --osd-uuid "$(cat "$D/osd.uuid")" >"$D/log/osd-mkfs.log" 2>&1 ||
    { tail -n 20 "$D/log/osd-mkfs.log" >&2; die "ceph-osd --mkfs failed"; }
  rm -f "$D/osd.secret"
  mark_done osd
}

# The pools (images for rbd; radosgw's, which it would otherwise create on the
# first S3 write and stall it for seconds), the glance and radosgw keys, and the
# S3 user. Users before radosgw runs: radosgw-admin stalls for seconds a call
# while radosgw initialises.
create_pools_and_users() {
  if ! done_step setup; then
    admin setup "$D" "$POOL" "$RBD_USER"
    mark_done setup
  fi
  if ! done_step s3-user; then
    { radosgw-admin user info --uid "$S3_USER" 2>/dev/null ||
        radosgw-admin user create --uid "$S3_USER" --display-name 'Glint tests'; } |
      "$SYS_PYTHON" -c 'import json, sys; k = json.load(sys.stdin)["keys"][0]; print(k["access_key"]); print(k["secret_key"])' \
        >"$D/s3-keys.tmp"
    mv "$D/s3-keys.tmp" "$D/s3-keys"
    mark_done s3-user
  fi
}

refuse_taken_port() {  # PORT
  if listening "$1"; then
    die "127.0.0.1:$1 is taken by a process not started from $D (another checkout's cluster? its 'ceph.sh stop')"
  fi
}

start() {
  if all_running; then
    admin wait 30 "http://127.0.0.1:$RGW_PORT/"
    say "already running ($D)"
    return
  fi
  if [ -e "$D/mon-port" ] && [ "$(cat "$D/mon-port")" != "$MON_PORT" ]; then
    die "$D was created with the mon on port $(cat "$D/mon-port"), not $MON_PORT; 'ceph.sh stop --purge' first"
  fi
  running mon.a || refuse_taken_port "$MON_PORT"
  running client.rgw.a || refuse_taken_port "$RGW_PORT"
  install_packages
  mkdir -p "$D"/{run,log,done}
  [ -s "$D/fsid" ] || cat /proc/sys/kernel/random/uuid >"$D/fsid"
  write_conf
  local t0=$SECONDS
  create_mon
  launch_daemon mon.a
  create_mgr
  launch_daemon mgr.a
  create_osd
  launch_daemon osd.0
  create_pools_and_users
  launch_daemon client.rgw.a
  say "waiting for the PGs to be active+clean and for radosgw"
  admin wait "$WAIT_SECONDS" "http://127.0.0.1:$RGW_PORT/"
  say "running ($D), ready after $((SECONDS - t0)) s; 'ceph.sh env' for the tests' settings"
}

stop() {
  local group name p killed stopped=()
  # radosgw first, the mon last: the others report to it as they go.
  for group in "client.rgw.a mgr.a" osd.0 mon.a; do
    killed=()
    for name in $group; do
      if running "$name"; then
        p=$(pid "$name")
        if kill "$p"; then killed+=("$p"); stopped+=("$name"); fi
      fi
    done
    for p in "${killed[@]}"; do
      for _ in $(seq 100); do alive "$p" || break; sleep 0.1; done
      if alive "$p"; then say "pid $p ignores SIGTERM; killing it"; kill -KILL "$p"; fi
    done
    for name in $group; do rm -f "$D/run/$name.pid"; done
  done
  if ((${#stopped[@]})); then say "stopped ${stopped[*]}"; else say "not running"; fi
  if [ "${1:-}" = --purge ]; then
    [ -e "$D/fsid" ] || [ ! -e "$D" ] || die "$D does not look like ceph.sh's; not deleting it"
    rm -rf "$D"
    say "deleted $D"
  fi
}

status() {
  local d name state=0
  for d in "${DAEMONS[@]}"; do
    name=${d%% *}
    if running "$name"; then say "$name running (pid $(pid "$name"))"; else say "$name stopped"; state=1; fi
  done
  ((state)) || say "health: $(timeout 20 ceph health 2>&1)"
  return $state
}

env_exports() {
  [ -s "$D/s3-keys" ] || die "no cluster in $D yet: 'ceph.sh start' first"
  local keys
  mapfile -t keys <"$D/s3-keys"
  printf 'export %s=%q\n' \
    GLINT_TEST_CEPH_CONF "$CONF" \
    GLINT_TEST_CEPH_FSID "$(cat "$D/fsid")" \
    GLINT_TEST_RBD_POOL "$POOL" \
    GLINT_TEST_RBD_USER "$RBD_USER" \
    GLINT_TEST_RBD_KEYRING "$D/ceph.client.$RBD_USER.keyring" \
    GLINT_TEST_S3_URL "http://127.0.0.1:$RGW_PORT" \
    GLINT_TEST_S3_ACCESS_KEY "${keys[0]}" \
    GLINT_TEST_S3_SECRET_KEY "${keys[1]}"
}

# Debian builds rados and rbd for its own Python (3.11 on bookworm); a venv of
# another 3.11 (pyenv's) loads them as they are: same ABI, same suffix.
bindings() {
  local venv=${1:-} suffix site m
  [ -x "$venv/bin/python" ] || die "usage: ceph.sh bindings VENV (a virtualenv with bin/python)"
  install_packages
  suffix=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
  site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])')
  for m in rados rbd; do
    [ -e "/usr/lib/python3/dist-packages/$m$suffix" ] ||
      die "Debian has no $m$suffix: $venv's Python is not Debian's ($(ls /usr/lib/python3/dist-packages/$m.*.so))"
    ln -sfn "/usr/lib/python3/dist-packages/$m$suffix" "$site/$m$suffix"
  done
  "$venv/bin/python" -c 'import rados, rbd' || die "$venv cannot import rados and rbd"
  say "$venv imports Debian's rados and rbd (links in $site)"
}

# One start/stop at a time (parallel test workers may all call start).
lock() {
  mkdir -p "$(dirname "$D")"
  exec 9>"$D.lock"
  flock -w 300 9 || die "$D.lock still held after 300 s"
}

case ${1:-} in
  start) lock; start ;;
  stop) lock; stop "${2:-}" ;;
  status) status ;;
  env) env_exports ;;
  bindings) bindings "${2:-}" ;;
  *) echo "usage: $0 start|stop [--purge]|status|env|bindings VENV" >&2; exit 2 ;;
esac
