#pragma once
// Bundling and unbundling images (docs/bundle-format.md): the streaming pipeline
//   image -> tar (one member) -> SHA-1 -> parallel gzip -> AES-128-CBC -> parts + SHA-1s
// and its reverse, in one pass with bounded memory (a fixed pool of blocks, about 20 MiB
// whatever the image size), using every core for compression. Neither function prints;
// progress goes to a Progress the caller renders.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bundles/crypto.h"
#include "bundles/file_io.h"
#include "bundles/gzip.h"
#include "bundles/manifest.h"
#include "core/base/status.h"

namespace euca::bundles {

/// EC2's part size: 10 MiB.
inline constexpr uint64_t kDefaultPartSize = 10485760;
/// The unit the pipeline reads, compresses and hands between threads.
inline constexpr size_t kDefaultBlockSize = 1 << 20;

/// Receives progress of a long operation. Called on the thread that started the operation,
/// never concurrently, with non-decreasing `done`, about once per block (keep it cheap).
class Progress {
 public:
  virtual ~Progress() = default;
  /// `done` of `total` bytes processed.
  virtual void Update(uint64_t done, uint64_t total) = 0;
};

struct BundleOptions {
  std::string image_path;                                 ///< required: the image file (sparse is fine)
  std::string destination_dir;                            ///< required: an existing folder
  std::string prefix;                                     ///< part/manifest prefix; default: image base name
  std::string architecture = "x86_64";                    ///< x86_64 or i386 (anything else passes through)
  std::string kernel_id;                                  ///< eki-…; "true" is set for kernel bundles
  std::string ramdisk_id;                                 ///< eri-…; "true" is set for ramdisk bundles
  std::string image_type = "machine";                     ///< machine, kernel or ramdisk
  std::vector<BlockDeviceMapping> block_device_mappings;  ///< machine images only
  std::vector<std::string> product_codes;
  std::string account_id;                        ///< required; hyphens are removed
  std::string user_cert_pem;                     ///< optional: wraps user_encrypted_key/iv
  std::string user_private_key_pem;              ///< optional: signs the manifest (else UNSIGNED)
  std::string cloud_cert_pem;                    ///< required: wraps ec2_encrypted_key/iv
  uint64_t part_size = kDefaultPartSize;         ///< bytes per part, >= 1
  int compression_level = kDefaultDeflateLevel;  ///< ISA-L level 0..3
  size_t block_size = kDefaultBlockSize;         ///< compression block, 64 KiB..64 MiB
  int threads = 0;                               ///< compression threads; 0 = one per core
  bool sync = false;                             ///< fdatasync parts and manifest before renaming
  /// Record where the compressed blocks start (<deflate_index> in the manifest) so that
  /// unbundle can inflate them in parallel.
  bool deflate_index = true;
  /// The AES key and IV (32 lower-case hex digits each) instead of fresh random ones
  /// (euca2ools' hidden --enc-key/--enc-iv).
  std::optional<BundleKey> key = {};
  /// Test hook: called at "part NN" (a part is complete), "rename" and "manifest"; an error
  /// it returns fails the bundle there.
  std::function<Status(std::string_view step)> fault_for_test;
};

struct BundleResult {
  std::string manifest_path;
  std::vector<std::string> part_paths;
  Manifest manifest;  ///< as written
};

/// Bundles `options.image_path` into `options.destination_dir` as PREFIX.part.NN files and
/// PREFIX.manifest.xml (written last). Reads the image once. On any failure nothing is left
/// at the destination (the parts are written in a temporary folder there, renamed at the
/// end). InvalidArgument for bad options or certificates; I/O errors name the path.
Result<BundleResult> BundleImage(const BundleOptions& options, Progress* progress = nullptr);

/// Reads one part from its start. Not thread-safe; used by one thread at a time.
class PartReader {
 public:
  virtual ~PartReader() = default;
  /// Reads up to `n` bytes into `buf`; returns how many, 0 at the end of the part.
  virtual Result<size_t> Read(uint8_t* buf, size_t n) = 0;
  /// Optional, instead of Read (never both on one reader): the next up to `n` bytes in
  /// place, without a copy, valid until the next call; empty at the end of the part.
  /// Readers that can (files: mmap) say so with CanView.
  virtual bool CanView() const { return false; }
  virtual Result<std::span<const uint8_t>> View(size_t /*n*/) { return Internal("this part reader has no View"); }
};

/// Where the parts of a bundle come from: files in a folder (the default), objects in a
/// bucket (Walrus), ... Unbundle asks for every part's size before it reads any, then opens
/// the parts one after the other, from one thread at a time.
class PartSource {
 public:
  virtual ~PartSource() = default;
  /// Where the parts are, for messages: "'/var/tmp/b'", "bucket 'images'".
  virtual std::string Where() const = 0;
  /// The part's size in bytes; NotFound if it is missing, other errors as they come.
  virtual Result<uint64_t> Size(const ManifestPart& part) = 0;
  /// Opens the part for reading.
  virtual Result<std::unique_ptr<PartReader>> Open(const ManifestPart& part) = 0;
};

/// Parts as files named by the manifest in `dir`.
std::unique_ptr<PartSource> FilePartSource(std::string dir);

struct UnbundleOptions {
  std::string manifest_path;    ///< required: the manifest file (with manifest_xml: only its name in messages)
  std::string manifest_xml;     ///< optional: the manifest's bytes, read from manifest_path when empty
  std::string source_dir;       ///< folder of the parts; default: the manifest's folder
  PartSource* parts = nullptr;  ///< optional: where the parts come from instead of source_dir
  std::string destination_dir;  ///< required unless destination_path: an existing folder
  /// Optional: the file to write the image to (its folder must exist), instead of
  /// destination_dir / the tar member's name.
  std::string destination_path;
  /// Required: the user's private key (user_encrypted_key) or the cloud's (ec2_encrypted_key).
  std::string private_key_pem;
  std::string cert_pem;  ///< optional: verify the manifest signature against it
  /// fdatasync the image before renaming it (off: as `tar x` and `cp`, the image is not
  /// durable until the system writes its metadata back; O_DIRECT writes the data but not
  /// the file's extents, size or name).
  bool sync = false;
  /// How the image is written: with O_DIRECT where the file system allows it, else buffered
  /// (ImageWriter, bundles/file_io.h); test seams.
  ImageWriterOptions image_writer = {};
  /// Also compute the SHA-256 of the image bytes written (UnbundleResult::image_sha256).
  bool image_sha256 = false;
  /// Recompute the tar stream's SHA-1 even when the signature was verified (see Unbundle).
  bool always_check_tar_digest = false;
};

struct UnbundleResult {
  std::string image_path;  ///< destination_path, or destination_dir / the tar member's name
  uint64_t size = 0;
  Manifest manifest;
  std::string image_sha256;        ///< lower-case hex when UnbundleOptions::image_sha256
  bool tar_digest_checked = false;  ///< whether the tar stream's SHA-1 was recomputed
  bool parallel_inflate = false;    ///< whether the blocks of a deflate index were inflated in parallel
};

/// Unpacks the bundle described by `options.manifest_path`: every part's SHA-1 is checked as
/// it streams by, then decrypted, gunzipped (the gzip CRC-32 and length checked) and untarred.
/// The tar stream must hold exactly one regular file whose name is a plain name (a path
/// that is absolute or has a '..' component is refused). The tar stream's SHA-1 is checked
/// against the manifest unless the manifest's signature was verified against `cert_pem`: the
/// signed manifest already fixes every part's SHA-1 and the wrapped key, and so the tar
/// stream (docs/bundle-format.md, "Unbundle"); `always_check_tar_digest` checks it anyway.
/// With a deflate index in the manifest (our bundles) the gzip stream's blocks are inflated in
/// parallel, each checked against the index (docs/bundle-format.md, "Deflate index");
/// other bundles are gunzipped by one thread.
/// The image is written to a temporary file renamed into place only when everything matched;
/// on any failure nothing is left at the destination. Errors:
/// NotFound "part 'x.part.03' ... is missing"; InvalidArgument "part 'x.part.03' is corrupt:
/// SHA-1 expected E got G"; InvalidArgument "cannot decrypt the bundle key with this
/// private key ..."; Unauthenticated "manifest signature does not match certificate ...".
Result<UnbundleResult> Unbundle(const UnbundleOptions& options, Progress* progress = nullptr);

}  // namespace euca::bundles
