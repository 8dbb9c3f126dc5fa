#include "core/walrus/md5_pipeline.h"

#include <cstring>
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

// Feeds `data` through the pipeline in chunks of at most `chunk` bytes.
std::string PipelineMd5(const std::string& data, size_t chunk, size_t slots) {
  Md5Pipeline p(chunk, slots);
  for (size_t off = 0; off < data.size(); off += chunk) {
    size_t n = std::min(chunk, data.size() - off);
    char* b = p.Next();
    std::memcpy(b, data.data() + off, n);
    p.Submit(n);
  }
  return p.Final();
}

TEST(Md5PipelineTest, MatchesInlineMd5ForManyChunkSizes) {
  std::string data;
  for (uint32_t i = 0; i < 300000; ++i) data.push_back(static_cast<char>((i * 7919u) >> 3));
  const std::string want = Md5Of(data);
  for (size_t chunk : {size_t{4096}, size_t{65536}, size_t{300000}, size_t{1000000}}) {
    for (size_t slots : {size_t{2}, size_t{4}}) {
      EXPECT_EQ(PipelineMd5(data, chunk, slots), want) << "chunk " << chunk << " slots " << slots;
    }
  }
  // Tiny chunks: many hand-overs between the threads.
  const std::string small = data.substr(0, 5000);
  EXPECT_EQ(PipelineMd5(small, 1, 2), Md5Of(small));
  EXPECT_EQ(PipelineMd5(small, 7, 3), Md5Of(small));
}

TEST(Md5PipelineTest, EmptyInputGivesTheEmptyDigest) {
  Md5Pipeline p(16);
  EXPECT_EQ(p.Final(), Md5Of(""));
}

TEST(Md5PipelineTest, DestroyedMidStreamStopsTheHasher) {
  // An error path abandons the pipeline without Final; the destructor must not hang.
  auto p = std::make_unique<Md5Pipeline>(1024, 2);
  for (int i = 0; i < 10; ++i) {
    std::memset(p->Next(), 'x', 1024);
    p->Submit(1024);
  }
  p.reset();
  SUCCEED();
}

}  // namespace
}  // namespace euca::walrus
