#pragma once
// The bundle manifest, version 2007-10-10 (docs/bundle-format.md,
// shared reference bundle-format.md §2.2): what it holds, how it is written byte for byte,
// signed (RSA-SHA1 over the serialized <machine_configuration> immediately followed by the
// serialized <image>) and read back.

#include <cstdint>
#include <string>
#include <vector>

#include "core/base/status.h"

namespace euca::bundles {

/// The manifest version this code writes and reads.
inline constexpr char kManifestVersion[] = "2007-10-10";
/// The signature text of a manifest written without a private key.
inline constexpr char kUnsigned[] = "UNSIGNED";

/// One -B mapping, e.g. {"ami", "sda1"} or {"ephemeral0", "sdb"}.
struct BlockDeviceMapping {
  std::string virtual_name;
  std::string device;
};

/// One part file and the SHA-1 (lower-case hex) of its bytes.
struct ManifestPart {
  std::string filename;
  std::string sha1;
};

/// Where the independently compressed blocks of a bundle's gzip stream start (euca's own
/// extension, docs/bundle-format.md "Deflate index"): the tar stream was cut into blocks of
/// `block_size` bytes (the last shorter) and block i was deflated alone into `sizes[i]`
/// bytes; block 0 starts right after the 10-byte gzip header, each next one where the last
/// ended. Lets unbundle inflate blocks in parallel. Empty when the bundler wrote none.
struct DeflateIndex {
  uint64_t block_size = 0;
  std::vector<uint32_t> sizes;
  bool empty() const { return sizes.empty(); }
};

/// The text of a deflate index's <deflate_index> element: compressed sizes in decimal,
/// separated by spaces, a run of K equal sizes S written "S*K".
std::string DeflateIndexText(const DeflateIndex& index);
/// Parses that text for `count` blocks. InvalidArgument if malformed or not `count` sizes.
Result<std::vector<uint32_t>> ParseDeflateIndexText(const std::string& text, uint64_t count);

/// Everything a manifest says. Strings are plain text (escaping is the writer's job).
struct Manifest {
  std::string bundler_name = "euca";
  std::string bundler_version = "0.1.0";
  std::string bundler_release = "0";
  // <machine_configuration>
  std::string architecture = "x86_64";
  std::vector<BlockDeviceMapping> block_device_mappings;  ///< written sorted by virtual name
  std::vector<std::string> product_codes;
  std::string kernel_id;   ///< empty: element omitted; "true" marks a kernel bundle
  std::string ramdisk_id;  ///< empty: element omitted; "true" marks a ramdisk bundle
  // <image>
  std::string name;                           ///< the bundle prefix (the tar member)
  std::string user;                           ///< account id, digits only
  std::string type = "machine";               ///< machine, kernel or ramdisk
  std::vector<std::string> ancestor_ami_ids;  ///< <ancestry>, omitted when empty
  std::string digest;                         ///< SHA-1 of the uncompressed tar stream, lower-case hex
  uint64_t size = 0;                          ///< image bytes
  uint64_t bundled_size = 0;                  ///< ciphertext bytes (sum of the parts)
  std::string ec2_encrypted_key;              ///< hex
  std::string user_encrypted_key;             ///< hex; empty when no user certificate
  std::string ec2_encrypted_iv;
  std::string user_encrypted_iv;
  std::vector<ManifestPart> parts;
  /// <deflate_index block_size="B" count="N">…</deflate_index>, the last child of <image>
  /// (inside the signed text); omitted when empty. euca2ools and EC2 ignore it.
  DeflateIndex deflate_index;
  /// Lower-case hex RSA-SHA1 signature, or kUnsigned.
  std::string signature = kUnsigned;
};

/// The manifest as XML with `manifest.signature` as is: `<?xml version='1.0'
/// encoding='ASCII'?>`, then the elements in the reference's order with no whitespace.
/// Non-ASCII characters become numeric character references.
std::string ManifestToXml(const Manifest& manifest);

/// The bytes a signature covers for `manifest`: serialized <machine_configuration>…
/// immediately followed by serialized <image>… (exactly as ManifestToXml writes them).
std::string ManifestSignedText(const Manifest& manifest);

/// Signs `manifest` with `private_key_pem` (RSA-SHA1 over ManifestSignedText, hex) and
/// returns its XML; with an empty key the signature is kUnsigned. InvalidArgument on an
/// unreadable key.
Result<std::string> SignedManifestXml(Manifest manifest, const std::string& private_key_pem);

/// Parses a manifest (ours, euca2ools 1.x/3.x, pretty-printed or not). InvalidArgument
/// naming what is missing or malformed; Unsupported for another manifest version.
Result<Manifest> ParseManifest(const std::string& xml);

/// The signed bytes of a manifest file as they appear in it: the text of the
/// <machine_configuration> element followed by that of the <image> element.
Result<std::string> ExtractSignedText(const std::string& xml);

/// OK if the manifest's signature, checked against the exact bytes of the file, was made by
/// the key of `cert_pem`. Unauthenticated "manifest signature does not match certificate
/// '<CN>'" otherwise; Unauthenticated if the manifest is unsigned.
Status VerifyManifestSignature(const std::string& xml, const std::string& cert_pem);

}  // namespace euca::bundles
