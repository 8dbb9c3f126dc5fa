#include "bundles/crypto.h"

#include <gtest/gtest.h>

#include <vector>

#include "bundles/test_support.h"
#include "core/base/random.h"

namespace euca::bundles {
namespace {

using test_support::TestPki;

std::string RunAes(AesCbc::Direction dir, const BundleKey& key, const std::string& in, size_t chunk) {
  auto aes = AesCbc::Create(dir, key);
  EXPECT_TRUE(aes.ok()) << aes.status().ToString();
  std::string out;
  std::vector<uint8_t> buf(chunk + 32);
  for (size_t off = 0; off < in.size(); off += chunk) {
    size_t n = std::min(chunk, in.size() - off);
    auto got = (*aes)->Update(reinterpret_cast<const uint8_t*>(in.data() + off), n, buf.data());
    EXPECT_TRUE(got.ok());
    out.append(reinterpret_cast<char*>(buf.data()), *got);
  }
  auto fin = (*aes)->Finish(buf.data());
  if (!fin.ok()) return "FINISH FAILED: " + fin.status().message();
  out.append(reinterpret_cast<char*>(buf.data()), *fin);
  return out;
}

TEST(CryptoTest, KeyAndIvAre32LowerHexDigitsAndFresh) {
  BundleKey a = NewBundleKey(), b = NewBundleKey();
  EXPECT_TRUE(IsHex(a.key_hex, 32));
  EXPECT_TRUE(IsHex(a.iv_hex, 32));
  EXPECT_EQ(a.key_hex.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(a.key_hex, a.iv_hex);
  EXPECT_NE(a.key_hex, b.key_hex);
}

TEST(CryptoTest, AesCbcRoundTripsAnyChunkingWithPkcs7Padding) {
  BundleKey key = NewBundleKey();
  for (size_t size : {0u, 1u, 15u, 16u, 17u, 100000u}) {
    std::string plain = test_support::MixedBytes(size, 5);
    std::string enc = RunAes(AesCbc::Direction::kEncrypt, key, plain, 1000);
    EXPECT_EQ(enc.size(), (size / 16 + 1) * 16) << "PKCS#7 always pads";
    EXPECT_EQ(RunAes(AesCbc::Direction::kEncrypt, key, plain, 7), enc);
    EXPECT_EQ(RunAes(AesCbc::Direction::kDecrypt, key, enc, 33), plain);
  }
}

TEST(CryptoTest, AesKnownAnswer) {
  // NIST SP 800-38A F.2.1 CBC-AES128.Encrypt, first block (plus the PKCS#7 block).
  BundleKey key{"2b7e151628aed2a6abf7158809cf4f3c", "000102030405060708090a0b0c0d0e0f"};
  std::string plain = *HexDecode("6bc1bee22e409f96e93d7e117393172a");
  std::string enc = RunAes(AesCbc::Direction::kEncrypt, key, plain, 16);
  EXPECT_EQ(HexEncode(enc.substr(0, 16)), "7649abac8119b246cee98e9b12e9197d");
}

TEST(CryptoTest, AesRefusesBadKeysAndReportsBadPadding) {
  EXPECT_FALSE(AesCbc::Create(AesCbc::Direction::kEncrypt, {"abc", std::string(32, '0')}).ok());
  EXPECT_FALSE(AesCbc::Create(AesCbc::Direction::kEncrypt, {std::string(32, 'g'), std::string(32, '0')}).ok());
  BundleKey key = NewBundleKey();
  std::string enc = RunAes(AesCbc::Direction::kEncrypt, key, "some secret image bytes", 100);
  std::string dec = RunAes(AesCbc::Direction::kDecrypt, key, enc.substr(0, enc.size() - 1), 100);
  EXPECT_EQ(dec.rfind("FINISH FAILED", 0), 0u) << dec;
}

TEST(CryptoTest, Sha1StreamsAndRestarts) {
  Sha1 sha;
  sha.Update("ab", 2);
  sha.Update("c", 1);
  EXPECT_EQ(sha.FinishHex(), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(sha.FinishHex(), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

TEST(CryptoTest, WrappedKeyUnwrapsOnlyWithTheRightPrivateKey) {
  const TestPki& pki = TestPki::Get();
  BundleKey key = NewBundleKey();
  auto wrapped = WrapForCertificate(pki.user_cert, key.key_hex);
  ASSERT_TRUE(wrapped.ok()) << wrapped.status().ToString();
  EXPECT_EQ(wrapped->size(), 512u);
  EXPECT_EQ(*UnwrapWithPrivateKey(pki.user_key, *wrapped), key.key_hex);
  EXPECT_FALSE(UnwrapWithPrivateKey(pki.other_key, *wrapped).ok());
  EXPECT_FALSE(UnwrapWithPrivateKey(pki.user_key, "zz").ok());
}

TEST(CryptoTest, HexDecode) {
  EXPECT_EQ(*HexDecode("00ff7F"), std::string("\x00\xff\x7f", 3));
  EXPECT_FALSE(HexDecode("abc").ok());
  EXPECT_FALSE(HexDecode("zz").ok());
}

}  // namespace
}  // namespace euca::bundles
