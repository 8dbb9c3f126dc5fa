#include "core/clc/properties.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace euca::clc {
namespace {

using ::testing::HasSubstr;

const PropertyDef& Def(const std::string& name) {
  auto d = FindProperty(name);
  EXPECT_TRUE(d.ok()) << name;
  return **d;
}

std::string Canon(const std::string& name, const std::string& value) {
  auto v = CanonicalPropertyValue(Def(name), value);
  EXPECT_TRUE(v.ok()) << name << "=" << value << ": " << v.status().ToString();
  return v.ok() ? *v : "<error>";
}

Status Bad(const std::string& name, const std::string& value) {
  return CanonicalPropertyValue(Def(name), value).status();
}

TEST(PropertiesTest, RegistryIsSortedAndDefaultsAreCanonical) {
  const auto& all = Properties();
  ASSERT_GE(all.size(), 6u);
  for (size_t i = 1; i < all.size(); ++i) EXPECT_LT(all[i - 1].name, all[i].name);
  for (const auto& d : all) {
    auto v = CanonicalPropertyValue(d, d.default_value);
    ASSERT_TRUE(v.ok()) << d.name << ": " << v.status().ToString();
    EXPECT_EQ(*v, d.default_value) << d.name;
    EXPECT_FALSE(d.description.empty()) << d.name;
  }
  EXPECT_EQ(Def("cloud.region").default_value, "euca");
  EXPECT_EQ(Def("cloud.description").default_value, "");
  EXPECT_EQ(Def("cloud.embedded-zone").default_value, "local");
  EXPECT_EQ(Def("services.ec2-url").default_value, "");
  EXPECT_EQ(Def("services.s3-url").default_value, "");
  EXPECT_EQ(Def("credentials.cert-validity-days").default_value, "3650");
  EXPECT_EQ(Def("signup.auto-approve").default_value, "false");
  EXPECT_EQ(Def("walrus.image-cache-bytes").default_value, "32212254720");
}

TEST(PropertiesTest, EmbeddedZoneIsAZoneName) {
  EXPECT_EQ(Canon("cloud.embedded-zone", "zone-1.a_b"), "zone-1.a_b");
  EXPECT_EQ(Bad("cloud.embedded-zone", "").code(), Code::kInvalidArgument);
  EXPECT_EQ(Bad("cloud.embedded-zone", "-zone").code(), Code::kInvalidArgument);
  EXPECT_EQ(Bad("cloud.embedded-zone", "a zone").code(), Code::kInvalidArgument);
  EXPECT_EQ(Bad("cloud.embedded-zone", std::string(64, 'z')).code(), Code::kInvalidArgument);
  // The meta-zones of RunInstances and describe-availability-zones' "verbose" name no zone.
  for (const char* reserved : {"any", "single", "spread", "verbose"}) {
    Status s = Bad("cloud.embedded-zone", reserved);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << reserved;
    EXPECT_THAT(s.message(), ::testing::HasSubstr("not any, single, spread or verbose")) << reserved;
  }
  EXPECT_EQ(Canon("cloud.embedded-zone", "anyzone"), "anyzone");
}

TEST(PropertiesTest, ImageCacheBytesIsABoundedCount) {
  const PropertyDef& d = Def("walrus.image-cache-bytes");
  EXPECT_EQ(*CanonicalPropertyValue(d, "0"), "0");
  EXPECT_EQ(*CanonicalPropertyValue(d, "1125899906842624"), "1125899906842624");
  EXPECT_FALSE(CanonicalPropertyValue(d, "1125899906842625").ok());
  EXPECT_FALSE(CanonicalPropertyValue(d, "-1").ok());
  EXPECT_FALSE(CanonicalPropertyValue(d, "30G").ok());
}

TEST(PropertiesTest, UnknownNameIsInvalidArgument) {
  auto d = FindProperty("cloud.regoin");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), Code::kInvalidArgument);
  EXPECT_THAT(d.status().message(), HasSubstr("unknown property 'cloud.regoin'"));
}

TEST(PropertiesTest, IntWithinRange) {
  EXPECT_EQ(Canon("credentials.cert-validity-days", "1"), "1");
  EXPECT_EQ(Canon("credentials.cert-validity-days", " 36500 "), "36500");
  EXPECT_EQ(Canon("credentials.cert-validity-days", "+007"), "7");
  for (std::string bad : std::vector<std::string>{"0", "36501", "-5", "ten", "", "3.5", "1e3", "99999999999999999999"}) {
    Status s = Bad("credentials.cert-validity-days", bad);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << bad;
    EXPECT_EQ(s.message(), "property 'credentials.cert-validity-days' cannot be '" + bad +
                               "': expected an integer from 1 to 36500");
  }
}

TEST(PropertiesTest, BoolAcceptsCommonSpellings) {
  for (std::string t : std::vector<std::string>{"true", "TRUE", "yes", "On", "1"}) EXPECT_EQ(Canon("signup.auto-approve", t), "true") << t;
  for (std::string f : std::vector<std::string>{"false", "No", "off", "0"}) EXPECT_EQ(Canon("signup.auto-approve", f), "false") << f;
  Status s = Bad("signup.auto-approve", "maybe");
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("'signup.auto-approve'"));
  EXPECT_THAT(s.message(), HasSubstr("'maybe'"));
  EXPECT_THAT(s.message(), HasSubstr("true or false"));
}

TEST(PropertiesTest, RegionIsADnsLabel) {
  EXPECT_EQ(Canon("cloud.region", "US-West-1"), "us-west-1");
  for (std::string bad : std::vector<std::string>{"", "-west", "west-", "us west", "us.west", "us_west", std::string(64, 'a')}) {
    Status s = Bad("cloud.region", bad);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << bad;
    EXPECT_THAT(s.message(), HasSubstr("DNS label")) << bad;
  }
}

TEST(PropertiesTest, DescriptionIsFreeTextWithoutControlCharacters) {
  EXPECT_EQ(Canon("cloud.description", "  Lab cloud, room 4.12  "), "Lab cloud, room 4.12");
  EXPECT_EQ(Canon("cloud.description", ""), "");
  EXPECT_EQ(Bad("cloud.description", "two\nlines").code(), Code::kInvalidArgument);
  EXPECT_EQ(Bad("cloud.description", std::string(2000, 'x')).code(), Code::kInvalidArgument);
}

TEST(PropertiesTest, UrlsAreHttpOrEmpty) {
  EXPECT_EQ(Canon("services.ec2-url", ""), "");
  EXPECT_EQ(Canon("services.ec2-url", "HTTP://CLC.Example.com:8773/"), "http://clc.example.com:8773");
  EXPECT_EQ(Canon("services.s3-url", "https://walrus:8773/services/objectstorage"),
            "https://walrus:8773/services/objectstorage");
  EXPECT_EQ(Canon("services.s3-url", "http://[::1]:8773"), "http://[::1]:8773");
  for (std::string bad : std::vector<std::string>{"clc.example.com", "ftp://x", "http://", "http://:80", "http://host:0", "http://host:99999",
                          "http://host:8x", "http://ho st/", "http://host/a b"}) {
    Status s = Bad("services.ec2-url", bad);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << bad;
    EXPECT_THAT(s.message(), HasSubstr("'" + bad + "'")) << bad;
    EXPECT_THAT(s.message(), HasSubstr("http:// or https:// URL")) << bad;
  }
}

TEST(PropertiesTest, EnumAndDurationForms) {
  PropertyDef mode{.name = "net.mode", .type = PropertyType::kEnum, .default_value = "MANAGED",
                   .choices = {"SYSTEM", "STATIC", "MANAGED", "MANAGED-NOVLAN"}};
  EXPECT_EQ(CanonicalPropertyValue(mode, "managed-novlan").value(), "MANAGED-NOVLAN");
  Status s = CanonicalPropertyValue(mode, "bridged").status();
  EXPECT_EQ(s.message(),
            "property 'net.mode' cannot be 'bridged': expected one of SYSTEM, STATIC, MANAGED, MANAGED-NOVLAN");

  PropertyDef lease{.name = "x.lease", .type = PropertyType::kDuration, .default_value = "none"};
  EXPECT_EQ(CanonicalPropertyValue(lease, "30M").value(), "30m");
  EXPECT_EQ(CanonicalPropertyValue(lease, "006h").value(), "6h");
  EXPECT_EQ(CanonicalPropertyValue(lease, "7d").value(), "7d");
  EXPECT_EQ(CanonicalPropertyValue(lease, "NONE").value(), "none");
  for (std::string bad : std::vector<std::string>{"", "30", "m", "5w", "-1h", "1.5h", "h5"})
    EXPECT_EQ(CanonicalPropertyValue(lease, bad).status().code(), Code::kInvalidArgument) << bad;
}

TEST(PropertiesTest, ParseDurationInSeconds) {
  EXPECT_EQ(ParseDuration("45s").value(), std::optional<int64_t>(45));
  EXPECT_EQ(ParseDuration("30m").value(), std::optional<int64_t>(1800));
  EXPECT_EQ(ParseDuration("6h").value(), std::optional<int64_t>(21600));
  EXPECT_EQ(ParseDuration("7d").value(), std::optional<int64_t>(604800));
  EXPECT_EQ(ParseDuration("none").value(), std::nullopt);
  auto bad = ParseDuration("soon");
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("'soon'"));
}

}  // namespace
}  // namespace euca::clc
