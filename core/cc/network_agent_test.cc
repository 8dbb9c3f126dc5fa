#include "core/cc/network_agent.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/nc/test_support.h"

namespace euca::cc {
namespace {

using ::testing::HasSubstr;

// Opens FakeNetworks, remembering each (owned by the agent).
struct Opened {
  std::vector<std::pair<std::string, network::FakeNetwork*>> drivers;
  NetworkOpener Opener() {
    return [this](std::string_view name, const network::NetworkOptions&) -> Result<std::unique_ptr<network::Network>> {
      if (name != "plan" && name != "linux") return InvalidArgument("network driver '" + std::string(name) + "'");
      auto net = std::make_unique<network::FakeNetwork>();
      drivers.emplace_back(std::string(name), net.get());
      return std::unique_ptr<network::Network>(std::move(net));
    };
  }
};

network::DesiredState OneGroup() {
  network::DesiredState s;
  s.groups.push_back({"sg-0000000a", "123456789012", "web", 2, "10.1.0.0/28", -1, {}});
  return s;
}

// What the cloud controller sends is applied and recorded; a restarted agent applies the
// record again through the recorded driver.
TEST(NetworkAgentTest, AppliesRecordsAndRestores) {
  nc::TempDir dir;
  Opened opened;
  NetworkAgent agent(PosixEnv(), {.state_dir = dir.path() + "/net", .netns = "", .runner = nullptr}, opened.Opener());
  EXPECT_TRUE(agent.Restore().ok());  // nothing recorded yet: nothing to do
  EXPECT_TRUE(opened.drivers.empty());
  ASSERT_TRUE(agent.Apply("plan", OneGroup()).ok());
  ASSERT_EQ(opened.drivers.size(), 1u);
  EXPECT_EQ(opened.drivers[0].second->applied.back(), OneGroup());
  ASSERT_TRUE(agent.Apply("plan", OneGroup()).ok());
  EXPECT_EQ(opened.drivers.size(), 1u);  // opened once

  Opened again;
  NetworkAgent restarted(PosixEnv(), {.state_dir = dir.path() + "/net", .netns = "", .runner = nullptr},
                         again.Opener());
  ASSERT_TRUE(restarted.Restore().ok());
  ASSERT_EQ(again.drivers.size(), 1u);
  EXPECT_EQ(again.drivers[0].first, "plan");
  EXPECT_EQ(again.drivers[0].second->applied.back(), OneGroup());
}

// A failed apply keeps the record of the last state that applied; an unknown driver and a
// broken record are errors that name them.
TEST(NetworkAgentTest, FailuresKeepTheLastGoodRecord) {
  nc::TempDir dir;
  Opened opened;
  NetworkAgent agent(PosixEnv(), {.state_dir = dir.path(), .netns = "", .runner = nullptr}, opened.Opener());
  ASSERT_TRUE(agent.Apply("plan", OneGroup()).ok());
  const std::string good = PosixEnv().ReadFile(agent.RecordPath()).value();
  opened.drivers[0].second->fail_next = Internal("iptables-restore: line 3 failed");
  network::DesiredState other = OneGroup();
  other.dns = {"192.0.2.53"};
  EXPECT_THAT(agent.Apply("plan", other).message(), HasSubstr("iptables-restore"));
  EXPECT_EQ(PosixEnv().ReadFile(agent.RecordPath()).value(), good);
  EXPECT_THAT(agent.Apply("ovs", other).message(), HasSubstr("'ovs'"));
  EXPECT_EQ(PosixEnv().ReadFile(agent.RecordPath()).value(), good);

  ASSERT_TRUE(PosixEnv().WriteFileAtomic(agent.RecordPath(), "{\"driver\": \"plan\"}", 0644).ok());
  Status broken = agent.Restore();
  EXPECT_EQ(broken.code(), Code::kInvalidArgument);
  EXPECT_THAT(broken.message(), HasSubstr("desired-state.json"));
}

}  // namespace
}  // namespace euca::cc
