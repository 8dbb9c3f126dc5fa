#pragma once
// Shared pieces of the core/nc tests: a temporary folder and an ImageFetcher that counts.

#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <chrono>
#include <mutex>
#include <string>

#include "core/nc/image_cache.h"

namespace euca::nc {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "euca-nc-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

/// Serves images from a map (location -> content, digest); counts fetches; can block fetches
/// until released and fail on demand.
class FakeFetcher final : public ImageFetcher {
 public:
  void Put(const std::string& location, std::string content, std::string digest = "d1") {
    std::lock_guard<std::mutex> lock(mu_);
    images_[location] = {std::move(content), std::move(digest)};
  }
  void FailNext(Status s) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_ = std::move(s);
  }
  void Hold() { held_ = true; }
  void Release() { held_ = false; }

  Result<std::string> Digest(const ImageRef& ref) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = images_.find(ref.location);
    if (it == images_.end()) return NotFound("no image at '" + ref.location + "'");
    return it->second.second;
  }
  Status Fetch(const ImageRef& ref, const std::string& destination) override {
    ++fetches;
    // A hold ends with Release(), or after a minute: a test that failed while holding (and so
    // never released) then ends with errors instead of hanging in the node's teardown.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    while (held_) {
      if (std::chrono::steady_clock::now() > give_up) return Unavailable("FakeFetcher: held for a minute, never released");
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    std::string content;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!fail_.ok()) {
        Status s = fail_;
        fail_ = Status::Ok();
        return s;
      }
      content = images_.at(ref.location).first;
    }
    std::ofstream(destination, std::ios::binary) << content;
    return Status::Ok();
  }

  std::atomic<int> fetches{0};

 private:
  std::mutex mu_;
  std::map<std::string, std::pair<std::string, std::string>> images_;
  Status fail_;
  std::atomic<bool> held_{false};
};

}  // namespace euca::nc
