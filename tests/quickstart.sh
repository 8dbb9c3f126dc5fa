#!/usr/bin/env bash
# Quickstart (make run): a whole cloud in a scratch EUCA_HOME, in a few commands.
# Uses $EUCA_BIN (default: build/euca). Exits non-zero on the first failure.
set -euo pipefail

EUCA_BIN="${EUCA_BIN:-build/euca}"
if [[ ! -x "$EUCA_BIN" ]]; then
  echo "quickstart: no euca binary at '$EUCA_BIN'; build first (make) or set EUCA_BIN" >&2
  exit 1
fi

export EUCA_HOME
EUCA_HOME="$(mktemp -d "${TMPDIR:-/tmp}/euca-quickstart.XXXXXX")"
# The scratch home only: never a cloud the user already has.
unset EC2_URL S3_URL EC2_ACCESS_KEY EC2_SECRET_KEY AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY \
  AWS_ACCESS_KEY AWS_SECRET_KEY

euca() {
  echo "\$ euca $*"
  "$EUCA_BIN" "$@"
}

heading() { printf '\n== %s\n' "$*"; }

heading "Create a cloud in $EUCA_HOME"
euca admin init

heading "An account and a user"
euca admin create-account acme
euca admin create-user alice --account acme

heading "Disable and enable the user"
euca admin disable-user alice --account acme
euca admin enable-user alice --account acme

heading "Change a property"
euca admin modify-property cloud.region=quickstart-1

heading "Accounts"
euca admin describe-accounts

heading "Users"
euca admin describe-users

heading "Properties"
euca admin describe-properties

heading "History: one commit per change"
euca admin history

# The main job: a real VM from a fresh bundle. Needs the test guest (make guest) and a
# libvirt daemon: as root the system one (tests/setup/libvirtd.sh starts it if needed),
# otherwise the user's session daemon.
GUEST_DIR="${EUCA_GUEST_DIR:-$(dirname "$EUCA_BIN")/guest}"
if [[ ! -f "$GUEST_DIR/VERSION" ]]; then
  echo "quickstart: no test guest in '$GUEST_DIR'; build it with: make guest" >&2
  exit 1
fi
if [[ "$(id -u)" == 0 ]]; then
  bash "$(dirname "$0")/setup/libvirtd.sh"
  HYPERVISOR=qemu:///system
else
  HYPERVISOR=qemu:///session
fi
# The cloud's hypervisor is a setting (nc.hypervisor); the default accelerator "auto" uses
# KVM where it works and TCG otherwise.
euca admin modify-property "nc.hypervisor=$HYPERVISOR"

WORK="$EUCA_HOME/quickstart"
mkdir -p "$WORK/kernel" "$WORK/ramdisk" "$WORK/machine"
cp "$GUEST_DIR/kernel" "$WORK/guest-kernel"
cp "$GUEST_DIR/initramfs.cpio" "$WORK/guest-ramdisk"
cp "$GUEST_DIR/root.ext2" "$WORK/guest-root"

heading "Bundle the test guest: kernel, ramdisk and root file system"
euca bundle-image -i "$WORK/guest-kernel" --image-type kernel -d "$WORK/kernel"
euca bundle-image -i "$WORK/guest-ramdisk" --image-type ramdisk -d "$WORK/ramdisk"
euca bundle-image -i "$WORK/guest-root" -d "$WORK/machine"

heading "Upload the bundles to Walrus"
euca upload-bundle -b quickstart -m "$WORK/kernel/guest-kernel.manifest.xml"
euca upload-bundle -b quickstart -m "$WORK/ramdisk/guest-ramdisk.manifest.xml"
euca upload-bundle -b quickstart -m "$WORK/machine/guest-root.manifest.xml"

heading "Register them as images"
EKI="$("$EUCA_BIN" register quickstart/guest-kernel.manifest.xml -n guest-kernel | cut -f2)"
ERI="$("$EUCA_BIN" register quickstart/guest-ramdisk.manifest.xml -n guest-ramdisk | cut -f2)"
EMI="$("$EUCA_BIN" register quickstart/guest-root.manifest.xml -n guest --kernel "$EKI" --ramdisk "$ERI" | cut -f2)"
euca describe-images

heading "A key pair"
euca create-keypair quickstart -f "$WORK/quickstart.pem"

heading "Run an instance"
euca run-instances "$EMI" -k quickstart -t m1.small | tee "$WORK/run.out"
INSTANCE="$(awk -F'\t' '$1 == "INSTANCE" { print $2; exit }' "$WORK/run.out")"
[[ -n "$INSTANCE" ]] || { echo "quickstart: run-instances printed no INSTANCE line" >&2; exit 1; }

heading "Wait for its ready marker on the serial console"
state="" ready=""
for _ in $(seq 180); do
  "$EUCA_BIN" get-console-output "$INSTANCE" -r >"$WORK/console.out" 2>/dev/null || true
  if grep -q "EUCA-GUEST-READY $INSTANCE" "$WORK/console.out"; then
    ready=yes
    break
  fi
  state="$("$EUCA_BIN" describe-instances "$INSTANCE" | awk -F'\t' '$1 == "INSTANCE" { print $6 }')"
  if [[ "$state" == terminated || "$state" == shutting-down ]]; then break; fi
  sleep 1
done
echo "\$ euca get-console-output $INSTANCE (last lines)"
tail -n 8 "$WORK/console.out"
euca describe-instances "$INSTANCE"
if [[ -z "$ready" ]]; then
  echo "quickstart: the instance did not print its ready marker (state '$state')" >&2
  "$EUCA_BIN" terminate-instances "$INSTANCE" >/dev/null 2>&1 || true
  exit 1
fi

heading "Terminate it"
euca terminate-instances "$INSTANCE"

heading "Done"
echo "The cloud is in $EUCA_HOME. To keep using it:"
echo "  export EUCA_HOME=$EUCA_HOME"
echo "  source $EUCA_HOME/eucarc"
echo "Remove it with: rm -rf $EUCA_HOME"
