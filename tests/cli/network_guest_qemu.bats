#!/usr/bin/env bats
# Networking with a real guest: a cloud in MANAGED-NOVLAN with the linux driver, `euca serve
# clc` on this host, and the test guest booted under QEMU (TCG) on a tap in its group's bridge.
# The guest takes its address from the cloud's dnsmasq, asks 169.254.169.254 who it is (the
# redirect to the CLC's metadata service at its network's gateway), and serves TCP 80. A
# public address reaches it while associated and nothing after release.
# The driver works on this host's own network stack (libvirt's taps live there): it makes
# bridges eucabr*, euca's own iptables chains and a /32 on lo, all on private test addresses
# (10.213.0.0/16, 10.214.0.0/24) that nothing outside this host sees; teardown removes them
# and puts net.ipv4.ip_forward back as it was.
# Needs root, libvirt and the test guest (make guest); skips otherwise.

load helpers

SUBNET=10.213.0.0
PUBLIC_FIRST=10.214.0.10

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

setup_file() {
  export BATS_NO_PARALLELIZE_WITHIN_FILE=true
  export GUEST_DIR="${EUCA_GUEST_DIR:-$(dirname "$EUCA_BIN")/guest}"
  export SKIP_REASON
  SKIP_REASON="$(qemu_guest_skip_reason)" || return 1
  [[ -z "$SKIP_REASON" ]] || return 0
  for tool in iptables-restore dnsmasq ip curl; do
    command -v "$tool" >/dev/null || { SKIP_REASON="'$tool' is not installed (make deps)"; return 0; }
  done

  # The test ranges never leave this host: what no bridge or /32 claims is dropped here
  # (a released public address must reach nothing, not the default route).
  ip route replace blackhole "$SUBNET/16"
  ip route replace blackhole 10.214.0.0/24
  # The linux driver turns on forwarding; teardown puts back what the host had.
  sysctl -n net.ipv4.ip_forward >"$BATS_FILE_TMPDIR/ip_forward"

  clean_env
  export H="$BATS_FILE_TMPDIR/home"
  EUCA_HOME="$H" "$EUCA_BIN" admin init --hypervisor qemu:///system --accel tcg >/dev/null
  export PORT
  PORT="$(free_port)"
  local p
  for p in network.driver=linux network.mode=MANAGED-NOVLAN "network.subnet=$SUBNET" network.netmask=255.255.0.0 \
    network.addrs-per-net=32 "network.public-ips=$PUBLIC_FIRST-10.214.0.12" "network.metadata-target=:$PORT"; do
    EUCA_HOME="$H" "$EUCA_BIN" admin modify-property "$p" >/dev/null
  done
  # The CLC on all addresses: guests reach its metadata service at their network's gateway.
  EUCA_HOME="$H" "$EUCA_BIN" serve clc --listen "0.0.0.0:$PORT" >"$BATS_FILE_TMPDIR/clc.log" 2>&1 3>&- &
  echo $! >"$BATS_FILE_TMPDIR/clc.pid"
  local i
  for i in $(seq 100); do
    grep -q '^clc listening on http://' "$BATS_FILE_TMPDIR/clc.log" && break
    sleep 0.1
  done
  grep -q '^clc listening on http://' "$BATS_FILE_TMPDIR/clc.log" || { cat "$BATS_FILE_TMPDIR/clc.log" >&2; return 1; }
}

teardown_file() {
  [[ -z "${SKIP_REASON:-}" && -n "${H:-}" ]] || return 0
  set +e  # best effort: every step runs whatever the one before it found
  local pid
  pid="$(cat "$BATS_FILE_TMPDIR/clc.pid" 2>/dev/null)"
  [[ -z "$pid" ]] || { kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; } || true
  # Whatever a failed test left: domains of this cloud, dnsmasq, bridges, chains, addresses.
  local d
  for d in $(virsh -c qemu:///system list --name 2>/dev/null | grep '^i-'); do
    virsh -c qemu:///system dumpxml "$d" 2>/dev/null | grep -q "$BATS_FILE_TMPDIR" &&
      virsh -c qemu:///system destroy "$d" >/dev/null 2>&1
  done
  for pid in $(cat "$H"/network/*.pid "$H"/network/dhcp/*.pid 2>/dev/null); do kill "$pid" 2>/dev/null; done
  for d in $(ip -o link show type bridge 2>/dev/null | awk -F': ' '{ print $2 }' | grep '^eucabr'); do
    ip link del "$d" 2>/dev/null || true
  done
  local table chain
  for table in filter nat; do
    for chain in FORWARD INPUT OUTPUT PREROUTING POSTROUTING; do
      while iptables -t "$table" -S "$chain" 2>/dev/null | grep -q -- "-j EUCA-"; do
        iptables -t "$table" -S "$chain" | grep -- "-j EUCA-" | head -1 | sed 's/^-A/-D/' |
          xargs iptables -t "$table" 2>/dev/null || break
      done
    done
    for chain in $(iptables -t "$table" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^EUCA-/ { print $2 }'); do
      iptables -t "$table" -F "$chain" 2>/dev/null || true
    done
    for chain in $(iptables -t "$table" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^EUCA-/ { print $2 }'); do
      iptables -t "$table" -X "$chain" 2>/dev/null || true
    done
  done
  for d in $(ip -o -4 addr show dev lo | awk '{ print $4 }' | grep '^10\.214\.0\.'); do ip addr del "$d" dev lo; done
  ip route del blackhole "$SUBNET/16" 2>/dev/null
  ip route del blackhole 10.214.0.0/24 2>/dev/null
  [[ ! -s "$BATS_FILE_TMPDIR/ip_forward" ]] || sysctl -q -w "net.ipv4.ip_forward=$(cat "$BATS_FILE_TMPDIR/ip_forward")"
  return 0
}

setup() {
  [[ -z "$SKIP_REASON" ]] || skip "$SKIP_REASON"
  export EUCA_HOME="$H"
  # shellcheck disable=SC1091
  source "$H/eucarc"
  export EC2_URL="http://127.0.0.1:$PORT/services/compute"
  cd "$BATS_FILE_TMPDIR"
}

# wait_console ID PATTERN: the console of ID shows PATTERN within ~3 minutes (TCG, loaded host).
wait_console() {
  local i
  for i in $(seq 180); do
    "$EUCA_BIN" get-console-output "$1" -r >console.out 2>/dev/null || true
    grep -q "$2" console.out && return 0
    sleep 1
  done
  echo "no '$2' on the console of $1:" >&2
  cat console.out >&2
  return 1
}

# guest_emi: the test guest bundled, uploaded and registered (once per file); prints its emi.
guest_emi() {
  if [[ ! -s "$BATS_FILE_TMPDIR/emi" ]]; then
    EC2_URL= bundle_test_guest net
    local eki eri
    eki="$("$EUCA_BIN" register net/guest-kernel.manifest.xml -n net-kernel | cut -f2)"
    eri="$("$EUCA_BIN" register net/guest-ramdisk.manifest.xml -n net-ramdisk | cut -f2)"
    "$EUCA_BIN" register net/guest-root.manifest.xml -n net --kernel "$eki" --ramdisk "$eri" | cut -f2 \
      >"$BATS_FILE_TMPDIR/emi"
  fi
  cat "$BATS_FILE_TMPDIR/emi"
}

# terminate_and_wait ID...: terminated, their domains gone, their records terminated.
terminate_and_wait() {
  "$EUCA_BIN" terminate-instances "$@" >/dev/null
  local id i
  for id in "$@"; do
    for i in $(seq 100); do
      virsh -c qemu:///system domstate "$id" >/dev/null 2>&1 || break
      sleep 0.2
    done
    ! virsh -c qemu:///system domstate "$id" >/dev/null 2>&1
    for i in $(seq 100); do
      "$EUCA_BIN" describe-instances "$id" | grep -q $'\tterminated\t' && break
      sleep 0.2
    done
  done
}

@test "a guest on its group's bridge: DHCP, its own metadata, a public address until released" {
  local emi
  emi="$(guest_emi)"
  [[ "$emi" == emi-* ]]
  "$EUCA_BIN" create-group web -d "the web servers" >/dev/null

  run "$EUCA_BIN" run-instances "$emi" -g web -t m1.small
  assert_success
  local id
  id="$(awk -F'\t' '$1 == "INSTANCE" { print $2; exit }' <<<"$output")"
  [[ "$id" == i-* ]]
  wait_console "$id" "EUCA-GUEST-SERVING"

  # DHCP handed the guest the address the cloud recorded for it, in the group's network.
  local ip
  ip="$(sed -n 's/.*EUCA-GUEST-NET \([0-9.]*\).*/\1/p' console.out | head -1)"
  [[ "$ip" == 10.213.* ]] || { cat console.out; false; }
  run "$EUCA_BIN" describe-instances "$id"
  assert_output --partial $'\t'"$ip"$'\t'
  # 169.254.169.254 answered it with its own instance id (DNAT to the CLC, source kept).
  grep -q "EUCA-GUEST-META $id" console.out || { cat console.out; false; }
  # The tap is on the group's bridge.
  local bridge
  bridge="$(virsh -c qemu:///system domiflist "$id" | awk '$2 == "bridge" { print $3 }')"
  [[ "$bridge" == eucabr* ]]
  # The host reaches it on its private address.
  run curl -s -m 5 "http://$ip/"
  assert_output "$id"

  # A public address: DNAT to the instance while associated; nothing once released.
  run "$EUCA_BIN" allocate-address
  assert_success
  local pub
  pub="$(cut -f2 <<<"$output")"
  [[ "$pub" == 10.214.0.* ]]
  "$EUCA_BIN" associate-address -i "$id" "$pub" >/dev/null
  run curl -s -m 5 "http://$pub/"
  assert_output "$id"
  "$EUCA_BIN" disassociate-address "$pub" >/dev/null
  "$EUCA_BIN" release-address "$pub" >/dev/null
  run curl -s -m 3 "http://$pub/"
  assert_failure
  ! ip -o -4 addr show dev lo | grep -q "$pub/"

  # Terminated: the domain and its DHCP entry go; the group's network goes with the group.
  terminate_and_wait "$id"
  run "$EUCA_BIN" delete-group web
  assert_success
  run ip link show "$bridge"
  assert_failure
}

# wait_probe ID ADDRESS ANSWER: the latest probe of ADDRESS on the console of ID answered
# ANSWER, within ~3 minutes.
wait_probe() {
  local i last=""
  for i in $(seq 180); do
    "$EUCA_BIN" get-console-output "$1" -r >console.out 2>/dev/null || true
    last="$(grep -o "EUCA-GUEST-PROBE $2 [^[:space:]]*" console.out | tail -1)"
    [[ "$last" == "EUCA-GUEST-PROBE $2 $3" ]] && return 0
    sleep 1
  done
  echo "the probe of $2 on $1 last answered '${last:-nothing}', not '$3':" >&2
  cat console.out >&2
  return 1
}

@test "guest to guest: another group is unreachable until a rule lets it in, and again once revoked" {
  local emi
  emi="$(guest_emi)"
  [[ "$emi" == emi-* ]]
  "$EUCA_BIN" create-group servers -d "answer on 80" >/dev/null
  "$EUCA_BIN" create-group clients -d "ask on 80" >/dev/null

  run "$EUCA_BIN" run-instances "$emi" -g servers -t m1.small
  assert_success
  local server
  server="$(awk -F'\t' '$1 == "INSTANCE" { print $2; exit }' <<<"$output")"
  wait_console "$server" "EUCA-GUEST-SERVING"
  local ip
  ip="$(sed -n 's/.*EUCA-GUEST-NET \([0-9.]*\).*/\1/p' console.out | head -1)"
  [[ "$ip" == 10.213.* ]] || { cat console.out; false; }

  # The client guest asks the server's TCP 80 every second (its user-data says so).
  run "$EUCA_BIN" run-instances "$emi" -g clients -t m1.small -d "probe $ip"
  assert_success
  local client
  client="$(awk -F'\t' '$1 == "INSTANCE" { print $2; exit }' <<<"$output")"
  # Different groups: denied.
  wait_probe "$client" "$ip" none
  # Each guest got its own instance id from 169.254.169.254, never the other's.
  grep -q "EUCA-GUEST-META $client" console.out || { cat console.out; false; }
  ! grep -q "EUCA-GUEST-META $server" console.out
  "$EUCA_BIN" get-console-output "$server" -r >server.out
  grep -q "EUCA-GUEST-META $server" server.out || { cat server.out; false; }
  ! grep -q "EUCA-GUEST-META $client" server.out
  # A rule from the clients' group opens the flow to the running server, without a restart.
  "$EUCA_BIN" authorize servers -P tcp -p 80 -o clients >/dev/null
  wait_probe "$client" "$ip" "$server"
  # Revoked: closed again.
  "$EUCA_BIN" revoke servers -P tcp -p 80 -o clients >/dev/null
  wait_probe "$client" "$ip" none

  terminate_and_wait "$server" "$client"
  "$EUCA_BIN" delete-group clients >/dev/null
  "$EUCA_BIN" delete-group servers >/dev/null
}
