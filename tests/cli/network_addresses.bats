#!/usr/bin/env bats
# euca allocate-address, associate-address, disassociate-address, release-address,
# describe-addresses, and the network side of run-instances: embedded (EUCA_HOME) and remote
# (EC2_URL = euca serve clc) on one cloud whose embedded zone runs on fake:// (no real VMs).
# The cloud applies its network state with the plan driver and records it in
# EUCA_HOME/network/desired-state.json.

load helpers
load ec2_helpers

setup_file() {
  instances_setup_file
  "$EUCA_BIN" modify-image-attribute "$EMI" -l -a all >/dev/null
}

teardown_file() { clc_teardown_file; }

setup() { clc_setup; }

teardown() { empty_the_zone; }

STATE="network/desired-state.json"

# fails STATUS MESSAGE ARGS...: euca ARGS exits STATUS with MESSAGE on stderr and prints
# nothing. (expect_failure also compares the state before and after; here the server's
# reconciler may record instance states meanwhile.)
fails() {
  local want="$1" message="$2"
  shift 2
  run --separate-stderr "$EUCA_BIN" "$@"
  [[ "$status" == "$want" ]] || fail "euca $*: exit status $status, expected $want; stderr: $stderr"
  [[ "$stderr" == *"error: "*"$message"* ]] || fail "euca $*: stderr lacks '$message': $stderr"
  assert_output ''
}

# run_one MODE ARGS...: run-instances; sets ID.
run_one() {
  local mode="$1"
  shift
  run in_mode "$mode" run-instances "$EMI" "$@"
  assert_success
  ID="$(awk -F'\t' '$1 == "INSTANCE" { print $2; exit }' <<<"$output")"
}

@test "allocate-address: none configured is exit status 8; the pool is network.public-ips" {
  expect_failure 8 "no public addresses: the property network.public-ips is empty" allocate-address
  run "$EUCA_BIN" admin modify-property network.public-ips=203.0.113.1-203.0.113.4
  assert_success
}

# address_life MODE IP: allocate, associate, describe, move, disassociate, release.
address_life() {
  local mode="$1"
  run in_mode "$mode" allocate-address
  assert_success
  assert_output --regexp "^ADDRESS	203\.0\.113\.[1-4]	standard	$"
  local ip
  ip="$(cut -f2 <<<"$output")"
  run_one "$mode"
  local first="$ID"
  run_one "$mode"
  local second="$ID"
  run in_mode "$mode" associate-address "$ip" -i "$first"
  assert_success
  assert_output "$(printf 'ADDRESS\t%s\t%s' "$ip" "$first")"
  run in_mode "$mode" describe-addresses "$ip"
  assert_success
  assert_output "$(printf 'ADDRESS\t%s\t%s\tstandard\t\t\t\t' "$ip" "$first")"
  run in_mode "$mode" describe-instances "$first"
  assert_line --index 1 --regexp "^INSTANCE	$first	$EMI	$ip	10\.1\.0\.[0-9]+	"
  # The applied state has the address on the instance.
  jq -e --arg id "$first" --arg ip "$ip" '.endpoints[] | select(.instance_id == $id) | .public_ip == $ip' \
    "$CLC_HOME/$STATE" >/dev/null
  # Associating again moves it.
  run in_mode "$mode" associate-address "$ip" -i "$second"
  assert_success
  run in_mode "$mode" describe-addresses --filter instance-id="$second"
  assert_output --partial "$ip"
  run in_mode "$mode" describe-instances "$first"
  assert_line --index 1 --regexp "^INSTANCE	$first	$EMI		10\.1\.0\.[0-9]+	"
  run in_mode "$mode" disassociate-address "$ip"
  assert_success
  assert_output "$(printf 'ADDRESS\t%s' "$ip")"
  jq -e --arg id "$second" '.endpoints[] | select(.instance_id == $id) | .public_ip == ""' "$CLC_HOME/$STATE" >/dev/null
  run in_mode "$mode" release-address "$ip"
  assert_success
  assert_output "$(printf 'ADDRESS\t%s\t' "$ip")"
  run in_mode "$mode" describe-addresses
  assert_success
  refute_output --partial "$ip"
}

@test "allocate, associate, describe, disassociate, release (embedded)" {
  address_life embedded
}

@test "allocate, associate, describe, disassociate, release (remote)" {
  address_life remote
}

@test "associate-address and release-address: bad input" {
  fails 3 "the address '203.0.113.9' is not allocated to your account" release-address 203.0.113.9
  fails 2 "invalid public address 'nope'" release-address nope
  fails 3 "the address '203.0.113.9' is not allocated to your account" \
    associate-address 203.0.113.9 -i i-0000dead
  run "$EUCA_BIN" associate-address 203.0.113.9
  assert_failure 2
  local ip
  ip="$("$EUCA_BIN" allocate-address | cut -f2)"
  fails 3 "instance 'i-0000dead' does not exist" associate-address "$ip" -i i-0000dead
  # Bob cannot see or use it.
  run as_bob remote describe-addresses "$ip"
  assert_failure 3
  run as_bob remote release-address "$ip"
  assert_failure 3
  fails 2 "domain 'vpc' is not supported" allocate-address -d vpc
  "$EUCA_BIN" release-address "$ip" >/dev/null
}

@test "run-instances --addressing public: a public address for the instance's life" {
  run_one remote --addressing public
  assert_line --index 1 --regexp "^INSTANCE	$ID	$EMI	203\.0\.113\.[1-4]	10\.1\.0\.[0-9]+	pending	"
  local ip
  ip="$(awk -F'\t' '$1 == "INSTANCE" { print $4 }' <<<"$output")"
  run in_mode remote describe-addresses
  assert_line "$(printf 'ADDRESS\t%s\t%s\tstandard\t\t\t\t' "$ip" "$ID")"
  run in_mode remote terminate-instances "$ID"
  assert_success
  run in_mode remote describe-addresses
  refute_output --partial "$ip"
  jq -e --arg id "$ID" '[.endpoints[] | select(.instance_id == $id)] | length == 0' "$CLC_HOME/$STATE" >/dev/null
  run "$EUCA_BIN" run-instances "$EMI" --addressing sideways
  assert_failure 2
}

@test "instances of a group sit in its network; a group in use cannot be deleted" {
  "$EUCA_BIN" create-group db -d "databases" >/dev/null
  run_one embedded -g db
  jq -e --arg id "$ID" '.endpoints[] | select(.instance_id == $id) | .private_ip | startswith("10.1.0.")' \
    "$CLC_HOME/$STATE" >/dev/null
  jq -e '.groups[] | select(.name == "db") | .subnet | test("^10\\.1\\.0\\.[0-9]+/27$")' "$CLC_HOME/$STATE" >/dev/null
  "$EUCA_BIN" authorize db -p 5432 -o default >/dev/null
  jq -e '.groups[] | select(.name == "db") | .ingress[0].protocol == "tcp"' "$CLC_HOME/$STATE" >/dev/null
  fails 5 "the security group 'db' is used by instance '$ID'" delete-group db
  run in_mode remote delete-group db
  assert_failure 5
  # The network layout cannot change under running instances.
  fails 5 "while instance '" admin modify-property network.mode=MANAGED network.private-interface=eth1
  fails 3 "the security group 'nope' does not exist" run-instances "$EMI" -g nope
}

@test "admin rollback of a revoke brings the rule back to the host's network" {
  "$EUCA_BIN" create-group rb -d "rolled back" >/dev/null
  run_one embedded -g rb
  "$EUCA_BIN" authorize rb -p 2222 >/dev/null
  grep -q -- "--dport 2222 " "$CLC_HOME/network/filter.rules"
  local before
  before="$(git --git-dir="$CLC_HOME/history.git" rev-parse HEAD)"
  "$EUCA_BIN" revoke rb -p 2222 >/dev/null
  run grep -c -- "--dport 2222 " "$CLC_HOME/network/filter.rules"
  assert_output 0
  local gid
  gid="$("$EUCA_BIN" describe-groups rb | awk -F'\t' '$1 == "GROUP" { print $2; exit }')"
  run "$EUCA_BIN" admin rollback "$before" --object "$gid"
  assert_success
  assert_output --partial $'ROLLBACK\tsecurity-groups\t'
  # The plan driver's record is the rendering applied: the rule is back.
  grep -q -- "--dport 2222 " "$CLC_HOME/network/filter.rules"
}

@test "an instance in two groups: the second group's rules open that instance alone" {
  "$EUCA_BIN" create-group web2 -d "first group" >/dev/null
  "$EUCA_BIN" create-group ssh2 -d "second group" >/dev/null
  "$EUCA_BIN" authorize ssh2 -p 2202 >/dev/null
  run_one embedded -g web2 -g ssh2
  local ip
  ip="$(jq -r --arg id "$ID" '.endpoints[] | select(.instance_id == $id) | .private_ip' "$CLC_HOME/$STATE")"
  [[ "$ip" == 10.1.0.* ]] || fail "no private address for $ID: '$ip' in $(cat "$CLC_HOME/$STATE")"
  jq -e --arg id "$ID" '.endpoints[] | select(.instance_id == $id) | .groups | length == 2' "$CLC_HOME/$STATE" >/dev/null
  # The rule is rendered once, narrowed to the instance, in its first group's network chain.
  run grep -c -- "-d $ip/32 -p tcp -m tcp --dport 2202 -j ACCEPT" "$CLC_HOME/network/filter.rules"
  assert_output 1
  "$EUCA_BIN" revoke ssh2 -p 2202 >/dev/null
  run grep -c -- "--dport 2202 " "$CLC_HOME/network/filter.rules"
  assert_output 0
}

@test "a restarted serve clc rebuilds the host's network from the store before any change" {
  "$EUCA_BIN" create-group rs -d "restart" >/dev/null
  "$EUCA_BIN" authorize rs -p 2444 >/dev/null
  run_one embedded -g rs
  grep -q -- "--dport 2444 " "$CLC_HOME/network/filter.rules"
  local port="${CLC_URL##*:}"
  stop_clc
  rm "$CLC_HOME/network/filter.rules" "$CLC_HOME/network/links" "$CLC_HOME/network/desired-state.json"
  start_clc "127.0.0.1:$port"  # the same URL: later tests and teardown use it
  # Nothing changed in the cloud: the server applied what its store holds when it started.
  grep -q -- "--dport 2444 " "$CLC_HOME/network/filter.rules"
  grep -q "^bridge eucabr" "$CLC_HOME/network/links"
  jq -e --arg id "$ID" '.endpoints[] | select(.instance_id == $id)' "$CLC_HOME/$STATE" >/dev/null
}

@test "network.dns and network.public-interface reach what the driver renders" {
  "$EUCA_BIN" admin modify-property network.dns="192.0.2.53 192.0.2.54" network.public-interface=pub9 \
    network.public-ips=203.0.113.1-203.0.113.4 >/dev/null
  run_one embedded --addressing public
  local pub
  pub="$(awk -F'\t' '$1 == "INSTANCE" { print $4 }' <<<"$output")"
  [[ "$pub" == 203.0.113.* ]] || fail "no public address: $output"
  grep -q "option:dns-server,192.0.2.53,192.0.2.54$" "$CLC_HOME/network/dhcp/dnsmasq.conf"
  grep -qx "address $pub/32 dev pub9" "$CLC_HOME/network/links"
  "$EUCA_BIN" admin modify-property --reset network.dns --reset network.public-interface >/dev/null
  grep -q "dev lo$" "$CLC_HOME/network/links"
  ! grep -q "192.0.2.53" "$CLC_HOME/network/dhcp/dnsmasq.conf"
}
