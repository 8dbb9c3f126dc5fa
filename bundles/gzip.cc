#include "bundles/gzip.h"

#include <isa-l/crc.h>
#include <libdeflate.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "bundles/file_io.h"

namespace euca::bundles {
namespace {

size_t LevelBufSize(int level) {
  switch (level) {
    case 1:
      return ISAL_DEF_LVL1_DEFAULT;
    case 2:
      return ISAL_DEF_LVL2_DEFAULT;
    case 3:
      return ISAL_DEF_LVL3_DEFAULT;
    default:
      return 0;
  }
}

std::string IsalInflateError(int rc) {
  switch (rc) {
    case ISAL_INVALID_BLOCK:
      return "invalid deflate block";
    case ISAL_INVALID_SYMBOL:
      return "invalid deflate symbol";
    case ISAL_INVALID_LOOKBACK:
      return "invalid deflate distance";
    case ISAL_INVALID_WRAPPER:
      return "invalid gzip header";
    case ISAL_UNSUPPORTED_METHOD:
      return "unsupported gzip method";
    case ISAL_INCORRECT_CHECKSUM:
      return "gzip CRC-32 or length mismatch";
    case ISAL_NEED_DICT:
      return "deflate stream needs a dictionary";
    default:
      return "inflate error " + std::to_string(rc);
  }
}

}  // namespace

DeflateBlockCompressor::DeflateBlockCompressor(int level)
    : level_(level < ISAL_DEF_MIN_LEVEL   ? ISAL_DEF_MIN_LEVEL
             : level > ISAL_DEF_MAX_LEVEL ? ISAL_DEF_MAX_LEVEL
                                          : level),
      level_buf_size_(LevelBufSize(level_)),
      stream_(std::make_unique<isal_zstream>()) {
  if (level_buf_size_ > 0) level_buf_.reset(new uint8_t[level_buf_size_]);
}

DeflateBlockCompressor::~DeflateBlockCompressor() = default;

Result<size_t> DeflateBlockCompressor::Compress(const uint8_t* in, size_t n, uint8_t* out, size_t out_cap) {
  if (n > UINT32_MAX / 2 || out_cap < Bound(n)) return Internal("deflate block of " + std::to_string(n) + " bytes");
  isal_zstream* s = stream_.get();
  isal_deflate_stateless_init(s);
  s->level = static_cast<uint32_t>(level_);
  s->level_buf = level_buf_.get();
  s->level_buf_size = static_cast<uint32_t>(level_buf_size_);
  s->gzip_flag = IGZIP_DEFLATE;
  s->flush = FULL_FLUSH;
  s->end_of_stream = 0;
  s->next_in = const_cast<uint8_t*>(in);
  s->avail_in = static_cast<uint32_t>(n);
  s->next_out = out;
  s->avail_out = static_cast<uint32_t>(std::min<size_t>(out_cap, UINT32_MAX));
  int rc = isal_deflate_stateless(s);
  if (rc != COMP_OK || s->avail_in != 0) return Internal("ISA-L deflate failed with code " + std::to_string(rc));
  return static_cast<size_t>(s->next_out - out);
}

uint32_t Crc32(uint32_t crc, const uint8_t* data, size_t n) { return crc32_gzip_refl(crc, data, n); }

uint32_t Crc32Combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b) {
  return static_cast<uint32_t>(crc32_combine(crc_a, crc_b, static_cast<z_off_t>(len_b)));
}

std::string GzipHeader() {
  // ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL=0 OS=3 (Unix), as gzip writes for a pipe.
  return std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10);
}

std::string GzipTrailer(uint32_t crc, uint64_t total_in) {
  std::string t("\x03\x00", 2);  // BFINAL=1, BTYPE=01 (fixed), end-of-block code, padding
  uint32_t isize = static_cast<uint32_t>(total_in & 0xffffffffu);
  for (int i = 0; i < 4; ++i) t.push_back(static_cast<char>((crc >> (8 * i)) & 0xff));
  for (int i = 0; i < 4; ++i) t.push_back(static_cast<char>((isize >> (8 * i)) & 0xff));
  return t;
}

DeflateBlockInflater::DeflateBlockInflater() : d_(libdeflate_alloc_decompressor()) {}

DeflateBlockInflater::~DeflateBlockInflater() { libdeflate_free_decompressor(d_); }

Result<size_t> DeflateBlockInflater::Inflate(uint8_t* in, size_t n, uint8_t* out, size_t cap, uint32_t* crc) {
  if (d_ == nullptr) return Internal("allocate a deflate decompressor");
  // An empty final block (BFINAL=1, fixed Huffman, end of block: 10 bits) after the data.
  // Read from a byte boundary between two blocks it ends the stream after exactly n + 2
  // bytes; the data cannot end in a final block of its own (libdeflate would stop there,
  // short of n + 2).
  in[n] = 0x03;
  in[n + 1] = 0x00;
  size_t used = 0, produced = 0;
  const libdeflate_result r = libdeflate_deflate_decompress_ex(d_, in, n + kInputSlack, out, cap, &used, &produced);
  switch (r) {
    case LIBDEFLATE_SUCCESS:
      break;
    case LIBDEFLATE_INSUFFICIENT_SPACE:
      return InvalidArgument("it inflates to more than " + std::to_string(cap) + " bytes");
    default:
      return InvalidArgument("invalid deflate data");
  }
  if (used != n + kInputSlack) return InvalidArgument("it does not end at a deflate block boundary");
  *crc = Crc32(0, out, produced);
  return produced;
}

GzipInflater::GzipInflater() : state_(std::make_unique<inflate_state>()) {
  isal_inflate_init(state_.get());
  state_->crc_flag = ISAL_GZIP;
}

GzipInflater::~GzipInflater() = default;

void GzipInflater::SetInput(const uint8_t* in, size_t n) {
  state_->next_in = const_cast<uint8_t*>(in);
  state_->avail_in = static_cast<uint32_t>(n);
}

bool GzipInflater::NeedsInput() const { return state_->avail_in == 0; }

Result<size_t> GzipInflater::Inflate(uint8_t* out, size_t cap) {
  inflate_state* s = state_.get();
  size_t produced = 0;
  while (produced < cap) {
    if (trailing_zeros_) {
      if (!IsAllZero(s->next_in, s->avail_in))
        return InvalidArgument("cannot gunzip the bundle: trailing garbage after the gzip data");
      s->next_in += s->avail_in;
      s->avail_in = 0;
      break;
    }
    if (s->block_state == ISAL_BLOCK_FINISH) {
      // A member is complete; what follows is another member, zero padding, or garbage.
      if (s->avail_in == 0) break;
      if (s->next_in[0] == 0) {
        trailing_zeros_ = true;
        continue;
      }
      uint8_t* next_in = s->next_in;
      uint32_t avail_in = s->avail_in;
      isal_inflate_reset(s);
      s->crc_flag = ISAL_GZIP;
      s->next_in = next_in;
      s->avail_in = avail_in;
    }
    if (s->avail_in > 0) saw_input_ = true;
    s->next_out = out + produced;
    s->avail_out = static_cast<uint32_t>(std::min<size_t>(cap - produced, UINT32_MAX));
    uint32_t in_before = s->avail_in;
    int rc = isal_inflate(s);
    if (rc < 0) return InvalidArgument("cannot gunzip the bundle: " + IsalInflateError(rc));
    size_t wrote = static_cast<size_t>(s->next_out - (out + produced));
    produced += wrote;
    total_out_ += wrote;
    if (wrote == 0 && s->avail_in == in_before && s->block_state != ISAL_BLOCK_FINISH) break;  // needs input
  }
  return produced;
}

Status GzipInflater::Finish() const {
  if (trailing_zeros_) return Status::Ok();
  if (state_->block_state == ISAL_BLOCK_FINISH) {
    if (state_->avail_in != 0) return InvalidArgument("cannot gunzip the bundle: trailing garbage after the gzip data");
    return Status::Ok();
  }
  if (!saw_input_) return InvalidArgument("cannot gunzip the bundle: it holds no gzip data");
  return InvalidArgument("cannot gunzip the bundle: the gzip data is truncated");
}

}  // namespace euca::bundles
