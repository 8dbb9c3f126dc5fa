#!/usr/bin/env bats
# euca serve walrus against the real clients: the AWS CLI (v2) and s3cmd, on loopback.
# One cloud and one server per file; each test uses buckets of its own.

load helpers
load walrus_helpers

setup_file() { walrus_setup_file; }
teardown_file() { walrus_teardown_file; }
setup() { walrus_setup; }

# s3cmd_cfg V2: writes an .s3cfg for the admin key (signature_v2 = V2) and prints its path.
s3cmd_cfg() {
  local cfg="$BATS_TEST_TMPDIR/s3cfg-$1"
  cat >"$cfg" <<EOF
[default]
access_key = $ADMIN_KEY
secret_key = $ADMIN_SECRET
host_base = $WALRUS_HOSTPORT
host_bucket = $WALRUS_HOSTPORT
use_https = False
signature_v2 = $1
bucket_location = US
check_ssl_certificate = False
EOF
  echo "$cfg"
}

@test "serve walrus prints its address and answers anonymous requests with S3 XML" {
  [[ "$WALRUS_URL" =~ ^http://127\.0\.0\.1:[0-9]+$ ]]
  run curl -s "$WALRUS_URL/"
  assert_success
  assert_output --partial '<Code>AccessDenied</Code>'
  run curl -s -X PATCH "$WALRUS_URL/b/k"
  assert_output --partial '<Code>MethodNotAllowed</Code>'
}

@test "aws s3: mb, cp up and down (multipart), ls, rm, rb" {
  need_aws
  head -c $((9 * 1024 * 1024 + 123)) /dev/urandom >big.bin
  echo "small file" >small.txt
  run aws_admin s3 mb s3://cli-bucket
  assert_success
  run aws_admin s3 cp big.bin s3://cli-bucket/dir/big.bin
  assert_success
  run aws_admin s3 cp small.txt s3://cli-bucket/small.txt
  assert_success
  run aws_admin s3 ls s3://cli-bucket/ --recursive
  assert_success
  assert_output --partial 'dir/big.bin'
  assert_output --partial 'small.txt'
  run aws_admin s3 ls
  assert_output --partial 'cli-bucket'
  run aws_admin s3 cp s3://cli-bucket/dir/big.bin down.bin
  assert_success
  cmp big.bin down.bin
  # The multipart upload gave an ETag "…-N".
  run aws_admin s3api head-object --bucket cli-bucket --key dir/big.bin
  assert_output --regexp '"ETag": "\\"[0-9a-f]{32}-2\\""'
  run aws_admin s3 rb s3://cli-bucket
  assert_failure
  assert_output --partial 'BucketNotEmpty'
  run aws_admin s3 rm s3://cli-bucket/small.txt
  assert_success
  run aws_admin s3 rm s3://cli-bucket --recursive
  assert_success
  run aws_admin s3 rb s3://cli-bucket
  assert_success
  run aws_admin s3 ls
  refute_output --partial 'cli-bucket'
}

@test "aws s3api: create-bucket, put-object, head-object, list-objects-v2, delete-objects" {
  need_aws
  echo "api body" >body.txt
  run aws_admin s3api create-bucket --bucket api-bucket --create-bucket-configuration LocationConstraint=euca
  assert_success
  run aws_admin s3api put-object --bucket api-bucket --key 'a b/ü.txt' --body body.txt \
    --content-type text/plain --metadata color=blue
  assert_success
  assert_output --partial "\"$(md5sum <body.txt | cut -c1-32)"
  run aws_admin s3api head-object --bucket api-bucket --key 'a b/ü.txt'
  assert_success
  assert_output --partial '"ContentType": "text/plain"'
  assert_output --partial '"color": "blue"'
  run aws_admin s3api list-objects-v2 --bucket api-bucket --prefix 'a b/'
  assert_success
  assert_output --partial '"Key": "a b/ü.txt"'
  run aws_admin s3api get-bucket-location --bucket api-bucket
  assert_output --partial 'euca'
  run aws_admin s3api head-object --bucket api-bucket --key nosuch
  assert_failure
  assert_output --partial '404'
  run aws_admin s3api delete-objects --bucket api-bucket --delete 'Objects=[{Key=a b/ü.txt}]'
  assert_success
  run aws_admin s3api delete-bucket --bucket api-bucket
  assert_success
}

@test "aws s3 presign: the URL works with curl, and not once tampered with" {
  need_aws
  echo "presigned content" >p.txt
  aws_admin s3 mb s3://presign-bucket
  aws_admin s3 cp p.txt s3://presign-bucket/p.txt
  url="$(aws_admin s3 presign s3://presign-bucket/p.txt --expires-in 300)"
  run curl -sf "$url"
  assert_success
  assert_output 'presigned content'
  run curl -s "${url/p.txt/q.txt}"
  assert_output --partial 'SignatureDoesNotMatch'
  run curl -s "$WALRUS_URL/presign-bucket/p.txt"
  assert_output --partial 'AccessDenied'
}

@test "s3cmd with SigV2 and SigV4: mb, put, get, ls, del, rb" {
  need_s3cmd
  head -c 300000 /dev/urandom >s3cmd.bin
  for v2 in True False; do
    cfg="$(s3cmd_cfg $v2)"
    b="s3cmd-$(tr '[:upper:]' '[:lower:]' <<<"$v2")"
    run "$S3CMD" -c "$cfg" mb "s3://$b"
    assert_success
    run "$S3CMD" -c "$cfg" put s3cmd.bin "s3://$b/x/s3cmd.bin"
    assert_success
    run "$S3CMD" -c "$cfg" ls "s3://$b/x/"
    assert_success
    assert_output --partial "s3://$b/x/s3cmd.bin"
    run "$S3CMD" -c "$cfg" ls
    assert_output --partial "s3://$b"
    rm -f got.bin
    run "$S3CMD" -c "$cfg" get "s3://$b/x/s3cmd.bin" got.bin
    assert_success
    cmp s3cmd.bin got.bin
    run "$S3CMD" -c "$cfg" del "s3://$b/x/s3cmd.bin"
    assert_success
    run "$S3CMD" -c "$cfg" rb "s3://$b"
    assert_success
  done
}

@test "a disabled user is refused" {
  need_aws
  create_user walrus-off
  run aws_as "$KEY_ID" "$SECRET" s3 ls
  assert_success
  euca admin disable-user walrus-off >/dev/null
  run aws_as "$KEY_ID" "$SECRET" s3 ls
  assert_failure
  assert_output --partial 'InvalidAccessKeyId'
}

@test "another account's user is refused until a public-read ACL allows it" {
  need_aws
  euca admin create-account walrus-other >/dev/null
  create_user bob walrus-other
  echo "shared" >shared.txt
  aws_admin s3 mb s3://acl-bucket
  aws_admin s3 cp shared.txt s3://acl-bucket/shared.txt
  run aws_as "$KEY_ID" "$SECRET" s3 cp s3://acl-bucket/shared.txt -
  assert_failure
  assert_output --partial 'Forbidden'
  run aws_as "$KEY_ID" "$SECRET" s3api get-object --bucket acl-bucket --key shared.txt out.txt
  assert_failure
  assert_output --partial 'AccessDenied'
  run aws_admin s3api put-object-acl --bucket acl-bucket --key shared.txt --acl public-read
  assert_success
  run aws_admin s3api get-object-acl --bucket acl-bucket --key shared.txt
  assert_output --partial 'AllUsers'
  run aws_as "$KEY_ID" "$SECRET" s3 cp s3://acl-bucket/shared.txt -
  assert_success
  assert_output 'shared'
  # Still not theirs to write.
  run aws_as "$KEY_ID" "$SECRET" s3 cp shared.txt s3://acl-bucket/theirs.txt
  assert_failure
}

@test "boto3: objects, listing, multipart, presigned SigV4 and SigV2, error codes" {
  /usr/bin/python3 -c 'import boto3' 2>/dev/null || skip "python3-boto3 is not installed"
  run /usr/bin/python3 "$REPO_ROOT/tests/walrus/boto3_client.py" "$WALRUS_URL" "$ADMIN_KEY" "$ADMIN_SECRET" boto-bucket
  assert_success
  assert_line "ok: presigned GET with s3"
  assert_line "ok: multipart upload ETag ends in -3"
  refute_output --partial FAILED
}

# botocore signs a bucket-level request as "/b/" while it sends "/b", and leaves the endpoint's
# /services/objectstorage out of what it signs: every such call was SignatureDoesNotMatch. Run
# with each python3 that has boto3 (Debian's botocore doubles sub-resources, see the script).
@test "boto3 SigV2 (signature_version s3): bucket-level calls, plain and below /services/objectstorage" {
  local py ep ran=0 n=0
  for py in /usr/bin/python3 "$(command -v python3)"; do
    [[ -x "$py" ]] && "$py" -c 'import boto3' 2>/dev/null || continue
    ran=1
    for ep in "$WALRUS_URL" "$WALRUS_URL/services/objectstorage"; do
      n=$((n + 1))
      run "$py" "$REPO_ROOT/tests/walrus/boto3_sigv2.py" "$ep" "$ADMIN_KEY" "$ADMIN_SECRET" "sigv2-$n"
      assert_success
      for call in create_bucket head_bucket put_object list_objects delete_bucket list_buckets; do
        assert_line "ok: $call"
      done
      for call in get_bucket_acl delete_objects; do
        assert_line --regexp "^(ok: $call|skipped: $call .*boto/botocore#2962.*)$"
      done
    done
  done
  ((ran)) || skip "python3-boto3 is not installed"
}

@test "aws s3 sync and mv move a folder tree" {
  need_aws
  mkdir -p src/a/b
  echo one >src/a/1.txt
  echo two >src/a/b/2.txt
  run aws_admin s3 mb s3://sync-bucket
  assert_success
  run aws_admin s3 sync src s3://sync-bucket/tree
  assert_success
  run aws_admin s3 ls --recursive s3://sync-bucket/tree/
  assert_success
  assert_output --partial "tree/a/1.txt"
  assert_output --partial "tree/a/b/2.txt"
  run aws_admin s3 mv s3://sync-bucket/tree/a/1.txt s3://sync-bucket/moved.txt
  assert_success
  run aws_admin s3 cp s3://sync-bucket/moved.txt got.txt
  assert_success
  assert_equal "$(cat got.txt)" one
  run aws_admin s3api head-object --bucket sync-bucket --key tree/a/1.txt
  assert_failure
  run aws_admin s3 sync s3://sync-bucket/tree back
  assert_success
  assert_equal "$(cat back/a/b/2.txt)" two
  run aws_admin s3 rb --force s3://sync-bucket
  assert_success
}
