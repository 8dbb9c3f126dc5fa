#!/usr/bin/env bats
# The whole hierarchy on the real hypervisor: `euca serve walrus`, `euca serve nc` on
# qemu:///system (TCG), `euca serve cc` in front of it and `euca serve clc` in front of that,
# five processes speaking HTTP to each other. The euca-* commands talk only to the CLC
# (EC2_URL) and Walrus (S3_URL): the test guest is bundled, uploaded, registered, run through
# all three controllers, boots to its ready marker with its key, and is terminated; then the
# guest's whole-disk image (disk.img) registered without a kernel boots its own boot loader.
# Needs root (a system libvirt daemon) and the test guest (make guest); skips otherwise.

load helpers

setup_file() {
  export BATS_NO_PARALLELIZE_WITHIN_FILE=true
  export GUEST_DIR="${EUCA_GUEST_DIR:-$(dirname "$EUCA_BIN")/guest}"
  : >"$BATS_FILE_TMPDIR/pids"
  export SKIP_REASON
  SKIP_REASON="$(qemu_guest_skip_reason)" || return 1
  [[ -z "$SKIP_REASON" ]] || return 0

  clean_env
  export H="$BATS_FILE_TMPDIR/home"
  EUCA_HOME="$H" "$EUCA_BIN" admin init >/dev/null
  export WALRUS_URL NC_URL CC_URL CLC_URL
  WALRUS_URL="$(EUCA_HOME="$H" start_daemon walrus "$BATS_FILE_TMPDIR/walrus.log" serve walrus --listen 127.0.0.1:0)"
  [[ -n "$WALRUS_URL" ]] || { cat "$BATS_FILE_TMPDIR/walrus.log" >&2; return 1; }
  NC_URL="$(EUCA_HOME="$H" start_daemon nc "$BATS_FILE_TMPDIR/nc.log" serve nc --listen 127.0.0.1:0 \
    --hypervisor qemu:///system --accel tcg --walrus-url "$WALRUS_URL" --root "$BATS_FILE_TMPDIR/nc" \
    --max-cores 2 --max-memory 1024 --max-disk 8)"
  [[ -n "$NC_URL" ]] || { cat "$BATS_FILE_TMPDIR/nc.log" >&2; return 1; }
  CC_URL="$(EUCA_HOME="$H" start_daemon cc "$BATS_FILE_TMPDIR/cc.log" serve cc --listen 127.0.0.1:0 \
    --poll-seconds 1 --node "$NC_URL")"
  [[ -n "$CC_URL" ]] || { cat "$BATS_FILE_TMPDIR/cc.log" >&2; return 1; }
  EUCA_HOME="$H" "$EUCA_BIN" admin register-cluster zone-q "$CC_URL" >/dev/null
  CLC_URL="$(EUCA_HOME="$H" start_daemon clc "$BATS_FILE_TMPDIR/clc.log" serve clc --listen 127.0.0.1:0)"
  [[ -n "$CLC_URL" ]] || { cat "$BATS_FILE_TMPDIR/clc.log" >&2; return 1; }
}

teardown_file() { stop_daemons; }

setup() {
  [[ -z "$SKIP_REASON" ]] || skip "$SKIP_REASON"
  # Remote mode: the commands reach the cloud only through the CLC's and Walrus' URLs, with
  # the administrator's keys from the cloud's eucarc.
  export EUCA_HOME="$H"
  # shellcheck disable=SC1091
  source "$H/eucarc"
  export EC2_URL="$CLC_URL/services/compute" S3_URL="$WALRUS_URL/services/objectstorage"
  cd "$BATS_FILE_TMPDIR"
}

# expect_vanished ID: the domain of ID is gone from libvirt within ~20 s and the node left no
# folder of the instance.
expect_vanished() {
  local gone=""
  for _ in $(seq 100); do
    if ! virsh -c qemu:///system domstate "$1" >/dev/null 2>&1; then
      gone=yes
      break
    fi
    sleep 0.2
  done
  [[ -n "$gone" ]] || fail "the domain of $1 is still there"
  [[ ! -e "$BATS_FILE_TMPDIR/nc/instances/$1" ]] || fail "the node kept the folder of $1"
}

@test "a guest bundled, uploaded and registered runs through clc -> cc -> nc on QEMU and terminates" {
  bundle_test_guest hier
  local eki eri emi
  eki="$("$EUCA_BIN" register hier/guest-kernel.manifest.xml -n hier-kernel | cut -f2)"
  eri="$("$EUCA_BIN" register hier/guest-ramdisk.manifest.xml -n hier-ramdisk | cut -f2)"
  emi="$("$EUCA_BIN" register hier/guest-root.manifest.xml -n hier --kernel "$eki" --ramdisk "$eri" | cut -f2)"
  [[ "$emi" == emi-* ]]
  "$EUCA_BIN" create-keypair hier-key -f hier-key.pem >/dev/null

  run "$EUCA_BIN" describe-availability-zones
  assert_success
  assert_output --partial $'AVAILABILITYZONE\tzone-q\tavailable'

  run "$EUCA_BIN" run-instances "$emi" -k hier-key -t m1.small -z zone-q
  assert_success
  local id
  id="$(awk -F'\t' '$1 == "INSTANCE" { print $2; exit }' <<<"$output")"
  [[ "$id" == i-* ]]

  # Ready: the guest printed its marker, and its key came through the NoCloud seed.
  local ready="" state=""
  for _ in $(seq 300); do
    "$EUCA_BIN" get-console-output "$id" -r >console.out 2>/dev/null || true
    if grep -q "EUCA-GUEST-READY $id" console.out; then
      ready=yes
      break
    fi
    state="$("$EUCA_BIN" describe-instances "$id" | awk -F'\t' '$1 == "INSTANCE" { print $6 }')"
    [[ "$state" != terminated ]] || break
    sleep 1
  done
  [[ -n "$ready" ]] || { echo "state '$state'"; cat console.out; cat "$BATS_FILE_TMPDIR/nc.log"; false; }
  grep -q "EUCA-GUEST-KEY ssh-rsa " console.out

  run "$EUCA_BIN" describe-instances "$id"
  assert_output --partial $'\trunning\thier-key\t'
  assert_output --partial $'\tzone-q\t'
  # The domain runs under the real libvirt daemon, named by the instance id.
  run virsh -c qemu:///system domstate "$id"
  assert_output --partial running

  run "$EUCA_BIN" terminate-instances "$id"
  assert_success
  assert_output --partial "INSTANCE	$id"
  expect_vanished "$id"
}

@test "an image without a kernel boots from its own boot loader through clc -> cc -> nc on QEMU" {
  [[ -f "$GUEST_DIR/disk.img" ]] || skip "the test guest has no disk.img (built before it had one: make guest)"
  # The guest's whole-disk image: MBR, syslinux on a FAT partition, the root on the second.
  mkdir -p d
  cp "$GUEST_DIR/disk.img" guest-disk
  "$EUCA_BIN" bundle-image -i guest-disk -d d >/dev/null
  "$EUCA_BIN" upload-bundle -b hierdisk -m d/guest-disk.manifest.xml >/dev/null
  run "$EUCA_BIN" register hierdisk/guest-disk.manifest.xml -n hier-disk --ramdisk eri-00000000
  assert_failure 2
  assert_output --partial "the ramdisk 'eri-00000000' needs a kernel"
  local emi
  emi="$("$EUCA_BIN" register hierdisk/guest-disk.manifest.xml -n hier-disk | cut -f2)"
  [[ "$emi" == emi-* ]]
  # No kernel, no ramdisk: a hardware-virtualized (hvm) image.
  run "$EUCA_BIN" describe-images "$emi"
  assert_output --partial $'\tmachine\t\t\t\tinstance-store\thvm\t'
  run "$EUCA_BIN" run-instances "$emi" --kernel eki-0000dead
  assert_failure 3
  assert_output --partial "kernel 'eki-0000dead' does not exist"
  "$EUCA_BIN" create-keypair disk-key -f disk-key.pem >/dev/null

  run "$EUCA_BIN" run-instances "$emi" -k disk-key -t m1.small -z zone-q
  assert_success
  local id
  id="$(awk -F'\t' '$1 == "INSTANCE" { print $2; exit }' <<<"$output")"
  [[ "$id" == i-* ]]

  local ready="" state=""
  for _ in $(seq 300); do
    "$EUCA_BIN" get-console-output "$id" -r >disk-console.out 2>/dev/null || true
    if grep -q "EUCA-GUEST-READY $id" disk-console.out; then
      ready=yes
      break
    fi
    state="$("$EUCA_BIN" describe-instances "$id" | awk -F'\t' '$1 == "INSTANCE" { print $6 }')"
    [[ "$state" != terminated ]] || break
    sleep 1
  done
  [[ -n "$ready" ]] || { echo "state '$state'"; cat disk-console.out; cat "$BATS_FILE_TMPDIR/nc.log"; false; }
  # The boot loader ran (its banner), the root is the image's second partition, the key came.
  grep -q "SYSLINUX" disk-console.out
  grep -q "EUCA-GUEST-ROOT euca test guest root disk" disk-console.out
  grep -q "EUCA-GUEST-KEY ssh-rsa " disk-console.out
  # The domain has no kernel of its own: it boots from its disk.
  run virsh -c qemu:///system dumpxml "$id"
  assert_success
  assert_output --partial "<boot dev='hd'/>"
  refute_output --partial "<kernel>"

  run "$EUCA_BIN" terminate-instances "$id"
  assert_success
  expect_vanished "$id"
}
