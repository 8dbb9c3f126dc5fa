#!/usr/bin/env bats
# Tenancy, all command families in one matrix: what one account owns (key pair, security
# group, private image, instance, public address, capacity reservation), another account's
# user can neither see (listings, describe by id) nor touch (every call that changes it),
# through `euca serve clc` (EC2_URL). Each refusal changes nothing: the owner still sees
# the resource as it was. The per-family files test the owner's side; this one the other's.

load helpers
load ec2_helpers

setup_file() {
  instances_setup_file
  export IMG_PRIVATE
  # A second, private image of the admin's account (the shared $EMI is not made public here).
  IMG_PRIVATE="$EMI"
  EC2_URL="$CLC_URL" "$EUCA_BIN" admin modify-property network.public-ips=203.0.113.1-203.0.113.4 >/dev/null
}

teardown_file() { clc_teardown_file; }

setup() { clc_setup; }

teardown() { empty_the_zone; }

# owner ARGS...: euca ARGS remote as the admin (account eucalyptus), must succeed.
owner() { EC2_URL="$CLC_URL" "$EUCA_BIN" "$@"; }

# refused STATUS ARGS...: euca ARGS remote as bob@other exits STATUS, prints nothing on stdout.
refused() {
  local want="$1"
  shift
  run --separate-stderr as_bob remote "$@"
  [[ "$status" == "$want" ]] || fail "as bob: euca $*: exit status $status, expected $want; stderr: $stderr"
  assert_output ''
}

# unseen LISTING_ARGS... -- PATTERN: the listing as bob succeeds and does not contain PATTERN.
unseen() {
  local args=()
  while [[ "$1" != -- ]]; do
    args+=("$1")
    shift
  done
  shift
  run as_bob remote "${args[@]}"
  assert_success
  refute_output --partial "$1"
}

@test "another account's user sees none of the owner's resources and changes none of them" {
  # The owner's resources.
  owner create-keypair k-owner >/dev/null
  owner create-group g-owner -d "owner's group" >/dev/null
  owner authorize g-owner -P tcp -p 22 -s 10.0.0.0/8 >/dev/null
  local run_out id ip cr
  run_out="$(owner run-instances "$IMG_PRIVATE" -k k-owner -g g-owner)"
  id="$(awk -F'\t' '$1 == "INSTANCE" { print $2; exit }' <<<"$run_out")"
  [[ -n "$id" ]]
  ip="$(owner allocate-address | cut -f2)"
  owner associate-address "$ip" -i "$id" >/dev/null
  cr="$(owner create-capacity-reservation -t m1.small -z "$(owner describe-availability-zones | cut -f2 | head -1)" \
    -n 1 | cut -f2)"
  [[ "$cr" == cr-* ]]
  local before
  before="$(owner describe-keypairs; owner describe-groups g-owner; owner describe-images "$IMG_PRIVATE";
    owner describe-instances "$id"; owner describe-addresses "$ip"; owner describe-capacity-reservations "$cr")"

  # Listings: nothing of the owner's.
  unseen describe-keypairs -- k-owner
  unseen describe-groups -- g-owner
  unseen describe-images -- "$IMG_PRIVATE"
  unseen describe-instances -- "$id"
  unseen describe-addresses -- "$ip"
  unseen describe-capacity-reservations -- "$cr"
  unseen describe-leases -- "$id"

  # By id or name: not found (an id of another account is no different from an unknown one).
  refused 3 describe-instances "$id"
  refused 3 describe-images "$IMG_PRIVATE"
  refused 3 describe-groups g-owner
  refused 3 describe-keypairs k-owner
  refused 3 describe-addresses "$ip"
  refused 3 describe-capacity-reservations "$cr"
  refused 3 describe-image-attribute "$IMG_PRIVATE" -l

  # Every change: refused.
  refused 3 terminate-instances "$id"
  refused 3 reboot-instances "$id"
  refused 3 get-console-output "$id"
  refused 3 run-instances "$IMG_PRIVATE"
  refused 3 modify-image-attribute "$IMG_PRIVATE" -l -a all
  refused 3 deregister "$IMG_PRIVATE"
  refused 3 delete-group g-owner
  refused 3 authorize g-owner -P tcp -p 80 -s 0.0.0.0/0
  refused 3 revoke g-owner -P tcp -p 22 -s 10.0.0.0/8
  refused 3 disassociate-address "$ip"
  refused 3 release-address "$ip"
  refused 3 associate-address "$ip" -i "$id"
  refused 3 cancel-capacity-reservation "$cr"
  refused 3 renew-lease "$id" --for 1h
  # Deleting a key pair that is not one's own is EC2's idempotent success, and deletes
  # nothing of the owner's.
  run as_bob remote delete-keypair k-owner
  assert_success

  # The owner sees everything as it was.
  local after
  after="$(owner describe-keypairs; owner describe-groups g-owner; owner describe-images "$IMG_PRIVATE";
    owner describe-instances "$id"; owner describe-addresses "$ip"; owner describe-capacity-reservations "$cr")"
  # The instance may have moved from pending to running meanwhile; nothing else may differ.
  assert_equal "$(sed 's/\tpending\t/\trunning\t/' <<<"$after")" "$(sed 's/\tpending\t/\trunning\t/' <<<"$before")"

  owner cancel-capacity-reservation "$cr" >/dev/null
  owner disassociate-address "$ip" >/dev/null
  owner release-address "$ip" >/dev/null
}
