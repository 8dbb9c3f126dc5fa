#!/usr/bin/env bats
# euca create-group, delete-group, describe-groups, authorize, revoke: embedded (EUCA_HOME)
# and remote (EC2_URL = euca serve clc) on one cloud.

load helpers
load ec2_helpers

setup_file() {
  # One cloud (and its daemons) for the whole file: its tests run one at a time.
  export BATS_NO_PARALLELIZE_WITHIN_FILE=true
  clc_setup_file
}

teardown_file() { clc_teardown_file; }

setup() { clc_setup; }

# group_life MODE: create, describe, authorize, revoke, delete one group.
group_life() {
  local mode="$1" name="web-$1"
  run in_mode "$mode" create-group "$name" -d "web servers"
  assert_success
  assert_output --regexp "^GROUP	sg-[0-9a-f]{8}	$name	web servers$"
  local id
  id="$(cut -f2 <<<"$output")"
  run in_mode "$mode" describe-groups "$name"
  assert_success
  assert_output --regexp "^GROUP	$id	[0-9]{12}	$name	web servers	$"
  local owner
  owner="$(cut -f3 <<<"$output")"
  # euca2ools' defaults: tcp, from anywhere; -p -1 is every port.
  run in_mode "$mode" authorize "$name" -p 22
  assert_success
  assert_line --index 0 "$(printf 'GROUP\t%s' "$name")"
  assert_line --index 1 "$(printf 'PERMISSION\t%s\tALLOWS\ttcp\t22\t22\tFROM\tCIDR\t0.0.0.0/0' "$name")"
  run in_mode "$mode" authorize "$name" -P udp -p 5000-5010 -s 10.0.0.0/8 -s 192.168.0.0/16
  assert_success
  run in_mode "$mode" authorize "$name" -P icmp -t 8:-1 -o default
  assert_success
  assert_line --index 1 "$(printf 'PERMISSION\t%s\tALLOWS\ticmp\t8\t-1\tNAME\tdefault' "$name")"
  run in_mode "$mode" describe-groups "$id"
  assert_success
  assert_line --index 1 "$(printf 'PERMISSION\t%s\t%s\tALLOWS\ttcp\t22\t22\tFROM\tCIDR\t0.0.0.0/0\tingress' "$owner" "$name")"
  assert_line --index 2 "$(printf 'PERMISSION\t%s\t%s\tALLOWS\tudp\t5000\t5010\tFROM\tCIDR\t10.0.0.0/8\tingress' "$owner" "$name")"
  assert_line --index 3 "$(printf 'PERMISSION\t%s\t%s\tALLOWS\tudp\t5000\t5010\tFROM\tCIDR\t192.168.0.0/16\tingress' "$owner" "$name")"
  assert_line --index 4 --regexp "^PERMISSION	$owner	$name	ALLOWS	icmp	8	-1	FROM	USER	$owner	NAME	default	ID	sg-[0-9a-f]{8}	ingress$"
  run in_mode "$mode" revoke "$name" -p 22
  assert_success
  run in_mode "$mode" describe-groups "$name"
  refute_line --partial "tcp	22	22"
  run in_mode "$mode" delete-group "$name"
  assert_success
  assert_output "$(printf 'RETURN\ttrue')"
  run in_mode "$mode" describe-groups
  assert_success
  refute_output --partial "$name"
}

@test "create-group, describe-groups, authorize, revoke, delete-group (embedded)" {
  group_life embedded
}

@test "create-group, describe-groups, authorize, revoke, delete-group (remote)" {
  group_life remote
}

@test "describe-groups: the default group allows itself; --filter; --output json" {
  run "$EUCA_BIN" describe-groups default
  assert_success
  assert_line --index 0 --regexp "^GROUP	sg-[0-9a-f]{8}	[0-9]{12}	default	default group	$"
  assert_line --index 1 --regexp "^PERMISSION	[0-9]{12}	default	ALLOWS	-1			FROM	USER	[0-9]{12}	NAME	default	ID	sg-"
  "$EUCA_BIN" create-group filtered -d "find me" >/dev/null
  run "$EUCA_BIN" describe-groups --filter description=find*
  assert_success
  assert_output --regexp "^GROUP	sg-[0-9a-f]{8}	[0-9]{12}	filtered	find me	$"
  run "$EUCA_BIN" --output json describe-groups filtered
  assert_success
  assert_equal "$(jq -r '.[0].record + " " + .[0].name + " " + .[0].description' <<<"$output")" "GROUP filtered find me"
  "$EUCA_BIN" delete-group filtered >/dev/null
}

@test "groups of another account do not exist for bob; rules may name them" {
  "$EUCA_BIN" create-group shared -d "admin's" >/dev/null
  run as_bob remote describe-groups shared
  assert_failure 3
  assert_output --partial "the security group 'shared' does not exist"
  run as_bob remote create-group shared -d "bob's"
  assert_success
  # The administrator sees every account's groups with verbose.
  run "$EUCA_BIN" describe-groups verbose
  assert_line --regexp "^GROUP	sg-[0-9a-f]{8}	$BOB_ACCOUNT	shared	bob's	$"
  run as_bob remote describe-groups verbose
  assert_failure 3
  local admin_account
  admin_account="$("$EUCA_BIN" describe-groups shared | cut -f3)"
  run as_bob remote authorize shared -p 80 -o shared -u "$admin_account"
  assert_success
  assert_line --index 1 "$(printf 'PERMISSION\tshared\tALLOWS\ttcp\t80\t80\tUSER\t%s\tNAME\tshared' "$admin_account")"
  # The admin's group is named by bob's rule: it cannot go.
  run in_mode remote delete-group shared
  assert_failure 5
  assert_output --partial "the security group 'shared' is named by a rule of group 'sg-"
  run as_bob remote revoke shared -p 80 -o shared -u "$admin_account"
  assert_success
  run in_mode remote delete-group shared
  assert_success
}

@test "create-group: duplicate (4), missing -d (2), a name starting sg- (2)" {
  "$EUCA_BIN" create-group dup -d x >/dev/null
  expect_failure 4 "the security group 'dup' already exists" create-group dup -d y
  run "$EUCA_BIN" create-group nodesc
  assert_failure 2
  expect_failure 2 "names cannot start with 'sg-'" create-group sg-bad -d x
  run in_mode remote create-group dup -d y
  assert_failure 4
  "$EUCA_BIN" delete-group dup >/dev/null
}

@test "delete-group: unknown (3), default (2)" {
  expect_failure 3 "the security group 'nope' does not exist" delete-group nope
  expect_failure 2 "the security group 'default' cannot be deleted" delete-group default
  run in_mode remote delete-group nope
  assert_failure 3
}

@test "describe-groups: an unknown group is exit status 3" {
  expect_failure 3 "the security group 'nope' does not exist" describe-groups nope
  expect_failure 2 "the filter 'color' is invalid" describe-groups --filter color=red
}

@test "authorize and revoke: bad input, duplicates and missing rules" {
  "$EUCA_BIN" create-group rules -d x >/dev/null
  expect_failure 2 "give a port or range with -p" authorize rules
  expect_failure 2 "must be FROM-TO, not FROM:TO" authorize rules -p 1:2
  expect_failure 2 "port range 80-22 ends before it starts" authorize rules -p 80-22
  expect_failure 2 "expected an integer from -1 to 65535" authorize rules -p 70000
  expect_failure 2 "protocol 'gre' is not one of tcp, udp, icmp, -1" authorize rules -P gre
  expect_failure 2 "CIDR '10.0.0.0/40' is not of the form a.b.c.d/n" authorize rules -p 22 -s 10.0.0.0/40
  expect_failure 3 "the security group 'nope' does not exist" authorize nope -p 22
  expect_failure 3 "the security group 'ghost' does not exist" authorize rules -p 22 -o ghost
  expect_failure 2 "--egress needs a VPC" authorize rules -p 22 --egress
  expect_failure 2 "for icmp give -t TYPE:CODE" authorize rules -P icmp -p 22
  expect_failure 2 "ICMP type and code '8' must be TYPE:CODE" authorize rules -P icmp -t 8
  expect_failure 2 "ICMP type '300' is outside -1..255" authorize rules -P icmp -t 300:0
  expect_failure 2 "ICMP code" authorize rules -P icmp -t 8:x
  "$EUCA_BIN" authorize rules -P all >/dev/null
  expect_failure 4 "already in security group 'rules'" authorize rules -P -1
  expect_failure 3 "not in security group 'rules'" revoke rules -p 22
  run in_mode remote revoke rules -p 22
  assert_failure 3
  run "$EUCA_BIN" revoke rules -P all
  assert_success
  "$EUCA_BIN" delete-group rules >/dev/null
}

@test "euca-add-group (euca2ools 1.x) is create-group" {
  run "$EUCA_BIN" help euca-add-group
  assert_success
  assert_output --partial "create-group"
  assert_output --partial "--description"
}

@test "network properties: checked values; the mode decides about public addresses" {
  expect_failure 2 "expected a power of 2 from 16 to 2048" admin modify-property network.addrs-per-net=48
  expect_failure 2 "network.subnet' '10.1.0.1' has host bits" admin modify-property network.subnet=10.1.0.1
  expect_failure 2 "expected one of SYSTEM, STATIC, MANAGED, MANAGED-NOVLAN" admin modify-property network.mode=VPC
  expect_failure 2 "expected IPv4 addresses and FIRST-LAST ranges" admin modify-property network.public-ips=1.2.3.9-1.2.3.1
  run "$EUCA_BIN" admin modify-property network.public-ips="203.0.113.5, 203.0.113.6" network.mode=static
  assert_success
  run "$EUCA_BIN" admin describe-properties network.public-ips network.mode
  assert_line "$(printf 'PROPERTY\tnetwork.mode\tSTATIC')"
  assert_line "$(printf 'PROPERTY\tnetwork.public-ips\t203.0.113.5 203.0.113.6')"
  expect_failure 2 "public addresses need network.mode MANAGED or MANAGED-NOVLAN; this cloud runs STATIC" \
    allocate-address
  run "$EUCA_BIN" admin modify-property network.mode=MANAGED-NOVLAN network.public-ips=
  assert_success
}

@test "network properties are checked against each other: no accepted combination fails every apply" {
  expect_failure 2 "MANAGED needs network.private-interface" admin modify-property network.mode=MANAGED
  expect_failure 2 "'eth0-long-1.4094' is over 15 characters" \
    admin modify-property network.mode=MANAGED network.private-interface=eth0-long-1
  expect_failure 2 "network.public-ips holds '10.1.0.5', inside the private network.subnet/netmask 10.1.0.0/16" \
    admin modify-property network.public-ips=10.1.0.5
  expect_failure 2 "network.public-ips holds '203.0.113.5' twice" \
    admin modify-property network.public-ips="203.0.113.5 203.0.113.4-203.0.113.6"
  expect_failure 2 "network.mac-map gives d0:0d:00:00:00:01 192.168.9.5, not a host address of network.subnet/netmask 10.1.0.0/16" \
    admin modify-property network.mode=STATIC network.mac-map=d0:0d:00:00:00:01=192.168.9.5
  expect_failure 2 "gives d0:0d:00:00:00:01 10.1.0.1, not a host address" \
    admin modify-property network.mode=STATIC network.mac-map=d0:0d:00:00:00:01=10.1.0.1
  expect_failure 2 "which STATIC does not have: give IP:PORT" \
    admin modify-property network.mode=STATIC network.metadata-target=:8773
  # Set together, they are accepted; and back.
  run "$EUCA_BIN" admin modify-property network.mode=MANAGED network.private-interface=eth1
  assert_success
  run "$EUCA_BIN" admin modify-property network.mode=STATIC network.mac-map=d0:0d:00:00:00:01=10.1.0.5 \
    network.metadata-target=10.1.0.1:8773
  assert_success
  run "$EUCA_BIN" admin modify-property network.mode=MANAGED-NOVLAN network.mac-map= network.metadata-target= \
    network.private-interface=
  assert_success
}
