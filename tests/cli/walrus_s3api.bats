#!/usr/bin/env bats
# `aws s3api` against euca serve walrus: multipart uploads and their errors, ACLs (canned and
# grant lists, across accounts), ListObjectVersions, and the S3 error codes the other files
# do not reach.

load helpers
load walrus_helpers

setup_file() { walrus_setup_file; }
teardown_file() { walrus_teardown_file; }
setup() { walrus_setup; }

# complete BUCKET KEY UPLOAD_ID PARTS: complete-multipart-upload with "Parts=[PARTS]".
complete() {
  aws_admin s3api complete-multipart-upload --bucket "$1" --key "$2" --upload-id "$3" --multipart-upload "Parts=[$4]"
}

# json KEY: a field of the JSON object on stdin.
json() { /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# two_part_upload BUCKET KEY [CREATE-ARGS...]: starts an upload of KEY and uploads p1.bin
# (5 MiB) and p2.bin (1,000 bytes) as its parts; sets id, e1 and e2.
two_part_upload() {
  local bucket="$1" key="$2"
  shift 2
  head -c $((5 * 1024 * 1024)) /dev/urandom >p1.bin
  head -c 1000 /dev/urandom >p2.bin
  id="$(aws_admin s3api create-multipart-upload --bucket "$bucket" --key "$key" "$@" | json UploadId)"
  e1="$(aws_admin s3api upload-part --bucket "$bucket" --key "$key" --upload-id "$id" --part-number 1 --body p1.bin | json ETag)"
  e2="$(aws_admin s3api upload-part --bucket "$bucket" --key "$key" --upload-id "$id" --part-number 2 --body p2.bin | json ETag)"
}

@test "s3api multipart: create, upload-part, list-parts, list-multipart-uploads, complete, abort" {
  need_aws
  aws_admin s3api create-bucket --bucket mpu
  local id e1 e2
  two_part_upload mpu big/obj --content-type text/x-test
  assert_equal "$e1" "\"$(md5sum <p1.bin | cut -c1-32)\""
  run aws_admin s3api list-parts --bucket mpu --key big/obj --upload-id "$id" \
    --query 'Parts[].[PartNumber,Size,ETag]' --output text
  assert_success
  assert_output "$(printf '1\t5242880\t%s\n2\t1000\t%s' "$e1" "$e2")"
  run aws_admin s3api list-multipart-uploads --bucket mpu --query 'Uploads[].[Key,UploadId]' --output text
  assert_output "$(printf 'big/obj\t%s' "$id")"
  # Parts out of order, a wrong ETag, a missing part: refused, the upload stays.
  run complete mpu big/obj "$id" "{PartNumber=2,ETag=$e2},{PartNumber=1,ETag=$e1}"
  assert_failure
  assert_output --partial InvalidPartOrder
  run complete mpu big/obj "$id" "{PartNumber=1,ETag=$e2},{PartNumber=2,ETag=$e2}"
  assert_failure
  assert_output --partial InvalidPart
  run complete mpu big/obj "$id" "{PartNumber=1,ETag=$e1},{PartNumber=3,ETag=$e2}"
  assert_failure
  assert_output --partial InvalidPart
  run complete mpu big/obj "$id" "{PartNumber=1,ETag=$e1},{PartNumber=2,ETag=$e2}"
  assert_success
  # The ETag is the MD5 of the part MD5s, then "-2".
  local want
  want="$( (md5sum <p1.bin; md5sum <p2.bin) | cut -c1-32 | xxd -r -p | md5sum | cut -c1-32)"
  assert_output --partial "\"\\\"$want-2\\\"\""
  run aws_admin s3api head-object --bucket mpu --key big/obj --query '[ContentLength,ContentType,ETag]' --output text
  assert_output "$(printf '5243880\ttext/x-test\t"%s-2"' "$want")"
  aws_admin s3 cp s3://mpu/big/obj got.bin
  cmp got.bin <(cat p1.bin p2.bin)
  run aws_admin s3api list-multipart-uploads --bucket mpu --query 'Uploads' --output text
  assert_output None
  # Completed: the upload id is gone.
  run aws_admin s3api list-parts --bucket mpu --key big/obj --upload-id "$id"
  assert_failure
  assert_output --partial NoSuchUpload

  # Abort: the upload and its parts go.
  local completed="$id"
  id="$(aws_admin s3api create-multipart-upload --bucket mpu --key aborted | json UploadId)"
  aws_admin s3api upload-part --bucket mpu --key aborted --upload-id "$id" --part-number 1 --body p2.bin
  run aws_admin s3api abort-multipart-upload --bucket mpu --key aborted --upload-id "$id"
  assert_success
  run aws_admin s3api upload-part --bucket mpu --key aborted --upload-id "$id" --part-number 2 --body p2.bin
  assert_failure
  assert_output --partial NoSuchUpload
  run aws_admin s3api head-object --bucket mpu --key aborted
  assert_failure
  # Neither upload keeps a part (other tests of this file may hold parts of their own).
  assert_equal "$(sqlite3 "$WALRUS_HOME/walrus/walrus.db" \
    "SELECT count(*) FROM parts WHERE upload_id IN ('$completed', '$id')")" 0
}

@test "s3api multipart: a part but the last under 5 MiB is EntityTooSmall" {
  need_aws
  aws_admin s3api create-bucket --bucket mpu-small
  head -c 1000 /dev/urandom >small.bin
  local id e1 e2
  id="$(aws_admin s3api create-multipart-upload --bucket mpu-small --key k | json UploadId)"
  e1="$(aws_admin s3api upload-part --bucket mpu-small --key k --upload-id "$id" --part-number 1 --body small.bin | json ETag)"
  e2="$(aws_admin s3api upload-part --bucket mpu-small --key k --upload-id "$id" --part-number 2 --body small.bin | json ETag)"
  run complete mpu-small k "$id" "{PartNumber=1,ETag=$e1},{PartNumber=2,ETag=$e2}"
  assert_failure
  assert_output --partial EntityTooSmall
  # One small part alone is fine (it is the last).
  run complete mpu-small k "$id" "{PartNumber=1,ETag=$e1}"
  assert_success
  assert_output --partial -1
}

# x-amz-copy-source-range was read as a GET Range: clamped past the end, open and suffix
# ranges taken.
@test "s3api upload-part-copy: the copy-source range must be bytes=FIRST-LAST within the source" {
  need_aws
  aws_admin s3api create-bucket --bucket mpu-copy
  printf 0123456789 >ten.bin
  aws_admin s3api put-object --bucket mpu-copy --key src --body ten.bin >/dev/null
  local id range
  id="$(aws_admin s3api create-multipart-upload --bucket mpu-copy --key dst | json UploadId)"
  for range in bytes=0-99 bytes=0-10 bytes=5- bytes=-3 bytes=4-3; do
    run aws_admin s3api upload-part-copy --bucket mpu-copy --key dst --upload-id "$id" --part-number 1 \
      --copy-source mpu-copy/src --copy-source-range "$range"
    assert_failure
    assert_output --partial "InvalidArgument"
    assert_output --partial "'$range'"
  done
  run aws_admin s3api upload-part-copy --bucket mpu-copy --key dst --upload-id "$id" --part-number 1 \
    --copy-source mpu-copy/src --copy-source-range bytes=0-99
  assert_output --partial "is not valid for source object of size 10"
  run aws_admin s3api list-parts --bucket mpu-copy --key dst --upload-id "$id" --query 'length(Parts || `[]`)'
  assert_output 0
  run aws_admin s3api upload-part-copy --bucket mpu-copy --key dst --upload-id "$id" --part-number 1 \
    --copy-source mpu-copy/src --copy-source-range bytes=2-9
  assert_success
  run complete mpu-copy dst "$id" "{PartNumber=1,ETag=$(printf 23456789 | md5sum | cut -d' ' -f1)}"
  assert_success
  run aws_admin s3 cp s3://mpu-copy/dst -
  assert_output 23456789
}

@test "s3api ACLs: bucket grants let another account list and write; canned object ACLs" {
  need_aws
  euca admin create-account acl-other >/dev/null
  create_user carol acl-other
  local carol_key="$KEY_ID" carol_secret="$SECRET" carol_id admin_id
  carol_id="$(aws_as "$carol_key" "$carol_secret" s3api list-buckets --query Owner.ID --output text)"
  admin_id="$(aws_admin s3api list-buckets --query Owner.ID --output text)"
  [[ -n "$carol_id" && "$carol_id" != "$admin_id" ]]
  aws_admin s3api create-bucket --bucket shared-acl
  echo private >private.txt
  aws_admin s3api put-object --bucket shared-acl --key private.txt --body private.txt
  run aws_as "$carol_key" "$carol_secret" s3api list-objects-v2 --bucket shared-acl
  assert_failure
  assert_output --partial AccessDenied
  run aws_as "$carol_key" "$carol_secret" s3api put-object --bucket shared-acl --key carol.txt --body private.txt
  assert_failure
  assert_output --partial AccessDenied

  cat >policy.json <<JSON
{"Owner": {"ID": "$admin_id"},
 "Grants": [
  {"Grantee": {"Type": "CanonicalUser", "ID": "$admin_id"}, "Permission": "FULL_CONTROL"},
  {"Grantee": {"Type": "CanonicalUser", "ID": "$carol_id"}, "Permission": "READ"},
  {"Grantee": {"Type": "CanonicalUser", "ID": "$carol_id"}, "Permission": "WRITE"}]}
JSON
  run aws_admin s3api put-bucket-acl --bucket shared-acl --access-control-policy file://policy.json
  assert_success
  run aws_admin s3api get-bucket-acl --bucket shared-acl \
    --query 'Grants[].[Grantee.ID,Grantee.DisplayName,Permission]' --output text
  assert_output "$(printf '%s\teucalyptus\tFULL_CONTROL\n%s\tacl-other\tREAD\n%s\tacl-other\tWRITE' \
    "$admin_id" "$carol_id" "$carol_id")"
  # Carol may now list and write, but the private object stays private.
  run aws_as "$carol_key" "$carol_secret" s3api list-objects-v2 --bucket shared-acl --query 'Contents[].Key' --output text
  assert_success
  assert_output private.txt
  run aws_as "$carol_key" "$carol_secret" s3api put-object --bucket shared-acl --key carol.txt --body private.txt
  assert_success
  run aws_as "$carol_key" "$carol_secret" s3api get-object --bucket shared-acl --key private.txt out.txt
  assert_failure
  assert_output --partial AccessDenied
  # Carol owns what she wrote; her object's ACL names her account.
  run aws_as "$carol_key" "$carol_secret" s3api get-object-acl --bucket shared-acl --key carol.txt --query Owner.ID --output text
  assert_output "$carol_id"

  # Canned ACLs on PUT: public-read opens to anyone, authenticated-read to signed requests.
  aws_admin s3api put-object --bucket shared-acl --key public.txt --body private.txt --acl public-read
  aws_admin s3api put-object --bucket shared-acl --key authed.txt --body private.txt --acl authenticated-read
  run aws_admin s3api get-object-acl --bucket shared-acl --key public.txt --query 'Grants[].[Grantee.URI,Permission]' --output text
  assert_output --partial "$(printf 'http://acs.amazonaws.com/groups/global/AllUsers\tREAD')"
  run curl -sf "$WALRUS_URL/shared-acl/public.txt"
  assert_output private
  run curl -s "$WALRUS_URL/shared-acl/authed.txt"
  assert_output --partial AccessDenied
  run aws_as "$carol_key" "$carol_secret" s3 cp s3://shared-acl/authed.txt -
  assert_output private
  # A canned bucket ACL replaces the grant list: Carol is out again.
  aws_admin s3api put-bucket-acl --bucket shared-acl --acl private
  run aws_as "$carol_key" "$carol_secret" s3api list-objects-v2 --bucket shared-acl
  assert_failure
  assert_output --partial AccessDenied
}

@test "x-amz-grant-* headers: s3api put-object/create-bucket/put-object-acl --grant-*, s3 cp --grants" {
  need_aws
  euca admin create-account grant-other >/dev/null
  create_user gina grant-other
  local gina_key="$KEY_ID" gina_secret="$SECRET" gina_id
  gina_id="$(aws_as "$gina_key" "$gina_secret" s3api list-buckets --query Owner.ID --output text)"
  local all=uri=http://acs.amazonaws.com/groups/global/AllUsers
  aws_admin s3api create-bucket --bucket grants --grant-read "id=$gina_id"
  echo granted >g.txt
  aws_admin s3api put-object --bucket grants --key by-id --body g.txt --grant-read "id=$gina_id"
  aws_admin s3 cp g.txt s3://grants/public --grants "read=$all"
  # The other account lists the bucket and reads the object granted to it; anyone reads the public one.
  run aws_as "$gina_key" "$gina_secret" s3api list-objects-v2 --bucket grants --query 'Contents[].Key' --output text
  assert_success
  assert_output "$(printf 'by-id\tpublic')"
  run aws_as "$gina_key" "$gina_secret" s3 cp s3://grants/by-id -
  assert_output granted
  run curl -sf "$WALRUS_URL/grants/public"
  assert_output granted
  run curl -s "$WALRUS_URL/grants/by-id"
  assert_output --partial AccessDenied
  run aws_admin s3api get-object-acl --bucket grants --key by-id --query 'Grants[].[Grantee.ID,Grantee.DisplayName,Permission]' --output text
  assert_output "$(printf '%s\tgrant-other\tREAD' "$gina_id")"
  # put-object-acl by header replaces the grants.
  aws_admin s3api put-object-acl --bucket grants --key by-id --grant-read "$all"
  run curl -sf "$WALRUS_URL/grants/by-id"
  assert_output granted
  run aws_as "$gina_key" "$gina_secret" s3api get-object-acl --bucket grants --key by-id
  assert_failure
  # Refused, and nothing stored: a canned ACL beside grants, an unknown account, an e-mail grantee.
  run aws_admin s3api put-object --bucket grants --key bad --body g.txt --acl public-read --grant-read "id=$gina_id"
  assert_failure
  assert_output --partial InvalidRequest
  run aws_admin s3api put-object --bucket grants --key bad --body g.txt --grant-read id=999999999999
  assert_failure
  assert_output --partial InvalidArgument
  run aws_admin s3api put-object --bucket grants --key bad --body g.txt --grant-read emailAddress=gina@example.com
  assert_failure
  assert_output --partial UnresolvableGrantByEmailAddress
  run aws_admin s3api head-object --bucket grants --key bad
  assert_failure
}

# aws-exec-read, ec2-bundle-read and log-delivery-write were refused as unknown canned ACLs.
@test "s3api canned ACLs aws-exec-read, ec2-bundle-read and log-delivery-write on create, put and ?acl" {
  need_aws
  euca admin create-account exec-other >/dev/null
  create_user dave exec-other
  local dave_key="$KEY_ID" dave_secret="$SECRET" admin_id
  admin_id="$(aws_admin s3api list-buckets --query Owner.ID --output text)"
  local grants='Grants[].[Grantee.DisplayName || Grantee.URI,Permission]'
  echo bundle >part.txt

  run aws_as "$dave_key" "$dave_secret" s3api create-bucket --bucket exec-read --acl aws-exec-read
  assert_success
  run aws_as "$dave_key" "$dave_secret" s3api get-bucket-acl --bucket exec-read --query "$grants" --output text
  assert_output "$(printf 'exec-other\tFULL_CONTROL\neucalyptus\tREAD')"
  run aws_as "$dave_key" "$dave_secret" s3api put-object --bucket exec-read --key p --body part.txt --acl aws-exec-read
  assert_success
  run aws_as "$dave_key" "$dave_secret" s3api get-object-acl --bucket exec-read --key p \
    --query 'Grants[1].[Grantee.ID,Permission]' --output text
  assert_output "$(printf '%s\tREAD' "$admin_id")"
  run aws_admin s3 cp s3://exec-read/p -
  assert_output bundle
  run curl -s "$WALRUS_URL/exec-read/p"
  assert_output --partial AccessDenied
  aws_as "$dave_key" "$dave_secret" s3api put-object --bucket exec-read --key q --body part.txt >/dev/null
  run aws_admin s3 cp s3://exec-read/q -
  assert_failure
  run aws_as "$dave_key" "$dave_secret" s3api put-object-acl --bucket exec-read --key q --acl ec2-bundle-read
  assert_success
  run aws_admin s3 cp s3://exec-read/q -
  assert_output bundle

  run aws_as "$dave_key" "$dave_secret" s3api create-bucket --bucket log-write --acl log-delivery-write
  assert_success
  local log='http://acs.amazonaws.com/groups/s3/LogDelivery'
  run aws_as "$dave_key" "$dave_secret" s3api get-bucket-acl --bucket log-write --query "$grants" --output text
  assert_output "$(printf 'exec-other\tFULL_CONTROL\n%s\tWRITE\n%s\tREAD_ACP' "$log" "$log")"
  run aws_as "$dave_key" "$dave_secret" s3api put-bucket-acl --bucket exec-read --acl log-delivery-write
  assert_success
  run aws_as "$dave_key" "$dave_secret" s3api get-bucket-acl --bucket exec-read --query "$grants" --output text
  assert_output "$(printf 'exec-other\tFULL_CONTROL\n%s\tWRITE\n%s\tREAD_ACP' "$log" "$log")"
}

@test "s3api list-object-versions: every object once, VersionId null, latest" {
  need_aws
  aws_admin s3api create-bucket --bucket versions
  echo v >v.txt
  local k
  for k in a.txt dir/b.txt dir/c.txt; do aws_admin s3api put-object --bucket versions --key "$k" --body v.txt >/dev/null; done
  # Overwriting keeps one version.
  aws_admin s3api put-object --bucket versions --key a.txt --body v.txt >/dev/null
  run aws_admin s3api list-object-versions --bucket versions --query 'Versions[].[Key,VersionId,IsLatest,Size]' --output text
  assert_success
  assert_output "$(printf 'a.txt\tnull\tTrue\t2\ndir/b.txt\tnull\tTrue\t2\ndir/c.txt\tnull\tTrue\t2')"
  run aws_admin s3api list-object-versions --bucket versions --delimiter / --query 'CommonPrefixes[].Prefix' --output text
  assert_output dir/
  # What tools do to empty a bucket: delete every listed version, then the bucket.
  run aws_admin s3api delete-objects --bucket versions \
    --delete 'Objects=[{Key=a.txt,VersionId=null},{Key=dir/b.txt,VersionId=null},{Key=dir/c.txt,VersionId=null}]'
  assert_success
  run aws_admin s3api delete-bucket --bucket versions
  assert_success
}

@test "s3api calls Walrus does not serve (setting tags, retention, legal hold, bucket CORS) are NotImplemented and change nothing" {
  need_aws
  aws_admin s3api create-bucket --bucket unserved
  echo keep >keep.txt
  aws_admin s3api put-object --bucket unserved --key k --body keep.txt >/dev/null
  local call
  for call in "put-object-tagging --bucket unserved --key k --tagging TagSet=[{Key=a,Value=b}]" \
    "put-bucket-tagging --bucket unserved --tagging TagSet=[{Key=a,Value=b}]" \
    "put-object-retention --bucket unserved --key k --retention Mode=GOVERNANCE,RetainUntilDate=2030-01-01T00:00:00Z" \
    "put-object-legal-hold --bucket unserved --key k --legal-hold Status=ON" \
    "put-bucket-cors --bucket unserved --cors-configuration CORSRules=[{AllowedMethods=[GET],AllowedOrigins=[*]}]" \
    "delete-bucket-encryption --bucket unserved"; do
    # shellcheck disable=SC2086
    run aws_admin s3api $call
    assert_failure
    assert_output --partial NotImplemented
  done
  run aws_admin s3 cp s3://unserved/k -
  assert_success
  assert_output keep
  run aws_admin s3api head-bucket --bucket unserved
  assert_success
}

@test "bucket configurations Walrus keeps none of read as none (S3's 404 codes or defaults); deleting them leaves the data" {
  need_aws
  aws_admin s3api create-bucket --bucket unset
  echo keep >keep.txt
  aws_admin s3api put-object --bucket unset --key k --body keep.txt >/dev/null
  local call code
  for call in "get-bucket-tagging:NoSuchTagSet" "get-bucket-cors:NoSuchCORSConfiguration" \
    "get-bucket-policy:NoSuchBucketPolicy" "get-bucket-policy-status:NoSuchBucketPolicy" \
    "get-bucket-website:NoSuchWebsiteConfiguration" \
    "get-bucket-lifecycle-configuration:NoSuchLifecycleConfiguration" \
    "get-bucket-replication:ReplicationConfigurationNotFoundError" \
    "get-object-lock-configuration:ObjectLockConfigurationNotFoundError" \
    "get-public-access-block:NoSuchPublicAccessBlockConfiguration" \
    "get-bucket-encryption:ServerSideEncryptionConfigurationNotFoundError"; do
    code="${call#*:}"
    run aws_admin s3api "${call%%:*}" --bucket unset
    assert_failure
    assert_output --partial "($code)"
  done
  run aws_admin s3api get-bucket-ownership-controls --bucket unset --query 'OwnershipControls.Rules[0].ObjectOwnership' --output text
  assert_success
  assert_output ObjectWriter
  run aws_admin s3api get-bucket-request-payment --bucket unset --query Payer --output text
  assert_output BucketOwner
  run aws_admin s3api list-bucket-analytics-configurations --bucket unset --query IsTruncated
  assert_success
  assert_output false
  run aws_admin s3api get-bucket-metrics-configuration --bucket unset --id EntireBucket
  assert_failure
  assert_output --partial "(NoSuchConfiguration)"
  run aws_admin s3api get-object-tagging --bucket unset --key k --query 'length(TagSet)'
  assert_success
  assert_output 0
  for call in "delete-object-tagging --bucket unset --key k" "delete-bucket-tagging --bucket unset" \
    "delete-bucket-cors --bucket unset" "delete-bucket-policy --bucket unset" \
    "delete-bucket-website --bucket unset" "delete-bucket-lifecycle --bucket unset" \
    "delete-public-access-block --bucket unset"; do
    # shellcheck disable=SC2086
    run aws_admin s3api $call
    assert_success
  done
  # The object is untouched (a DELETE ?tagging once deleted it).
  run aws_admin s3 cp s3://unset/k -
  assert_success
  assert_output keep
  # Bad input: a missing bucket or key, and another account, as for any operation.
  run aws_admin s3api get-bucket-tagging --bucket no-such-unset
  assert_failure
  assert_output --partial NoSuchBucket
  run aws_admin s3api get-object-tagging --bucket unset --key nosuch
  assert_failure
  assert_output --partial NoSuchKey
  euca admin create-account unset-other >/dev/null
  create_user dave unset-other
  run aws_as "$KEY_ID" "$SECRET" s3api get-bucket-tagging --bucket unset
  assert_failure
  assert_output --partial AccessDenied
  run aws_as "$KEY_ID" "$SECRET" s3api delete-object-tagging --bucket unset --key k
  assert_failure
  assert_output --partial AccessDenied
  # A browser's CORS preflight: no CORS configuration allows it.
  run curl -s -o preflight.xml -w '%{http_code}' -X OPTIONS -H 'Origin: http://example.com' \
    -H 'Access-Control-Request-Method: PUT' "$WALRUS_URL/unset/k"
  assert_output 403
  grep -q '<Code>AccessForbidden</Code>' preflight.xml
  run curl -s -o /dev/null -w '%{http_code}' -X OPTIONS "$WALRUS_URL/unset/k"
  assert_output 400
}

@test "headers for what Walrus does not do (SSE, SSE-C, object lock, storage classes, tagging) are refused; expected bucket owner is checked" {
  need_aws
  aws_admin s3api create-bucket --bucket hdrs
  echo keep >keep.txt
  local call
  for call in "s3 cp keep.txt s3://hdrs/sse --sse AES256" \
    "s3 cp keep.txt s3://hdrs/ssec --sse-c AES256 --sse-c-key 01234567890123456789012345678901" \
    "s3 cp keep.txt s3://hdrs/glacier --storage-class GLACIER" \
    "s3api put-object --bucket hdrs --key tagged --body keep.txt --tagging a=b" \
    "s3api create-bucket --bucket hdrs-locked --object-lock-enabled-for-bucket"; do
    # shellcheck disable=SC2086
    run aws_admin $call
    assert_failure
    assert_output --partial NotImplemented
  done
  run aws_admin s3api put-object --bucket hdrs --key locked --body keep.txt --object-lock-legal-hold-status ON
  assert_failure
  assert_output --partial InvalidRequest
  run aws_admin s3api list-objects-v2 --bucket hdrs --query 'length(Contents || `[]`)'
  assert_output 0
  run aws_admin s3api head-bucket --bucket hdrs-locked
  assert_failure
  # STANDARD is what there is.
  run aws_admin s3 cp keep.txt s3://hdrs/standard --storage-class STANDARD
  assert_success
  local me
  me="$(aws_admin s3api list-buckets --query Owner.ID --output text)"
  run aws_admin s3api head-bucket --bucket hdrs --expected-bucket-owner "$me"
  assert_success
  run aws_admin s3api head-object --bucket hdrs --key standard --expected-bucket-owner 999999999999
  assert_failure
  assert_output --partial 403
}

@test "S3 error codes: NoSuchBucket, BucketAlreadyExists, BucketAlreadyOwnedByYou, InvalidBucketName, BadDigest, InvalidRange, MalformedXML, NoSuchUpload" {
  need_aws
  run aws_admin s3api list-objects-v2 --bucket no-such-bucket-here
  assert_failure
  assert_output --partial NoSuchBucket
  aws_admin s3api create-bucket --bucket errors-bucket --acl public-read-write
  run aws_admin s3api create-bucket --bucket errors-bucket
  assert_failure
  assert_output --partial BucketAlreadyOwnedByYou
  euca admin create-account err-other >/dev/null
  create_user dave err-other
  run aws_as "$KEY_ID" "$SECRET" s3api create-bucket --bucket errors-bucket
  assert_failure
  assert_output --partial BucketAlreadyExists
  run aws_admin s3api create-bucket --bucket Bad_Bucket_Name
  assert_failure
  assert_output --partial InvalidBucketName
  echo "ten bytes" >ten.txt
  run aws_admin s3api put-object --bucket errors-bucket --key k --body ten.txt --content-md5 "$(echo other | openssl md5 -binary | base64)"
  assert_failure
  assert_output --partial BadDigest
  run aws_admin s3api head-object --bucket errors-bucket --key k
  assert_failure  # nothing was stored
  aws_admin s3api put-object --bucket errors-bucket --key k --body ten.txt
  run aws_admin s3api get-object --bucket errors-bucket --key k --range bytes=100-200 out.bin
  assert_failure
  assert_output --partial InvalidRange
  # Not XML where XML is due (anonymous: the bucket is public-read-write).
  run curl -s -X POST -H "Content-MD5: $(printf 'not <xml' | openssl md5 -binary | base64)" \
    --data-binary 'not <xml' "$WALRUS_URL/errors-bucket?delete"
  assert_output --partial '<Code>MalformedXML</Code>'
  # A delete list without its Content-MD5 (or a checksum) deletes nothing.
  run curl -s -X POST --data-binary '<Delete><Object><Key>k</Key></Object></Delete>' "$WALRUS_URL/errors-bucket?delete"
  assert_output --partial '<Code>InvalidRequest</Code>'
  aws_admin s3api head-object --bucket errors-bucket --key k
  run aws_admin s3api abort-multipart-upload --bucket errors-bucket --key k --upload-id 0123456789abcdef0123456789abcdef
  assert_failure
  assert_output --partial NoSuchUpload
}

@test "storage-quota: CopyObject and UploadPart beyond the quota are QuotaExceeded; unfinished parts count; nothing is made" {
  need_aws
  euca admin create-account quota-acct >/dev/null
  create_user dana quota-acct
  local k="$KEY_ID" s="$SECRET"
  aws_as "$k" "$s" s3api create-bucket --bucket quota-bkt
  head -c 3000 /dev/urandom >three.bin
  head -c 1500 /dev/urandom >half.bin
  aws_as "$k" "$s" s3api put-object --bucket quota-bkt --key a --body three.bin
  # 3000 bytes stored; a copy of them would make 6000, over 5000.
  printf '[rule five-k]\nkind = storage-quota\nlimit = 5000\nmatch.account = quota-acct\n' >rules
  euca admin put-rule rules >/dev/null
  run aws_as "$k" "$s" s3api copy-object --bucket quota-bkt --key b --copy-source quota-bkt/a
  assert_failure
  assert_output --partial QuotaExceeded
  # A multipart upload: a part of 1500 fits (4500), a second of 3000 does not.
  local id etag
  id="$(aws_as "$k" "$s" s3api create-multipart-upload --bucket quota-bkt --key m | json UploadId)"
  etag="$(aws_as "$k" "$s" s3api upload-part --bucket quota-bkt --key m --upload-id "$id" --part-number 1 \
    --body half.bin | json ETag)"
  run aws_as "$k" "$s" s3api upload-part --bucket quota-bkt --key m --upload-id "$id" --part-number 2 \
    --body three.bin
  assert_failure
  assert_output --partial QuotaExceeded
  # The unfinished part takes room: a PUT of 1500 more (6000) is refused too.
  run aws_as "$k" "$s" s3api put-object --bucket quota-bkt --key c --body half.bin
  assert_failure
  assert_output --partial QuotaExceeded
  run aws_as "$k" "$s" s3api list-objects-v2 --bucket quota-bkt --query 'Contents[].Key' --output text
  assert_output a
  # Completing with the part that fits adds nothing and goes through.
  aws_as "$k" "$s" s3api complete-multipart-upload --bucket quota-bkt --key m --upload-id "$id" \
    --multipart-upload "Parts=[{PartNumber=1,ETag=$etag}]" >/dev/null
  run aws_as "$k" "$s" s3api list-objects-v2 --bucket quota-bkt --query 'Contents[].Key' --output text
  assert_output "$(printf 'a\tm')"
  # The admin's own account is not limited.
  aws_admin s3api create-bucket --bucket quota-admin
  aws_admin s3api put-object --bucket quota-admin --key big --body three.bin
  aws_admin s3api copy-object --bucket quota-admin --key big2 --copy-source quota-admin/big >/dev/null
  # Without the rule the copy goes through.
  euca admin delete-rule five-k >/dev/null
  aws_as "$k" "$s" s3api copy-object --bucket quota-bkt --key b --copy-source quota-bkt/a >/dev/null
}

@test "s3api get-object --part-number: one part of a multipart object (206); past the last, InvalidPartNumber" {
  need_aws
  aws_admin s3api create-bucket --bucket parts
  local id e1 e2
  two_part_upload parts obj
  complete parts obj "$id" "{PartNumber=1,ETag=$e1},{PartNumber=2,ETag=$e2}"
  run aws_admin s3api get-object --bucket parts --key obj --part-number 2 got2.bin \
    --query '[ContentLength,PartsCount,ContentRange]' --output text
  assert_success
  assert_output "$(printf '1000\t2\tbytes 5242880-5243879/5243880')"
  cmp got2.bin p2.bin
  # A plain HEAD does not tell the part count; a HEAD of part 1 does.
  run aws_admin s3api head-object --bucket parts --key obj --query 'PartsCount' --output text
  assert_output None
  run aws_admin s3api head-object --bucket parts --key obj --part-number 1 --query '[ContentLength,PartsCount]' --output text
  assert_output "$(printf '5242880\t2')"
  run aws_admin s3api get-object --bucket parts --key obj --part-number 3 got3.bin
  assert_failure
  assert_output --partial InvalidPartNumber
  [[ ! -e got3.bin ]]
}

@test "a PUT without Content-Length is MissingContentLength (411) and stores nothing" {
  need_boto3
  aws_admin s3api create-bucket --bucket nolength
  local url
  url="$(presign PUT nolength k)"
  # curl sends no Content-Length for a PUT without a body.
  run curl -s -o body.xml -w '%{http_code}' -X PUT "$url"
  assert_output 411
  grep -q '<Code>MissingContentLength</Code>' body.xml
  run aws_admin s3api head-object --bucket nolength --key k
  assert_failure
  run curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary abc "$url"
  assert_output 200
  run curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Transfer-Encoding: chunked' --data-binary abcd "$url"
  assert_output 200
  run aws_admin s3api head-object --bucket nolength --key k --query ContentLength --output text
  assert_output 4
}

# put_if BUCKET KEY FILE HEADER VALUE: PutObject with one extra signed header (this boto3 and
# AWS CLI predate the IfMatch/IfNoneMatch parameters); prints the ETag, or the error code and
# fails.
put_if() {
  /usr/bin/python3 - "$WALRUS_URL" "$ADMIN_KEY" "$ADMIN_SECRET" "$@" <<'PY'
import sys
import boto3
from botocore.client import Config
from botocore.exceptions import ClientError
url, key, secret, bucket, obj, path, header, value = sys.argv[1:9]
s3 = boto3.client("s3", endpoint_url=url, aws_access_key_id=key, aws_secret_access_key=secret,
                  region_name="euca", config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
s3.meta.events.register("before-sign.s3.PutObject", lambda request, **_: request.headers.__setitem__(header, value))
try:
    with open(path, "rb") as f:
        print(s3.put_object(Bucket=bucket, Key=obj, Body=f.read())["ETag"])
except ClientError as e:
    print(e.response["Error"]["Code"])
    sys.exit(1)
PY
}

@test "conditional PutObject (If-None-Match: *, If-Match) from boto3; of racing creators exactly one wins" {
  need_aws
  need_boto3
  aws_admin s3api create-bucket --bucket condw
  echo one >one.txt
  echo two >two.txt
  local etag
  etag="$(put_if condw k one.txt If-None-Match '*')"
  run put_if condw k two.txt If-None-Match '*'
  assert_failure
  assert_output PreconditionFailed
  run put_if condw k two.txt If-Match '"00000000000000000000000000000000"'
  assert_failure
  assert_output PreconditionFailed
  run put_if condw nothing two.txt If-Match "$etag"
  assert_failure
  assert_output NoSuchKey
  put_if condw k two.txt If-Match "$etag"
  aws_admin s3 cp s3://condw/k got.txt
  cmp got.txt two.txt
  # Eight creators of one new key at once: one succeeds, seven get PreconditionFailed.
  local i
  for i in 1 2 3 4 5 6 7 8; do
    echo "writer $i" >"w$i.txt"
    (put_if condw race "w$i.txt" If-None-Match '*' >"out$i" 2>&1 && echo "$i" >"won$i") &
  done
  wait
  run bash -c 'ls won* | wc -l'
  assert_output 1
  run bash -c 'grep -l PreconditionFailed out* | wc -l'
  assert_output 7
  aws_admin s3 cp s3://condw/race got.txt
  cmp got.txt "w$(cat won*).txt"
}

@test "boto3 ChecksumAlgorithm: CRC32, CRC32C, SHA1, SHA256 of PutObject and UploadPart are checked and echoed" {
  need_boto3
  run /usr/bin/python3 - "$WALRUS_URL" "$ADMIN_KEY" "$ADMIN_SECRET" <<'PY'
import sys
import boto3
from botocore.client import Config
from botocore.exceptions import ClientError
url, key, secret = sys.argv[1:4]
s3 = boto3.client("s3", endpoint_url=url, aws_access_key_id=key, aws_secret_access_key=secret,
                  region_name="euca", config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
s3.create_bucket(Bucket="sums")
for algorithm in ["CRC32", "CRC32C", "SHA1", "SHA256"]:
    r = s3.put_object(Bucket="sums", Key=algorithm, Body=b"123456789", ChecksumAlgorithm=algorithm)
    print(algorithm, r["Checksum" + algorithm])
up = s3.create_multipart_upload(Bucket="sums", Key="mp")
r = s3.upload_part(Bucket="sums", Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"123456789",
                   ChecksumAlgorithm="CRC32C")
print("part", r["ChecksumCRC32C"])
# A wrong value is refused and stores nothing.
try:
    s3.put_object(Bucket="sums", Key="bad", Body=b"123456789", ChecksumCRC32="AAAAAA==")
    print("bad stored")
except ClientError as e:
    print("bad", e.response["Error"]["Code"])
PY
  assert_success
  assert_output "$(printf '%s\n' 'CRC32 y/Q5Jg==' 'CRC32C 4waSgw==' 'SHA1 98O8HYCOBHMq32eZZczDTKeuNEE=' \
    'SHA256 FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU=' 'part 4waSgw==' 'bad BadDigest')"
  run aws_admin s3api head-object --bucket sums --key bad
  assert_failure
}

@test "stored checksums: returned with checksum mode, kept per part, composite on completion, GetObjectAttributes" {
  need_aws
  need_boto3
  run /usr/bin/python3 - "$WALRUS_URL" "$ADMIN_KEY" "$ADMIN_SECRET" <<'PY'
import base64, hashlib, struct, sys, zlib
import boto3
from botocore.client import Config
from botocore.exceptions import ClientError
url, key, secret = sys.argv[1:4]
s3 = boto3.client("s3", endpoint_url=url, aws_access_key_id=key, aws_secret_access_key=secret,
                  region_name="euca", config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
crc32 = lambda b: base64.b64encode(struct.pack(">I", zlib.crc32(b))).decode()
b64 = lambda b: base64.b64encode(b).decode()
s3.create_bucket(Bucket="kept")
s3.put_object(Bucket="kept", Key="k", Body=b"123456789", ChecksumAlgorithm="SHA256")
h = s3.head_object(Bucket="kept", Key="k", ChecksumMode="ENABLED")
print("head", h.get("ChecksumSHA256") == b64(hashlib.sha256(b"123456789").digest()))
print("plain head", "ChecksumSHA256" in s3.head_object(Bucket="kept", Key="k"))
g = s3.get_object(Bucket="kept", Key="k", ChecksumMode="ENABLED", Range="bytes=0-3")
print("range", g["Body"].read(), "ChecksumSHA256" in g)
c = s3.copy_object(Bucket="kept", Key="c", CopySource="kept/k", ChecksumAlgorithm="SHA1")
print("copy", c["CopyObjectResult"].get("ChecksumSHA1") == b64(hashlib.sha1(b"123456789").digest()))

p1, p2 = b"a" * (5 << 20), b"tail"
up = s3.create_multipart_upload(Bucket="kept", Key="mp", ChecksumAlgorithm="CRC32")
try:
    s3.upload_part(Bucket="kept", Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=p1)
    print("part without checksum stored")
except ClientError as e:
    print("part without checksum", e.response["Error"]["Code"])
parts = []
for n, body in [(1, p1), (2, p2)]:
    r = s3.upload_part(Bucket="kept", Key="mp", UploadId=up["UploadId"], PartNumber=n, Body=body, ChecksumAlgorithm="CRC32")
    parts.append({"PartNumber": n, "ETag": r["ETag"], "ChecksumCRC32": r["ChecksumCRC32"]})
listed = s3.list_parts(Bucket="kept", Key="mp", UploadId=up["UploadId"])["Parts"]
print("listed", [p["ChecksumCRC32"] for p in listed] == [crc32(p1), crc32(p2)])
try:
    bad = [dict(parts[0], ChecksumCRC32=crc32(b"x")), parts[1]]
    s3.complete_multipart_upload(Bucket="kept", Key="mp", UploadId=up["UploadId"], MultipartUpload={"Parts": bad})
    print("wrong part checksum completed")
except ClientError as e:
    print("wrong part checksum", e.response["Error"]["Code"])
done = s3.complete_multipart_upload(Bucket="kept", Key="mp", UploadId=up["UploadId"], MultipartUpload={"Parts": parts})
raw = b"".join(struct.pack(">I", zlib.crc32(p)) for p in (p1, p2))
composite = crc32(raw) + "-2"
print("complete", done.get("ChecksumCRC32") == composite)
h = s3.head_object(Bucket="kept", Key="mp", ChecksumMode="ENABLED")
print("mp head", h.get("ChecksumCRC32") == composite)
g = s3.get_object(Bucket="kept", Key="mp", ChecksumMode="ENABLED", PartNumber=2)
print("part 2", g["Body"].read(), g.get("ChecksumCRC32") == crc32(p2))
a = s3.get_object_attributes(Bucket="kept", Key="mp", ObjectAttributes=["ETag", "Checksum", "ObjectParts", "ObjectSize"])
print("attributes", a["Checksum"]["ChecksumCRC32"] == composite, a["ObjectSize"], a["ObjectParts"]["TotalPartsCount"],
      [(p["PartNumber"], p["Size"], p["ChecksumCRC32"] == crc32(b)) for p, b in zip(a["ObjectParts"]["Parts"], (p1, p2))],
      a["ETag"] == done["ETag"].strip('"'))
PY
  assert_success
  assert_output "$(printf '%s\n' 'head True' 'plain head False' "range b'1234' False" 'copy True' \
    'part without checksum InvalidRequest' 'listed True' 'wrong part checksum InvalidPart' 'complete True' \
    'mp head True' "part 2 b'tail' True" 'attributes True 5242884 2 [(1, 5242880, True), (2, 4, True)] True')"
  run aws_admin s3api get-object-attributes --bucket kept --key k --object-attributes Checksum ObjectSize \
    --query '[Checksum.ChecksumSHA256, ObjectSize]' --output text
  assert_success
  assert_output "$(printf '%s\t9' "$(printf 123456789 | openssl dgst -sha256 -binary | base64)")"
  run aws_admin s3api get-object-attributes --bucket kept --key k --object-attributes Colour
  assert_failure
  assert_output --partial InvalidArgument
}
