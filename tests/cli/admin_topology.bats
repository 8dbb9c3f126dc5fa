#!/usr/bin/env bats
# Clusters and nodes: admin register-cluster, deregister-cluster, describe-clusters,
# register-node, deregister-node, describe-nodes (and the euca2ools names
# euca-register-cluster, euca-deregister-cluster, euca-describe-clusters, euca-describe-nodes).
# describe-nodes polls a real `euca serve nc` on libvirt's test:///default driver.

load helpers

setup_file() {
  # One cloud (and its daemons) for the whole file: its tests run one at a time.
  export BATS_NO_PARALLELIZE_WITHIN_FILE=true
  make_template_cloud
  export NC_HOME="$BATS_FILE_TMPDIR/nc-home"
  EUCA_HOME="$NC_HOME" "$EUCA_BIN" admin init --hypervisor test:///default >/dev/null
  export NC_LOG="$BATS_FILE_TMPDIR/nc.log"
  EUCA_HOME="$NC_HOME" "$EUCA_BIN" serve nc --listen 127.0.0.1:0 --max-cores 3 --max-memory 2048 --max-disk 5 \
    >"$NC_LOG" 2>&1 3>&- &
  export NC_PID=$!
  local i
  for i in $(seq 150); do
    grep -q '^nc listening on http://' "$NC_LOG" && break
    sleep 0.1
  done
  export NC_URL
  NC_URL="$(sed -n 's/^nc listening on \(http:\/\/.*\)$/\1/p' "$NC_LOG")"
  [[ -n "$NC_URL" ]] || { cat "$NC_LOG" >&2; return 1; }
}

teardown_file() {
  if [[ -n "${NC_PID:-}" ]]; then
    kill -TERM "$NC_PID" 2>/dev/null || true
    wait "$NC_PID" 2>/dev/null || true
  fi
}

setup() {
  fresh_home
  use_cloud
}

# The node's keys are those of its own cloud: give this cloud the same CA and CC key, as an
# administrator copies them to a node's home.
share_keys() {
  cp "$NC_HOME"/keys/* "$EUCA_HOME/keys/"
}

@test "admin register-cluster registers zones in order; describe-clusters lists them" {
  run euca admin register-cluster zone-a
  assert_success
  assert_output "$(printf 'CLUSTER\tzone-a\t')"
  run euca admin register-cluster zone-b http://127.0.0.1:9/
  assert_output "$(printf 'CLUSTER\tzone-b\thttp://127.0.0.1:9')"
  run euca admin describe-clusters
  assert_success
  assert_line --index 0 "$(printf 'CLUSTER\tzone-a\t\t0\tup')"
  assert_line --index 1 "$(printf 'CLUSTER\tzone-b\thttp://127.0.0.1:9\t0\tdown')"
  assert_equal "${#lines[@]}" 2
  run euca admin describe-clusters --output json
  assert_equal "$(json_field 1 url <<<"$output")" http://127.0.0.1:9
  run euca admin history
  assert_line --index 0 --partial "admin@eucalyptus	RegisterCluster zone-b"
}

@test "admin register-cluster refuses bad names and URLs, and a second registration" {
  expect_failure 2 "cluster name 'zone a' is not valid" admin register-cluster "zone a"
  expect_failure 2 "cluster controller URL 'cc:8774' is not valid: use http://HOST:PORT" \
    admin register-cluster zone-a cc:8774
  euca admin register-cluster zone-a
  expect_failure 4 "cluster 'zone-a' is already registered" admin register-cluster zone-a http://cc:8774
  expect_failure 2 "" admin register-cluster
  local name
  for name in any single spread; do
    expect_failure 2 "cluster name '$name' is reserved: RunInstances reads it as a placement rule" \
      admin register-cluster "$name" http://cc:8774
  done
  expect_failure 2 "cluster name 'verbose' is reserved: describe-availability-zones reads it" \
    admin register-cluster verbose
}

@test "admin register-node and deregister-node; a cluster with nodes cannot be deregistered" {
  euca admin register-cluster zone-a
  euca admin register-cluster zone-b
  run euca admin register-node zone-a http://127.0.0.1:9
  assert_success
  assert_output --regexp "^NODE	zone-a	http://127.0.0.1:9	node-[0-9a-f]{16}$"
  expect_failure 4 "node 'http://127.0.0.1:9' is already registered in cluster 'zone-a'" \
    admin register-node zone-b http://127.0.0.1:9/
  expect_failure 3 "no cluster 'zone-c'" admin register-node zone-c http://127.0.0.1:9
  expect_failure 2 "node controller URL 'nc:8775' is not valid" admin register-node zone-a nc:8775
  expect_failure 5 "cluster 'zone-a' still has 1 node; deregister them first with 'euca admin deregister-node zone-a URL'" \
    admin deregister-cluster zone-a
  expect_failure 3 "node 'http://127.0.0.1:8' is not registered in cluster 'zone-a'" \
    admin deregister-node zone-a http://127.0.0.1:8
  run euca admin deregister-node zone-a http://127.0.0.1:9
  assert_success
  assert_output ""
  run euca admin deregister-cluster zone-a
  assert_success
  assert_output ""
  run euca admin describe-clusters
  assert_output "$(printf 'CLUSTER\tzone-b\t\t0\tup')"
  expect_failure 3 "no cluster 'zone-a'" admin deregister-cluster zone-a
}

@test "admin describe-nodes polls the nodes: state, free and max capacity, instances" {
  share_keys
  euca admin register-cluster zone-a
  euca admin register-node zone-a "$NC_URL"
  euca admin register-node zone-a http://127.0.0.1:9
  run euca admin describe-nodes
  assert_success
  assert_line --index 0 "$(printf 'NODE\tzone-a\t%s\tup\t3\t3\t2048\t2048\t5\t5\t0\t' "$NC_URL")"
  assert_line --index 1 --regexp "^NODE	zone-a	http://127.0.0.1:9	down	0	0	0	0	0	0	0	.*127\.0\.0\.1:9"
  assert_equal "${#lines[@]}" 2
  run euca admin describe-nodes zone-a --output json
  assert_equal "$(json_field 0 state <<<"$output")" up
  assert_equal "$(json_field 0 cores_max <<<"$output")" 3
  expect_failure 3 "no cluster 'zone-x'" admin describe-nodes zone-x
}

@test "admin describe-nodes: a node that does not trust the caller is down with the reason" {
  # This cloud's CC key was not issued by the node's CA.
  euca admin register-cluster zone-a
  euca admin register-node zone-a "$NC_URL"
  run euca admin describe-nodes
  assert_success
  assert_output --regexp "^NODE	zone-a	$NC_URL	down	0	0	0	0	0	0	0	.*"
}

@test "admin describe-nodes prints nothing while no cluster is registered" {
  run euca admin describe-nodes
  assert_success
  assert_output ""
  run euca admin describe-clusters
  assert_success
  assert_output ""
}

@test "only cloud administrators may register clusters and nodes" {
  local creds
  creds="$(euca admin create-account acme >/dev/null && euca admin create-user -a acme bob)"
  export EC2_ACCESS_KEY EC2_SECRET_KEY
  EC2_ACCESS_KEY="$(awk -F'\t' '$1 == "ACCESSKEY" { print $2 }' <<<"$creds")"
  EC2_SECRET_KEY="$(awk -F'\t' '$1 == "ACCESSKEY" { print $3 }' <<<"$creds")"
  expect_failure 6 "'bob@acme' is not a cloud administrator" admin register-cluster zone-a
  expect_failure 6 "'bob@acme' is not a cloud administrator" admin describe-nodes
  unset EC2_ACCESS_KEY EC2_SECRET_KEY
  euca admin register-cluster zone-a
  EC2_ACCESS_KEY="$(awk -F'\t' '$1 == "ACCESSKEY" { print $2 }' <<<"$creds")" \
    EC2_SECRET_KEY="$(awk -F'\t' '$1 == "ACCESSKEY" { print $3 }' <<<"$creds")" \
    expect_failure 6 "'bob@acme' is not a cloud administrator" admin register-node zone-a http://127.0.0.1:9
}

@test "the euca2ools names work" {
  local bin="$BATS_TEST_TMPDIR/bin"
  mkdir "$bin"
  euca __symlinks "$bin"
  run "$bin/euca-register-cluster" zone-a
  assert_success
  run "$bin/euca-describe-clusters"
  assert_output "$(printf 'CLUSTER\tzone-a\t\t0\tup')"
  run "$bin/euca-describe-nodes"
  assert_success
  run "$bin/euca-deregister-cluster" zone-a
  assert_success
}
