#!/bin/bash
# Makes a system libvirt daemon answer on qemu:///system, starting one if none does.
# Idempotent: with a daemon already answering it changes nothing. Prints what it did.
# Machines without systemd (CI containers) are the case it is for; see
# docs/hypervisor.md "A libvirt daemon for tests".
#
# Exit status: 0 the daemon answers; 77 skipped (not root, or libvirt/QEMU not installed);
# 1 it was started but does not answer (its log is printed).
set -u
SKIP=77
URI=qemu:///system
say() { echo "libvirtd.sh: $*"; }

if [ "$(id -u)" != 0 ]; then
  say "skip: not root (a system libvirt daemon needs root)"
  exit $SKIP
fi
for prog in libvirtd virtlogd virsh qemu-system-x86_64; do
  if ! command -v "$prog" >/dev/null 2>&1; then
    say "skip: '$prog' is not installed (make deps installs it)"
    exit $SKIP
  fi
done

answers() { timeout 10 virsh -c "$URI" version >/dev/null 2>&1; }

if answers; then
  say "$URI already answers"
  exit 0
fi

# The QEMU driver refuses to start without its user and group.
if ! getent group libvirt-qemu >/dev/null; then
  groupadd -r libvirt-qemu && say "created group libvirt-qemu"
fi
if ! id libvirt-qemu >/dev/null 2>&1; then
  useradd -r -g libvirt-qemu -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu && say "created user libvirt-qemu"
fi

conf=/etc/libvirt/qemu.conf
mkdir -p /etc/libvirt
touch "$conf"
set_conf() {  # $1 = key, $2 = value exactly as qemu.conf spells it; replaces any other value
  local key=$1 value=$2
  if ! grep -qxF "$key = $value" "$conf"; then
    sed -i -E "/^[[:space:]]*$key[[:space:]]*=/d" "$conf"
    echo "$key = $value" >>"$conf"
    say "set $key = $value in $conf"
  fi
}
# QEMU runs as root so it reads images and writes console logs anywhere (test trees).
set_conf user '"root"'
set_conf group '"root"'
# No private mount namespace and no cgroups per domain: together they cost about 0.1 s of the
# host's CPU per start, and eight starts at once share two cores (docs/hypervisor.md, "Host
# settings for fast starts").
set_conf namespaces '[ ]'
set_conf cgroup_controllers '[ ]'

mkdir -p /var/log/libvirt /var/run/libvirt /var/lib/libvirt
if ! pgrep -x virtlogd >/dev/null; then
  virtlogd -d && say "started virtlogd"
fi
# A daemon that runs but does not answer (wedged, or started before the config) is left
# alone: stopping someone else's daemon is not ours to do.
if pgrep -x libvirtd >/dev/null; then
  say "libvirtd runs but $URI does not answer yet; waiting"
else
  # Under a subreaper, so that the QEMU processes it daemonizes are reaped the moment they
  # exit (subreaper.py says why); in its own session, so it outlives this script.
  setsid "$(dirname "$0")/subreaper.py" libvirtd </dev/null >/dev/null 2>&1 &
  say "started libvirtd (under subreaper.py)"
fi

for _ in $(seq 1 100); do
  if answers; then
    say "$URI answers: $(virsh -c "$URI" version 2>/dev/null | grep -i 'running hypervisor' | sed 's/^ *//')"
    exit 0
  fi
  sleep 0.2
done
say "error: $URI does not answer after 20 s"
tail -n 20 /var/log/libvirt/libvirtd.log 2>/dev/null
exit 1
