#!/usr/bin/env bats
# Networking with a remote cluster controller (docs/networking.md, "Remote cluster
# controllers"): `euca serve cc` on its own network state applies its zone's view of the
# desired state that the cloud controller sends after every change, records it, and applies
# the record again when it restarts. Nodes run on fake:// (no real VMs); the network driver is
# `plan` (files), and `linux` inside a network namespace the test makes (root only).

load helpers

setup_file() {
  export BATS_NO_PARALLELIZE_WITHIN_FILE=true
  clean_env
  export H="$BATS_FILE_TMPDIR/home" CCNET="$BATS_FILE_TMPDIR/ccnet"
  EUCA_HOME="$H" "$EUCA_BIN" admin init --hypervisor fake:// >/dev/null
  : >"$BATS_FILE_TMPDIR/pids"
  cd "$BATS_FILE_TMPDIR"
  head -c 200000 /dev/urandom >image.img
  mkdir b
  EUCA_HOME="$H" "$EUCA_BIN" bundle-image -i image.img -d b >/dev/null
  EUCA_HOME="$H" "$EUCA_BIN" upload-bundle -b images -m b/image.img.manifest.xml >/dev/null
  export EMI WALRUS_URL NC_URL CC_URL CC_PORT
  EMI="$(EUCA_HOME="$H" "$EUCA_BIN" register images/image.img.manifest.xml -n guest | cut -f2)"
  WALRUS_URL="$(EUCA_HOME="$H" start_daemon walrus "$BATS_FILE_TMPDIR/walrus.log" serve walrus --listen 127.0.0.1:0)"
  NC_URL="$(EUCA_HOME="$H" start_daemon nc "$BATS_FILE_TMPDIR/nc.log" serve nc --listen 127.0.0.1:0 \
    --hypervisor fake:// --walrus-url "$WALRUS_URL" --root "$BATS_FILE_TMPDIR/nc")"
  [[ -n "$WALRUS_URL" && -n "$NC_URL" ]] || { cat "$BATS_FILE_TMPDIR"/*.log >&2; return 1; }
  start_cc
  EUCA_HOME="$H" "$EUCA_BIN" admin register-cluster zone-r "$CC_URL" >/dev/null
}

teardown_file() { stop_daemons; }

setup() {
  export EUCA_HOME="$H"
  cd "$BATS_TEST_TMPDIR"
}

# start_cc [ARGS...]: `euca serve cc` for the node, its network state in CCNET, on CC_PORT
# once it had one (so the registered URL stays right across restarts). Sets CC_URL and
# CC_PORT; its pid goes to cc.pid (tests run in subshells: the next test reads it there).
start_cc() {
  CC_URL="$(EUCA_HOME="$H" start_daemon cc "$BATS_FILE_TMPDIR/cc.log" serve cc --listen "127.0.0.1:${CC_PORT:-0}" \
    --poll-seconds 1 --node "$NC_URL" --network-dir "$CCNET" "$@")"
  [[ -n "$CC_URL" ]] || { cat "$BATS_FILE_TMPDIR/cc.log" >&2; return 1; }
  CC_PORT="${CC_URL##*:}"
  tail -n 1 "$BATS_FILE_TMPDIR/pids" >"$BATS_FILE_TMPDIR/cc.pid"
}

stop_cc() {
  local pid i
  pid="$(cat "$BATS_FILE_TMPDIR/cc.pid")"
  kill -TERM "$pid"
  for i in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  return 1
}

# run_in_group GROUP: one instance in the remote zone; prints its id.
run_in_group() {
  euca run-instances "$EMI" -g "$1" -z zone-r | awk -F'\t' '$1 == "INSTANCE" { print $2 }'
}

@test "the remote cluster applies its zone's view: rules, DHCP; this host serves nothing" {
  euca create-group web -d web >/dev/null
  euca authorize web -P tcp -p 22 -s 198.51.100.0/24 >/dev/null
  local id ip
  id="$(run_in_group web)"
  [[ "$id" == i-* ]]
  ip="$(euca describe-instances "$id" | awk -F'\t' '$1 == "INSTANCE" { print $5 }')"
  [[ "$ip" == 10.1.0.* ]]
  # The cluster's record names the cloud's driver and holds the instance, served there.
  run jq -r '.driver' "$CCNET/desired-state.json"
  assert_output plan
  run jq -r --arg id "$id" '.state.endpoints[] | select(.instance_id == $id) | .elsewhere // false' \
    "$CCNET/desired-state.json"
  assert_output false
  grep -q ",$ip\$" "$CCNET/dhcp/hosts"
  grep -q -- "-s 198.51.100.0/24 -p tcp -m tcp --dport 22 -j ACCEPT" "$CCNET/filter.rules"
  # The cloud controller's host (every zone is remote) renders nothing for it.
  run jq -r --arg id "$id" '.endpoints[] | select(.instance_id == $id) | .private_ip' "$H/network/desired-state.json"
  assert_output "$ip"
  [[ ! -e "$H/network/dhcp/hosts" ]] || ! grep -q ",$ip\$" "$H/network/dhcp/hosts"

  # A rule change reaches the cluster at once; so does the instance's end.
  euca revoke web -P tcp -p 22 -s 198.51.100.0/24 >/dev/null
  run grep -c -- "--dport 22" "$CCNET/filter.rules"
  assert_output 0
  euca terminate-instances "$id" >/dev/null
  ! grep -q ",$ip\$" "$CCNET/dhcp/hosts" 2>/dev/null
}

@test "a restarted cluster controller applies its recorded state before any push" {
  euca create-group restart -d restart >/dev/null
  euca authorize restart -P tcp -p 8080 >/dev/null
  local id
  id="$(run_in_group restart)"
  grep -q -- "--dport 8080" "$CCNET/filter.rules"
  stop_cc
  rm "$CCNET/filter.rules" "$CCNET/links"
  start_cc
  # Nothing was changed in the cloud: the files come from the cluster's own record.
  grep -q -- "--dport 8080" "$CCNET/filter.rules"
  [[ -s "$CCNET/links" ]]
  euca terminate-instances "$id" >/dev/null
}

@test "a broken record is reported at start and the cluster still serves; the next change repairs it" {
  stop_cc
  cp "$CCNET/desired-state.json" good.json
  echo '{"driver": "plan", "state": {"mode": "FLAT"}}' >"$CCNET/desired-state.json"
  start_cc
  grep -q "euca: network: .*desired-state.json.*'FLAT'" "$BATS_FILE_TMPDIR/cc.log"
  run euca describe-availability-zones zone-r
  assert_success
  assert_output --partial "zone-r"
  euca create-group repair -d repair >/dev/null
  euca authorize repair -P tcp -p 9090 >/dev/null
  local id
  id="$(run_in_group repair)"
  run jq -r '.state.mode' "$CCNET/desired-state.json"
  assert_output MANAGED-NOVLAN
  euca terminate-instances "$id" >/dev/null
}

@test "serve cc refuses bad network options" {
  run --separate-stderr euca serve cc --listen 127.0.0.1:0 --network-dir
  assert_failure 2
  [[ "$stderr" == *"--network-dir"* ]]
}

@test "the linux driver builds the zone's bridge, rules and DHCP inside the cluster's namespace" {
  [[ "$(id -u)" == 0 ]] || skip "needs root (network namespaces)"
  local ns="euca-cc-$$"
  ip netns add "$ns"
  stop_cc
  start_cc --network-netns "$ns"
  euca admin modify-property network.driver=linux >/dev/null
  euca create-group kernel -d kernel >/dev/null
  euca authorize kernel -P tcp -p 443 >/dev/null
  local id bridge
  id="$(run_in_group kernel)"
  bridge="$(jq -r '.state.groups[] | select(.name == "kernel") | "eucabr\(.index)"' "$CCNET/desired-state.json")"
  local rc=0
  ip netns exec "$ns" ip link show "$bridge" >/dev/null || rc=$?
  ip netns exec "$ns" iptables-save -t filter | grep -q -- "--dport 443" || rc=$?
  [[ -s "$CCNET/dhcp/dnsmasq.pid" ]] && kill -0 "$(cat "$CCNET/dhcp/dnsmasq.pid")" || rc=$?
  # The host itself got nothing.
  ! ip link show "$bridge" >/dev/null 2>&1 || rc=1
  euca terminate-instances "$id" >/dev/null
  euca admin modify-property network.driver=plan >/dev/null
  [[ -s "$CCNET/dhcp/dnsmasq.pid" ]] && kill "$(cat "$CCNET/dhcp/dnsmasq.pid")" 2>/dev/null
  ip netns delete "$ns"
  return "$rc"
}
