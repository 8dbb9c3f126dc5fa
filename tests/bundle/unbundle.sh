#!/usr/bin/env bash
# Unpacks an image bundle with nothing but openssl, gunzip and tar (and coreutils/sed),
# following the format step by step (shared reference bundle-format.md §2.1-2.2). Used by
# the interop tests to show that bundles written by euca are standard.
#
# Usage: unbundle.sh MANIFEST PRIVATE_KEY DEST_DIR [user|ec2]
#   user (default): decrypt user_encrypted_key/iv with the user's private key
#   ec2:            decrypt ec2_encrypted_key/iv with the cloud's private key
# Exit status 0 when every part digest and the image digest match.
set -euo pipefail

manifest=$1 private_key=$2 dest=$3 who=${4:-user}
src=$(dirname "$manifest")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

xml=$(tr -d '\n' < "$manifest")
# The text of the first element named $1 (attributes allowed), whitespace trimmed.
field() { printf '%s' "$xml" | sed -n "s|.*<$1[^>]*>[[:space:]]*\([^<]*[^<[:space:]]\)[[:space:]]*</$1>.*|\1|p"; }
# Hex (lower or upper case) to raw bytes.
unhex() { local h=$1 out=''; while [ -n "$h" ]; do out+="\\x${h:0:2}"; h=${h:2}; done; printf "$out"; }

# 1. The AES key and IV: RSA PKCS#1 v1.5 decryption gives their 32-digit hex strings.
unhex "$(field "${who}_encrypted_key")" > "$work/key.enc"
unhex "$(field "${who}_encrypted_iv")" > "$work/iv.enc"
key=$(openssl pkeyutl -decrypt -inkey "$private_key" -pkeyopt rsa_padding_mode:pkcs1 -in "$work/key.enc")
iv=$(openssl pkeyutl -decrypt -inkey "$private_key" -pkeyopt rsa_padding_mode:pkcs1 -in "$work/iv.enc")

# 2. The parts, in index order, each checked against its SHA-1.
parts=()
while IFS='|' read -r name digest; do
  [ -n "$name" ] || continue
  got=$(openssl dgst -sha1 -r "$src/$name" | cut -d' ' -f1)
  if [ "$got" != "$(printf '%s' "$digest" | tr 'A-F' 'a-f')" ]; then
    echo "unbundle.sh: part $name: SHA-1 $got, manifest says $digest" >&2
    exit 1
  fi
  parts+=("$src/$name")
done < <(printf '%s' "$xml" | grep -o '<part index="[0-9]*">[^/]*<filename>[^<]*</filename>[^<]*<digest[^>]*>[^<]*</digest>' |
         sed 's|.*<filename>\([^<]*\)</filename>.*<digest[^>]*>[[:space:]]*\([^<[:space:]]*\)[[:space:]]*</digest>|\1\|\2|')
[ ${#parts[@]} -gt 0 ] || { echo "unbundle.sh: no parts in $manifest" >&2; exit 1; }

# 3. Concatenate, decrypt, gunzip: the tar stream, whose SHA-1 is the image digest.
cat "${parts[@]}" | openssl enc -d -aes-128-cbc -K "$key" -iv "$iv" | gunzip > "$work/image.tar"
got=$(openssl dgst -sha1 -r "$work/image.tar" | cut -d' ' -f1)
want=$(printf '%s' "$xml" | sed -n 's|.*<image>.*<digest algorithm="SHA1">\([0-9a-fA-F]*\)</digest>[^/]*<size>.*|\1|p' | tr 'A-F' 'a-f')
if [ "$got" != "$want" ]; then
  echo "unbundle.sh: image tar SHA-1 $got, manifest says $want" >&2
  exit 1
fi

# 4. Untar.
tar -x -f "$work/image.tar" -C "$dest"
