#!/usr/bin/env bats
# euca serve cc: the cluster controller's internal API (docs/internal-api.md) over HTTP, in
# front of two real `euca serve nc` on libvirt's test:///default driver (in-process in each
# node controller: no libvirt daemon, no real VMs; the disk tools are real). Requests are
# signed here with openssl alone, as the cloud controller (the cloud's key) would sign them.

load helpers

setup_file() {
  # One cloud (and its daemons) for the whole file: its tests run one at a time.
  export BATS_NO_PARALLELIZE_WITHIN_FILE=true
  clean_env
  export CC_HOME="$BATS_FILE_TMPDIR/home"
  EUCA_HOME="$CC_HOME" "$EUCA_BIN" admin init --hypervisor test:///default >/dev/null
  : >"$BATS_FILE_TMPDIR/pids"
  export NC1_URL NC2_URL CC_URL
  # Two nodes of 2 cores, 1 GiB and 4 GiB of disk each.
  NC1_URL="$(EUCA_HOME="$CC_HOME" start_daemon nc "$BATS_FILE_TMPDIR/nc1.log" serve nc --listen 127.0.0.1:0 \
    --root "$BATS_FILE_TMPDIR/nc1" --max-cores 2 --max-memory 1024 --max-disk 4)"
  NC2_URL="$(EUCA_HOME="$CC_HOME" start_daemon nc "$BATS_FILE_TMPDIR/nc2.log" serve nc --listen 127.0.0.1:0 \
    --root "$BATS_FILE_TMPDIR/nc2" --max-cores 2 --max-memory 1024 --max-disk 4)"
  [[ -n "$NC1_URL" && -n "$NC2_URL" ]] || { cat "$BATS_FILE_TMPDIR"/nc*.log >&2; return 1; }
  CC_URL="$(EUCA_HOME="$CC_HOME" start_daemon cc "$BATS_FILE_TMPDIR/cc.log" serve cc --listen 127.0.0.1:0 \
    --policy roundrobin --poll-seconds 1 --node "$NC1_URL" --node "$NC2_URL")"
  [[ -n "$CC_URL" ]] || { cat "$BATS_FILE_TMPDIR/cc.log" >&2; return 1; }
  head -c 4194304 /dev/zero >"$BATS_FILE_TMPDIR/root.img"
}

teardown_file() { stop_daemons; }

setup() {
  export EUCA_HOME="$CC_HOME"
  cd "$BATS_TEST_TMPDIR"
}

# cc KEY OPERATION JSON: POST /cc/OPERATION signed with keys/KEY-pk.pem ("cloud" is the cloud
# controller's key); prints the body, then the HTTP status on a line of its own.
cc() {
  local key="$1" op="$2"
  printf '%s' "$3" >body.json
  local -a auth
  mapfile -t auth < <(component_headers "$key" POST "/cc/$op" "" body.json)
  curl -s -X POST -H 'Content-Type: application/json' "${auth[@]}" --data-binary @body.json \
    -w '\n%{http_code}' "$CC_URL/cc/$op"
}

# instance ID: one instance of a runInstances request (1 core, 128 MiB, 1 GiB).
instance() {
  cat <<JSON
{"instance_id":"$1","reservation_id":"r-0000abcd","owner_id":"000000000001",
 "image":{"id":"emi-00000001","location":"file://$BATS_FILE_TMPDIR/root.img"},
 "vm_type":{"name":"m1.small","cores":1,"memory_mib":128,"disk_gib":1}}
JSON
}

# wait_state ID STATE: polls the cluster until describeInstances shows the instance in STATE.
wait_state() {
  local i
  for i in $(seq 150); do
    cc cloud poll '{}' >/dev/null
    cc cloud describeInstances "{\"instance_ids\":[\"$1\"]}" | grep -q "\"state\":\"$2\"" && return 0
    sleep 0.2
  done
  cc cloud describeInstances "{\"instance_ids\":[\"$1\"]}" >&2
  return 1
}

small='{"vm_types":[{"name":"m1.small","cores":1,"memory_mib":128,"disk_gib":1},{"name":"c1.medium","cores":2,"memory_mib":256,"disk_gib":1}]}'

@test "serve cc prints its address; describeNodes shows both nodes up with their capacity" {
  run cc cloud describeNodes '{}'
  assert_line --index 1 200
  assert_line --index 0 --partial "\"url\":\"$NC1_URL\",\"state\":\"up\""
  assert_line --index 0 --partial "\"url\":\"$NC2_URL\",\"state\":\"up\""
  assert_line --index 0 --partial '"cores_max":2'
  assert_line --index 0 --partial '"disk_max_gib":4'
}

@test "describeResources counts whole instances per node, summed" {
  run cc cloud describeResources "$small"
  assert_line --index 1 200
  assert_line --index 0 --partial '{"type":{"name":"m1.small","cores":1,"memory_mib":128,"disk_gib":1},"available":4,"max":4}'
  assert_line --index 0 --partial '{"type":{"name":"c1.medium","cores":2,"memory_mib":256,"disk_gib":1},"available":2,"max":2}'
}

@test "runInstances places by round robin; describe, terminate; the fifth does not fit" {
  run cc cloud runInstances "{\"instances\":[$(instance i-0000cc01),$(instance i-0000cc02),$(instance i-0000cc03)]}"
  assert_line --index 1 200
  assert_line --index 0 "{\"placements\":[{\"instance_id\":\"i-0000cc01\",\"node\":\"$NC1_URL\"},{\"instance_id\":\"i-0000cc02\",\"node\":\"$NC2_URL\"},{\"instance_id\":\"i-0000cc03\",\"node\":\"$NC1_URL\"}]}"
  # Placed but maybe not yet polled: already counted.
  run cc cloud describeResources "$small"
  assert_line --index 0 --partial '"available":1,"max":4'
  wait_state i-0000cc03 Extant
  run cc cloud describeInstances '{"instance_ids":["i-0000cc02","i-00009999"]}'
  assert_line --index 1 200
  assert_line --index 0 --partial "\"node\":\"$NC2_URL\""
  refute_line --index 0 --partial i-00009999
  refute_line --index 0 --partial i-0000cc01
  # One more fits (on nc2), the next does not.
  run cc cloud runInstances "{\"instances\":[$(instance i-0000cc04),$(instance i-0000cc05)]}"
  assert_line --index 0 --partial "{\"instance_id\":\"i-0000cc04\",\"node\":\"$NC2_URL\"}"
  assert_line --index 0 --partial '{"instance_id":"i-0000cc05","node":"","error":{"code":"ResourceExhausted"'
  assert_line --index 0 --partial '"wire_code":"InsufficientInstanceCapacity"'
  # Again for a placed instance: its node, nothing new.
  run cc cloud runInstances "{\"instances\":[$(instance i-0000cc01)]}"
  assert_line --index 0 "{\"placements\":[{\"instance_id\":\"i-0000cc01\",\"node\":\"$NC1_URL\"}]}"

  run cc cloud getConsoleOutput '{"instance_id":"i-0000cc01"}'
  assert_line --index 1 200
  run cc cloud rebootInstances '{"instance_ids":["i-00009999"]}'
  assert_line --index 1 400
  assert_line --index 0 --partial '"wire_code":"InvalidInstanceID.NotFound"'
  run cc cloud terminateInstances '{"instance_ids":["i-0000cc01","i-0000cc02","i-0000cc03","i-0000cc04","i-00009999"]}'
  assert_line --index 1 200
  assert_line --index 0 --partial '{"instance_id":"i-0000cc01","previous_state":"Extant","shutdown_state":"Teardown"}'
  assert_line --index 0 --partial '{"instance_id":"i-00009999","previous_state":"Teardown","shutdown_state":"Teardown"}'
  [[ ! -e "$BATS_FILE_TMPDIR/nc1/instances/i-0000cc01" ]]
  run cc cloud describeResources "$small"
  assert_line --index 0 --partial '"available":4,"max":4'
  wait_state i-0000cc02 Teardown
}

@test "only the cloud controller may call: unsigned, other components' and stale signatures are refused" {
  run curl -s -X POST -d '{}' -w '\n%{http_code}' "$CC_URL/cc/describeNodes"
  assert_line --index 1 401
  assert_line --index 0 --partial '"code":"Unauthenticated"'
  local key
  for key in cc nc walrus; do
    run cc "$key" describeNodes '{}'
    assert_line --index 1 403
  done
  printf '{}' >body.json
  local -a auth
  mapfile -t auth < <(component_headers cloud POST /cc/describeNodes "" body.json 2001-01-01T00:00:00Z)
  run curl -s -X POST "${auth[@]}" --data-binary @body.json -w '\n%{http_code}' "$CC_URL/cc/describeNodes"
  assert_line --index 1 401
  # A body changed after signing: nothing runs.
  mapfile -t auth < <(component_headers cloud POST /cc/runInstances "" body.json)
  run curl -s -X POST "${auth[@]}" --data-binary "{\"instances\":[$(instance i-0000cc09)]}" \
    -w '\n%{http_code}' "$CC_URL/cc/runInstances"
  assert_line --index 1 401
  run cc cloud describeInstances '{"instance_ids":["i-0000cc09"]}'
  assert_line --index 0 '{"instances":[]}'
}

@test "bad requests get JSON errors and change nothing" {
  run cc cloud runInstances '{not json'
  assert_line --index 1 400
  assert_line --index 0 --partial 'not JSON'
  run cc cloud runInstances '{"instances":[{"instance_id":"i-0000cc0a"}]}'
  assert_line --index 1 400
  assert_line --index 0 --partial "'image' is required"
  run cc cloud describeResources '{"vm_types":[{"name":"x","cores":0,"memory_mib":1,"disk_gib":1}]}'
  assert_line --index 1 400
  run cc cloud formatDisk '{}'
  assert_line --index 1 404
  run cc cloud describeInstances '{}'
  refute_output --partial i-0000cc0a
}

@test "setNodes replaces the node list; an unreachable node is down with capacity zero" {
  run cc cloud setNodes "{\"node_urls\":[\"$NC2_URL\",\"http://127.0.0.1:9\"]}"
  assert_line --index 1 200
  run cc cloud describeNodes '{}'
  refute_output --partial "$NC1_URL"
  assert_line --index 0 --partial '"url":"http://127.0.0.1:9","state":"down","resource":{"status":"down","memory_max_mib":0'
  run cc cloud describeResources "$small"
  assert_line --index 0 --partial '"available":2,"max":2'
  run cc cloud setNodes "{\"node_urls\":[\"$NC1_URL\",\"$NC2_URL\"]}"
  assert_line --index 1 200
  run cc cloud setNodes '{"node_urls":["x","x"]}'
  assert_line --index 1 400
}

@test "serve cc refuses a bad policy, and needs the cluster's keys" {
  run --separate-stderr euca serve cc --listen 127.0.0.1:0 --policy random
  assert_failure
  assert_equal "$stderr" "euca: error: scheduling policy 'random' is not one of greedy, roundrobin, pack, spread"
  local empty="$BATS_TEST_TMPDIR/empty"
  mkdir "$empty"
  run --separate-stderr env EUCA_HOME="$empty" "$EUCA_BIN" serve cc --listen 127.0.0.1:0
  assert_failure
  assert_equal "$stderr" "euca: error: open '$empty/keys/cloud-ca.pem': No such file or directory"
}
