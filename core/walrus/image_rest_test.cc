#include "core/walrus/image_rest.h"

#include <gtest/gtest.h>

#include "core/walrus/s3_rest.h"

namespace euca::walrus {
namespace {

class NoBody final : public http::BodyReader {
 public:
  Result<size_t> Read(char*, size_t) override { return size_t{0}; }
};

http::RequestHead Head(const std::string& path, const std::string& host) {
  http::RequestHead h;
  h.method = "GET";
  h.target = path;
  h.path = path;
  h.headers.Add("Host", host);
  return h;
}

// Where RouteWalrus sends a request: "internal" or "s3".
std::string Routed(const std::string& path, const std::string& host, const std::vector<std::string>& domains) {
  auto to = [](const char* name) {
    return [name](const http::RequestHead&, http::BodyReader&) { return http::Response::Text(200, name); };
  };
  NoBody body;
  return RouteWalrus(to("internal"), to("s3"), domains)(Head(path, host), body).body;
}

// A virtual-host-style request for key "_euca/..." went to the internal handler, so such
// keys could not be reached that way.
TEST(ImageRestTest, InternalPathsOfAVirtualHostBucketAreObjectKeys) {
  const std::vector<std::string> domains = {"s3.test"};
  EXPECT_EQ(Routed("/_euca/image", "bkt.s3.test", domains), "s3");
  EXPECT_EQ(Routed("/_euca/image", "BKT.S3.Test:8773", domains), "s3");
  EXPECT_EQ(Routed("/_euca/notes.txt", "bkt.s3.test", domains), "s3");
  EXPECT_TRUE(IsQuickS3Request(Head("/_euca/notes.txt", "bkt.s3.test"), domains));
  // Path style (the service's own name, an address, another host): internal.
  EXPECT_EQ(Routed("/_euca/image", "s3.test:8773", domains), "internal");
  EXPECT_EQ(Routed("/_euca/image", "127.0.0.1:8773", domains), "internal");
  EXPECT_EQ(Routed("/_euca/image", "walrus.example", domains), "internal");
  EXPECT_EQ(Routed("/_euca/image", "bkt.s3.test", {}), "internal");
  EXPECT_FALSE(IsQuickS3Request(Head("/_euca/image", "s3.test"), domains));
  // Other paths: S3.
  EXPECT_EQ(Routed("/bkt/_euca/image", "s3.test", domains), "s3");
  EXPECT_EQ(Routed("/services/objectstorage/_euca/image", "s3.test", domains), "s3");
}

}  // namespace
}  // namespace euca::walrus
