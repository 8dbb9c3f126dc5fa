#include "core/api/aws_chunked.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "core/base/strings.h"

namespace euca::api {
namespace {

Status Framing(const std::string& message) { return Status(Code::kInvalidArgument, message, "IncompleteBody"); }

Status Mismatch(const std::string& message) { return Status(Code::kUnauthenticated, message, "SignatureDoesNotMatch"); }

std::string HexSize(uint64_t n) {
  char buf[24];
  snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(n));
  return buf;
}

}  // namespace

AwsChunkedDecoder::AwsChunkedDecoder(StreamingContext context, size_t max_line)
    : ctx_(std::move(context)),
      max_line_(max_line),
      previous_signature_(ctx_.seed_signature),
      hash_(std::make_unique<Sha256Hasher>()) {}

Status AwsChunkedDecoder::Fail(Status s) {
  state_ = State::kFailed;
  error_ = s;
  return s;
}

Status AwsChunkedDecoder::Feed(std::string_view in, std::string* out) {
  if (state_ == State::kFailed) return error_;
  while (!in.empty()) {
    switch (state_) {
      case State::kHeader:
      case State::kTrailer:
      case State::kDataEnd: {
        size_t nl = in.find('\n');
        size_t take = nl == std::string_view::npos ? in.size() : nl + 1;
        if (line_.size() + take > max_line_)
          return Fail(Framing("aws-chunked line longer than " + std::to_string(max_line_) + " bytes"));
        line_.append(in.substr(0, take));
        in.remove_prefix(take);
        if (nl == std::string_view::npos) break;
        std::string_view line(line_);
        line.remove_suffix(1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        Status s;
        if (state_ == State::kHeader) {
          s = OnHeaderLine(line);
        } else if (state_ == State::kDataEnd) {
          if (!line.empty())
            s = Framing("aws-chunked chunk data is longer than its declared size");
          else
            state_ = final_chunk_ ? State::kTrailer : State::kHeader;
        } else {
          s = OnTrailerLine(line);
        }
        line_.clear();
        if (!s.ok()) return Fail(s);
        break;
      }
      case State::kData: {
        size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, in.size()));
        std::string_view piece = in.substr(0, take);
        if (ctx_.mode != ChunkedMode::kUnsignedTrailer) hash_->Update(piece);
        out->append(piece);
        decoded_ += take;
        remaining_ -= take;
        in.remove_prefix(take);
        if (remaining_ == 0) {
          Status s = OnChunkEnd();
          if (!s.ok()) return Fail(s);
        }
        break;
      }
      case State::kDone:
        return Fail(Framing("data after the end of the aws-chunked body"));
      case State::kFailed:
        return error_;
    }
  }
  return Status::Ok();
}

Status AwsChunkedDecoder::OnHeaderLine(std::string_view line) {
  size_t semi = line.find(';');
  std::string_view size_text = TrimSpace(line.substr(0, semi));
  if (size_text.empty() || size_text.size() > 15 ||
      !std::all_of(size_text.begin(), size_text.end(), [](char c) { return isxdigit(static_cast<unsigned char>(c)); }))
    return Status(Code::kInvalidArgument, "malformed aws-chunked chunk header '" + std::string(line) + "'",
                  "InvalidChunkSizeError");
  uint64_t size = std::stoull(std::string(size_text), nullptr, 16);
  expected_signature_.clear();
  if (ctx_.mode != ChunkedMode::kUnsignedTrailer) {
    constexpr std::string_view kKey = "chunk-signature=";
    std::string_view ext = semi == std::string_view::npos ? std::string_view() : TrimSpace(line.substr(semi + 1));
    if (ext.substr(0, kKey.size()) != kKey)
      return Mismatch("aws-chunked chunk header '" + std::string(line) + "' carries no chunk-signature");
    expected_signature_ = std::string(ext.substr(kKey.size()));
  }
  if (ctx_.decoded_length >= 0 && decoded_ + size > static_cast<uint64_t>(ctx_.decoded_length))
    return Framing("aws-chunked body is longer than x-amz-decoded-content-length '" +
                   std::to_string(ctx_.decoded_length) + "'");
  final_chunk_ = size == 0;
  remaining_ = size;
  state_ = State::kData;
  if (size == 0) return OnChunkEnd();
  return Status::Ok();
}

Status AwsChunkedDecoder::OnChunkEnd() {
  if (ctx_.mode != ChunkedMode::kUnsignedTrailer) {
    std::string computed =
        SigV4ChunkSignature(ctx_.signing_key, ctx_.amz_date, ctx_.scope, previous_signature_, hash_->FinishHex());
    if (!ConstantTimeEquals(computed, expected_signature_))
      return Mismatch("the signature of aws-chunked chunk ending at byte " + std::to_string(decoded_) +
                      " does not match");
    previous_signature_ = computed;
  }
  // A final chunk's header line is already complete; data chunks end with their own CRLF.
  state_ = final_chunk_ ? State::kTrailer : State::kDataEnd;
  return Status::Ok();
}

Status AwsChunkedDecoder::OnTrailerLine(std::string_view line) {
  if (line.empty()) {
    if (ctx_.mode == ChunkedMode::kSignedTrailer) {
      if (trailer_signature_.empty()) return Mismatch("aws-chunked body lacks x-amz-trailer-signature");
      std::string computed =
          SigV4TrailerSignature(ctx_.signing_key, ctx_.amz_date, ctx_.scope, previous_signature_, canonical_trailers_);
      if (!ConstantTimeEquals(computed, trailer_signature_))
        return Mismatch("the signature of the aws-chunked trailers does not match");
    }
    if (ctx_.decoded_length >= 0 && decoded_ != static_cast<uint64_t>(ctx_.decoded_length))
      return Framing("aws-chunked body holds " + std::to_string(decoded_) +
                     " bytes but x-amz-decoded-content-length is '" + std::to_string(ctx_.decoded_length) + "'");
    state_ = State::kDone;
    return Status::Ok();
  }
  if (ctx_.mode == ChunkedMode::kSigned)
    return Framing("unexpected trailer '" + std::string(line) + "' in an aws-chunked body without trailers");
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0)
    return Framing("malformed aws-chunked trailer '" + std::string(line) + "'");
  std::string name = AsciiLower(TrimSpace(line.substr(0, colon)));
  std::string value(TrimSpace(line.substr(colon + 1)));
  if (name == "x-amz-trailer-signature") {
    if (ctx_.mode != ChunkedMode::kSignedTrailer) return Framing("x-amz-trailer-signature in an unsigned body");
    trailer_signature_ = value;
    return Status::Ok();
  }
  if (!ctx_.declared_trailers.empty() &&
      std::find(ctx_.declared_trailers.begin(), ctx_.declared_trailers.end(), name) == ctx_.declared_trailers.end())
    return Mismatch("aws-chunked trailer '" + name + "' is not declared in x-amz-trailer");
  canonical_trailers_ += name + ":" + value + "\n";
  trailers_.Add(name, value);
  return Status::Ok();
}

Status AwsChunkedDecoder::Finish() const {
  if (state_ == State::kDone) return Status::Ok();
  if (state_ == State::kFailed) return error_;
  return Framing("aws-chunked body ended after " + std::to_string(decoded_) + " bytes, before its final chunk");
}

AwsChunkedEncoder::AwsChunkedEncoder(std::string signing_key, std::string amz_date, SigV4Scope scope,
                                     std::string seed_signature)
    : signing_key_(std::move(signing_key)),
      amz_date_(std::move(amz_date)),
      scope_(std::move(scope)),
      previous_(std::move(seed_signature)) {}

std::string AwsChunkedEncoder::Chunk(std::string_view data) {
  previous_ = SigV4ChunkSignature(signing_key_, amz_date_, scope_, previous_, Sha256Hex(data));
  std::string out = HexSize(data.size()) + ";chunk-signature=" + previous_ + "\r\n";
  out.append(data);
  out.append("\r\n");
  return out;
}

std::string AwsChunkedEncoder::Final() {
  previous_ = SigV4ChunkSignature(signing_key_, amz_date_, scope_, previous_, kEmptySha256);
  return "0;chunk-signature=" + previous_ + "\r\n\r\n";
}

uint64_t AwsChunkedEncoder::EncodedLength(uint64_t decoded_length, uint64_t chunk_size) {
  constexpr uint64_t kOverhead = 17 + 64 + 2 + 2;  // ";chunk-signature=" sig CRLF ... CRLF
  uint64_t total = 1 + kOverhead;                  // "0" + overhead of the final chunk
  if (chunk_size == 0) return total;
  uint64_t full = decoded_length / chunk_size, rest = decoded_length % chunk_size;
  total += full * (HexSize(chunk_size).size() + kOverhead + chunk_size);
  if (rest) total += HexSize(rest).size() + kOverhead + rest;
  return total;
}

}  // namespace euca::api
