#!/usr/bin/env bash
# Makes an image bundle with nothing but openssl, gzip, tar and split (and coreutils), the
# way euca2ools 3 does (shared reference bundle-format.md §2.1-2.2). Used by the interop
# tests to show that euca unbundles bundles it did not write.
#
# Usage: bundle.sh IMAGE PREFIX DEST_DIR USER_CERT USER_KEY CLOUD_CERT ACCOUNT [PART_SIZE]
# With PRETTY=1 the manifest is indented (signed over the indented bytes, as a reader must
# check the bytes in the file rather than a re-serialization). With SPARSE=1 the tar member
# is a GNU sparse file (`tar -S`), as euca2ools 1.x wrote it.
set -euo pipefail

image=$1 prefix=$2 dest=$3 user_cert=$4 user_key=$5 cloud_cert=$6 account=$7 part_size=${8:-10485760}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
nl='' ind=''
if [ "${PRETTY:-0}" = 1 ]; then nl=$'\n' ind='  '; fi

hex() { od -An -v -tx1 | tr -d ' \n'; }

# 1-2. One tar member named PREFIX; the SHA-1 of the tar stream is the image digest.
ln -s "$(cd "$(dirname "$image")" && pwd)/$(basename "$image")" "$work/$prefix"
sparse=()
if [ "${SPARSE:-0}" = 1 ]; then sparse=(-S); fi
tar -c -h "${sparse[@]}" -f "$work/image.tar" -C "$work" "$prefix"
digest=$(openssl dgst -sha1 -r "$work/image.tar" | cut -d' ' -f1)

# 3-5. gzip, AES-128-CBC with a random key and IV (32 hex digits each), parts of PART_SIZE.
key=$(openssl rand -hex 16)
iv=$(openssl rand -hex 16)
gzip -c -6 < "$work/image.tar" | openssl enc -e -aes-128-cbc -K "$key" -iv "$iv" |
  split -b "$part_size" -d -a 2 - "$dest/$prefix.part."

# The key and IV hex strings, RSA PKCS#1 v1.5-encrypted for each certificate.
wrap() { printf '%s' "$1" | openssl pkeyutl -encrypt -certin -inkey "$2" -pkeyopt rsa_padding_mode:pkcs1 | hex; }

size=$(wc -c < "$image")
bundled=0
parts_xml=''
i=0
for part in "$dest/$prefix".part.*; do
  n=$(wc -c < "$part")
  bundled=$((bundled + n))
  d=$(openssl dgst -sha1 -r "$part" | cut -d' ' -f1)
  parts_xml+="${nl}${ind}${ind}<part index=\"$i\"><filename>$(basename "$part")</filename><digest algorithm=\"SHA1\">$d</digest></part>"
  i=$((i + 1))
done

mc="<machine_configuration>${nl}${ind}<architecture>x86_64</architecture>${nl}</machine_configuration>"
img="<image>${nl}${ind}<name>$prefix</name><user>$account</user><type>machine</type>"
img+="<digest algorithm=\"SHA1\">$digest</digest><size>$size</size><bundled_size>$bundled</bundled_size>"
img+="${nl}${ind}<ec2_encrypted_key algorithm=\"AES-128-CBC\">$(wrap "$key" "$cloud_cert")</ec2_encrypted_key>"
img+="${nl}${ind}<user_encrypted_key algorithm=\"AES-128-CBC\">$(wrap "$key" "$user_cert")</user_encrypted_key>"
img+="${nl}${ind}<ec2_encrypted_iv>$(wrap "$iv" "$cloud_cert")</ec2_encrypted_iv>"
img+="${nl}${ind}<user_encrypted_iv>$(wrap "$iv" "$user_cert")</user_encrypted_iv>"
img+="${nl}${ind}<parts count=\"$i\">$parts_xml${nl}${ind}</parts>${nl}</image>"

# 6. RSA-SHA1 over <machine_configuration>…</machine_configuration><image>…</image>, hex.
signature=$(printf '%s' "$mc$img" | openssl dgst -sha1 -sign "$user_key" | hex)

{
  printf '%s' "<?xml version='1.0' encoding='ASCII'?>$nl<manifest>$nl<version>2007-10-10</version>$nl"
  printf '%s' "<bundler><name>bundle.sh</name><version>1.0</version><release>0</release></bundler>$nl"
  printf '%s' "$mc$nl$img$nl<signature>$signature</signature>$nl</manifest>$nl"
} > "$dest/$prefix.manifest.xml"
