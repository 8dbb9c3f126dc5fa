#!/usr/bin/env bats
# SLA rules, leases and cleanup (docs/sla.md): euca admin describe-rules, put-rule,
# delete-rule, modify-account, cleanup; euca describe-leases, renew-lease. Embedded
# (EUCA_HOME) and remote (EC2_URL = euca serve clc) on one cloud whose embedded zone runs on
# fake:// (room for four m1.small). Instances run in the server, so the tests that need them
# running start them remote; an embedded command then acts on the same records.

load helpers
load ec2_helpers

setup_file() {
  instances_setup_file
  "$EUCA_BIN" modify-image-attribute "$EMI" -l -a all >/dev/null
  export OTHER_ID
  OTHER_ID="$("$EUCA_BIN" admin describe-accounts | awk -F'\t' '$2 == "other" { print $3 }')"
  [[ -n "$OTHER_ID" ]] || { echo "no account id for other" >&2; return 1; }
}

teardown_file() { clc_teardown_file; }

setup() { clc_setup; }

# Every test leaves no rules, no lease defaults, no active capacity reservation and an empty
# zone behind.
teardown() {
  local r
  for r in $(EC2_URL="$CLC_URL" "$EUCA_BIN" describe-capacity-reservations verbose |
    awk -F'\t' '$8 == "active" { print $2 }'); do
    EC2_URL="$CLC_URL" "$EUCA_BIN" cancel-capacity-reservation "$r" >/dev/null
  done
  for r in $("$EUCA_BIN" admin describe-rules | cut -f2); do "$EUCA_BIN" admin delete-rule "$r" >/dev/null; done
  "$EUCA_BIN" admin modify-account eucalyptus --runtime-lease none --storage-lease none --address-lease none \
    >/dev/null
  "$EUCA_BIN" admin modify-account other --runtime-lease none --storage-lease none >/dev/null
  empty_the_zone
}

field() { cut -f"$1" <<<"$2"; }

# at OFFSET: an ISO 8601 time OFFSET from now ("+2 hours").
at() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }

rules_file() { printf "$1" >"$BATS_TEST_TMPDIR/rules"; echo "$BATS_TEST_TMPDIR/rules"; }

# The instance ids run-instances printed.
instance_ids() { awk -F'\t' '$1 == "INSTANCE" { print $2 }' <<<"$output"; }

state_of() { EC2_URL="$CLC_URL" "$EUCA_BIN" describe-instances "$1" | awk -F'\t' '$1 == "INSTANCE" { print $6 }'; }

# --- rules --------------------------------------------------------------------------------------

@test "put-rule, describe-rules (also --as-file), delete-rule; each one history commit" {
  local file
  file="$(rules_file '# the seeds: four per user, six hours\n[rule four-per-user]\nkind = instance-limit\nlimit = 4\n\n[rule six-hours]\nkind = max-runtime\nduration = 6h\nmatch.account = other\n')"
  local commits
  commits="$(history_count)"
  run euca admin put-rule "$file"
  assert_success
  assert_line --index 0 "$(printf 'RULE\tfour-per-user\tinstance-limit\t*\t*\t*\t*\tscope=user limit=4\treject')"
  assert_line --index 1 "$(printf 'RULE\tsix-hours\tmax-runtime\tother\t*\t*\t*\tduration=6h\tterminate')"
  assert_equal "$(history_count)" "$((commits + 1))"
  run euca admin history
  assert_line --index 0 --regexp "	admin@eucalyptus	PutRule four-per-user,six-hours	"
  run euca admin describe-rules six-hours
  assert_output "$(printf 'RULE\tsix-hours\tmax-runtime\tother\t*\t*\t*\tduration=6h\tterminate')"
  # --as-file prints what put-rule takes back.
  euca admin describe-rules --as-file >"$BATS_TEST_TMPDIR/again"
  run euca admin put-rule "$BATS_TEST_TMPDIR/again"
  assert_success
  assert_equal "${#lines[@]}" 2
  run euca admin describe-rules --output json
  assert_success
  assert_json_array <<<"$output"
  run euca admin delete-rule four-per-user
  assert_output "$(printf 'RULE\tfour-per-user\tdeleted')"
  run euca admin describe-rules
  assert_output --regexp "^RULE	six-hours	"
  assert_equal "${#lines[@]}" 1
}

@test "put-rule refuses a bad file naming the line and key; nothing is written" {
  expect_failure 2 "line 7: unknown key 'size' in rule 'b'" admin put-rule \
    "$(rules_file '[rule a]\nkind = instance-limit\nlimit = 2\n\n[rule b]\nkind = instance-limit\nsize = 3\n')"
  expect_failure 2 "line 3: limit 'many' is not a whole number" admin put-rule \
    "$(rules_file '[rule a]\nkind = instance-limit\nlimit = many\n')"
  expect_failure 2 "line 2: unknown kind 'cpu-limit'" admin put-rule "$(rules_file '[rule a]\nkind = cpu-limit\n')"
  expect_failure 2 "line 3: policy 'nearest' must be any, emptiest, single or spread" admin put-rule \
    "$(rules_file '[rule z]\nkind = zone-policy\npolicy = nearest\n')"
  expect_failure 2 "line 1: key 'kind' before the first '[rule NAME]'" admin put-rule "$(rules_file 'kind = x\n')"
  expect_failure 2 "no rule" admin put-rule "$(rules_file '# empty\n')"
  expect_failure 2 "FILE is required" admin put-rule
  run euca admin put-rule "$BATS_TEST_TMPDIR/missing"
  assert_failure
  assert_output --partial "missing"
  run euca admin describe-rules
  assert_output ""
}

@test "describe-rules and delete-rule: an unknown rule is exit 3; only administrators change rules" {
  expect_failure 3 "rule 'nope' does not exist" admin delete-rule nope
  expect_failure 3 "rule 'nope' does not exist" admin describe-rules nope
  AWS_ACCESS_KEY_ID="$BOB_KEY" AWS_SECRET_ACCESS_KEY="$BOB_SECRET" run euca admin put-rule \
    "$(rules_file '[rule a]\nkind = instance-limit\nlimit = 2\n')"
  assert_failure 6
}

# --- request arrival: limits and zone policies ---------------------------------------------------

limit_rules() {
  local mode="$1"
  euca admin put-rule "$(rules_file '[rule one-each]\nkind = instance-limit\nscope = user\nlimit = 1\n')" >/dev/null
  # Admitted with fewer instances: MaxCount is lowered to what the rule allows.
  run in_mode remote run-instances "$EMI" -n 1-3
  assert_success
  assert_equal "$(instance_ids | wc -l)" 1
  # Rejected.
  run --separate-stderr in_mode "$mode" run-instances "$EMI"
  assert_failure 8
  assert_output ""
  [[ "$stderr" == *"rule 'one-each' limits user 'admin@eucalyptus' to 1 instance(s)"* ]] || fail "stderr: $stderr"
  # Another user has a count of its own.
  run as_bob "$mode" run-instances "$EMI"
  if [[ "$mode" == remote ]]; then assert_success; fi
}

@test "instance-limit: admits, lowers MaxCount, rejects with InstanceLimitExceeded (embedded)" {
  limit_rules embedded
}

@test "instance-limit: admits, lowers MaxCount, rejects with InstanceLimitExceeded (remote)" {
  limit_rules remote
  # The EC2 error code on the wire.
  euca admin put-rule "$(rules_file '[rule cores]\nkind = core-limit\nscope = account\nlimit = 1\n')" >/dev/null
  run in_mode remote --debug run-instances "$EMI" -t c1.medium
  assert_failure 8
  assert_output --partial "rule 'cores'"
  assert_output --partial "answered HTTP 400"
}

@test "address-quota: allocate-address is refused at the limit, embedded and remote" {
  euca admin modify-property network.public-ips=10.214.1.10-10.214.1.13 >/dev/null
  euca admin put-rule "$(rules_file '[rule one-address]\nkind = address-quota\nlimit = 1\n')" >/dev/null
  run in_mode remote allocate-address
  assert_success
  local ip
  ip="$(cut -f2 <<<"$output")"
  local mode
  for mode in embedded remote; do
    run --separate-stderr in_mode "$mode" allocate-address
    assert_failure 8
    [[ "$stderr" == *"rule 'one-address'"* ]] || fail "$mode: stderr: $stderr"
  done
  # Another account has its own count.
  run as_bob remote allocate-address
  assert_success
  as_bob remote release-address "$(cut -f2 <<<"$output")" >/dev/null
  # Released, the account is under its limit again.
  in_mode remote release-address "$ip" >/dev/null
  run in_mode embedded allocate-address
  assert_success
  in_mode embedded release-address "$(cut -f2 <<<"$output")" >/dev/null
}

# --- address leases -------------------------------------------------------------------------------

@test "address lease: default and --lease; describe shows it; cleanup disassociates and releases the expired" {
  euca admin modify-property network.public-ips=10.214.1.20-10.214.1.23 >/dev/null
  run euca admin modify-account eucalyptus --address-lease 1h
  assert_success
  assert_output --regexp "^ACCOUNT	eucalyptus	[0-9]{12}	runtime-lease: none	storage-lease: none	address-lease: 1h$"
  local leased=10.214.1.20 longer=10.214.1.21 kept=10.214.1.22
  run in_mode remote allocate-address
  assert_success
  assert_line --index 0 --regexp "^ADDRESS	$leased	"
  assert_line --index 1 --regexp "^TAG	address	$leased	euca:lease-expires	[0-9T:-]+Z$"
  run in_mode embedded allocate-address --lease 3h
  assert_line --index 1 --regexp "^TAG	address	$longer	euca:lease-expires	"
  run in_mode remote allocate-address --lease none
  assert_success
  assert_equal "${#lines[@]}" 1  # no lease, no tag
  run in_mode remote run-instances "$EMI"
  local id
  id="$(instance_ids)"
  in_mode remote associate-address "$leased" -i "$id" >/dev/null
  run in_mode embedded describe-addresses
  assert_line --regexp "^ADDRESS	$leased	$id	standard"
  assert_line --regexp "^TAG	address	$leased	euca:lease-expires	[0-9T:-]+Z$"
  refute_line --regexp "^TAG	address	$kept	"
  run in_mode remote describe-addresses --output json
  assert_output --partial '"key": "euca:lease-expires"'
  run in_mode remote describe-leases
  assert_line --regexp "^LEASE	$leased	address	[0-9]{12}	associated	[0-9T:-]+Z$"
  assert_line --regexp "^LEASE	$kept	address	[0-9]{12}	allocated	none$"
  run in_mode remote describe-leases "$longer"
  assert_output --regexp "^LEASE	$longer	address	[0-9]{12}	allocated	[0-9T:-]+Z$"

  run in_mode remote admin cleanup --now "$(at '+59 minutes')"
  assert_output "cleanup: nothing to do"
  # The server commits each instance's pending -> running when it reconciles (a describe, a
  # cleanup): let that happen before the dry run's no-change check below.
  wait_running as_bob $bobs
  wait_running in_mode $owners
  local head
  head="$(history_head)"
  run in_mode remote admin cleanup --dry-run --now "$(at '+2 hours')"
  assert_success
  assert_output "cleanup (dry run): would terminate 0 instances, expire 0 images, delete 0 images, release 1 address"
  assert_equal "$(history_head)" "$head"
  run in_mode embedded admin cleanup --verbose --now "$(at '+2 hours')"
  assert_success
  assert_line --index 0 --regexp "^ACTION	release-address	$leased	[0-9]{12}	done	address lease ended "
  assert_line --index 1 \
    "cleanup: terminated 0 instances, expired 0 images, deleted 0 images, released 1 address, 0 failed"
  run euca admin history
  assert_line --index 0 --regexp "	cleanup	ReleaseAddress $leased	"
  assert_line --index 1 --regexp "	cleanup	DisassociateAddress $leased	"
  run in_mode remote describe-addresses
  refute_line --regexp "^ADDRESS	$leased	"
  assert_line --regexp "^ADDRESS	$longer	"
  run in_mode remote describe-instances "$id"
  refute_output --partial "$leased"
  run in_mode remote admin cleanup --now "$(at '+2 hours')"
  assert_output "cleanup: nothing to do"
  # Renewed, the longer one outlives its first end; then it goes too (remote).
  run in_mode remote renew-lease "$longer" --for 5h
  assert_success
  assert_output --regexp "^LEASE	$longer	address	[0-9]{12}	allocated	[0-9T:-]+Z$"
  run in_mode remote admin cleanup --now "$(at '+4 hours')"
  assert_output "cleanup: nothing to do"
  run in_mode remote admin cleanup --now "$(at '+6 hours')"
  assert_output "cleanup: terminated 0 instances, expired 0 images, deleted 0 images, released 1 address, 0 failed"
  run in_mode remote describe-addresses
  assert_output --regexp "^ADDRESS	$kept	"
  assert_equal "${#lines[@]}" 1
  in_mode remote release-address "$kept" >/dev/null
}

@test "address lease: bad input changes nothing" {
  euca admin modify-property network.public-ips=10.214.1.20-10.214.1.23 >/dev/null
  expect_failure 2 "--address-lease: duration 'soon' is not of the form 30m, 6h, 7d or none" \
    admin modify-account eucalyptus --address-lease soon
  expect_failure 2 "--lease: duration 'soon' is not of the form" allocate-address --lease soon
  run --separate-stderr in_mode remote allocate-address --lease soon
  assert_failure 2
  expect_failure 3 "the address '10.214.1.23' is not allocated to your account" renew-lease 10.214.1.23 --for 1h
  run in_mode remote allocate-address
  local ip
  ip="$(cut -f2 <<<"${lines[0]}")"
  expect_failure 2 "has no default address lease: give --for DURATION" renew-lease "$ip"
  run as_bob remote renew-lease "$ip" --for 1h
  assert_failure 3
  run in_mode remote describe-leases "$ip"
  assert_output --regexp "	allocated	none$"
  in_mode remote release-address "$ip" >/dev/null
  run in_mode remote describe-addresses
  assert_output ""
}

# --- capacity reservations -----------------------------------------------------------------------

# Waits until the instances $2... run, asking as $1 (as_bob or in_mode). The server commits an
# instance's pending -> running when it reconciles (a describe, a cleanup): a no-change check
# of the history must come after that.
wait_running() {
  local who="$1" id i
  shift
  for id in "$@"; do
    for i in $(seq 600); do
      "$who" remote describe-instances "$id" | grep -q "	running	" && continue 2
      sleep 0.1
    done
    fail "instance $id does not run"
  done
}

zone_name() { "$EUCA_BIN" describe-availability-zones | head -1 | cut -f2; }

@test "capacity reservation: held from others, used by the owner, expired by cleanup" {
  local zone
  zone="$(zone_name)"
  run in_mode remote create-capacity-reservation -t m1.small -z "$zone" -n 3 --end-date "$(at '+1 hour')"
  assert_success
  assert_output --regexp \
    "^CAPACITYRESERVATION	cr-[0-9a-f]{17}	[0-9]{12}	m1.small	$zone	3	3	active	limited	[0-9T:-]+Z	open	[0-9T:-]+Z$"
  local cr
  cr="$(cut -f2 <<<"$output")"
  # Another account: one of the zone's four is left.
  run --separate-stderr as_bob remote run-instances "$EMI" -n 2
  assert_failure 8
  [[ "$stderr" == *"not enough capacity for 2 instance(s)"* ]] || fail "stderr: $stderr"
  run as_bob remote run-instances "$EMI"
  assert_success
  local bobs owners
  bobs="$(instance_ids | xargs)"
  # The owner uses the reservation.
  run in_mode remote run-instances "$EMI" -n 2
  assert_success
  owners="$(instance_ids | xargs)"
  run in_mode embedded describe-capacity-reservations
  assert_output --regexp "^CAPACITYRESERVATION	$cr	[0-9]{12}	m1.small	$zone	3	1	active	limited	"
  run in_mode remote describe-capacity-reservations "$cr" --output json
  assert_success
  assert_json_array <<<"$output"
  assert_output --partial '"available": "1"'
  run as_bob remote describe-capacity-reservations
  assert_output ""
  run as_bob remote run-instances "$EMI"
  assert_failure 8

  # The end date passes: cleanup expires it (dry run first), once; the room is free.
  run in_mode remote admin cleanup --now "$(at '+59 minutes')"
  assert_output "cleanup: nothing to do"
  # The server commits each instance's pending -> running when it reconciles (a describe, a
  # cleanup): let that happen before the dry run's no-change check below.
  wait_running as_bob $bobs
  wait_running in_mode $owners
  local head
  head="$(history_head)"
  run in_mode remote admin cleanup --dry-run --now "$(at '+2 hours')"
  assert_output "cleanup (dry run): would terminate 0 instances, expire 0 images, delete 0 images, expire 1 reservation"
  assert_equal "$(history_head)" "$head"
  run in_mode remote admin cleanup --verbose --now "$(at '+2 hours')"
  assert_success
  assert_line --index 0 --regexp "^ACTION	expire-reservation	$cr	[0-9]{12}	done	end date "
  assert_line --index 1 \
    "cleanup: terminated 0 instances, expired 0 images, deleted 0 images, expired 1 reservation, 0 failed"
  run euca admin history
  assert_line --index 0 --regexp "	cleanup	ExpireCapacityReservation $cr	"
  run in_mode remote describe-capacity-reservations "$cr"
  assert_output --regexp "	expired	limited	"
  run in_mode remote admin cleanup --now "$(at '+2 hours')"
  assert_output "cleanup: nothing to do"
  run as_bob remote run-instances "$EMI"
  assert_success
}

@test "capacity reservation: cancel frees the room; what does not fit and bad input change nothing" {
  local zone
  zone="$(zone_name)"
  run in_mode remote create-capacity-reservation -t m1.small -z "$zone" -n 4
  assert_success
  assert_output --regexp "^CAPACITYRESERVATION	cr-[0-9a-f]{17}	[0-9]{12}	m1.small	$zone	4	4	active	unlimited	none	open	"
  local cr
  cr="$(cut -f2 <<<"$output")"
  run as_bob remote run-instances "$EMI"
  assert_failure 8
  run --separate-stderr as_bob remote create-capacity-reservation -t m1.small -z "$zone" -n 1
  assert_failure 8
  [[ "$stderr" == *"not enough capacity to reserve 1 instance(s) of type 'm1.small'"* ]] || fail "stderr: $stderr"
  run as_bob remote cancel-capacity-reservation "$cr"
  assert_failure 3
  run in_mode remote cancel-capacity-reservation "$cr"
  assert_success
  assert_output "$(printf 'CAPACITYRESERVATION\t%s\tcancelled' "$cr")"
  run euca admin history
  assert_line --regexp "	admin@eucalyptus	CancelCapacityReservation $cr	"

  # The bad input first: an instance started now would change the state under expect_failure's
  # no-change check as the server moves it from pending to running.
  expect_failure 5 "only an active reservation can be cancelled" cancel-capacity-reservation "$cr"
  expect_failure 3 "capacity reservation 'cr-00000000000000000' does not exist" \
    cancel-capacity-reservation cr-00000000000000000
  expect_failure 3 "capacity reservation 'cr-00000000000000000' does not exist" \
    describe-capacity-reservations cr-00000000000000000
  expect_failure 2 "ID is required" cancel-capacity-reservation
  expect_failure 2 "--instance-count must be at least 1" create-capacity-reservation -t m1.small -z "$zone" -n 0
  expect_failure 2 "--instance-type is required" create-capacity-reservation -z "$zone" -n 1
  expect_failure 2 "--end-date 'soon' is not an ISO 8601 time" \
    create-capacity-reservation -t m1.small -z "$zone" -n 1 --end-date soon
  expect_failure 2 "is not in the future" create-capacity-reservation -t m1.small -z "$zone" -n 1 --end-date 2020-01-01
  expect_failure 2 "InstanceMatchCriteria 'targeted' is not supported: use open" \
    create-capacity-reservation -t m1.small -z "$zone" -n 1 --instance-match-criteria targeted
  expect_failure 2 "EndDateType limited needs an EndDate" \
    create-capacity-reservation -t m1.small -z "$zone" -n 1 --end-date-type limited
  expect_failure 2 "availability zone 'nowhere' does not exist" create-capacity-reservation -t m1.small -z nowhere -n 1
  expect_failure 2 "unknown instance type 'm9.huge'" create-capacity-reservation -t m9.huge -z "$zone" -n 1
  run in_mode remote describe-capacity-reservations
  assert_line --regexp "^CAPACITYRESERVATION	$cr	.*	cancelled	"
  refute_line --regexp "	active	"
  run as_bob remote run-instances "$EMI"  # the cancelled reservation's room is free
  assert_success
}

# --- events: instance state change, network property change ---------------------------------

# Waits (polling the server, which reconciles on describe) until instance $1 is terminated.
wait_terminated() {
  local i
  for i in $(seq 600); do
    [[ "$(state_of "$1")" == terminated ]] && return 0
    sleep 0.1
  done
  fail "instance $1 is $(state_of "$1"), not terminated"
}

@test "release-on-terminate: a terminated instance's address is disassociated and released by 'sla'" {
  euca admin modify-property network.public-ips=10.214.1.30-10.214.1.33 >/dev/null
  run euca admin put-rule \
    "$(rules_file '[rule give-back]\nkind = release-on-terminate\nmatch.account = eucalyptus\n')"
  assert_success
  assert_output "$(printf 'RULE\tgive-back\trelease-on-terminate\teucalyptus\t*\t*\t*\t\trelease')"
  run in_mode remote run-instances "$EMI" -n 2
  local ids
  ids="$(instance_ids | xargs)"
  local first="${ids%% *}" second="${ids##* }"
  local ip kept
  ip="$(in_mode remote allocate-address | cut -f2)"
  kept="$(in_mode remote allocate-address | cut -f2)"
  in_mode remote associate-address "$ip" -i "$first" >/dev/null
  in_mode remote associate-address "$kept" -i "$second" >/dev/null
  in_mode remote terminate-instances "$first" >/dev/null
  wait_terminated "$first"
  run in_mode remote describe-addresses
  refute_line --regexp "^ADDRESS	$ip	"
  assert_line --regexp "^ADDRESS	$kept	$second	"
  run euca admin history
  assert_line --regexp "	sla	DisassociateAddress $ip	"
  assert_line --regexp "	sla	ReleaseAddress $ip	"
  # Without a matching rule, termination keeps the address allocated.
  euca admin delete-rule give-back >/dev/null
  in_mode remote terminate-instances "$second" >/dev/null
  wait_terminated "$second"
  run in_mode remote describe-addresses
  assert_line --regexp "^ADDRESS	$kept		"
  in_mode remote release-address "$kept" >/dev/null
  # Bad input: an event rule takes no parameters.
  expect_failure 2 "line 3: key 'limit' does not apply to rule 'x' of kind release-on-terminate" admin put-rule \
    "$(rules_file '[rule x]\nkind = release-on-terminate\nlimit = 1\n')"
}

@test "network-guard: network property changes are refused while matching instances run" {
  # Bad input first, while no instance of this test runs (the server commits their states).
  expect_failure 2 "line 3: key 'duration' does not apply to rule 'g' of kind network-guard" admin put-rule \
    "$(rules_file '[rule g]\nkind = network-guard\nduration = 1h\n')"
  local dns
  dns="$(euca admin describe-properties network.dns | cut -f3)"
  euca admin put-rule "$(rules_file '[rule hands-off]\nkind = network-guard\nmatch.account = eucalyptus\n')" \
    >/dev/null
  run as_bob remote run-instances "$EMI"  # another account: not guarded
  assert_success
  run euca admin modify-property network.dns=10.0.0.53
  assert_success
  run in_mode remote run-instances "$EMI"
  local id
  id="$(instance_ids)"
  # The property's own history (the server may commit instance states meanwhile).
  local commits
  commits="$(euca admin history --object properties/network.dns | wc -l)"
  run --separate-stderr euca admin modify-property network.dns=10.0.0.54
  assert_failure 5
  [[ "$stderr" == *"rule 'hands-off' guards the network while matching instances run: 'network.dns' cannot change while instance '$id'"* ]] ||
    fail "stderr: $stderr"
  assert_equal "$(euca admin history --object properties/network.dns | wc -l)" "$commits"
  run euca admin describe-properties network.dns
  assert_output --partial "10.0.0.53"
  # Other properties are not guarded; once the instance ended, the change goes through.
  local visible
  visible="$(euca admin describe-properties cloud.terminated-visible-seconds | cut -f3)"
  run euca admin modify-property "cloud.terminated-visible-seconds=$((visible + 1))"
  assert_success
  euca admin modify-property "cloud.terminated-visible-seconds=$visible" >/dev/null
  in_mode remote terminate-instances "$id" >/dev/null
  wait_terminated "$id"
  run euca admin modify-property network.dns=10.0.0.54
  assert_success
  euca admin modify-property "network.dns=$dns" >/dev/null
}

@test "zone-policy: sets the zone of a request that names none" {
  euca admin put-rule "$(rules_file '[rule pin]\nkind = zone-policy\npolicy = single\nzone = nowhere\n')" >/dev/null
  run in_mode remote run-instances "$EMI"
  assert_failure 2
  assert_output --partial "availability zone 'nowhere' does not exist"
  local zone
  zone="$(euca describe-availability-zones | head -1 | cut -f2)"
  run in_mode remote run-instances "$EMI" -z "$zone"
  assert_success
  euca admin put-rule "$(rules_file '[rule pin]\nkind = zone-policy\npolicy = spread\n')" >/dev/null
  run in_mode remote run-instances "$EMI" -n 2
  assert_success
}

# --- leases and cleanup ----------------------------------------------------------------------

@test "modify-account sets lease defaults; bad input changes nothing" {
  run euca admin modify-account other --runtime-lease 6h --storage-lease 7d
  assert_success
  assert_output "$(printf 'ACCOUNT\tother\t%s\truntime-lease: 6h\tstorage-lease: 7d' "$OTHER_ID")"
  run euca admin modify-account other --storage-lease 30m
  assert_output "$(printf 'ACCOUNT\tother\t%s\truntime-lease: 6h\tstorage-lease: 30m' "$OTHER_ID")"
  expect_failure 2 "--runtime-lease: duration 'soon' is not of the form 30m, 6h, 7d or none" \
    admin modify-account other --runtime-lease soon
  expect_failure 3 "account 'nobody' does not exist" admin modify-account nobody --runtime-lease 1h
  expect_failure 2 "give --runtime-lease, --storage-lease or --address-lease" admin modify-account other
}

@test "runtime lease: describe shows it; cleanup terminates exactly the expired, once, as 'cleanup'" {
  euca admin modify-account eucalyptus --runtime-lease 1h >/dev/null
  run in_mode remote run-instances "$EMI" -n 2
  assert_success
  local leased
  leased="$(instance_ids | xargs)"
  run as_bob remote run-instances "$EMI"  # other: no lease
  assert_success
  local free
  free="$(instance_ids)"
  local first="${leased%% *}"
  run in_mode remote describe-instances "$first"
  assert_line --regexp "^TAG	instance	$first	euca:lease-expires	[0-9T:-]+Z$"
  run in_mode remote describe-leases "$first"
  assert_output --regexp "^LEASE	$first	instance	[0-9]{12}	(pending|running)	[0-9T:-]+Z$"
  run as_bob remote describe-leases "$free"
  assert_output --regexp "^LEASE	$free	instance	$OTHER_ID	(pending|running)	none$"

  # Not yet due.
  run in_mode remote admin cleanup --now "$(at '+59 minutes')"
  assert_success
  assert_output "cleanup: nothing to do"
  # --dry-run reports and changes nothing.
  wait_running in_mode $leased
  wait_running as_bob $free
  local head
  head="$(history_head)"
  run in_mode remote admin cleanup --dry-run --verbose --now "$(at '+2 hours')"
  assert_success
  assert_line --index 2 "cleanup (dry run): would terminate 2 instances, expire 0 images, delete 0 images"
  assert_line --index 0 --regexp "^ACTION	terminate	i-[0-9a-f]{8}	[0-9]{12}	due	runtime lease ended "
  assert_equal "$(history_head)" "$head"
  local id
  for id in $leased; do [[ "$(state_of "$id")" =~ ^(pending|running)$ ]] || fail "$id: $(state_of "$id")"; done
  # Due: exactly the two leased ones.
  run in_mode remote admin cleanup --now "$(at '+2 hours')"
  assert_success
  assert_output "cleanup: terminated 2 instances, expired 0 images, deleted 0 images, 0 failed"
  for id in $leased; do [[ "$(state_of "$id")" =~ ^(shutting-down|terminated)$ ]] || fail "$id: $(state_of "$id")"; done
  [[ "$(state_of "$free")" =~ ^(pending|running)$ ]] || fail "$free: $(state_of "$free")"
  run euca admin history
  assert_line --regexp "	cleanup	TerminateInstances	"
  # Idempotent.
  run in_mode remote admin cleanup --now "$(at '+2 hours')"
  assert_output "cleanup: nothing to do"
}

@test "max-runtime rule: cleanup terminates what ran too long" {
  euca admin put-rule "$(rules_file '[rule six-hours]\nkind = max-runtime\nduration = 6h\nmatch.account = other\n')" \
    >/dev/null
  run as_bob remote run-instances "$EMI"
  local bobs
  bobs="$(instance_ids)"
  run in_mode remote run-instances "$EMI"
  local mine
  mine="$(instance_ids)"
  run in_mode remote admin cleanup --now "$(at '+5 hours')"
  assert_output "cleanup: nothing to do"
  run in_mode remote admin cleanup --verbose --now "$(at '+7 hours')"
  assert_success
  assert_line --index 0 --regexp "^ACTION	terminate	$bobs	$OTHER_ID	done	rule 'six-hours' limits the runtime to 21600s"
  assert_line --index 1 "cleanup: terminated 1 instance, expired 0 images, deleted 0 images, 0 failed"
  [[ "$(state_of "$mine")" =~ ^(pending|running)$ ]] || fail "$mine: $(state_of "$mine")"
}

@test "cleanup: a second one while the first runs does nothing and exits 0 (embedded and remote)" {
  euca admin modify-account eucalyptus --runtime-lease 1h >/dev/null
  run in_mode remote run-instances "$EMI"
  local id
  id="$(instance_ids)"
  # flock(1) holds the lock as a first cleanup would.
  run flock "$EUCA_HOME/cleanup.lock" "$EUCA_BIN" admin cleanup --now "$(at '+2 hours')"
  assert_success
  assert_output "cleanup: another cleanup is running; this one did nothing"
  run flock "$EUCA_HOME/cleanup.lock" env EC2_URL="$CLC_URL" "$EUCA_BIN" admin cleanup --now "$(at '+2 hours')"
  assert_success
  assert_output "cleanup: another cleanup is running; this one did nothing"
  [[ "$(state_of "$id")" =~ ^(pending|running)$ ]] || fail "$id: $(state_of "$id")"
  # Two at once: exactly one acts.
  local a="$BATS_TEST_TMPDIR/a" b="$BATS_TEST_TMPDIR/b"
  EC2_URL="$CLC_URL" "$EUCA_BIN" admin cleanup --now "$(at '+2 hours')" >"$a" &
  EC2_URL="$CLC_URL" "$EUCA_BIN" admin cleanup --now "$(at '+2 hours')" >"$b"
  wait
  run cat "$a" "$b"
  assert_equal "$(grep -c 'terminated 1 instance' <<<"$output")" 1
}

@test "cleanup refuses bad input and non-administrators" {
  expect_failure 2 "--now 'tomorrow' is not an ISO 8601 time" admin cleanup --now tomorrow
  run as_bob embedded admin cleanup
  assert_failure 6
  run --separate-stderr as_bob remote admin cleanup
  assert_failure 6
  [[ "$stderr" == *"only a cloud administrator may run the cleanup"* ]] || fail "stderr: $stderr"
}

@test "storage lease: expiry marks the image expired, grace then deletes its bundle (embedded)" {
  euca admin modify-account eucalyptus --storage-lease 1d >/dev/null
  cd "$BATS_TEST_TMPDIR"
  head -c 50000 /dev/urandom >leased.img
  mkdir b
  euca bundle-image -i leased.img -d b >/dev/null
  euca upload-bundle -b leases -m b/leased.img.manifest.xml >/dev/null
  # A second bundle, uploaded and never registered: its lease runs from the upload.
  mkdir loose
  euca bundle-image -i leased.img -d loose -p loose >/dev/null
  euca upload-bundle -b leases -m loose/loose.manifest.xml >/dev/null
  local emi
  emi="$(euca register leases/leased.img.manifest.xml -n leased | cut -f2)"
  run euca describe-leases "$emi"
  assert_output --regexp "^LEASE	$emi	image	[0-9]{12}	available	[0-9T:-]+Z$"
  run euca describe-images "$emi"
  assert_line --regexp "^TAG	image	$emi	euca:lease-expires	"

  run euca admin cleanup --now "$(at '+25 hours')"
  assert_output "cleanup: terminated 0 instances, expired 1 image, deleted 0 images, 0 failed"
  run euca describe-images "$emi"
  assert_line --index 0 --regexp "^IMAGE	$emi	leases/leased.img.manifest.xml	[0-9]{12}	expired	"
  run euca run-instances "$emi"
  assert_failure 3
  # Renewed: available again; then it expires anew and its grace (7d) ends.
  run euca renew-lease "$emi" --for 2d
  assert_success
  assert_output --regexp "^LEASE	$emi	image	[0-9]{12}	available	[0-9T:-]+Z$"
  run euca admin cleanup --dry-run --now "$(at '+10 days')"
  assert_output "cleanup (dry run): would terminate 0 instances, expire 1 image, delete 1 image, delete 1 bundle"
  mkdir "$BATS_TEST_TMPDIR/check" "$BATS_TEST_TMPDIR/gone"
  run euca download-bundle -b leases -p leased.img -d "$BATS_TEST_TMPDIR/check"
  assert_success
  run euca admin cleanup --now "$(at '+10 days')"
  assert_output "cleanup: terminated 0 instances, expired 1 image, deleted 1 image, deleted 1 bundle, 0 failed"
  run euca download-bundle -b leases -p leased.img -d "$BATS_TEST_TMPDIR/gone"
  assert_failure
  run euca download-bundle -b leases -p loose -d "$BATS_TEST_TMPDIR/gone"
  assert_failure
  run euca describe-images "$emi"
  assert_line --index 0 --regexp "^IMAGE	$emi	.*	deregistered	"
  run euca admin history
  assert_line --regexp "	cleanup	DeregisterImage $emi	"
  assert_line --regexp "	cleanup	ExpireImage $emi	"
  assert_line --regexp "	cleanup	DeleteBundle leases/loose.manifest.xml	"
  # The image registered without a lease is untouched.
  run euca describe-images "$EMI"
  assert_line --index 0 --regexp "	available	"
}

@test "renew-lease: happy path (remote) and bad input" {
  euca admin modify-account eucalyptus --runtime-lease 1h >/dev/null
  run in_mode remote run-instances "$EMI"
  local id
  id="$(instance_ids)"
  run in_mode remote renew-lease "$id" --for 3h
  assert_success
  assert_output --regexp "^LEASE	$id	instance	[0-9]{12}	(pending|running)	[0-9T:-]+Z$"
  run in_mode remote admin cleanup --now "$(at '+2 hours')"
  assert_output "cleanup: nothing to do"
  run in_mode remote renew-lease "$id" --for none
  assert_output --regexp "	none$"
  run in_mode remote renew-lease "$id"  # the account's default again
  assert_output --regexp "	[0-9T:-]+Z$"
  expect_failure 2 "--for: duration 'soon' is not of the form" renew-lease "$id" --for soon
  expect_failure 3 "instance 'i-0000dead' does not exist" renew-lease i-0000dead --for 1h
  expect_failure 2 "ID is required" renew-lease
  run as_bob remote renew-lease "$id" --for 1h
  assert_failure 3
  euca admin modify-account eucalyptus --runtime-lease none >/dev/null
  expect_failure 2 "has no default runtime lease: give --for DURATION" renew-lease "$id"
}

@test "storage-quota: an upload beyond the account's quota is refused (exit 8)" {
  cd "$BATS_TEST_TMPDIR"
  head -c 50000 /dev/urandom >big.img
  mkdir b
  euca bundle-image -i big.img -d b >/dev/null
  euca admin put-rule "$(rules_file '[rule bytes]\nkind = storage-quota\nlimit = 1K\nmatch.account = eucalyptus\n')" \
    >/dev/null
  run --separate-stderr euca upload-bundle -b quota -m b/big.img.manifest.xml
  assert_failure 8
  [[ "$stderr" == *"rule 'bytes' limits account 'eucalyptus' to 1024 stored bytes"* ]] || fail "stderr: $stderr"
  euca admin delete-rule bytes >/dev/null
  run euca upload-bundle -b quota -m b/big.img.manifest.xml
  assert_success
}
