// upload-bundle and download-bundle run whole (cmd::Run) against an S3 server in this process
// whose handler fails on purpose: the real S3 handler over a memory store, wrapped so that
// chosen requests get an error first. What the bats tests cannot make happen: a part upload
// that fails, then succeeds when tried again.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <sstream>

#include "bundles/test_support.h"
#include "cmd/cli.h"
#include "core/base/error_map.h"
#include "core/http/server.h"
#include "core/walrus/s3_rest.h"
#include "drivers/objects/memory_backend.h"
#include "state/memory_store.h"

namespace euca::cmd {
namespace {

using bundles::test_support::TempDir;
using bundles::test_support::TestPki;
using bundles::test_support::WriteFile;

const model::Principal kAlice{"acme", "111122223333", "alice", "AIDAALICE0000000000001"};
constexpr char kKeyId[] = "AKIAALICE";
constexpr char kSecret[] = "alice-secret";

struct RunResult {
  int status;
  std::string out, err;
};

/// A bundle of three parts, and an S3 server whose PUTs of img.part.01 fail `failures` times
/// with 503 SlowDown before they reach the store.
class UploadRetryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const TestPki& pki = TestPki::Get();
    WriteFile(dir_ / "cert.pem", pki.user_cert);
    WriteFile(dir_ / "key.pem", pki.user_key);
    WriteFile(dir_ / "cloud.pem", pki.ca_cert);
    std::string image(150000, '\0');
    std::mt19937 rng(7);
    for (char& c : image) c = static_cast<char>(rng());  // incompressible: three parts of 64 KiB
    WriteFile(dir_ / "img", image);
    RunResult r =
        Euca({"bundle-image", "-i", dir_ / "img", "-d", dir_.path(), "-c", dir_ / "cert.pem", "-k", dir_ / "key.pem",
              "-u", "111122223333", "--ec2cert", dir_ / "cloud.pem", "--part-size", "65536"});
    ASSERT_EQ(r.status, 0) << r.err;
    ASSERT_TRUE(std::filesystem::exists(dir_ / "img.part.02"));

    // The cloud's system account, which upload-bundle's default ACL (aws-exec-read) grants read.
    auto seeded = accounts_.Transact({"system", "seed", ""}, [](state::Txn& t) {
      model::Account cloud{"000000000001", model::kSystemAccount, 1};
      return t.Put({"accounts", cloud.id, "", cloud.name, model::ToJson(cloud), std::nullopt});
    });
    ASSERT_TRUE(seeded.ok()) << seeded.status().ToString();
    walrus_ = std::make_unique<walrus::Walrus>(backend_, RealClock(), walrus::WalrusOptions{}, &accounts_);
    walrus::KeyLookup lookup = [](const std::string& akid) -> Result<walrus::KeyOwner> {
      if (akid == kKeyId) return walrus::KeyOwner{kAlice, kSecret};
      return NotFound("no such key");
    };
    http::Handler s3 = walrus::MakeS3Handler(*walrus_, lookup);
    auto failures = failures_;
    http::Handler faulty = [s3, failures](const http::RequestHead& head, http::BodyReader& body) {
      if (head.method == "PUT" && head.path.ends_with("/img.part.01") && failures->fetch_sub(1) > 0)
        return http::Response::Text(
            503, "<Error><Code>SlowDown</Code><Message>please reduce your request rate</Message></Error>",
            "application/xml");
      return s3(head, body);
    };
    auto server = http::Server::Start({}, faulty);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
  }

  RunResult Euca(std::vector<std::string> args) {
    std::map<std::string, std::string> vars = {{"EUCA_HOME", dir_ / "home"}};
    if (server_) {
      vars["S3_URL"] = "http://127.0.0.1:" + std::to_string(server_->port()) + "/services/objectstorage";
      vars["AWS_ACCESS_KEY_ID"] = kKeyId;
      vars["AWS_SECRET_ACCESS_KEY"] = kSecret;
    }
    GetenvFn getenv = [vars](const char* name) -> std::optional<std::string> {
      auto it = vars.find(name);
      if (it == vars.end()) return std::nullopt;
      return it->second;
    };
    std::ostringstream out, err;
    int status = cmd::Run("euca", args, out, err, getenv, PosixEnv(), RealClock());
    return {status, out.str(), err.str()};
  }

  TempDir dir_;
  objects::MemoryBackend backend_;
  state::MemoryStateStore accounts_;
  std::unique_ptr<walrus::Walrus> walrus_;
  std::shared_ptr<std::atomic<int>> failures_ = std::make_shared<std::atomic<int>>(0);
  std::unique_ptr<http::Server> server_;
};

TEST_F(UploadRetryTest, AFailedPartFailsTheUploadWithoutRetry) {
  failures_->store(1);
  RunResult r = Euca({"upload-bundle", "-b", "images", "-m", dir_ / "img.manifest.xml"});
  EXPECT_EQ(r.status, MapError(Code::kResourceExhausted).exit_status) << r.err;
  EXPECT_NE(r.err.find("upload images/img.part.01: please reduce your request rate"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
  // The manifest goes last, so a failed upload leaves no manifest behind.
  walrus::GetObjectRequest manifest;
  manifest.bucket = "images";
  manifest.key = "img.manifest.xml";
  EXPECT_EQ(walrus_->HeadObject(kAlice, manifest).status().code(), Code::kNotFound);
}

TEST_F(UploadRetryTest, RetryTriesAFailedPartAgain) {
  failures_->store(2);
  RunResult r = Euca({"upload-bundle", "-b", "images", "-m", dir_ / "img.manifest.xml", "--retry", "--debug"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "Uploaded images/img.manifest.xml\n");
  EXPECT_NE(r.err.find("retrying, 5 attempt(s) left"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("retrying, 4 attempt(s) left"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("retrying, 3 attempt(s) left"), std::string::npos) << r.err;

  std::string down = dir_ / "down";
  ASSERT_EQ(::mkdir(down.c_str(), 0755), 0);
  r = Euca({"download-bundle", "-b", "images", "-p", "img", "-d", down});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(bundles::test_support::ReadFile(down + "/img.part.01"),
            bundles::test_support::ReadFile(dir_ / "img.part.01"));
}

TEST_F(UploadRetryTest, RetryGivesUpAfterFiveMoreTries) {
  failures_->store(100);
  RunResult r = Euca({"upload-bundle", "-b", "images", "-m", dir_ / "img.manifest.xml", "--retry"});
  EXPECT_EQ(r.status, MapError(Code::kResourceExhausted).exit_status);
  EXPECT_EQ(failures_->load(), 100 - 6);
}

}  // namespace
}  // namespace euca::cmd
