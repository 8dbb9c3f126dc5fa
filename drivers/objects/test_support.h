#pragma once
// Helpers for the object backend tests (header-only; not part of the library).

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "drivers/objects/backend.h"

namespace euca::objects::testing {

/// A fresh temporary directory, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "euca-objects-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

/// Writes `data` as one blob in chunks of `chunk` bytes and commits it.
/// An upload record with just its identity set.
inline UploadRecord Upload(std::string id, std::string bucket, std::string key) {
  UploadRecord u;
  u.upload_id = std::move(id);
  u.bucket = std::move(bucket);
  u.key = std::move(key);
  return u;
}

inline Result<BlobRef> WriteBlob(ObjectBackend& backend, std::string_view data, size_t chunk = 7) {
  EUCA_ASSIGN_OR_RETURN(auto writer, backend.NewBlob());
  for (size_t i = 0; i < data.size(); i += chunk) EUCA_RETURN_IF_ERROR(writer->Write(data.substr(i, chunk)));
  return writer->Commit();
}

/// Puts `data` under `key` as a single-blob object (ETag "etag"), if `condition` holds.
inline Result<ObjectRecord> Put(ObjectBackend& backend, const std::string& bucket, const std::string& key,
                                std::string_view data, WriteCondition condition = {}) {
  EUCA_ASSIGN_OR_RETURN(BlobRef blob, WriteBlob(backend, data));
  ObjectRecord r;
  r.bucket = bucket;
  r.key = key;
  r.etag = "\"etag\"";
  r.content_type = "binary/octet-stream";
  r.blobs = {blob};
  r.condition = std::move(condition);
  return backend.PutObject(std::move(r));
}

/// The whole content of a reader.
inline Result<std::string> ReadAll(ObjectReader& reader) {
  std::string out(reader.record().size, '\0');
  size_t done = 0;
  while (done < out.size()) {
    EUCA_ASSIGN_OR_RETURN(size_t n, reader.ReadAt(done, out.data() + done, out.size() - done));
    if (n == 0) return Internal("short object");
    done += n;
  }
  return out;
}

/// Reads the current content of `key`.
inline Result<std::string> Get(ObjectBackend& backend, const std::string& bucket, const std::string& key) {
  EUCA_ASSIGN_OR_RETURN(auto reader, backend.OpenObject(bucket, key));
  return ReadAll(*reader);
}

/// Every regular file under `dir`, as paths relative to it, sorted.
inline std::vector<std::string> FilesUnder(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it->is_regular_file()) out.push_back(std::filesystem::relative(it->path(), dir).string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace euca::objects::testing
