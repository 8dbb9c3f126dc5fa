#include "core/clc/images.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/clc/cloud_test_support.h"

namespace euca::clc {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

class ImagesTest : public ::testing::Test, public CloudFixture {
 protected:
  ImagesTest() {
    alice_ = MakeUser("acme", "alice");
    bob_ = MakeUser("other", "bob");
    PutManifest(alice_, "alice-bucket", "img.manifest.xml");
    PutManifest(alice_, "alice-bucket", "vmlinuz.manifest.xml", "kernel");
    PutManifest(alice_, "alice-bucket", "initrd.manifest.xml", "ramdisk");
    PutManifest(alice_, "alice-bucket", "i386.manifest.xml", "machine", "i386");
  }
  Images& images() { return cloud_->images(); }
  Result<model::Image> Register(const Principal& who, const std::string& location, const std::string& name,
                                RegisterImageRequest r = {}) {
    r.location = location;
    r.name = name;
    return images().Register(who, r, "req-3");
  }
  std::vector<std::string> Ids(const Principal& who, DescribeImagesQuery q = {}) {
    auto r = images().Describe(who, q);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    std::vector<std::string> out;
    if (r.ok())
      for (const auto& i : *r) out.push_back(i.id);
    return out;
  }
  Principal alice_, bob_;
};

TEST_F(ImagesTest, RegisterReadsTheManifest) {
  auto machine = Register(alice_, "alice-bucket/img.manifest.xml", "my image");
  ASSERT_TRUE(machine.ok()) << machine.status().ToString();
  EXPECT_THAT(machine->id, MatchesRegex("emi-[0-9a-f]{8}"));
  EXPECT_EQ(machine->type, "machine");
  EXPECT_EQ(machine->architecture, "x86_64");
  EXPECT_EQ(machine->state, "available");
  EXPECT_EQ(machine->account_id, alice_.account_id);
  EXPECT_EQ(machine->kernel_id, "");  // none: it boots from its own boot loader
  EXPECT_EQ(machine->ramdisk_id, "");
  EXPECT_EQ(store_.CommittedForTest().back().action, "RegisterImage my image");
  EXPECT_EQ(store_.CommittedForTest().back().request_id, "req-3");
  auto kernel = Register(alice_, "/alice-bucket/vmlinuz.manifest.xml", "kernel");
  ASSERT_TRUE(kernel.ok());
  EXPECT_THAT(kernel->id, MatchesRegex("eki-[0-9a-f]{8}"));
  auto ramdisk = Register(alice_, "alice-bucket/initrd.manifest.xml", "ramdisk");
  ASSERT_TRUE(ramdisk.ok());
  EXPECT_THAT(ramdisk->id, MatchesRegex("eri-[0-9a-f]{8}"));
  auto i386 = Register(alice_, "alice-bucket/i386.manifest.xml", "old");
  ASSERT_TRUE(i386.ok());
  EXPECT_EQ(i386->architecture, "i386");
  RegisterImageRequest with;
  with.kernel_id = kernel->id;
  with.ramdisk_id = ramdisk->id;
  with.architecture = "x86_64";
  auto full = Register(alice_, "alice-bucket/img.manifest.xml", "with kernel", with);
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  EXPECT_EQ(full->kernel_id, kernel->id);
  EXPECT_EQ(full->ramdisk_id, ramdisk->id);
}

TEST_F(ImagesTest, RegisterRefusesBadInputAndChangesNothing) {
  size_t commits = store_.CommittedForTest().size();
  EXPECT_EQ(Register(alice_, "alice-bucket/missing.manifest.xml", "x1x").status().wire_code(), "InvalidManifest");
  EXPECT_EQ(Register(alice_, "nobucket", "x1x").status().wire_code(), "InvalidParameterValue");
  EXPECT_EQ(Register(alice_, "alice-bucket/img.manifest.xml", "").status().wire_code(), "InvalidParameterValue");
  EXPECT_EQ(Register(alice_, "alice-bucket/img.manifest.xml", "a*b").status().wire_code(), "InvalidParameterValue");
  RegisterImageRequest arch;
  arch.architecture = "sparc";
  EXPECT_EQ(Register(alice_, "alice-bucket/img.manifest.xml", "x1x", arch).status().wire_code(),
            "InvalidParameterValue");
  RegisterImageRequest kernel;
  kernel.kernel_id = "eki-00000000";
  EXPECT_EQ(Register(alice_, "alice-bucket/img.manifest.xml", "x1x", kernel).status().wire_code(),
            "InvalidAMIID.NotFound");
  // A machine image is not a kernel.
  auto machine = Register(alice_, "alice-bucket/img.manifest.xml", "machine");
  ASSERT_TRUE(machine.ok());
  commits = store_.CommittedForTest().size();
  kernel.kernel_id = machine->id;
  EXPECT_EQ(Register(alice_, "alice-bucket/img.manifest.xml", "x1x", kernel).status().wire_code(),
            "InvalidParameterValue");
  // A ramdisk alone boots nothing: refused, whether or not it exists.
  RegisterImageRequest ramdisk_only;
  ramdisk_only.ramdisk_id = "eri-00000000";
  auto lonely = Register(alice_, "alice-bucket/img.manifest.xml", "x1x", ramdisk_only);
  EXPECT_EQ(lonely.status().wire_code(), "InvalidParameterValue");
  EXPECT_THAT(lonely.status().message(), HasSubstr("'eri-00000000' needs a kernel"));
  // Names are unique per account.
  EXPECT_EQ(Register(alice_, "alice-bucket/img.manifest.xml", "machine").status().wire_code(),
            "InvalidAMIName.Duplicate");
  EXPECT_EQ(store_.CommittedForTest().size(), commits);
  // ... but another account may use the same name for its own bundle.
  PutManifest(bob_, "bob-bucket", "b.manifest.xml");
  EXPECT_TRUE(Register(bob_, "bob-bucket/b.manifest.xml", "machine").ok());
}

TEST_F(ImagesTest, OnlyReadableManifestsRegister) {
  // Bob cannot read Alice's private bucket.
  auto r = Register(bob_, "alice-bucket/img.manifest.xml", "stolen");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kPermissionDenied);
  // Bob's kernel reference to Alice's private kernel does not exist for him.
  auto kernel = Register(alice_, "alice-bucket/vmlinuz.manifest.xml", "kernel");
  ASSERT_TRUE(kernel.ok());
  PutManifest(bob_, "bob-bucket", "b.manifest.xml");
  RegisterImageRequest with;
  with.kernel_id = kernel->id;
  EXPECT_EQ(Register(bob_, "bob-bucket/b.manifest.xml", "bob1", with).status().wire_code(), "InvalidAMIID.NotFound");
  // Once Alice shares it, Bob may use it.
  ASSERT_TRUE(images().ModifyLaunchPermission(alice_, kernel->id, {bob_.account_id}, false, {}, false).ok());
  EXPECT_TRUE(Register(bob_, "bob-bucket/b.manifest.xml", "bob1", with).ok());
}

TEST_F(ImagesTest, TenancyAndSharing) {
  auto mine = Register(alice_, "alice-bucket/img.manifest.xml", "mine");
  ASSERT_TRUE(mine.ok());
  EXPECT_EQ(Ids(alice_), std::vector<std::string>{mine->id});
  EXPECT_TRUE(Ids(bob_).empty());
  auto named = images().Describe(bob_, {.image_ids = {mine->id}});
  ASSERT_FALSE(named.ok());
  EXPECT_EQ(named.status().wire_code(), "InvalidAMIID.NotFound");
  EXPECT_EQ(images().Deregister(bob_, mine->id).wire_code(), "InvalidAMIID.NotFound");
  EXPECT_EQ(images().ModifyDescription(bob_, mine->id, "x").status().wire_code(), "InvalidAMIID.NotFound");
  EXPECT_EQ(images().FindLaunchable(bob_, mine->id).status().wire_code(), "InvalidAMIID.NotFound");

  // Shared with Bob: visible and launchable, but not his to change.
  ASSERT_TRUE(images().ModifyLaunchPermission(alice_, mine->id, {bob_.account_id}, false, {}, false).ok());
  EXPECT_EQ(Ids(bob_), std::vector<std::string>{mine->id});
  EXPECT_EQ(Ids(bob_, {.executable_by = {"self"}}), std::vector<std::string>{mine->id});
  EXPECT_TRUE(Ids(bob_, {.owners = {"self"}}).empty());
  EXPECT_TRUE(images().FindLaunchable(bob_, mine->id).ok());
  EXPECT_EQ(images().Deregister(bob_, mine->id).wire_code(), "UnauthorizedOperation");
  // Revoked: gone again.
  ASSERT_TRUE(images().ModifyLaunchPermission(alice_, mine->id, {}, false, {bob_.account_id}, false).ok());
  EXPECT_TRUE(Ids(bob_).empty());
  // Public: everybody sees it; executable-by all lists it, executable-by self (Bob) does not.
  ASSERT_TRUE(images().ModifyLaunchPermission(alice_, mine->id, {}, true, {}, false).ok());
  EXPECT_EQ(Ids(bob_), std::vector<std::string>{mine->id});
  EXPECT_EQ(Ids(bob_, {.executable_by = {"all"}}), std::vector<std::string>{mine->id});
  EXPECT_TRUE(Ids(bob_, {.executable_by = {"self"}}).empty());
  EXPECT_EQ(Ids(bob_, {.owners = {alice_.account_id}}), std::vector<std::string>{mine->id});
  // Unknown accounts cannot be granted anything.
  EXPECT_EQ(images().ModifyLaunchPermission(alice_, mine->id, {"999999999999"}, false, {}, false).status().wire_code(),
            "InvalidAMIAttributeItemValue");
  EXPECT_EQ(images().ModifyLaunchPermission(alice_, mine->id, {"12"}, false, {}, false).status().wire_code(),
            "InvalidAMIAttributeItemValue");
}

TEST_F(ImagesTest, AdminSeesEveryImageOnlyWithVerbose) {
  auto mine = Register(alice_, "alice-bucket/img.manifest.xml", "mine");
  ASSERT_TRUE(mine.ok());
  EXPECT_TRUE(Ids(root_).empty());
  EXPECT_EQ(Ids(root_, {.all_accounts = true}), std::vector<std::string>{mine->id});
  auto verbose = Call(root_, "DescribeImages", {{"ImageId.1", "verbose"}});
  ASSERT_TRUE(verbose.ok());
  EXPECT_THAT(*verbose, HasSubstr(mine->id));
  // Anybody else asking for all accounts gets their own view.
  EXPECT_TRUE(Ids(bob_, {.all_accounts = true}).empty());
  EXPECT_EQ(Call(bob_, "DescribeImages", {{"ImageId.1", "verbose"}}).status().wire_code(), "InvalidAMIID.Malformed");
}

TEST_F(ImagesTest, ABadFilterNameIsAnErrorEvenWhenNothingIsSelected) {
  Result<std::vector<model::Image>> none = images().Describe(alice_, {.filters = {{"color", {"x"}}}});
  EXPECT_EQ(none.status().wire_code(), "InvalidParameterValue");
  EXPECT_THAT(none.status().message(), HasSubstr("the filter 'color' is invalid for DescribeImages"));
  // Also when an earlier, valid filter already rules out every image.
  auto machine = Register(alice_, "alice-bucket/img.manifest.xml", "web server");
  ASSERT_TRUE(machine.ok());
  EXPECT_EQ(images().Describe(alice_, {.filters = {{"name", {"nothing"}}, {"color", {"x"}}}}).status().wire_code(),
            "InvalidParameterValue");
}

TEST_F(ImagesTest, Filters) {
  auto machine = Register(alice_, "alice-bucket/img.manifest.xml", "web server");
  auto kernel = Register(alice_, "alice-bucket/vmlinuz.manifest.xml", "kernel");
  ASSERT_TRUE(machine.ok() && kernel.ok());
  EXPECT_EQ(Ids(alice_, {.filters = {{"image-type", {"kernel"}}}}), std::vector<std::string>{kernel->id});
  EXPECT_EQ(Ids(alice_, {.filters = {{"name", {"web*"}}}}), std::vector<std::string>{machine->id});
  EXPECT_EQ(Ids(alice_, {.filters = {{"is-public", {"true"}}}}), std::vector<std::string>{});
  EXPECT_EQ(Ids(alice_, {.filters = {{"owner-id", {alice_.account_id}}, {"architecture", {"x86_64"}}}}).size(), 2u);
  EXPECT_EQ(images().Describe(alice_, {.filters = {{"size", {"1"}}}}).status().wire_code(), "InvalidParameterValue");
}

TEST_F(ImagesTest, DeregisterHidesThenRemoves) {
  auto image = Register(alice_, "alice-bucket/img.manifest.xml", "img");
  ASSERT_TRUE(image.ok());
  ASSERT_TRUE(images().Deregister(alice_, image->id, "req-4").ok());
  EXPECT_EQ(store_.CommittedForTest().back().action, "DeregisterImage " + image->id);
  EXPECT_TRUE(Ids(alice_).empty());
  auto by_id = images().Describe(alice_, {.image_ids = {image->id}});
  ASSERT_TRUE(by_id.ok());
  ASSERT_EQ(by_id->size(), 1u);
  EXPECT_EQ((*by_id)[0].state, "deregistered");
  EXPECT_EQ(images().FindLaunchable(alice_, image->id).status().wire_code(), "InvalidAMIID.NotFound");
  // The name is free again.
  EXPECT_TRUE(Register(alice_, "alice-bucket/img.manifest.xml", "img").ok());
  ASSERT_TRUE(images().Deregister(alice_, image->id).ok());
  EXPECT_EQ(images().Describe(alice_, {.image_ids = {image->id}}).status().wire_code(), "InvalidAMIID.NotFound");
}

TEST_F(ImagesTest, ActionsSpeakEc2Xml) {
  auto registered =
      Call(alice_, "RegisterImage", {{"ImageLocation", "alice-bucket/img.manifest.xml"}, {"Name", "img1"}});
  ASSERT_TRUE(registered.ok()) << registered.status().ToString();
  EXPECT_THAT(*registered, HasSubstr("<imageId>emi-"));
  EXPECT_EQ(Call(alice_, "RegisterImage", {{"Name", "img2"}}).status().wire_code(), "MissingParameter");
  auto described = Call(alice_, "DescribeImages", {{"Owner.1", "self"}});
  ASSERT_TRUE(described.ok());
  EXPECT_THAT(*described, HasSubstr("<imageState>available</imageState>"));
  EXPECT_THAT(*described, HasSubstr("<imageLocation>alice-bucket/img.manifest.xml</imageLocation>"));
  const std::string id = *described == "" ? "" : described->substr(described->find("<imageId>") + 9, 12);
  auto shared = Call(
      alice_, "ModifyImageAttribute",
      {{"ImageId", id}, {"LaunchPermission.Add.1.UserId", bob_.account_id}, {"LaunchPermission.Add.2.Group", "all"}});
  ASSERT_TRUE(shared.ok()) << shared.status().ToString();
  auto attribute = Call(alice_, "DescribeImageAttribute", {{"ImageId", id}, {"Attribute", "launchPermission"}});
  ASSERT_TRUE(attribute.ok());
  EXPECT_THAT(*attribute, HasSubstr("<launchPermission><item><group>all</group></item><item><userId>" +
                                    bob_.account_id + "</userId></item></launchPermission>"));
  // euca2ools 1.x form.
  auto old =
      Call(alice_, "ModifyImageAttribute",
           {{"ImageId", id}, {"Attribute", "launchPermission"}, {"OperationType", "remove"}, {"UserGroup.1", "all"}});
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_EQ(
      Call(bob_, "DescribeImageAttribute", {{"ImageId", id}, {"Attribute", "launchPermission"}}).status().wire_code(),
      "UnauthorizedOperation");
  auto deregistered = Call(alice_, "DeregisterImage", {{"ImageId", id}});
  ASSERT_TRUE(deregistered.ok());
  EXPECT_EQ(Call(alice_, "DescribeImages", {{"ImageId.1", "emi-00000000"}}).status().wire_code(),
            "InvalidAMIID.NotFound");
  EXPECT_EQ(Call(alice_, "DescribeImages", {{"ImageId.1", "bogus"}}).status().wire_code(), "InvalidAMIID.Malformed");
}

}  // namespace
}  // namespace euca::clc
