#!/usr/bin/env bats
# Bundles in the embedded object store: upload-bundle, download-bundle, delete-bundle
# (euca-upload-bundle, euca-download-bundle, euca-delete-bundle): the round trip with
# bundle-image and unbundle, resuming, integrity, deletion, bad input and access.

load helpers

setup_file() {
  make_template_cloud
  # A 3 MB incompressible image: --part-size 1048576 gives three parts.
  export IMG="$BATS_FILE_TMPDIR/img"
  head -c 3000000 /dev/urandom >"$IMG"
}

setup() {
  fresh_home
  use_cloud
  cd "$BATS_TEST_TMPDIR"
  export TMPDIR="$BATS_TEST_TMPDIR/tmp"
  mkdir "$TMPDIR"
  mkdir b
  euca bundle-image -i "$IMG" -d b --part-size 1048576 >/dev/null
  MANIFEST="$BATS_TEST_TMPDIR/b/img.manifest.xml"
  [[ -f "$MANIFEST" && -f b/img.part.02 ]]
}

# --- round trip --------------------------------------------------------------------------

@test "bundle, upload, download and unbundle give back the same bytes" {
  run --separate-stderr euca upload-bundle -b images/web -m "$MANIFEST"
  assert_success
  assert_output "Uploaded images/web/img.manifest.xml"
  assert_equal "$stderr" ""

  mkdir down
  run --separate-stderr euca download-bundle -b images/web -p img -d down
  assert_success
  assert_output "Wrote manifest down/img.manifest.xml"
  assert_equal "$(ls down)" "$(printf 'img.manifest.xml\nimg.part.00\nimg.part.01\nimg.part.02')"
  for f in img.manifest.xml img.part.00 img.part.01 img.part.02; do
    cmp "b/$f" "down/$f"
  done

  mkdir image
  run euca unbundle -m down/img.manifest.xml -d image
  assert_success
  cmp "$IMG" image/img
}

@test "download-bundle -m names the manifest object; -d - streams the parts to stdout" {
  euca upload-bundle -b images -m "$MANIFEST" >/dev/null
  euca download-bundle -b images -m img.manifest.xml -d - >stream
  cat b/img.part.00 b/img.part.01 b/img.part.02 | cmp - stream
  # The prefix may be given with a trailing slash.
  euca upload-bundle -b images/a/b/ -m "$MANIFEST" >/dev/null
  euca download-bundle -b images/a/b -p img -d - | cmp - stream
}

@test "upload-bundle reads the parts from -d and accepts euca2ools' --acl choices" {
  mkdir m
  mv b/img.manifest.xml m/
  run euca upload-bundle -b images -m m/img.manifest.xml --acl public-read
  assert_failure 3
  assert_output --partial "part 'img.part.00'"
  run euca upload-bundle -b images -m m/img.manifest.xml -d b --acl ec2-bundle-read --location somewhere
  assert_success
  assert_output "Uploaded images/img.manifest.xml"
  run euca upload-bundle -b images -m m/img.manifest.xml -d b --acl bogus-read
  assert_failure 2
  assert_output --partial "bogus-read"
}

@test "a progress bar is drawn over the bytes when forced, and not with --quiet" {
  run --separate-stderr env EUCA_FORCE_PROGRESS=1 "$EUCA_BIN" upload-bundle -b images -m "$MANIFEST"
  assert_success
  [[ "$stderr" == *"100% ["*"]"* ]] || fail "no progress bar: $stderr"
  mkdir down
  run --separate-stderr env EUCA_FORCE_PROGRESS=1 "$EUCA_BIN" download-bundle -b images -p img -d down --quiet
  assert_success
  assert_equal "$stderr" ""
}

# --- resume ------------------------------------------------------------------------------

@test "a second upload skips the parts already stored" {
  run --separate-stderr euca upload-bundle -b images -m "$MANIFEST" --debug
  assert_success
  assert_equal "$(uploaded_parts "$stderr")" "images/img.part.00 images/img.part.01 images/img.part.02"
  assert_equal "$(skipped_parts "$stderr")" ""

  run --separate-stderr euca upload-bundle -b images -m "$MANIFEST" --debug
  assert_success
  assert_output "Uploaded images/img.manifest.xml"
  assert_equal "$(uploaded_parts "$stderr")" ""
  assert_equal "$(skipped_parts "$stderr")" "images/img.part.00 images/img.part.01 images/img.part.02"
}

@test "after one stored part is deleted, uploading again sends only that part" {
  euca upload-bundle -b images -m "$MANIFEST" >/dev/null
  # Delete img.part.01 through the API: a manifest naming only that part, uploaded (its part
  # is skipped, being stored already) and deleted with delete-bundle.
  mkdir one
  middle_part_manifest "$MANIFEST" one/one.manifest.xml
  run --separate-stderr euca upload-bundle -b images -m one/one.manifest.xml -d b --debug
  assert_success
  assert_equal "$(skipped_parts "$stderr")" "images/img.part.01"
  run euca delete-bundle -b images -m one.manifest.xml
  assert_success
  run euca download-bundle -b images -p img -d -
  assert_failure 3
  assert_output --partial "img.part.01"

  run --separate-stderr euca upload-bundle -b images -m "$MANIFEST" --debug
  assert_success
  assert_equal "$(uploaded_parts "$stderr")" "images/img.part.01"
  assert_equal "$(skipped_parts "$stderr")" "images/img.part.00 images/img.part.02"
  euca download-bundle -b images -p img -d - >stream
  cat b/img.part.0{0,1,2} | cmp - stream
}

# --- integrity ---------------------------------------------------------------------------

@test "download-bundle of a tampered stored part fails naming the part and both digests; nothing is left" {
  euca upload-bundle -b images -m "$MANIFEST" >/dev/null
  # Store a different img.part.01 under the same key, through the API.
  cp -r b t
  flip_byte t/img.part.01 4242
  run --separate-stderr euca upload-bundle -b images -m t/img.manifest.xml --debug
  assert_success
  assert_equal "$(uploaded_parts "$stderr")" "images/img.part.01"

  local want got
  want="$(sha1sum <b/img.part.01 | cut -d' ' -f1)"
  got="$(sha1sum <t/img.part.01 | cut -d' ' -f1)"
  mkdir down
  run --separate-stderr euca download-bundle -b images -p img -d down
  assert_failure 2
  assert_output ''
  [[ "$stderr" == *"part 'img.part.01'"*"$want"*"$got"* ]] || fail "stderr: $stderr"
  assert_equal "$(ls -A down)" ""
}

@test "download-bundle fetches many parts at once, each checked; one bad part among them leaves nothing" {
  mkdir many
  euca bundle-image -i "$IMG" -d many -p many --part-size 262144 >/dev/null
  local n
  n=$(ls many | grep -c '^many\.part\.')
  [ "$n" -ge 10 ] || fail "only $n parts"
  euca upload-bundle -b images -m many/many.manifest.xml >/dev/null

  mkdir down
  run --separate-stderr euca download-bundle -b images -p many -d down --debug
  assert_success
  assert_output "Wrote manifest down/many.manifest.xml"
  assert_equal "$(grep -c 'downloaded images/many\.part\.' <<<"$stderr")" "$n"
  assert_equal "$(ls -A down | wc -l)" "$((n + 1))"
  for f in many/*; do cmp "$f" "down/${f#many/}"; done

  # A bad part in the middle: the error names it, no part and no temporary file is left.
  cp -r many t
  flip_byte t/many.part.07 1000
  euca upload-bundle -b images -m t/many.manifest.xml >/dev/null
  local want got
  want="$(sha1sum <many/many.part.07 | cut -d' ' -f1)"
  got="$(sha1sum <t/many.part.07 | cut -d' ' -f1)"
  mkdir down2
  run --separate-stderr euca download-bundle -b images -p many -d down2
  assert_failure 2
  [[ "$stderr" == *"part 'many.part.07'"*"$want"*"$got"* ]] || fail "stderr: $stderr"
  assert_equal "$(ls -A down2)" ""
}

# --- delete ------------------------------------------------------------------------------

@test "delete-bundle removes the parts and the manifest; --clear removes the bucket" {
  euca upload-bundle -b images/x -m "$MANIFEST" >/dev/null
  euca upload-bundle -b images/y -m "$MANIFEST" >/dev/null

  run --separate-stderr euca delete-bundle -b images/x -p img --debug
  assert_success
  assert_output ''
  for f in img.part.00 img.part.01 img.part.02 img.manifest.xml; do
    [[ "$stderr" == *"deleted images/x/$f"* ]] || fail "not deleted: $f: $stderr"
  done
  run euca download-bundle -b images/x -p img -d -
  assert_failure 3
  assert_output --partial "no object 'x/img.manifest.xml'"
  # The other copy is untouched, and --clear keeps a bucket that still holds objects.
  euca download-bundle -b images/y -p img -d - >/dev/null

  run --separate-stderr euca delete-bundle -b images/y -m img.manifest.xml --clear
  assert_success
  assert_equal "$stderr" ""
  run euca download-bundle -b images/y -p img -d -
  assert_failure 3
  assert_output --partial "bucket 'images' does not exist"
}

@test "delete-bundle --clear keeps a bucket that holds other objects" {
  euca upload-bundle -b images/x -m "$MANIFEST" >/dev/null
  euca upload-bundle -b images/y -m "$MANIFEST" >/dev/null
  run --separate-stderr euca delete-bundle -b images/x -p img --clear
  assert_success
  [[ "$stderr" == *"bucket 'images' still holds other objects; not deleted"* ]] || fail "stderr: $stderr"
  euca download-bundle -b images/y -p img -d - >/dev/null
}

# --- bad input ---------------------------------------------------------------------------

@test "bad input: missing -b, missing -m/-p, both, a missing manifest, a bad bucket name, no such bundle" {
  expect_failure 2 "--bucket is required" upload-bundle -m "$MANIFEST"
  expect_failure 2 "--manifest is required" upload-bundle -b images
  expect_failure 2 "--bucket is required" download-bundle -p img
  expect_failure 2 "give -m MANIFEST" download-bundle -b images
  expect_failure 2 "give -m MANIFEST" delete-bundle -b images
  expect_failure 2 "not both" download-bundle -b images -m img.manifest.xml -p img
  expect_failure 2 "not both" delete-bundle -b images -p img --local-manifest "$MANIFEST"
  expect_failure 3 "manifest 'nope.xml' does not exist" download-bundle -b images --local-manifest nope.xml
  expect_failure 3 "manifest 'nope.manifest.xml' does not exist" upload-bundle -b images -m nope.manifest.xml
  expect_failure 2 "invalid bucket name 'No_Such'" upload-bundle -b No_Such -m "$MANIFEST"
  expect_failure 2 "names no bucket" upload-bundle -b /x -m "$MANIFEST"
  expect_failure 3 "bucket 'nosuchbucket' does not exist" download-bundle -b nosuchbucket -p img
  expect_failure 3 "bucket 'nosuchbucket' does not exist" delete-bundle -b nosuchbucket -p img
  mkdir down
  expect_failure 3 "destination folder 'nodir' does not exist" download-bundle -b images -p img -d nodir
}

@test "a manifest that is not a manifest is refused before anything is stored" {
  echo "not xml" >b/bad.manifest.xml
  run euca upload-bundle -b images -m b/bad.manifest.xml
  assert_failure 2
  assert_output --partial "manifest 'b/bad.manifest.xml'"
  run euca download-bundle -b images -p img -d -
  assert_failure 3
  assert_output --partial "bucket 'images' does not exist"
}

# --- euca2ools flags ---------------------------------------------------------------------

@test "upload-bundle --skipmanifest sends the parts only; download-bundle --local-manifest fetches them" {
  run --separate-stderr euca upload-bundle -b images -m "$MANIFEST" --skipmanifest --debug
  assert_success
  assert_output ''
  assert_equal "$(uploaded_parts "$stderr")" "images/img.part.00 images/img.part.01 images/img.part.02"
  run euca download-bundle -b images -p img -d -
  assert_failure 3
  assert_output --partial "no object 'img.manifest.xml'"

  mkdir down
  run euca download-bundle -b images --local-manifest "$MANIFEST" -d down
  assert_success
  assert_output "Wrote manifest down/img.manifest.xml"
  for f in img.manifest.xml img.part.00 img.part.01 img.part.02; do
    cmp "b/$f" "down/$f"
  done
  run euca download-bundle -b images --local-manifest "$MANIFEST" --output json
  assert_success
}

@test "delete-bundle --local-manifest deletes the parts it names and the manifest object of its name" {
  euca upload-bundle -b images -m "$MANIFEST" >/dev/null
  run --separate-stderr euca delete-bundle -b images --local-manifest "$MANIFEST" --clear --debug
  assert_success
  for f in img.part.00 img.part.01 img.part.02 img.manifest.xml; do
    [[ "$stderr" == *"deleted images/$f"* ]] || fail "not deleted: $f: $stderr"
  done
  [[ "$stderr" == *"deleted bucket 'images'"* ]] || fail "bucket kept: $stderr"
}

@test "upload-bundle --part N starts with part N (euca2ools 1.x); --retry is accepted" {
  run --separate-stderr euca upload-bundle -b images -m "$MANIFEST" --part 1 --retry --debug
  assert_success
  assert_output "Uploaded images/img.manifest.xml"
  assert_equal "$(uploaded_parts "$stderr")" "images/img.part.01 images/img.part.02"
  expect_failure 2 "--part 3 is not a part of the manifest (it has 3, numbered from 0)" \
    upload-bundle -b images -m "$MANIFEST" --part 3
  expect_failure 2 "--part -1 is not a part" upload-bundle -b images -m "$MANIFEST" --part -1
}

@test "upload-bundle refuses --upload-policy and 1.x --ec2cert, saying why" {
  expect_failure 9 "--upload-policy, --upload-policy-file and --upload-policy-signature are not supported" \
    upload-bundle -b images -m "$MANIFEST" --upload-policy e30= --upload-policy-signature c2ln
  expect_failure 9 "not supported" upload-bundle -b images -m "$MANIFEST" --upload-policy-file policy.json
  expect_failure 9 "give --ec2cert to bundle-image" upload-bundle -b images -m "$MANIFEST" --ec2cert cloud.pem
  run euca download-bundle -b images -p img -d -
  assert_failure 3
}

@test "-I/-S name the access key in embedded mode too; a wrong secret is refused" {
  create_user alice
  euca upload-bundle -b images -m "$MANIFEST" >/dev/null
  euca download-bundle -b images -p img -d - -I "$KEY_ID" -S "$SECRET" | cmp - <(cat b/img.part.0{0,1,2})
  expect_failure 7 "secret key does not match" download-bundle -b images -p img -I "$KEY_ID" -S wrong
}

# --- access ------------------------------------------------------------------------------

@test "another account's user can neither download nor delete the bundle" {
  euca upload-bundle -b images -m "$MANIFEST" >/dev/null
  euca admin create-account other >/dev/null
  create_user bob other
  mkdir down
  run env AWS_ACCESS_KEY_ID="$KEY_ID" AWS_SECRET_ACCESS_KEY="$SECRET" "$EUCA_BIN" download-bundle -b images -p img -d down
  assert_failure 6
  assert_output --partial "images"
  assert_equal "$(ls -A down)" ""
  run env AWS_ACCESS_KEY_ID="$KEY_ID" AWS_SECRET_ACCESS_KEY="$SECRET" "$EUCA_BIN" delete-bundle -b images -p img
  assert_failure 6
  # The owner still has all of it.
  euca download-bundle -b images -p img -d - >stream
  cat b/img.part.0{0,1,2} | cmp - stream
}

@test "a user of the owner's account can download the bundle" {
  euca upload-bundle -b images -m "$MANIFEST" >/dev/null
  create_user alice
  AWS_ACCESS_KEY_ID="$KEY_ID" AWS_SECRET_ACCESS_KEY="$SECRET" euca download-bundle -b images -p img -d - >stream
  cat b/img.part.0{0,1,2} | cmp - stream
}
