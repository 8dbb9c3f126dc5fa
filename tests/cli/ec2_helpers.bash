# Shared setup of the EC2 bats files: one cloud and one `euca serve clc` per file, on
# loopback; commands run either embedded (EUCA_HOME) or remote (EC2_URL) on that one cloud.
# Load after helpers.

AWS=/usr/bin/aws

# start_clc [ADDR:PORT]: starts the server on CLC_HOME on 127.0.0.1 and a free port unless
# told; sets CLC_URL. Its pid goes to a file so that teardown_file can stop it.
start_clc() {
  (EUCA_HOME="$CLC_HOME" "$EUCA_BIN" serve clc --listen "${1:-127.0.0.1:0}" >"$CLC_LOG.now" 2>&1 3>&- &
    echo $! >"$BATS_FILE_TMPDIR/clc.pid")
  local i
  for i in $(seq 100); do
    grep -q '^clc listening on http://' "$CLC_LOG.now" && break
    sleep 0.1
  done
  cat "$CLC_LOG.now" >>"$CLC_LOG"
  export CLC_URL
  CLC_URL="$(sed -n 's/^clc listening on \(http:\/\/.*\)$/\1/p' "$CLC_LOG.now")"
  [[ -n "$CLC_URL" ]] || { cat "$CLC_LOG.now" >&2; return 1; }
}

stop_clc() {
  local pid
  pid="$(cat "$BATS_FILE_TMPDIR/clc.pid" 2>/dev/null)" || return 0
  [[ -n "$pid" ]] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  local i
  for i in $(seq 100); do
    [[ "$(ps -o stat= -p "$pid" 2>/dev/null)" == [^Z]* ]] || break
    sleep 0.1
  done
  rm -f "$BATS_FILE_TMPDIR/clc.pid"
}

# For setup_file: a fresh cloud in BATS_FILE_TMPDIR/home, its server, the admin's keys, and a
# second account "other" with user "bob" (BOB_KEY, BOB_SECRET) for tenancy checks. With
# "hierarchy": the daemons of start_hierarchy behind the server (teardown_file then calls
# hierarchy_teardown_file).
clc_setup_file() {
  clean_env
  export CLC_HOME="$BATS_FILE_TMPDIR/home"
  export CLC_LOG="$BATS_FILE_TMPDIR/clc.log"
  if [[ "${1:-}" == hierarchy ]]; then
    EUCA_HOME="$CLC_HOME" "$EUCA_BIN" admin init --hypervisor test:///default >/dev/null
    start_hierarchy
  else
    EUCA_HOME="$CLC_HOME" "$EUCA_BIN" admin init >/dev/null
  fi
  start_clc
  export ADMIN_KEY ADMIN_SECRET BOB_KEY BOB_SECRET BOB_ACCOUNT
  ADMIN_KEY="$(source "$CLC_HOME/eucarc" && echo "$AWS_ACCESS_KEY_ID")"
  ADMIN_SECRET="$(source "$CLC_HOME/eucarc" && echo "$AWS_SECRET_ACCESS_KEY")"
  EUCA_HOME="$CLC_HOME" "$EUCA_BIN" admin create-account other >/dev/null
  local out
  out="$(EUCA_HOME="$CLC_HOME" "$EUCA_BIN" admin create-user bob --account other)"
  BOB_KEY="$(awk -F'\t' '$1 == "ACCESSKEY" { print $2 }' <<<"$out")"
  BOB_SECRET="$(awk -F'\t' '$1 == "ACCESSKEY" { print $3 }' <<<"$out")"
  BOB_ACCOUNT="$(EUCA_HOME="$CLC_HOME" "$EUCA_BIN" admin describe-accounts | awk -F'\t' '$2 == "other" { print $3 }')"
  [[ -n "$BOB_ACCOUNT" ]] || { echo "no account id for other" >&2; return 1; }
}

clc_teardown_file() { stop_clc; }

# The CLC first (it calls the others), then the daemons of start_hierarchy.
hierarchy_teardown_file() {
  stop_clc
  stop_daemons
}

clc_setup() {
  export EUCA_HOME="$CLC_HOME"
  cd "$BATS_TEST_TMPDIR"
}

# in_mode MODE ARGS...: euca ARGS embedded (on EUCA_HOME, as the local admin) or remote
# (EC2_URL = the server, the admin's key from eucarc).
in_mode() {
  local mode="$1"
  shift
  if [[ "$mode" == remote ]]; then
    EC2_URL="$CLC_URL" "$EUCA_BIN" "$@"
  else
    "$EUCA_BIN" "$@"
  fi
}

# as_bob MODE ARGS...: the same as bob@other.
as_bob() {
  local mode="$1"
  shift
  AWS_ACCESS_KEY_ID="$BOB_KEY" AWS_SECRET_ACCESS_KEY="$BOB_SECRET" in_mode "$mode" "$@"
}

need_aws() { [[ -x "$AWS" ]] || skip "the AWS CLI ($AWS) is not installed (apt-get install awscli)"; }
need_boto3() { /usr/bin/python3 -c 'import boto3' 2>/dev/null || skip "python3-boto3 is not installed"; }

# ec2_as KEY SECRET ARGS...: the AWS CLI's ec2 commands against the server with that key.
ec2_as() {
  local key="$1" secret="$2"
  shift 2
  AWS_ACCESS_KEY_ID="$key" AWS_SECRET_ACCESS_KEY="$secret" AWS_DEFAULT_REGION=euca \
    AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_CONFIG_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true AWS_PAGER= \
    "$AWS" --endpoint-url "$CLC_URL" ec2 "$@"
}
ec2_admin() { ec2_as "$ADMIN_KEY" "$ADMIN_SECRET" "$@"; }

# start_hierarchy: the daemons behind the CLC, on CLC_HOME: `euca serve walrus`, one
# `euca serve nc` on libvirt's test:///default driver (in-process in the node controller: no
# libvirt daemon, no real VMs; room for four m1.small) fetching images from that Walrus, and
# `euca serve cc` started without nodes, registered as cluster $HIER_ZONE with the node
# registered in it (`euca admin register-cluster` / `register-node`): the CLC sends the
# cluster its node list. Sets WALRUS_URL NC_URL CC_URL; stop_daemons stops them.
HIER_ZONE=zone-h
start_hierarchy() {
  : >"$BATS_FILE_TMPDIR/pids"
  export WALRUS_URL NC_URL CC_URL
  WALRUS_URL="$(EUCA_HOME="$CLC_HOME" start_daemon walrus "$BATS_FILE_TMPDIR/walrus.log" serve walrus \
    --listen 127.0.0.1:0)"
  [[ -n "$WALRUS_URL" ]] || { cat "$BATS_FILE_TMPDIR/walrus.log" >&2; return 1; }
  NC_URL="$(EUCA_HOME="$CLC_HOME" start_daemon nc "$BATS_FILE_TMPDIR/nc.log" serve nc --listen 127.0.0.1:0 \
    --hypervisor test:///default --walrus-url "$WALRUS_URL" --root "$BATS_FILE_TMPDIR/nc" \
    --max-cores 4 --max-memory 1024 --max-disk 20)"
  [[ -n "$NC_URL" ]] || { cat "$BATS_FILE_TMPDIR/nc.log" >&2; return 1; }
  CC_URL="$(EUCA_HOME="$CLC_HOME" start_daemon cc "$BATS_FILE_TMPDIR/cc.log" serve cc --listen 127.0.0.1:0 \
    --poll-seconds 1)"
  [[ -n "$CC_URL" ]] || { cat "$BATS_FILE_TMPDIR/cc.log" >&2; return 1; }
  EUCA_HOME="$CLC_HOME" "$EUCA_BIN" admin register-cluster "$HIER_ZONE" "$CC_URL" >/dev/null
  EUCA_HOME="$CLC_HOME" "$EUCA_BIN" admin register-node "$HIER_ZONE" "$NC_URL" >/dev/null
}

# cc_call OPERATION JSON: POST /cc/OPERATION to CC_URL signed with the cloud's key (as the CLC
# signs); prints the body. Uses EUCA_HOME's keys and the current folder.
cc_call() {
  printf '%s' "$2" >cc-body.json
  local -a auth
  mapfile -t auth < <(component_headers cloud POST "/cc/$1" "" cc-body.json)
  curl -sS -X POST -H 'Content-Type: application/json' "${auth[@]}" --data-binary @cc-body.json "$CC_URL/cc/$1"
}

# For the files that run instances: one cloud whose embedded zone is fake:// (room for four
# m1.small), `euca serve clc` in front of it, a second account's user bob, and a registered
# image $EMI. Exports ADMIN_KEY ADMIN_SECRET BOB_KEY BOB_SECRET BOB_ACCOUNT EMI and
# EUCA_HOME; leaves the working folder at $BATS_FILE_TMPDIR. Its tests run one at a time.
# With "hierarchy": the zone is instead the cluster of start_hierarchy (`euca serve cc` and
# `euca serve nc` on test:///default behind the CLC, as many processes); teardown_file then
# calls hierarchy_teardown_file.
instances_setup_file() {
  # One cloud (and its daemons) for the whole file: its tests run one at a time.
  export BATS_NO_PARALLELIZE_WITHIN_FILE=true
  clean_env
  export CLC_HOME="$BATS_FILE_TMPDIR/home"
  export CLC_LOG="$BATS_FILE_TMPDIR/clc.log"
  if [[ "${1:-}" == hierarchy ]]; then
    EUCA_HOME="$CLC_HOME" "$EUCA_BIN" admin init --hypervisor test:///default >/dev/null
    start_hierarchy
  else
    EUCA_HOME="$CLC_HOME" "$EUCA_BIN" admin init --hypervisor fake:// >/dev/null
  fi
  start_clc
  export ADMIN_KEY ADMIN_SECRET BOB_KEY BOB_SECRET BOB_ACCOUNT EMI
  ADMIN_KEY="$(source "$CLC_HOME/eucarc" && echo "$AWS_ACCESS_KEY_ID")"
  ADMIN_SECRET="$(source "$CLC_HOME/eucarc" && echo "$AWS_SECRET_ACCESS_KEY")"
  export EUCA_HOME="$CLC_HOME"
  "$EUCA_BIN" admin create-account other >/dev/null
  local out
  out="$("$EUCA_BIN" admin create-user bob --account other)"
  BOB_KEY="$(awk -F'\t' '$1 == "ACCESSKEY" { print $2 }' <<<"$out")"
  BOB_SECRET="$(awk -F'\t' '$1 == "ACCESSKEY" { print $3 }' <<<"$out")"
  BOB_ACCOUNT="$("$EUCA_BIN" admin describe-accounts | awk -F'\t' '$2 == "other" { print $3 }')"
  [[ -n "$BOB_ACCOUNT" ]] || { echo "no account id for other" >&2; return 1; }
  cd "$BATS_FILE_TMPDIR"
  head -c 200000 /dev/urandom >image.img
  mkdir b
  "$EUCA_BIN" bundle-image -i image.img -d b >/dev/null
  "$EUCA_BIN" upload-bundle -b images -m b/image.img.manifest.xml >/dev/null
  EMI="$("$EUCA_BIN" register images/image.img.manifest.xml -n guest | cut -f2)"
}

# Teardown of those files: terminates what runs, then waits until the cluster's next poll
# frees the zone's room again (four m1.small).
empty_the_zone() {
  local ids
  ids="$(EC2_URL="$CLC_URL" "$EUCA_BIN" describe-instances verbose |
    awk -F'\t' '$1 == "INSTANCE" && $6 != "terminated" { print $2 }')"
  [[ -z "$ids" ]] || EC2_URL="$CLC_URL" "$EUCA_BIN" terminate-instances $ids >/dev/null
  local i freed=""
  for i in $(seq 300); do
    if EC2_URL="$CLC_URL" "$EUCA_BIN" describe-availability-zones verbose |
      grep -q $'\t|- m1.small\t0004 / 0004'; then
      freed=yes
      break
    fi
    sleep 0.1
  done
  [[ -n "$freed" ]] || { echo "the zone did not free its room" >&2; return 1; }
  # And every record has settled (terminated): the server's periodic reconcile then has
  # nothing left to write, so the next test's "changes nothing" checks see only its own doing.
  for i in $(seq 300); do
    EC2_URL="$CLC_URL" "$EUCA_BIN" describe-instances verbose |
      awk -F'\t' '$1 == "INSTANCE" && $6 != "terminated" { found = 1 } END { exit !found }' || return 0
    sleep 0.1
  done
  echo "the instances did not settle" >&2
  return 1
}

# Called by expect_failure before its "changes nothing" check: waits (up to 10 s; the server
# reconciles on describe) until no instance is pending or shutting down, so the server's own
# pending -> running or shutting-down -> terminated write cannot land inside the check. Does
# nothing when no server runs.
settle_state() {
  [[ -n "${CLC_URL:-}" ]] || return 0
  local i
  for i in $(seq 100); do
    EC2_URL="$CLC_URL" "$EUCA_BIN" describe-instances verbose 2>/dev/null |
      awk -F'\t' '$1 == "INSTANCE" && ($6 == "pending" || $6 == "shutting-down") { found = 1 }
                  END { exit !found }' || return 0
    sleep 0.1
  done
}
