#!/usr/bin/env bats
# euca serve walrus: image delivery to node controllers (docs/internal-api.md). Requests are
# signed here with openssl alone, from the protocol's description, so the test checks the
# documented wire format as much as the server.

load helpers
load walrus_helpers

setup_file() {
  walrus_setup_file
  # One image, bundled and uploaded by the administrator into the shared object store.
  cd "$BATS_FILE_TMPDIR"
  head -c 3000000 /dev/urandom >image.img
  head -c 1048576 /dev/zero >>image.img
  mkdir b
  EUCA_HOME="$WALRUS_HOME" "$EUCA_BIN" bundle-image -i image.img -d b --part-size 1048576 >/dev/null
  EUCA_HOME="$WALRUS_HOME" "$EUCA_BIN" upload-bundle -b images -m b/image.img.manifest.xml >/dev/null
}

teardown_file() { walrus_teardown_file; }

setup() { walrus_setup; }

# fetch COMPONENT MANIFEST OUT [DATE]: GET /_euca/image signed with the component's key;
# prints the HTTP status, the body goes to OUT and the headers to OUT.headers.
fetch() {
  local component="$1" manifest="$2" out="$3" date="${4:-$(date -u +%Y-%m-%dT%H:%M:%SZ)}" query
  query="manifest=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe="-_.~"))' "$manifest")"
  local -a auth
  mapfile -t auth < <(component_headers "$component" GET /_euca/image "$query" /dev/null "$date")
  curl -s -o "$out" -D "$out.headers" -w '%{http_code}' "${auth[@]}" "$WALRUS_URL/_euca/image?$query"
}

@test "a node controller gets the raw image, verified and decrypted, with its SHA-256" {
  run fetch nc images/image.img.manifest.xml out.img
  assert_output 200
  cmp out.img "$BATS_FILE_TMPDIR/image.img"
  grep -qi "^x-euca-image-sha256: $(sha256sum out.img | cut -d' ' -f1)" out.img.headers
  grep -qi '^etag: "[0-9a-f]\{32\}"' out.img.headers
  # Served again from the cache, under the same ETag.
  run fetch cc images/image.img.manifest.xml again.img
  assert_output 200
  cmp again.img "$BATS_FILE_TMPDIR/image.img"
  [[ "$(grep -i '^etag' out.img.headers)" == "$(grep -i '^etag' again.img.headers)" ]]
  [[ -n "$(ls "$WALRUS_HOME"/walrus/image-cache/*.img)" ]]
}

@test "unsigned, stale, or non-reader requests are refused with JSON errors" {
  run curl -s -w ' %{http_code}' "$WALRUS_URL/_euca/image?manifest=images/image.img.manifest.xml"
  assert_output --partial '"code":"Unauthenticated"'
  assert_output --partial ' 401'
  run fetch nc images/image.img.manifest.xml out.img 2001-01-01T00:00:00Z
  assert_output 401
  run cat out.img
  assert_output --partial 'more than 15 minutes'
  run fetch walrus images/image.img.manifest.xml out.img
  assert_output 403
  run fetch nc images/none.manifest.xml out.img
  assert_output 404
  run cat out.img
  assert_output --partial '"code":"NotFound"'
}

@test "S3 requests still reach S3 on the same listener" {
  run curl -s -w ' %{http_code}' "$WALRUS_URL/images"
  assert_output --partial 'AccessDenied'
  assert_output --partial ' 403'
}
