// Golden files for the EC2 XML of the instance, security group and address actions
// (CONVENTIONS.md): each tests/data/ec2-instances/<case>.in and tests/data/ec2-network/<case>.in
// is a script of EC2 requests run through the action registry against fresh security groups,
// addresses and a Compute with networking over fake clusters, at a fixed time; <case>.out holds
// the (indented) XML replies of the requests marked with '>'. EUCA_TEST_REGENERATE=1 rewrites
// the .out files.
//
// Script lines:
//   [>] CALLER Action [Name=Value...]   CALLER is alice, bob or admin; '>' records the reply
//   boot                                every pending instance boots (the nodes say Extant)
//   set NAME=VALUE                      sets a cloud property
//   # ...                               a comment
// Instance and reservation ids count up from a0000001 (one counter), so id order is launch order.
// Instance, reservation and group ids are random: the output numbers them in order of
// appearance in any reply (i-00000001, r-00000001, sg-00000001, ...), and a script names them
// so: "$sg-00000002" in a line stands for the second group id seen.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <pugixml.hpp>
#include <regex>
#include <sstream>

#include "core/api/ec2_query.h"
#include "core/base/env.h"
#include "core/clc/addresses.h"
#include "core/clc/fake_cluster.h"
#include "core/clc/instance_actions.h"
#include "core/clc/networking.h"
#include "core/clc/security_groups.h"
#include "state/memory_store.h"

namespace euca::clc {
namespace {

const std::string kDataDirs[] = {std::string(EUCA_SOURCE_DIR) + "/tests/data/ec2-instances",
                                  std::string(EUCA_SOURCE_DIR) + "/tests/data/ec2-network"};
const std::map<std::string, model::Principal> kCallers = {
    {"admin", {"eucalyptus", "100000000001", "admin", "AIDAADMIN"}},
    {"alice", {"alice", "200000000002", "admin", "AIDAALICE"}},
    {"bob", {"bob", "300000000003", "admin", "AIDABOB"}},
};

std::string ReadFile(const std::string& path) {
  auto r = PosixEnv().ReadFile(path);
  return r.ok() ? *r : std::string();
}

std::string Indented(const std::string& xml) {
  pugi::xml_document doc;
  if (!doc.load_buffer(xml.data(), xml.size(), pugi::parse_default | pugi::parse_declaration)) return xml;
  std::ostringstream out;
  doc.save(out, "  ", pugi::format_indent);
  return out.str();
}

class Runner {
 public:
  Runner() {
    zone_a_ = std::make_shared<FakeCluster>(1, FakeCluster::NodeSize{4, 4096, 100});
    auto zone_b = std::make_shared<FakeCluster>(1, FakeCluster::NodeSize{2, 1024, 40});
    dir_.Add("zone-a", zone_a_);
    dir_.Add("zone-b", zone_b);
    model::Image image;
    image.id = "emi-00000001";
    image.account_id = "200000000002";
    image.name = "guest";
    image.location = "images/guest.manifest.xml";
    image.is_public = true;
    model::KeyPair key{"key-0000000000000001", "200000000002", "alicekey", "aa:bb", "ssh-rsa AAAA alice", 0};
    EXPECT_TRUE(
        store_
            .Transact({"test", "seed", ""},
                      [&](state::Txn& t) -> Status {
                        EUCA_RETURN_IF_ERROR(t.Put(
                            {"images", image.id, image.account_id, image.name, model::ToJson(image), std::nullopt}));
                        return t.Put({"key-pairs", key.id, key.account_id, key.name, model::ToJson(key), std::nullopt});
                      })
            .ok());
    // Ids count up, so listings in id order (MaxResults pages) are the same on every run.
    ComputeOptions options;
    options.random_hex = [this](size_t n) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%0*x", static_cast<int>(n), ++ids_drawn_);
      return std::string(buf);
    };
    compute_ = std::make_unique<Compute>(store_, clock_, dir_, nullptr, options);
    compute_->SetNetworkHook(&hook_);
    AddInstanceActions(actions_, *compute_);
    AddSecurityGroupActions(actions_, groups_);
    AddAddressActions(actions_, addresses_);
  }

  // Learns the random ids of `text` (in order of appearance) and numbers them.
  std::string MaskIds(const std::string& text) {
    static const std::regex kId(R"(\b(i|r|sg)-[0-9a-f]{8}\b)");
    std::string out;
    size_t last = 0;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), kId); it != std::sregex_iterator(); ++it) {
      out += text.substr(last, it->position() - last);
      std::string id = it->str();
      if (id != "i-0000dead") {
        auto [pos, inserted] = masked_.emplace(id, "");
        if (inserted) {
          char buf[16];
          std::snprintf(buf, sizeof buf, "%s-%08d", (*it)[1].str().c_str(), ++next_[(*it)[1].str()]);
          pos->second = buf;
          real_[buf] = id;
        }
        id = pos->second;
      }
      out += id;
      last = it->position() + it->length();
    }
    return out + text.substr(last);
  }

  // "$i-00000002" -> the real id it numbers.
  std::string Unmask(std::string line) {
    for (const auto& [name, id] : real_) {
      for (size_t at = line.find("$" + name); at != std::string::npos; at = line.find("$" + name))
        line.replace(at, name.size() + 1, id);
    }
    return line;
  }

  std::string Run(const std::string& script) {
    std::string out;
    std::istringstream lines(script);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.empty() || line[0] == '#') continue;
      std::string written = line;
      line = Unmask(line);
      if (line == "boot") {
        zone_a_->BootAll();
        continue;
      }
      if (line.rfind("set ", 0) == 0) {
        std::string assignment = line.substr(4);
        auto eq = assignment.find('=');
        std::string name = assignment.substr(0, eq), value = assignment.substr(eq + 1);
        Status set = store_
                         .Transact({"test", "set", ""},
                                   [&](state::Txn& t) {
                                     return t.Put({"properties", name, "", "",
                                                   model::ToJson(model::Property{name, value}), std::nullopt});
                                   })
                         .status();
        if (!set.ok()) return "set failed: " + line;
        continue;
      }
      bool shown = line.rfind("> ", 0) == 0;
      if (shown) line = line.substr(2);
      std::istringstream words(line);
      std::string who, action, word;
      words >> who >> action;
      std::vector<std::pair<std::string, std::string>> params;
      while (words >> word) {
        auto eq = word.find('=');
        params.emplace_back(word.substr(0, eq), eq == std::string::npos ? "" : word.substr(eq + 1));
      }
      auto caller = kCallers.find(who);
      if (caller == kCallers.end()) return "bad caller in: " + line;
      api::Ec2Request request(action, api::kEc2Version, "req-1", params);
      api::Ec2Response response(action, api::kEc2Version, "req-1");
      Status s = DispatchEc2(actions_, caller->second, request, response);
      clock_.Advance(1000);
      std::string reply = MaskIds(Indented(s.ok() ? response.ToString() : api::Ec2ErrorXml(s, "req-1")));
      if (!shown) {
        if (!s.ok()) return "setup request failed: " + line + ": " + s.ToString();
        continue;
      }
      out += written + "\n" + reply + "\n";
    }
    return out;
  }

 private:
  state::MemoryStateStore store_;
  FakeClock clock_{1'700'000'000'000};
  FixedDirectory dir_;
  std::shared_ptr<FakeCluster> zone_a_;
  network::FakeNetwork net_;
  NetworkApplier applier_{store_, &net_};
  InstanceNetworking hook_{clock_, &applier_};
  SecurityGroups groups_{store_, clock_, [this] { (void)applier_.Apply(); }};
  Addresses addresses_{store_, clock_, [this] { (void)applier_.Apply(); }};
  std::unique_ptr<Compute> compute_;
  Ec2Actions actions_;
  std::map<std::string, std::string> masked_;  // real id -> numbered
  std::map<std::string, std::string> real_;    // numbered -> real id
  std::map<std::string, int> next_;
  unsigned ids_drawn_ = 0xa0000000;  // a made-up id may not look like a masked one
};

TEST(Ec2ActionsGoldenTest, Cases) {
  bool regenerate = std::getenv("EUCA_TEST_REGENERATE") != nullptr;
  for (const std::string& dir : kDataDirs) {
    int cases = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      if (entry.path().extension() != ".in") continue;
      ++cases;
      std::string out_path = entry.path().string();
      out_path.replace(out_path.size() - 3, 3, ".out");
      Runner runner;
      std::string got = runner.Run(ReadFile(entry.path().string()));
      if (regenerate) {
        ASSERT_TRUE(PosixEnv().WriteFileAtomic(out_path, got, 0644).ok());
        continue;
      }
      EXPECT_EQ(got, ReadFile(out_path)) << "golden file " << out_path << " differs; EUCA_TEST_REGENERATE=1 rewrites it";
    }
    EXPECT_GE(cases, 3) << dir;
  }
}

TEST(InstanceActionsTest, StateCodes) {
  EXPECT_EQ(InstanceStateCode("pending"), 0);
  EXPECT_EQ(InstanceStateCode("running"), 16);
  EXPECT_EQ(InstanceStateCode("shutting-down"), 32);
  EXPECT_EQ(InstanceStateCode("terminated"), 48);
}

}  // namespace
}  // namespace euca::clc
