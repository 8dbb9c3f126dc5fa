// Key pairs and regions, euca2ools style: euca create-keypair, import-keypair,
// describe-keypairs, delete-keypair, describe-regions. Each is one EC2 action through
// CallEc2 (in process, or EC2_URL); the records come from the reply XML.

#include <CLI/CLI.hpp>
#include <ostream>

#include "cmd/common.h"
#include "cmd/ec2_call.h"
#include "core/api/digest.h"
#include "core/api/ec2_query.h"

namespace euca::cmd {
using api::ChildText;

namespace {

Record KeyPairRecord(pugi::xml_node node) {
  return {"KEYPAIR", {{"name", ChildText(node, "keyName")}, {"fingerprint", ChildText(node, "keyFingerprint")}}};
}

}  // namespace

Handler SetupCreateKeypair(CLI::App& app) {
  struct Options {
    std::string name;
    std::string file;
    Ec2KeyFlags keys;
  };
  auto o = std::make_shared<Options>();
  AddRequiredArg(app, "KEYPAIR", o->name, "name of the new key pair");
  app.add_option("-f,--filename", o->file, "write the private key to FILE (mode 0600) instead of printing it")
      ->type_name("FILE");
  AddEc2KeyFlags(app, o->keys);
  return [o](Context& ctx) -> Status {
    EUCA_ASSIGN_OR_RETURN(Context c, WithEc2Keys(ctx, o->keys));
    EUCA_ASSIGN_OR_RETURN(pugi::xml_document doc, CallEc2(c, "CreateKeyPair", {{"KeyName", o->name}}));
    pugi::xml_node root = Ec2Root(doc);
    std::string material = ChildText(root, "keyMaterial");
    if (!material.empty() && material.back() != '\n') material += '\n';
    Record record = KeyPairRecord(root);
    if (!o->file.empty()) {
      Status written = ctx.env->WriteFileAtomic(o->file, material, 0600);
      if (!written.ok())
        return written.WithContext("the key pair '" + o->name + "' was created, but its private key was not saved");
      PrintRecords(ctx, {record});
      return Status::Ok();
    }
    if (ctx.output == OutputFormat::kJson) {
      record.fields.push_back({"private_key", material});
      PrintRecords(ctx, {record});
    } else {
      PrintRecords(ctx, {record});
      *ctx.out << material;
    }
    return Status::Ok();
  };
}

Handler SetupImportKeypair(CLI::App& app) {
  struct Options {
    std::string name;
    std::string file;
    Ec2KeyFlags keys;
  };
  auto o = std::make_shared<Options>();
  AddRequiredArg(app, "KEYPAIR", o->name, "name of the key pair");
  app.add_option("-f,--public-key-file", o->file, "the OpenSSH public key to import (\"ssh-rsa AAAA... comment\")")
      ->type_name("FILE")
      ->required();
  AddEc2KeyFlags(app, o->keys);
  return [o](Context& ctx) -> Status {
    EUCA_ASSIGN_OR_RETURN(Context c, WithEc2Keys(ctx, o->keys));
    auto text = ctx.env->ReadFile(o->file);
    if (!text.ok()) return text.status().WithContext("public key file");
    EUCA_ASSIGN_OR_RETURN(
        pugi::xml_document doc,
        CallEc2(c, "ImportKeyPair", {{"KeyName", o->name}, {"PublicKeyMaterial", api::Base64Encode(*text)}}));
    PrintRecords(ctx, {KeyPairRecord(Ec2Root(doc))});
    return Status::Ok();
  };
}

Handler SetupDescribeKeypairs(CLI::App& app) {
  struct Options {
    std::vector<std::string> names;
    std::vector<std::string> filters;
    Ec2KeyFlags keys;
  };
  auto o = std::make_shared<Options>();
  app.add_option("KEYPAIR", o->names, "key pairs to show (default: all of the account's)")->type_name("KEYPAIR");
  AddFilterOption(app, o->filters);
  AddEc2KeyFlags(app, o->keys);
  return [o](Context& ctx) -> Status {
    EUCA_ASSIGN_OR_RETURN(Context c, WithEc2Keys(ctx, o->keys));
    EUCA_ASSIGN_OR_RETURN(Ec2Params params, FilterParams(o->filters));
    for (size_t i = 0; i < o->names.size(); ++i) params.emplace_back("KeyName." + std::to_string(i + 1), o->names[i]);
    EUCA_ASSIGN_OR_RETURN(pugi::xml_document doc, CallEc2(c, "DescribeKeyPairs", params));
    std::vector<Record> records;
    for (auto item : Ec2Root(doc).child("keySet").children("item")) records.push_back(KeyPairRecord(item));
    PrintRecords(ctx, records);
    return Status::Ok();
  };
}

Handler SetupDeleteKeypair(CLI::App& app) {
  struct Options {
    std::string name;
    Ec2KeyFlags keys;
  };
  auto o = std::make_shared<Options>();
  AddRequiredArg(app, "KEYPAIR", o->name, "name of the key pair to delete");
  AddEc2KeyFlags(app, o->keys);
  return [o](Context& ctx) -> Status {
    EUCA_ASSIGN_OR_RETURN(Context c, WithEc2Keys(ctx, o->keys));
    EUCA_ASSIGN_OR_RETURN(pugi::xml_document doc, CallEc2(c, "DeleteKeyPair", {{"KeyName", o->name}}));
    (void)doc;
    PrintRecords(ctx, {{"KEYPAIR", {{"name", o->name}}}});
    return Status::Ok();
  };
}

Handler SetupDescribeRegions(CLI::App& app) {
  struct Options {
    std::vector<std::string> names;
    std::vector<std::string> filters;
    Ec2KeyFlags keys;
  };
  auto o = std::make_shared<Options>();
  app.add_option("REGION", o->names, "regions to show (default: all)")->type_name("REGION");
  AddFilterOption(app, o->filters);
  AddEc2KeyFlags(app, o->keys);
  return [o](Context& ctx) -> Status {
    EUCA_ASSIGN_OR_RETURN(Context c, WithEc2Keys(ctx, o->keys));
    EUCA_ASSIGN_OR_RETURN(Ec2Params params, FilterParams(o->filters));
    for (size_t i = 0; i < o->names.size(); ++i)
      params.emplace_back("RegionName." + std::to_string(i + 1), o->names[i]);
    EUCA_ASSIGN_OR_RETURN(pugi::xml_document doc, CallEc2(c, "DescribeRegions", params));
    std::vector<Record> records;
    for (auto item : Ec2Root(doc).child("regionInfo").children("item"))
      records.push_back(
          {"REGION", {{"name", ChildText(item, "regionName")}, {"endpoint", ChildText(item, "regionEndpoint")}}});
    PrintRecords(ctx, records);
    return Status::Ok();
  };
}

}  // namespace euca::cmd
