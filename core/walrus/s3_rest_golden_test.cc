// Golden files for the S3 XML the REST front writes (CONVENTIONS.md): each
// tests/data/s3/<case>.in is a script of requests run against a fresh Walrus behind the real
// HTTP server on loopback, at a fixed time; <case>.out holds the status and the (indented)
// XML body of the requests marked with '>'. EUCA_TEST_REGENERATE=1 rewrites the .out files.
//
// Script lines:
//   METHOD TARGET [BODY...]    a setup request (it must succeed, 2xx); the rest of the line is its body
//   > METHOD TARGET [BODY...]  a request whose answer goes to the .out file
//   header NAME: VALUE         a header for the next request only
//   # ...                      a comment
// "$UPLOAD" in a target or body stands for the UploadId of the last answer that held one.
// Request ids and upload ids are masked in the output; everything else is deterministic.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <regex>
#include <sstream>

#include <pugixml.hpp>

#include "core/api/encoding.h"
#include "core/api/sigv4.h"
#include "core/base/clock.h"
#include "core/base/env.h"
#include "core/http/client.h"
#include "core/http/server.h"
#include "core/walrus/s3_rest.h"
#include "core/walrus/s3_test_support.h"
#include "drivers/objects/memory_backend.h"

namespace euca::walrus {
namespace {

const std::string kData = std::string(EUCA_SOURCE_DIR) + "/tests/data/s3";
const model::Principal kAlice{"acme", "111111111111", "alice", "AIDAALICE0000000000001"};
const api::Credentials kAliceKey{"AKIAALICE", "alice-secret"};

// A missing .out file reads as "" (the comparison then fails with the whole output).
std::string ReadFile(const std::string& path) {
  auto r = PosixEnv().ReadFile(path);
  return r.ok() ? *r : std::string();
}

void ReplaceAll(std::string& s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
}

// The body as the .out file shows it: XML indented, anything else as is.
std::string Shown(const std::string& body) {
  pugi::xml_document doc;
  if (body.empty() || !doc.load_buffer(body.data(), body.size(), pugi::parse_default | pugi::parse_declaration))
    return body;
  std::ostringstream out;
  doc.save(out, "  ", pugi::format_indent);
  return out.str();
}

class Runner {
 public:
  Runner() {
    WalrusOptions wopts;
    wopts.region = "euca";
    wopts.min_part_size = 16;
    walrus_ = std::make_unique<Walrus>(backend_, clock_, wopts);
    KeyLookup lookup = [](const std::string& akid) -> Result<KeyOwner> {
      if (akid == kAliceKey.access_key_id) return KeyOwner{kAlice, kAliceKey.secret_key};
      return NotFound("no such key");
    };
    auto server = http::Server::Start({}, MakeS3Handler(*walrus_, lookup, {.clock = &clock_}));
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    host_ = "127.0.0.1:" + std::to_string(server_->port());
  }

  /// Runs `script`; the text of the .out file, or a failure.
  std::string Run(const std::string& script) {
    std::string out;
    Headers next_headers;
    std::istringstream lines(script);
    std::string line;
    int line_no = 0;
    while (std::getline(lines, line)) {
      ++line_no;
      if (line.empty() || line[0] == '#') continue;
      if (line.rfind("header ", 0) == 0) {
        auto colon = line.find(':');
        next_headers.Add(line.substr(7, colon - 7), std::string(api::TrimSpace(line.substr(colon + 1))));
        continue;
      }
      bool recorded = line.rfind("> ", 0) == 0;
      if (recorded) line = line.substr(2);
      std::string shown_line = line;  // as written, "$UPLOAD" and all
      ReplaceAll(line, "$UPLOAD", upload_id_);
      std::istringstream words(line);
      std::string method, target;
      words >> method >> target;
      std::string body;
      std::getline(words, body);
      if (!body.empty() && body[0] == ' ') body.erase(0, 1);
      http::ClientResponse r = Send(method, target, body, std::move(next_headers));
      next_headers = {};
      std::smatch m;
      if (std::regex_search(r.body, m, std::regex("<UploadId>([^<]*)</UploadId>"))) upload_id_ = m[1];
      if (recorded) {
        std::string shown = Shown(r.body);
        shown = std::regex_replace(shown, std::regex("<RequestId>[^<]*</RequestId>"), "<RequestId>(masked)</RequestId>");
        if (!upload_id_.empty()) ReplaceAll(shown, upload_id_, "(upload id)");
        out += "> " + shown_line + "\n" + "HTTP " + std::to_string(r.status) + "\n" + shown;
        if (!shown.empty() && shown.back() != '\n') out += "\n";
        out += "\n";
      } else if (r.status < 200 || r.status > 299) {
        ADD_FAILURE() << "line " << line_no << ": setup request '" << line << "' got HTTP " << r.status << ": " << r.body;
      }
    }
    return out;
  }

 private:
  http::ClientResponse Send(const std::string& method, const std::string& target, const std::string& body,
                            Headers headers) {
    return test_support::SendSigned(client_, host_, method, target, body, std::move(headers), &kAliceKey,
                                    clock_.NowMillis());
  }

  FakeClock clock_{1'700'000'000'000};  // 2023-11-14T22:13:20Z; never advanced (servers read it)
  objects::MemoryBackend backend_;
  std::unique_ptr<Walrus> walrus_;
  std::unique_ptr<http::Server> server_;
  http::Client client_;
  std::string host_;
  std::string upload_id_;
};

TEST(S3RestGoldenTest, XmlDocuments) {
  const bool regenerate = std::getenv("EUCA_TEST_REGENERATE") != nullptr;
  int cases = 0;
  for (const auto& e : std::filesystem::directory_iterator(kData)) {
    if (e.path().extension() != ".in") continue;
    ++cases;
    std::string name = e.path().stem().string();
    SCOPED_TRACE(name);
    Runner runner;
    std::string out = runner.Run(ReadFile(e.path().string()));
    std::string out_path = kData + "/" + name + ".out";
    if (regenerate) {
      ASSERT_TRUE(PosixEnv().WriteFileAtomic(out_path, out, 0644).ok());
    }
    EXPECT_EQ(out, ReadFile(out_path)) << "run with EUCA_TEST_REGENERATE=1 and review the diff";
  }
  EXPECT_GE(cases, 8);
}

}  // namespace
}  // namespace euca::walrus
