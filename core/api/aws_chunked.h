#pragma once
// The aws-chunked payload encoding of S3 streaming uploads (x-amz-content-sha256:
// STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] or STREAMING-UNSIGNED-PAYLOAD-TRAILER):
//
//   <hex size>;chunk-signature=<64 hex>\r\n<size bytes>\r\n ... 0;chunk-signature=<sig>\r\n
//   [trailer: value\r\n ... x-amz-trailer-signature:<sig>\r\n] \r\n
//
// Each chunk signature chains from the previous one, the first from the seed signature of the
// request's Authorization header. Reference:
// docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html (and -streaming-trailers).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/api/digest.h"
#include "core/api/sigv4.h"
#include "core/base/headers.h"
#include "core/base/status.h"

namespace euca::api {

/// Which aws-chunked flavour a request declared in x-amz-content-sha256.
enum class ChunkedMode {
  kSigned,           ///< STREAMING-AWS4-HMAC-SHA256-PAYLOAD
  kSignedTrailer,    ///< STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER
  kUnsignedTrailer,  ///< STREAMING-UNSIGNED-PAYLOAD-TRAILER (no chunk signatures)
};

/// What a decoder needs to check a streamed body, as header verification leaves it.
struct StreamingContext {
  ChunkedMode mode = ChunkedMode::kSigned;
  std::string signing_key;  ///< SigV4 signing key (raw bytes) of the request's scope
  std::string amz_date;     ///< the request's X-Amz-Date
  SigV4Scope scope;
  std::string seed_signature;                  ///< the request's own signature
  int64_t decoded_length = -1;                 ///< x-amz-decoded-content-length; -1 when not given
  std::vector<std::string> declared_trailers;  ///< lower-case names from x-amz-trailer
};

/// Decodes an aws-chunked body given in pieces of any size, checking every chunk signature.
/// Memory is bounded: it holds at most one chunk header or trailer line (max_line bytes),
/// never a chunk. Thread-compatible.
///
/// Decoded bytes are handed out as they arrive, before the signature of their chunk can be
/// checked; they are authentic only once Finish() returns OK. Callers write them somewhere
/// provisional (a temporary file) and commit nothing before that.
class AwsChunkedDecoder final {
 public:
  explicit AwsChunkedDecoder(StreamingContext context, size_t max_line = 4096);

  /// Consumes `in` and appends the decoded payload bytes in it to `*out`. On error (bad
  /// framing: InvalidArgument "IncompleteBody"/"InvalidChunkSizeError"; a signature that does not
  /// match: Unauthenticated "SignatureDoesNotMatch") the decoder stays failed.
  Status Feed(std::string_view in, std::string* out);

  /// OK once the final chunk (and the trailers) were read, every signature matched and the
  /// decoded length equals the declared one; else the error, "IncompleteBody" if the body
  /// stopped early.
  Status Finish() const;

  bool done() const { return state_ == State::kDone; }
  /// Decoded payload bytes so far.
  uint64_t decoded_bytes() const { return decoded_; }
  /// The trailing headers (kSignedTrailer, kUnsignedTrailer), x-amz-trailer-signature excluded.
  const Headers& trailers() const { return trailers_; }

 private:
  enum class State { kHeader, kData, kDataEnd, kTrailer, kDone, kFailed };
  Status Fail(Status s);
  Status OnHeaderLine(std::string_view line);
  Status OnChunkEnd();
  Status OnTrailerLine(std::string_view line);

  StreamingContext ctx_;
  size_t max_line_;
  State state_ = State::kHeader;
  Status error_;
  std::string line_;        // partial header / trailer line
  uint64_t remaining_ = 0;  // data bytes left in the current chunk
  bool final_chunk_ = false;
  std::string expected_signature_;
  std::string previous_signature_;
  std::string trailer_signature_;
  std::string canonical_trailers_;
  uint64_t decoded_ = 0;
  Headers trailers_;
  std::unique_ptr<Sha256Hasher> hash_;  // running SHA-256 of the current chunk
};

/// Encodes a payload as signed aws-chunked (kSigned), for our own clients and for tests.
class AwsChunkedEncoder final {
 public:
  /// `seed_signature` is the signature of the request, signed with payload hash kStreamingPayload.
  AwsChunkedEncoder(std::string signing_key, std::string amz_date, SigV4Scope scope, std::string seed_signature);

  /// One chunk: "<hex>;chunk-signature=<sig>\r\n<data>\r\n". REQUIRES: !data.empty().
  std::string Chunk(std::string_view data);
  /// The final zero-length chunk and the closing empty line.
  std::string Final();

  /// The encoded size (the request's Content-Length) of `decoded_length` bytes sent in chunks of
  /// `chunk_size` (the last one shorter), final chunk included.
  static uint64_t EncodedLength(uint64_t decoded_length, uint64_t chunk_size);

 private:
  std::string signing_key_;
  std::string amz_date_;
  SigV4Scope scope_;
  std::string previous_;
};

}  // namespace euca::api
