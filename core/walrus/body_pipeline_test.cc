#include "core/walrus/body_pipeline.h"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <future>
#include <vector>
#include <string>

#include <gtest/gtest.h>

#include "core/walrus/rules.h"

namespace euca::walrus {
namespace {

std::string Md5Of(std::string_view data) {
  Md5 md5;
  md5.Update(data);
  return md5.Final();
}

std::string TestData(size_t n) {
  std::string data;
  for (uint32_t i = 0; i < n; ++i) data.push_back(static_cast<char>((i * 7919u) >> 3));
  return data;
}

struct Piped {
  std::string md5;
  std::string written;
};

// Feeds `data` through the pipeline in chunks of at most `chunk` bytes; the digest and what
// the sink was given.
Piped Pipe(const std::string& data, size_t chunk, size_t slots) {
  Piped out;
  BodyPipeline p(
      chunk,
      [&](std::string_view c) {
        out.written.append(c);
        return Status::Ok();
      },
      slots);
  for (size_t off = 0; off < data.size(); off += chunk) {
    size_t n = std::min(chunk, data.size() - off);
    auto b = p.Next();
    EXPECT_TRUE(b.ok());
    std::memcpy(*b, data.data() + off, n);
    p.Submit(n);
  }
  auto digest = p.Final();
  EXPECT_TRUE(digest.ok()) << digest.status().ToString();
  out.md5 = digest.ok() ? *digest : "";
  return out;
}

TEST(BodyPipelineTest, HashesAndWritesEveryByteInOrderForManyChunkSizes) {
  const std::string data = TestData(300000);
  const std::string want = Md5Of(data);
  for (size_t chunk : {size_t{4096}, size_t{65536}, size_t{300000}, size_t{1000000}}) {
    for (size_t slots : {size_t{2}, size_t{4}}) {
      Piped got = Pipe(data, chunk, slots);
      EXPECT_EQ(got.md5, want) << "chunk " << chunk << " slots " << slots;
      EXPECT_EQ(got.written, data) << "chunk " << chunk << " slots " << slots;
    }
  }
  // Tiny chunks: many hand-overs between the threads.
  const std::string small = data.substr(0, 5000);
  EXPECT_EQ(Pipe(small, 1, 2).md5, Md5Of(small));
  EXPECT_EQ(Pipe(small, 7, 3).written, small);
}

// A sink that fell behind gets every buffer submitted meanwhile (up to the ring's end) in
// one call, the bytes still in order; a last short buffer ends such a call.
TEST(BodyPipelineTest, ASinkThatFellBehindGetsSeveralBuffersAtOnce) {
  constexpr size_t kChunk = 4096, kSlots = 8;
  const std::string data = TestData(kChunk * 7 + 100);
  std::promise<void> gate, entered;
  std::shared_future<void> open = gate.get_future().share();
  std::future<void> first_call = entered.get_future();
  std::vector<size_t> calls;
  std::string written;
  BodyPipeline p(
      kChunk,
      [&](std::string_view c) {
        if (calls.empty()) {  // the first call (one buffer) waits until seven more are queued
          entered.set_value();
          open.wait();
        }
        calls.push_back(c.size());
        written.append(c);
        return Status::Ok();
      },
      kSlots);
  for (size_t off = 0; off < data.size(); off += kChunk) {
    size_t n = std::min(kChunk, data.size() - off);
    auto b = p.Next();
    ASSERT_TRUE(b.ok());
    std::memcpy(*b, data.data() + off, n);
    p.Submit(n);
    if (off == 0) first_call.wait();
  }
  gate.set_value();
  auto digest = p.Final();
  ASSERT_TRUE(digest.ok()) << digest.status().ToString();
  EXPECT_EQ(*digest, Md5Of(data));
  EXPECT_TRUE(written == data) << "the sink got the bytes out of order or not all of them";
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0], kChunk);
  EXPECT_EQ(calls[1], kChunk * 6 + 100) << "the waiting buffers did not go in one call";
}

TEST(BodyPipelineTest, EmptyInputGivesTheEmptyDigestAndWritesNothing) {
  int calls = 0;
  BodyPipeline p(16, [&](std::string_view) {
    ++calls;
    return Status::Ok();
  });
  auto digest = p.Final();
  ASSERT_TRUE(digest.ok());
  EXPECT_EQ(*digest, Md5Of(""));
  EXPECT_EQ(calls, 0);
}

TEST(BodyPipelineTest, BuffersAreAlignedForDirectIo) {
  BodyPipeline p(1 << 20, [](std::string_view) { return Status::Ok(); }, 3);
  for (int i = 0; i < 5; ++i) {
    auto b = p.Next();
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(reinterpret_cast<uintptr_t>(*b) % BodyPipeline::kBufferAlign, 0u);
    p.Submit(1 << 20);
  }
  EXPECT_TRUE(p.Final().ok());
}

TEST(BodyPipelineTest, ASinkErrorReachesTheProducerAndFinal) {
  std::atomic<int> calls{0};
  BodyPipeline p(
      1024,
      [&](std::string_view) {
        return ++calls == 3 ? Status(Code::kResourceExhausted, "disk full") : Status::Ok();
      },
      2);
  // The producer keeps going until Next() reports the error (at most the ring's worth later).
  int submitted = 0;
  for (; submitted < 100; ++submitted) {
    auto b = p.Next();
    if (!b.ok()) {
      EXPECT_EQ(b.status().code(), Code::kResourceExhausted);
      break;
    }
    std::memset(*b, 'x', 1024);
    p.Submit(1024);
  }
  EXPECT_LT(submitted, 100);
  auto digest = p.Final();
  ASSERT_FALSE(digest.ok());
  EXPECT_EQ(digest.status().message(), "disk full");
  EXPECT_EQ(calls.load(), 3);  // nothing is written after the error
}

TEST(BodyPipelineTest, DestroyedMidStreamStopsBothThreads) {
  // An error path abandons the pipeline without Final; the destructor must not hang.
  auto p = std::make_unique<BodyPipeline>(1024, [](std::string_view) { return Status::Ok(); }, 2);
  for (int i = 0; i < 10; ++i) {
    auto b = p->Next();
    ASSERT_TRUE(b.ok());
    std::memset(*b, 'x', 1024);
    p->Submit(1024);
  }
  p.reset();
  SUCCEED();
}

}  // namespace
}  // namespace euca::walrus
