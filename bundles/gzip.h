#pragma once
// gzip for the bundle pipeline (docs/bundle-format.md, "Parallel gzip").
//
// Compression: the tar stream is cut into blocks (1 MiB by default) compressed
// independently, in parallel, as raw deflate ending in a full flush (an empty stored block,
// so the output is byte-aligned and refers to no earlier block) and never marked final.
// Concatenated in order behind one gzip header, then closed by an empty final block and the
// trailer (CRC-32 of all input, combined from the blocks' CRCs, and ISIZE), they form ONE
// standard gzip member that gunzip, zlib and euca2ools read.
//
// Decompression: a streaming inflater for any gzip (one or more members), on ISA-L.

#include <isa-l/igzip_lib.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/base/status.h"

struct libdeflate_decompressor;

namespace euca::bundles {

/// ISA-L level 1: on the benchmark image about 5% larger output than gzip -6 at about 10x
/// its speed per core.
inline constexpr int kDefaultDeflateLevel = 1;

/// Compresses blocks of a parallel gzip stream. One per thread; not thread-safe.
class DeflateBlockCompressor final {
 public:
  /// `level` is an ISA-L level, 0 (fastest) to 3 (smallest).
  explicit DeflateBlockCompressor(int level);
  ~DeflateBlockCompressor();
  DeflateBlockCompressor(const DeflateBlockCompressor&) = delete;
  DeflateBlockCompressor& operator=(const DeflateBlockCompressor&) = delete;

  /// An output capacity always large enough for a block of `n` input bytes.
  static size_t Bound(size_t n) { return n + n / 1024 + 4096; }

  /// Compresses `n` bytes into `out` (capacity `out_cap` >= Bound(n)) as raw deflate ending
  /// in a full flush, not final. Returns the compressed size.
  Result<size_t> Compress(const uint8_t* in, size_t n, uint8_t* out, size_t out_cap);

 private:
  int level_;
  std::unique_ptr<uint8_t[]> level_buf_;
  size_t level_buf_size_;
  std::unique_ptr<isal_zstream> stream_;
};

/// CRC-32 (gzip's) of `n` bytes continuing from `crc` (0 to start).
uint32_t Crc32(uint32_t crc, const uint8_t* data, size_t n);
/// The CRC-32 of A followed by B, from crc(A), crc(B) and the length of B (zlib's
/// crc32_combine).
uint32_t Crc32Combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);

/// The 10-byte gzip header the bundle writes: deflate, no name, mtime 0, OS Unix.
std::string GzipHeader();
/// What ends the member after the last block: an empty final fixed-Huffman block (0x03
/// 0x00), then CRC-32 and ISIZE (input length mod 2^32), little-endian.
std::string GzipTrailer(uint32_t crc, uint64_t total_in);

/// Inflates the blocks of a parallel gzip stream one at a time, independently (no history),
/// for unbundle's parallel path, with libdeflate (whole-buffer; about a quarter faster than
/// ISA-L's streaming inflate on bundle data). Each block must be raw deflate that ends
/// exactly where its input ends, at a byte-aligned deflate block boundary (as a full flush
/// leaves it), with no final block, and refer to nothing before its start. Checked by
/// appending an empty final block (03 00) that must be read exactly: docs/bundle-format.md,
/// "Deflate index", tells why an index that lies gives an error, never other bytes, once the
/// caller also checks each block's length and the gzip trailer. One per thread.
class DeflateBlockInflater final {
 public:
  /// Bytes a block's input buffer needs after its data (the appended final block).
  static constexpr size_t kInputSlack = 2;

  DeflateBlockInflater();
  ~DeflateBlockInflater();
  DeflateBlockInflater(const DeflateBlockInflater&) = delete;
  DeflateBlockInflater& operator=(const DeflateBlockInflater&) = delete;

  /// Inflates the `n` bytes of one block at `in` (which has room for kInputSlack bytes more,
  /// overwritten) into `out`, which has room for `cap` bytes; returns the bytes produced and
  /// sets *crc to their CRC-32. InvalidArgument (without "cannot gunzip": the caller names
  /// the block) on corrupt data, a block that does not end where its input ends, a final
  /// block, a reference before its start, or more than `cap` bytes of output.
  Result<size_t> Inflate(uint8_t* in, size_t n, uint8_t* out, size_t cap, uint32_t* crc);

 private:
  ::libdeflate_decompressor* d_;
};

/// Streaming gzip decompression (ISA-L). Accepts concatenated members, as gunzip does, and
/// zero bytes after the last member. Not thread-safe.
class GzipInflater final {
 public:
  GzipInflater();
  ~GzipInflater();
  GzipInflater(const GzipInflater&) = delete;
  GzipInflater& operator=(const GzipInflater&) = delete;

  /// Supplies the next input. REQUIRES: the previous input was consumed (NeedsInput()).
  /// The bytes must stay valid until they are consumed.
  void SetInput(const uint8_t* in, size_t n);
  /// Whether all supplied input has been consumed.
  bool NeedsInput() const;
  /// Inflates into `out` (capacity `cap`); returns bytes written (0 when more input is
  /// needed). InvalidArgument on corrupt data or a CRC mismatch.
  Result<size_t> Inflate(uint8_t* out, size_t cap);
  /// OK if the input ended exactly after a complete member (or trailing zeros).
  Status Finish() const;
  /// Uncompressed bytes produced so far.
  uint64_t total_out() const { return total_out_; }

 private:
  std::unique_ptr<inflate_state> state_;
  bool saw_input_ = false;
  bool trailing_zeros_ = false;
  uint64_t total_out_ = 0;
};

}  // namespace euca::bundles
