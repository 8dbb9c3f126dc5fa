#include "core/clc/credentials.h"
#include "core/clc/zip_reader_test_util.h"

#include <archive.h>
#include <archive_entry.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <map>

namespace euca::clc {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using testing::ReadZip;

std::string TempDir() {
  char tmpl[] = "/tmp/euca-cred-test-XXXXXX";
  char* dir = mkdtemp(tmpl);
  EXPECT_NE(dir, nullptr);
  return dir ? dir : "/tmp";
}

// Sources `eucarc` in bash and returns the named variables, one per line.
std::string SourceAndPrint(const std::string& eucarc, const std::string& vars) {
  std::string cmd = "bash -c '. \"$0\" && for v in " + vars + "; do printf \"%s=%s\\n\" $v \"${!v-<unset>}\"; done' " +
                    eucarc + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return "";
  std::string out;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  pclose(p);
  return out;
}

EucarcSpec Spec() {
  return {.principal = "alice@acme",
          .euca_home = "/var/lib/euca home",
          .file_dir = "",
          .access_key = "AKIAABCDEFGHIJKLMNOP",
          .secret_key = "abc/def+ghi",
          .account_id = "123456789012",
          .cert_file = "euca2-alice-0123abcd-cert.pem",
          .key_file = "euca2-alice-0123abcd-pk.pem",
          .cloud_cert_file = "cloud-cert.pem",
          .ec2_url = "",
          .s3_url = "",
          .created_ms = 1'700'000'000'000};
}

TEST(CredentialsTest, IamrcAndStem) {
  EXPECT_EQ(RenderIamrc("AKIA1", "s3cr/t"), "AWSAccessKeyId=AKIA1\nAWSSecretKey=s3cr/t\n");
  EXPECT_EQ(CredentialStem("alice", "0123abcdef99"), "euca2-alice-0123abcd");
}

TEST(CredentialsTest, EucarcWithoutUrlsIsEmbeddedMode) {
  std::string text = RenderEucarc(Spec());
  EXPECT_THAT(text, HasSubstr("EUCA_KEY_DIR=$(dirname \"$(readlink -f \"${BASH_SOURCE:-$0}\")\")\n"));
  EXPECT_THAT(text, HasSubstr("# export EC2_URL="));
  EXPECT_THAT(text, HasSubstr("# export S3_URL="));
  EXPECT_THAT(text, HasSubstr("embedded mode"));
  EXPECT_THAT(text, Not(HasSubstr("\nexport EC2_URL")));
  EXPECT_THAT(text, HasSubstr("2023-11-14T22:13:20Z"));
}

TEST(CredentialsTest, EucarcSourcedByBashExportsEverything) {
  std::string dir = TempDir();
  EucarcSpec spec = Spec();
  spec.ec2_url = "http://clc:8773";
  std::string path = dir + "/eucarc";
  ASSERT_TRUE(PosixEnv().WriteFileAtomic(path, RenderEucarc(spec), 0600).ok());
  std::string out = SourceAndPrint(
      path,
      "EUCA_HOME EC2_URL S3_URL EC2_ACCESS_KEY EC2_SECRET_KEY AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_ACCESS_KEY "
      "AWS_SECRET_KEY EC2_USER_ID EC2_ACCOUNT_NUMBER EC2_CERT EC2_PRIVATE_KEY EUCALYPTUS_CERT");
  EXPECT_EQ(out,
            "EUCA_HOME=/var/lib/euca home\n"
            "EC2_URL=http://clc:8773\n"
            "S3_URL=<unset>\n"
            "EC2_ACCESS_KEY=AKIAABCDEFGHIJKLMNOP\n"
            "EC2_SECRET_KEY=abc/def+ghi\n"
            "AWS_ACCESS_KEY_ID=AKIAABCDEFGHIJKLMNOP\n"
            "AWS_SECRET_ACCESS_KEY=abc/def+ghi\n"
            "AWS_ACCESS_KEY=AKIAABCDEFGHIJKLMNOP\n"
            "AWS_SECRET_KEY=abc/def+ghi\n"
            "EC2_USER_ID=123456789012\n"
            "EC2_ACCOUNT_NUMBER=123456789012\n"
            "EC2_CERT=" + dir + "/euca2-alice-0123abcd-cert.pem\n"
            "EC2_PRIVATE_KEY=" + dir + "/euca2-alice-0123abcd-pk.pem\n"
            "EUCALYPTUS_CERT=" + dir + "/cloud-cert.pem\n");
  // Sourced through a symlink from elsewhere, the files are still found beside the real file.
  ASSERT_EQ(symlink(path.c_str(), (dir + "-link").c_str()), 0);
  EXPECT_THAT(SourceAndPrint(dir + "-link", "EC2_CERT"), HasSubstr("EC2_CERT=" + dir + "/euca2-alice"));
  ::unlink((dir + "-link").c_str());
  ASSERT_TRUE(PosixEnv().RemoveAll(dir).ok());
}

TEST(CredentialsTest, EucarcKeysParseBackFromTheRenderedFile) {
  EucarcSpec spec{.principal = "admin@eucalyptus", .access_key = "AKIA0123", .secret_key = "s3cr'et/+=x"};
  auto keys = ParseEucarcKeys(RenderEucarc(spec));
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_EQ(keys->first, "AKIA0123");
  EXPECT_EQ(keys->second, "s3cr'et/+=x");
  // Hand-written forms: AWS_* first, double quotes, bare words; expansions are not literals.
  keys = ParseEucarcKeys(
      "export AWS_ACCESS_KEY_ID=\"${EC2_ACCESS_KEY}\"\nEC2_ACCESS_KEY=AKIAB  # comment\nexport EC2_SECRET_KEY=\"sec\"\n");
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_EQ(keys->first, "AKIAB");
  EXPECT_EQ(keys->second, "sec");
  EXPECT_EQ(ParseEucarcKeys("export EC2_ACCESS_KEY='a'\n").status().code(), Code::kNotFound);
  EXPECT_EQ(ParseEucarcKeys("EC2_ACCESS_KEY=$(cat k)\nEC2_SECRET_KEY=s\n").status().code(), Code::kNotFound);
}

TEST(CredentialsTest, EucarcHomeDefaultsToItsFolderAndFilesMayLiveBelow) {
  std::string dir = TempDir();
  EucarcSpec spec = Spec();
  spec.euca_home = "";
  spec.file_dir = "credentials/admin";
  spec.cert_file = "euca2-a,b=c-00000000-cert.pem";
  std::string path = dir + "/eucarc";
  ASSERT_TRUE(PosixEnv().WriteFileAtomic(path, RenderEucarc(spec), 0600).ok());
  EXPECT_EQ(SourceAndPrint(path, "EUCA_HOME EC2_CERT"),
            "EUCA_HOME=" + dir + "\nEC2_CERT=" + dir + "/credentials/admin/euca2-a,b=c-00000000-cert.pem\n");
  ASSERT_TRUE(PosixEnv().RemoveAll(dir).ok());
}

TEST(CredentialsTest, ZipRoundTripsWithModesAndTimes) {
  std::vector<CredentialFile> files = {{"eucarc", "export X=1\n", 0600},
                                       {"cloud-cert.pem", std::string(100000, 'c'), 0600},
                                       {"empty", "", 0644}};
  auto zip = BuildZip(files, 1'700'000'000'000);
  ASSERT_TRUE(zip.ok()) << zip.status().ToString();
  EXPECT_EQ(zip->substr(0, 4), std::string("PK\x03\x04", 4));
  EXPECT_LT(zip->size(), 10000u);  // deflated
  auto entries = ReadZip(*zip);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries["eucarc"].data, "export X=1\n");
  EXPECT_EQ(entries["eucarc"].mode, 0600u);
  EXPECT_EQ(entries["eucarc"].mtime, 1'700'000'000);
  EXPECT_EQ(entries["cloud-cert.pem"].data, std::string(100000, 'c'));
  EXPECT_EQ(entries["empty"].data, "");
  EXPECT_EQ(entries["empty"].mode, 0644u);
}

TEST(CredentialsTest, WriteZipIsAtomicAndPrivate) {
  std::string dir = TempDir();
  std::string path = dir + "/creds.zip";
  ASSERT_TRUE(WriteCredentialsZip(PosixEnv(), path, {{"iamrc", "x", 0600}}, 0).ok());
  EXPECT_EQ(PosixEnv().Mode(path).value(), 0600u);
  EXPECT_EQ(ReadZip(PosixEnv().ReadFile(path).value())["iamrc"].data, "x");

  Status missing = WriteCredentialsZip(PosixEnv(), dir + "/no/such/dir/creds.zip", {{"iamrc", "x", 0600}}, 0);
  EXPECT_FALSE(missing.ok());
  EXPECT_FALSE(PosixEnv().Exists(dir + "/no"));
  ASSERT_TRUE(PosixEnv().RemoveAll(dir).ok());
}

TEST(CredentialsTest, WriteDirMakesPrivateFolderAndFiles) {
  std::string dir = TempDir();
  ASSERT_TRUE(WriteCredentialsDir(PosixEnv(), dir + "/credentials/bob", {{"a-pk.pem", "k", 0600}}).ok());
  EXPECT_EQ(PosixEnv().Mode(dir + "/credentials/bob").value(), 0700u);
  EXPECT_EQ(PosixEnv().Mode(dir + "/credentials/bob/a-pk.pem").value(), 0600u);
  ASSERT_TRUE(PosixEnv().RemoveAll(dir).ok());
}

}  // namespace
}  // namespace euca::clc
