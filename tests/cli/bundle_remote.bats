#!/usr/bin/env bats
# upload-bundle, download-bundle and delete-bundle against `euca serve walrus` over S3 REST
# (S3_URL or -U set): the round trip with bundle-image and unbundle, resuming, integrity,
# deletion, credentials and errors. One cloud and one server per file; the commands under
# test run with an EUCA_HOME of their own that holds no cloud, so only the wire connects them.

load helpers
load walrus_helpers

setup_file() {
  walrus_setup_file

  # A 3 MB incompressible image in three parts, bundled once for the file.
  export IMG="$BATS_FILE_TMPDIR/img"
  head -c 3000000 /dev/urandom >"$IMG"
  export BUNDLE="$BATS_FILE_TMPDIR/bundle"
  mkdir "$BUNDLE"
  EUCA_HOME="$WALRUS_HOME" "$EUCA_BIN" bundle-image -i "$IMG" -d "$BUNDLE" --part-size 1048576 >/dev/null
  [[ -f "$BUNDLE/img.manifest.xml" && -f "$BUNDLE/img.part.02" ]]
}

teardown_file() { walrus_teardown_file; }

setup() {
  fresh_home
  mkdir "$EUCA_HOME"
  cd "$BATS_TEST_TMPDIR"
  cp -r "$BUNDLE" b
  MANIFEST="$BATS_TEST_TMPDIR/b/img.manifest.xml"
  export S3_URL="$WALRUS_URL/services/objectstorage"
  export AWS_ACCESS_KEY_ID="$ADMIN_KEY" AWS_SECRET_ACCESS_KEY="$ADMIN_SECRET"
  # Each test its own bucket: the server is shared by the file.
  BUCKET="b$BATS_TEST_NUMBER-$RANDOM"
}

# unbundle_with_server_key MANIFEST DIR: unpacks with the administrator's key of the server's home.
unbundle_with_server_key() { EUCA_HOME="$WALRUS_HOME" "$EUCA_BIN" unbundle -m "$1" -d "$2"; }

@test "bundle, upload over S3, download and unbundle give back the same bytes" {
  run --separate-stderr euca upload-bundle -b "$BUCKET/web" -m "$MANIFEST" --debug
  assert_success
  assert_output "Uploaded $BUCKET/web/img.manifest.xml"
  [[ "$stderr" == *"S3 endpoint '$S3_URL'"* ]] || fail "not remote: $stderr"
  assert_equal "$(uploaded_parts "$stderr")" "$BUCKET/web/img.part.00 $BUCKET/web/img.part.01 $BUCKET/web/img.part.02"
  # Stored in the server's object store, not in this home.
  [[ ! -e "$EUCA_HOME/walrus" ]]

  mkdir down
  run --separate-stderr euca download-bundle -b "$BUCKET/web" -p img -d down
  assert_success
  assert_output "Wrote manifest down/img.manifest.xml"
  for f in img.manifest.xml img.part.00 img.part.01 img.part.02; do
    cmp "b/$f" "down/$f"
  done
  mkdir image
  run unbundle_with_server_key down/img.manifest.xml image
  assert_success
  cmp "$IMG" image/img

  euca download-bundle -b "$BUCKET/web" -m img.manifest.xml -d - >stream
  cat b/img.part.0{0,1,2} | cmp - stream
}

@test "-U names the endpoint instead of S3_URL, with or without a Eucalyptus path" {
  unset S3_URL
  run euca upload-bundle -U "$WALRUS_URL/services/Walrus" -b "$BUCKET" -m "$MANIFEST"
  assert_success
  assert_output "Uploaded $BUCKET/img.manifest.xml"
  run euca download-bundle --url "$WALRUS_URL" -b "$BUCKET" -p img -d -
  assert_success
  # Nothing went to the embedded store of this home.
  run euca download-bundle -b "$BUCKET" -p img -d -
  assert_failure 3
  assert_output --partial "no cloud in"
}

@test "a progress bar is drawn over the bytes when forced, and not with --quiet" {
  run --separate-stderr env EUCA_FORCE_PROGRESS=1 "$EUCA_BIN" upload-bundle -b "$BUCKET" -m "$MANIFEST"
  assert_success
  [[ "$stderr" == *"100% ["*"]"* ]] || fail "no progress bar: $stderr"
  mkdir down
  run --separate-stderr env EUCA_FORCE_PROGRESS=1 "$EUCA_BIN" download-bundle -b "$BUCKET" -p img -d down --quiet
  assert_success
  assert_equal "$stderr" ""
}

@test "after one stored part is deleted, uploading again sends only that part" {
  euca upload-bundle -b "$BUCKET" -m "$MANIFEST" >/dev/null
  run --separate-stderr euca upload-bundle -b "$BUCKET" -m "$MANIFEST" --debug
  assert_success
  assert_equal "$(uploaded_parts "$stderr")" ""
  assert_equal "$(skipped_parts "$stderr")" "$BUCKET/img.part.00 $BUCKET/img.part.01 $BUCKET/img.part.02"

  # Delete img.part.01 alone: a manifest naming only that part, given to delete-bundle.
  mkdir one
  middle_part_manifest "$MANIFEST" one/one.manifest.xml
  run euca delete-bundle -b "$BUCKET" --local-manifest one/one.manifest.xml
  assert_success
  run euca download-bundle -b "$BUCKET" -p img -d -
  assert_failure 3
  assert_output --partial "img.part.01"

  run --separate-stderr euca upload-bundle -b "$BUCKET" -m "$MANIFEST" --debug
  assert_success
  assert_equal "$(uploaded_parts "$stderr")" "$BUCKET/img.part.01"
  assert_equal "$(skipped_parts "$stderr")" "$BUCKET/img.part.00 $BUCKET/img.part.02"
  euca download-bundle -b "$BUCKET" -p img -d - >stream
  cat b/img.part.0{0,1,2} | cmp - stream
}

@test "download-bundle of a tampered stored part fails naming the part and both digests; nothing is left" {
  euca upload-bundle -b "$BUCKET" -m "$MANIFEST" >/dev/null
  cp -r b t
  flip_byte t/img.part.01 4242
  run --separate-stderr euca upload-bundle -b "$BUCKET" -m t/img.manifest.xml --skipmanifest --debug
  assert_success
  assert_output ''
  assert_equal "$(uploaded_parts "$stderr")" "$BUCKET/img.part.01"

  local want got
  want="$(sha1sum <b/img.part.01 | cut -d' ' -f1)"
  got="$(sha1sum <t/img.part.01 | cut -d' ' -f1)"
  mkdir down
  run --separate-stderr euca download-bundle -b "$BUCKET" -p img -d down
  assert_failure 2
  assert_output ''
  [[ "$stderr" == *"part 'img.part.01'"*"$want"*"$got"* ]] || fail "stderr: $stderr"
  assert_equal "$(ls -A down)" ""
}

@test "delete-bundle removes parts and manifest; --clear removes the bucket unless it holds more" {
  euca upload-bundle -b "$BUCKET/x" -m "$MANIFEST" >/dev/null
  euca upload-bundle -b "$BUCKET/y" -m "$MANIFEST" >/dev/null
  run --separate-stderr euca delete-bundle -b "$BUCKET/x" -p img --clear
  assert_success
  [[ "$stderr" == *"bucket '$BUCKET' still holds other objects; not deleted"* ]] || fail "stderr: $stderr"
  run euca download-bundle -b "$BUCKET/x" -p img -d -
  assert_failure 3
  assert_output --partial "no object 'x/img.manifest.xml'"

  run --separate-stderr euca delete-bundle -b "$BUCKET/y" -m img.manifest.xml --clear
  assert_success
  assert_equal "$stderr" ""
  run euca download-bundle -b "$BUCKET/y" -p img -d -
  assert_failure 3
  assert_output --partial "bucket '$BUCKET' does not exist"
}

@test "the access key comes from -I/-S, else the environment, else the eucarc of EUCA_HOME" {
  unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
  run euca upload-bundle -b "$BUCKET" -m "$MANIFEST" -I "$ADMIN_KEY" -S "$ADMIN_SECRET"
  assert_success
  EC2_ACCESS_KEY="$ADMIN_KEY" EC2_SECRET_KEY="$ADMIN_SECRET" euca download-bundle -b "$BUCKET" -p img -d - >/dev/null
  # 1.x letters.
  euca download-bundle -b "$BUCKET" -p img -d - -a "$ADMIN_KEY" -s "$ADMIN_SECRET" >/dev/null
  run --separate-stderr env EUCA_HOME="$WALRUS_HOME" "$EUCA_BIN" download-bundle -b "$BUCKET" -p img -d - --debug
  assert_success
  [[ "$stderr" == *"(from '$WALRUS_HOME/eucarc')"* ]] || fail "stderr: $stderr"
  # No key at all: anonymous, which the private bundle refuses.
  expect_failure 6 "access denied" download-bundle -b "$BUCKET" -p img -d -
  expect_failure 2 "together" download-bundle -b "$BUCKET" -p img -I "$ADMIN_KEY"
}

@test "errors: a wrong secret, an unknown key, no server, no such bucket, another account" {
  AWS_SECRET_ACCESS_KEY=wrong expect_failure 7 "signature does not match" upload-bundle -b "$BUCKET" -m "$MANIFEST"
  AWS_ACCESS_KEY_ID=AKIANOSUCHKEY expect_failure 7 "access key 'AKIANOSUCHKEY' does not exist" \
    upload-bundle -b "$BUCKET" -m "$MANIFEST"
  # A port nobody listens on (binding port 1 needs root, and nothing here does).
  S3_URL=http://127.0.0.1:1/ expect_failure 10 "cannot connect" upload-bundle -b "$BUCKET" -m "$MANIFEST"
  S3_URL=http://127.0.0.1:1/ expect_failure 10 "cannot connect" download-bundle -b "$BUCKET" -p img
  expect_failure 3 "bucket 'nosuchbucket' does not exist" download-bundle -b nosuchbucket -p img
  expect_failure 3 "bucket 'nosuchbucket' does not exist" delete-bundle -b nosuchbucket -p img
  expect_failure 2 "invalid bucket name 'No_Such'" upload-bundle -b No_Such -m "$MANIFEST"
  S3_URL=walrus:8773 expect_failure 2 "S3 endpoint 'walrus:8773'" download-bundle -b x -p img

  euca upload-bundle -b "$BUCKET" -m "$MANIFEST" >/dev/null
  EUCA_HOME="$WALRUS_HOME" "$EUCA_BIN" admin create-account "other$BATS_TEST_NUMBER" >/dev/null
  EUCA_HOME="$WALRUS_HOME" create_user bob "other$BATS_TEST_NUMBER"
  mkdir down
  run env AWS_ACCESS_KEY_ID="$KEY_ID" AWS_SECRET_ACCESS_KEY="$SECRET" "$EUCA_BIN" download-bundle -b "$BUCKET" -p img -d down
  assert_failure 6
  assert_equal "$(ls -A down)" ""
  run env AWS_ACCESS_KEY_ID="$KEY_ID" AWS_SECRET_ACCESS_KEY="$SECRET" "$EUCA_BIN" delete-bundle -b "$BUCKET" -p img
  assert_failure 6
  euca download-bundle -b "$BUCKET" -p img -d - | cmp - <(cat b/img.part.0{0,1,2})
}

@test "--acl public-read lets another account download" {
  euca upload-bundle -b "$BUCKET" -m "$MANIFEST" --acl public-read >/dev/null
  EUCA_HOME="$WALRUS_HOME" "$EUCA_BIN" admin create-account "reader$BATS_TEST_NUMBER" >/dev/null
  EUCA_HOME="$WALRUS_HOME" create_user carol "reader$BATS_TEST_NUMBER"
  # The parts and the manifest are public; listing the bucket is not, and is not needed.
  AWS_ACCESS_KEY_ID="$KEY_ID" AWS_SECRET_ACCESS_KEY="$SECRET" euca download-bundle -b "$BUCKET" -p img -d - \
    | cmp - <(cat b/img.part.0{0,1,2})
}

# The default --acl aws-exec-read used to be rewritten to private here, and the server refused
# the real value; now it is sent, and grants the cloud's account (eucalyptus) read.
@test "the default --acl aws-exec-read lets the cloud's account read another account's bundle" {
  need_aws
  EUCA_HOME="$WALRUS_HOME" "$EUCA_BIN" admin create-account "uploader$BATS_TEST_NUMBER" >/dev/null
  EUCA_HOME="$WALRUS_HOME" create_user dave "uploader$BATS_TEST_NUMBER"
  local dave_key="$KEY_ID" dave_secret="$SECRET" admin_id
  AWS_ACCESS_KEY_ID="$dave_key" AWS_SECRET_ACCESS_KEY="$dave_secret" euca upload-bundle -b "$BUCKET" -m "$MANIFEST" \
    >/dev/null
  admin_id="$(aws_admin s3api list-buckets --query Owner.ID --output text)"
  run aws_as "$dave_key" "$dave_secret" s3api get-object-acl --bucket "$BUCKET" --key img.part.01 \
    --query 'Grants[1].[Grantee.ID,Grantee.DisplayName,Permission]' --output text
  assert_output "$(printf '%s\teucalyptus\tREAD' "$admin_id")"
  # The administrator reads the bundle (parts and manifest); a third account does not.
  euca download-bundle -b "$BUCKET" -p img -d - | cmp - <(cat b/img.part.0{0,1,2})
  EUCA_HOME="$WALRUS_HOME" "$EUCA_BIN" admin create-account "third$BATS_TEST_NUMBER" >/dev/null
  EUCA_HOME="$WALRUS_HOME" create_user erin "third$BATS_TEST_NUMBER"
  AWS_ACCESS_KEY_ID="$KEY_ID" AWS_SECRET_ACCESS_KEY="$SECRET" expect_failure 6 "access denied" \
    download-bundle -b "$BUCKET" -p img -d -
  # ec2-bundle-read grants the same.
  AWS_ACCESS_KEY_ID="$dave_key" AWS_SECRET_ACCESS_KEY="$dave_secret" \
    euca upload-bundle -b "$BUCKET/again" -m "$MANIFEST" --acl ec2-bundle-read >/dev/null
  euca download-bundle -b "$BUCKET/again" -p img -d - | cmp - <(cat b/img.part.0{0,1,2})
}
