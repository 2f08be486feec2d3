#!/usr/bin/env bash
# docker.sh engine|image|all: what the molecule scenarios need on this host.
#   engine  install docker.io (and debootstrap) when missing, start dockerd when it does
#           not answer, and wait until it does
#   image   build the systemd Debian base images once (debootstrap + docker import), one
#           per release the roles support: glint/debian-systemd:bookworm-1 (Debian 12) and
#           :trixie-1 (Debian 13); an image that exists is reused
# No image registry is reachable here, hence the local build (../../DESIGN notes: Docker).
set -euo pipefail

# Image names carry a recipe version: bump it when the recipe below changes.
IMAGE_PREFIX=glint/debian-systemd
RECIPE=1
SUITES=${GLINT_DEBIAN_SUITES:-bookworm trixie}
PACKAGES=systemd,systemd-sysv,dbus,python3,sudo,iproute2,procps
DOCKER_LOG=${GLINT_DOCKERD_LOG:-/var/log/glint-dockerd.log}
WAIT_SECONDS=${GLINT_DOCKERD_WAIT:-60}

say() { echo "docker.sh: $*"; }
die() { echo "docker.sh: $*" >&2; exit 1; }

install_packages() {
  local need=()
  command -v dockerd >/dev/null || need+=(docker.io)
  command -v debootstrap >/dev/null || need+=(debootstrap)
  [ ${#need[@]} -eq 0 ] && return
  say "installing ${need[*]}"
  # Another apt may be running on a shared machine: wait for its lock.
  apt-get -o DPkg::Lock::Timeout=600 update -q
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q \
    --no-install-recommends "${need[@]}"
}

start_engine() {
  docker info >/dev/null 2>&1 && return
  if ! pgrep -x dockerd >/dev/null; then
    say "starting dockerd (log: $DOCKER_LOG)"
    # setsid: the engine outlives this script; it starts its own containerd.
    setsid dockerd >>"$DOCKER_LOG" 2>&1 </dev/null &
  fi
  local i
  for ((i = 0; i < WAIT_SECONDS; i++)); do
    docker info >/dev/null 2>&1 && { say "dockerd is up"; return; }
    sleep 1
  done
  tail -n 30 "$DOCKER_LOG" >&2 || true
  die "dockerd did not answer within ${WAIT_SECONDS}s"
}

# The Debian mirror this host's apt uses (deb822 or one-line sources).
debian_mirror() {
  local uri
  uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -n1)
  [ -n "$uri" ] || uri=$(grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}' | head -n1)
  echo "${uri:-http://deb.debian.org/debian}"
}

build_image() {
  local SUITE=$1 IMAGE=$IMAGE_PREFIX:$1-$RECIPE
  if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    say "image $IMAGE exists, reused"
    return
  fi
  local root mirror
  root=$(mktemp -d /var/tmp/glint-rootfs.XXXXXX)
  trap 'rm -rf "$root"' EXIT
  mirror=$(debian_mirror)
  say "building $IMAGE from $mirror (about a minute)"
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$mirror" >"$root.log" 2>&1 \
    || { tail -n 30 "$root.log" >&2; die "debootstrap failed (log: $root.log)"; }
  rm -f "$root.log"
  configure_rootfs "$root" "$mirror" "$SUITE"
  tar -C "$root" -c . | docker import -c 'CMD ["/lib/systemd/systemd"]' - "$IMAGE" >/dev/null
  rm -rf "$root"
  trap - EXIT
  say "built $IMAGE"
}

# What a container needs beyond debootstrap: apt sources with updates and security, pip
# set up to trust this host's CA bundle (mounted by molecule at /etc/ssl/host-ca.crt,
# see molecule/base.yml), no units that cannot work in a container.
configure_rootfs() {
  local root=$1 mirror=$2 SUITE=$3
  cat >"$root/etc/apt/sources.list" <<SRC
deb $mirror $SUITE main
deb $mirror $SUITE-updates main
deb ${mirror%/debian}/debian-security $SUITE-security main
SRC
  cat >"$root/etc/pip.conf" <<'PIP'
[global]
cert = /etc/ssl/host-ca.crt
timeout = 180
disable-pip-version-check = true
PIP
  # Units that wait for hardware or a console a container does not have.
  local unit
  for unit in getty.target systemd-udevd.service systemd-udev-trigger.service \
      systemd-remount-fs.service systemd-firstboot.service; do
    ln -sf /dev/null "$root/etc/systemd/system/$unit"
  done
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
}

case "${1:-all}" in
  engine) install_packages; start_engine ;;
  image) start_engine; for suite in $SUITES; do build_image "$suite"; done ;;
  all) install_packages; start_engine; for suite in $SUITES; do build_image "$suite"; done ;;
  *) die "usage: $0 engine|image|all" ;;
esac
