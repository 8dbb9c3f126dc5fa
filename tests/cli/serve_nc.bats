#!/usr/bin/env bats
# euca serve nc: the node controller's internal API (docs/internal-api.md) over HTTP, on
# libvirt's test:///default driver (no real VMs; the real ones are in core/nc/node_e2e_test.cc)
# with the real disk tool (mkfs.ext4; the NC writes the other disks itself). Requests are signed here
# with openssl alone, as a cluster controller would sign them.

load helpers

setup_file() {
  clean_env
  export NC_HOME="$BATS_FILE_TMPDIR/home"
  EUCA_HOME="$NC_HOME" "$EUCA_BIN" admin init --hypervisor test:///default >/dev/null
  export NC_LOG="$BATS_FILE_TMPDIR/nc.log"
  EUCA_HOME="$NC_HOME" "$EUCA_BIN" serve nc --listen 127.0.0.1:0 --max-disk 3 >"$NC_LOG" 2>&1 3>&- &
  export NC_PID=$!
  local i
  for i in $(seq 100); do
    grep -q '^nc listening on http://' "$NC_LOG" && break
    sleep 0.1
  done
  export NC_URL
  NC_URL="$(sed -n 's/^nc listening on \(http:\/\/.*\)$/\1/p' "$NC_LOG")"
  [[ -n "$NC_URL" ]] || { cat "$NC_LOG" >&2; return 1; }
  # A 4 MiB raw "image" and a kernel and ramdisk for it, as local files.
  head -c 4194304 /dev/zero >"$BATS_FILE_TMPDIR/root.img"
  echo kernel >"$BATS_FILE_TMPDIR/vmlinuz"
  echo initrd >"$BATS_FILE_TMPDIR/initrd"
}

teardown_file() {
  if [[ -n "${NC_PID:-}" ]]; then
    kill -TERM "$NC_PID" 2>/dev/null || true
    wait "$NC_PID" 2>/dev/null || true
  fi
}

setup() {
  export EUCA_HOME="$NC_HOME"
  cd "$BATS_TEST_TMPDIR"
}

# nc COMPONENT OPERATION JSON: POST /nc/OPERATION signed by COMPONENT; prints the body, then
# the HTTP status on a line of its own.
nc() {
  local component="$1" op="$2"
  printf '%s' "$3" >body.json
  local -a auth
  mapfile -t auth < <(component_headers "$component" POST "/nc/$op" "" body.json)
  curl -s -X POST -H 'Content-Type: application/json' "${auth[@]}" --data-binary @body.json \
    -w '\n%{http_code}' "$NC_URL/nc/$op"
}

run_request() {
  local id="$1"
  cat <<JSON
{"instance_id":"$id","reservation_id":"r-0000abcd","owner_id":"000000000001",
 "image":{"id":"emi-00000001","location":"file://$BATS_FILE_TMPDIR/root.img"},
 "kernel":{"id":"eki-00000002","location":"file://$BATS_FILE_TMPDIR/vmlinuz"},
 "ramdisk":{"id":"eri-00000003","location":"file://$BATS_FILE_TMPDIR/initrd"},
 "vm_type":{"name":"m1.small","cores":1,"memory_mib":128,"disk_gib":1},
 "public_key":"ssh-ed25519 AAAAC3Nza test","user_data":"$(printf '#!/bin/sh\necho hi\n' | base64 -w0)"}
JSON
}

# wait_state ID STATE: polls describeInstances until the instance is in STATE.
wait_state() {
  local i
  for i in $(seq 150); do
    nc cc describeInstances "{\"instance_ids\":[\"$1\"]}" | grep -q "\"state\":\"$2\"" && return 0
    sleep 0.2
  done
  nc cc describeInstances "{\"instance_ids\":[\"$1\"]}" >&2
  return 1
}

@test "serve nc prints its address; describeResource reports the host" {
  run nc cc describeResource '{}'
  assert_success
  assert_line --index 1 200
  assert_line --index 0 --regexp '"cores_max":[0-9]+'
  assert_line --index 0 --partial '"disk_max_gib":3'
}

@test "runInstance prepares real disks and a cidata seed, and terminate removes every file" {
  run nc cc runInstance "$(run_request i-0000ba71)"
  assert_line --index 1 200
  assert_line --index 0 --partial '"state":"Pending"'
  wait_state i-0000ba71 Extant
  local dir="$NC_HOME/nc/instances/i-0000ba71"
  [[ -f "$dir/root.qcow2" && -f "$dir/ephemeral.img" && -f "$dir/swap.img" && -f "$dir/seed.iso" ]]
  run qemu-img info "$dir/root.qcow2"
  assert_output --partial "backing file: $NC_HOME/nc/cache/emi-00000001/"
  run blkid -o value -s LABEL "$dir/seed.iso"
  assert_output cidata
  run blkid -o value -s LABEL "$dir/ephemeral.img"
  assert_output ephemeral0
  # Again for the same id: the same instance, no second VM.
  run nc cc runInstance "$(run_request i-0000ba71)"
  assert_line --index 0 --partial '"state":"Extant"'
  run nc cc getConsoleOutput '{"instance_id":"i-0000ba71"}'
  assert_line --index 1 200
  run nc cc terminateInstance '{"instance_id":"i-0000ba71"}'
  assert_line --index 0 '{"instance_id":"i-0000ba71","previous_state":"Extant","shutdown_state":"Teardown"}'
  [[ ! -e "$dir" ]]
  run nc cc terminateInstance '{"instance_id":"i-0000ba71"}'
  assert_line --index 1 200
}

@test "unsigned requests, other components' and stale signatures are refused" {
  run curl -s -X POST -d '{}' -w '\n%{http_code}' "$NC_URL/nc/describeResource"
  assert_line --index 1 401
  assert_line --index 0 --partial '"code":"Unauthenticated"'
  run nc walrus describeResource '{}'
  assert_line --index 1 403
  run nc nc describeResource '{}'
  assert_line --index 1 403
  printf '{}' >body.json
  local -a auth
  mapfile -t auth < <(component_headers cc POST /nc/describeResource "" body.json 2001-01-01T00:00:00Z)
  run curl -s -X POST "${auth[@]}" --data-binary @body.json -w '\n%{http_code}' "$NC_URL/nc/describeResource"
  assert_line --index 1 401
  # A body changed after signing.
  mapfile -t auth < <(component_headers cc POST /nc/runInstance "" body.json)
  run curl -s -X POST "${auth[@]}" --data-binary '{"x":1}' -w '\n%{http_code}' "$NC_URL/nc/runInstance"
  assert_line --index 1 401
}

@test "bad requests get JSON errors and change nothing" {
  run nc cc runInstance '{not json'
  assert_line --index 1 400
  assert_line --index 0 --partial 'not JSON'
  run nc cc runInstance '{"instance_id":"i-0000ba72"}'
  assert_line --index 1 400
  assert_line --index 0 --partial "'image' is required"
  run nc cc runInstance "$(run_request i-BAD)"
  assert_line --index 1 400
  run nc cc formatDisk '{}'
  assert_line --index 1 404
  local big
  big="$(run_request i-0000ba73 | sed 's/"cores":1/"cores":100000/')"
  run nc cc runInstance "$big"
  assert_line --index 1 400
  run nc cc describeInstances '{}'
  refute_output --partial i-0000ba72
  refute_output --partial i-0000ba73
}

@test "an instance whose image cannot be fetched goes to Teardown with the reason" {
  run nc cc runInstance "$(run_request i-0000ba74 | sed "s|root.img|missing.img|")"
  assert_line --index 1 200
  wait_state i-0000ba74 Teardown
  run nc cc describeInstances '{"instance_ids":["i-0000ba74"]}'
  assert_output --partial 'missing.img'
  [[ ! -e "$NC_HOME/nc/instances/i-0000ba74" ]]
}

@test "serve nc refuses a bad hypervisor URI, and needs the node's keys" {
  run --separate-stderr euca serve nc --listen 127.0.0.1:0 --hypervisor xen:///
  assert_failure
  assert_equal "$stderr" "$(printf '%s' "$stderr" | grep "xen:///")"
  local empty="$BATS_TEST_TMPDIR/empty"
  mkdir "$empty"
  run --separate-stderr env EUCA_HOME="$empty" "$EUCA_BIN" serve nc --listen 127.0.0.1:0
  assert_failure
  assert_equal "$stderr" "euca: error: open '$empty/keys/cloud-ca.pem': No such file or directory"
}

@test "serve nc refuses a firmware that is not auto, bios or an existing ROM, as does nc.firmware" {
  run --separate-stderr euca serve nc --listen 127.0.0.1:0 --root "$BATS_TEST_TMPDIR/nc" --firmware qboot.rom
  assert_failure
  assert_equal "$stderr" "euca: error: firmware 'qboot.rom' is not auto, bios or the absolute path of a BIOS ROM"
  run --separate-stderr euca serve nc --listen 127.0.0.1:0 --root "$BATS_TEST_TMPDIR/nc" --firmware /no/such.rom
  assert_failure
  assert_equal "$stderr" "euca: error: firmware '/no/such.rom' does not exist on this node"
  run --separate-stderr euca admin modify-property nc.firmware=seabios
  assert_failure
  assert_equal "$stderr" "euca: error: property 'nc.firmware' cannot be 'seabios': expected auto, bios or the absolute path of a BIOS ROM"
  run euca admin describe-properties nc.firmware
  assert_success
  assert_output --partial auto
}
