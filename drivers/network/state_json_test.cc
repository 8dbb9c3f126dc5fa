#include "drivers/network/state_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace euca::network {
namespace {

using ::testing::HasSubstr;

TEST(StateJsonTest, RoundTripsEveryField) {
  DesiredState s;
  s.mode = Mode::kManaged;
  s.public_interface = "eth0";
  s.private_interface = "eth1";
  s.dns = {"192.0.2.53"};
  s.metadata_target = "192.0.2.10:8773";
  Group g{"sg-0000000a", "123456789012", "web", 2, "10.1.0.0/28", 2, {}};
  g.ingress.push_back({"tcp", 22, 22, "0.0.0.0/0", ""});
  g.ingress.push_back({"-1", -1, -1, "", "sg-0000000a"});
  s.groups.push_back(g);
  s.endpoints.push_back({"i-00000001", "sg-0000000a", {"sg-0000000a"}, "d0:0d:00:00:00:01", "10.1.0.2", "203.0.113.5"});
  s.endpoints.push_back(
      {"i-00000002", "sg-0000000a", {"sg-0000000a"}, "d0:0d:00:00:00:02", "10.1.0.3", "", /*elsewhere=*/true});
  Json j = ToJson(s);
  EXPECT_EQ(j["endpoints"][1]["elsewhere"], true);
  EXPECT_FALSE(j["endpoints"][0].contains("elsewhere"));
  Result<DesiredState> back = DesiredStateFromJson(Json::parse(j.dump()));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, s);
}

TEST(StateJsonTest, BadShapesAreNamed) {
  auto error = [](const char* text) { return DesiredStateFromJson(Json::parse(text)).status().message(); };
  EXPECT_THAT(error("[]"), HasSubstr("is not an object"));
  EXPECT_THAT(error("{}"), HasSubstr("no mode"));
  EXPECT_THAT(error(R"({"mode": "FLAT"})"), HasSubstr("'FLAT'"));
  EXPECT_THAT(error(R"({"mode": "MANAGED", "dns": "x"})"), HasSubstr(".dns is not an array"));
  EXPECT_THAT(error(R"({"mode": "MANAGED", "groups": [{"index": "2"}]})"),
              HasSubstr("groups[0].index is not an integer"));
  EXPECT_THAT(error(R"({"mode": "MANAGED", "groups": [{"ingress": [1]}]})"), HasSubstr("groups[0].ingress[0]"));
  EXPECT_THAT(error(R"({"mode": "MANAGED", "endpoints": [{"elsewhere": "yes"}]})"),
              HasSubstr("endpoints[0].elsewhere is not true or false"));
  EXPECT_EQ(DesiredStateFromJson(Json::parse(R"({"mode": "MANAGED"})")).status().code(), Code::kOk);
}

}  // namespace
}  // namespace euca::network
