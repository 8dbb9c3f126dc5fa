#include "core/base/error_map.h"

#include <gtest/gtest.h>

namespace euca {
namespace {

TEST(ErrorMapTest, S3CodesMapBackToTheirCodes) {
  EXPECT_EQ(CodeOfS3Error("NoSuchBucket", 404), Code::kNotFound);
  EXPECT_EQ(CodeOfS3Error("NoSuchKey", 404), Code::kNotFound);
  // The configurations Walrus keeps none of: 404s of their own codes, both ways.
  for (const char* wire : {"NoSuchTagSet", "NoSuchCORSConfiguration", "NoSuchBucketPolicy", "NoSuchWebsiteConfiguration",
                           "NoSuchLifecycleConfiguration", "ReplicationConfigurationNotFoundError",
                           "ObjectLockConfigurationNotFoundError", "NoSuchPublicAccessBlockConfiguration",
                           "ServerSideEncryptionConfigurationNotFoundError", "NoSuchConfiguration"}) {
    EXPECT_EQ(CodeOfS3Error(wire, 400), Code::kNotFound) << wire;
    EXPECT_EQ(S3HttpStatus(Status(Code::kNotFound, "none", wire)), 404) << wire;
  }
  EXPECT_EQ(CodeOfS3Error("AccessDenied", 403), Code::kPermissionDenied);
  EXPECT_EQ(CodeOfS3Error("SignatureDoesNotMatch", 403), Code::kUnauthenticated);
  EXPECT_EQ(CodeOfS3Error("InvalidAccessKeyId", 403), Code::kUnauthenticated);
  EXPECT_EQ(CodeOfS3Error("BucketNotEmpty", 409), Code::kConflict);
  EXPECT_EQ(CodeOfS3Error("BucketAlreadyOwnedByYou", 409), Code::kAlreadyExists);
  EXPECT_EQ(CodeOfS3Error("InvalidBucketName", 400), Code::kInvalidArgument);
  EXPECT_EQ(CodeOfS3Error("BadDigest", 400), Code::kInvalidArgument);
  EXPECT_EQ(CodeOfS3Error("NotImplemented", 501), Code::kUnsupported);
  EXPECT_EQ(CodeOfS3Error("SlowDown", 503), Code::kResourceExhausted);
}

TEST(ErrorMapTest, UnknownS3CodesMapByHttpStatus) {
  EXPECT_EQ(CodeOfS3Error("", 404), Code::kNotFound);
  EXPECT_EQ(CodeOfS3Error("", 403), Code::kPermissionDenied);
  EXPECT_EQ(CodeOfS3Error("SomethingNew", 409), Code::kConflict);
  EXPECT_EQ(CodeOfS3Error("", 400), Code::kInvalidArgument);
  EXPECT_EQ(CodeOfS3Error("", 503), Code::kUnavailable);
  EXPECT_EQ(CodeOfS3Error("", 500), Code::kInternal);
  EXPECT_EQ(CodeOfS3Error("", 502), Code::kInternal);
}

TEST(ErrorMapTest, EveryDefaultS3CodeRoundTrips) {
  for (Code c : {Code::kInternal, Code::kInvalidArgument, Code::kNotFound, Code::kAlreadyExists, Code::kConflict,
                 Code::kPermissionDenied, Code::kUnauthenticated, Code::kResourceExhausted, Code::kUnsupported,
                 Code::kUnavailable})
    EXPECT_EQ(CodeOfS3Error(MapError(c).s3, MapError(c).http_status), c) << CodeName(c);
}

}  // namespace
}  // namespace euca
