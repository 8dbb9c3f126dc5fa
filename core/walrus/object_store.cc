#include "core/walrus/object_store.h"

#include <vector>

namespace euca::walrus {
namespace {

// Chunk size of GetObject's reads.
constexpr size_t kReadBuffer = 1 << 20;

GetObjectRequest Ref(const std::string& bucket, const std::string& key) {
  GetObjectRequest r;
  r.bucket = bucket;
  r.key = key;
  return r;
}

}  // namespace

std::string UnquoteEtag(std::string etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, etag.size() - 2);
  return etag;
}

Status WalrusObjectStore::CreateBucket(const std::string& bucket, const std::string& location,
                                       const std::string& canned_acl) {
  CreateBucketRequest r;
  r.bucket = bucket;
  r.location_constraint = location;
  r.canned_acl = canned_acl;
  return walrus_.CreateBucket(caller_, r);
}

Status WalrusObjectStore::HeadBucket(const std::string& bucket) { return walrus_.HeadBucket(caller_, bucket); }

Status WalrusObjectStore::DeleteBucket(const std::string& bucket) { return walrus_.DeleteBucket(caller_, bucket); }

Result<std::vector<std::string>> WalrusObjectStore::ListBuckets() {
  EUCA_ASSIGN_OR_RETURN(auto listed, walrus_.ListBuckets(caller_));
  std::vector<std::string> out;
  for (const auto& b : listed.buckets) out.push_back(b.name);
  return out;
}

Result<StoredObject> WalrusObjectStore::HeadObject(const std::string& bucket, const std::string& key) {
  EUCA_ASSIGN_OR_RETURN(auto head, walrus_.HeadObject(caller_, Ref(bucket, key)));
  return StoredObject{key, head.info.size, UnquoteEtag(head.info.etag), head.info.last_modified_ms};
}

Result<StoredObject> WalrusObjectStore::PutObject(const PutObjectRequest& request, ByteSource& body) {
  EUCA_ASSIGN_OR_RETURN(auto put, walrus_.PutObject(caller_, request, body));
  // A body of unknown length reports its size only through a HEAD; the bundle commands always
  // give the length.
  return StoredObject{request.key, request.content_length.value_or(0), UnquoteEtag(put.etag)};
}

Result<StoredObject> WalrusObjectStore::GetObject(const std::string& bucket, const std::string& key,
                                                  const ObjectSink& sink) {
  EUCA_ASSIGN_OR_RETURN(auto got, walrus_.GetObject(caller_, Ref(bucket, key)));
  StoredObject out{key, 0, UnquoteEtag(got.info.etag), got.info.last_modified_ms};
  std::vector<char> buf(kReadBuffer);
  while (got.body) {
    EUCA_ASSIGN_OR_RETURN(size_t n, got.body->Read(buf.data(), buf.size()));
    if (n == 0) break;
    EUCA_RETURN_IF_ERROR(sink(std::string_view(buf.data(), n)));
    out.size += n;
  }
  return out;
}

Result<std::vector<StoredObject>> WalrusObjectStore::ListObjects(const std::string& bucket, const std::string& prefix) {
  std::vector<StoredObject> out;
  ListObjectsRequest r;
  r.bucket = bucket;
  r.prefix = prefix;
  r.v2 = true;
  while (true) {
    EUCA_ASSIGN_OR_RETURN(auto page, walrus_.ListObjects(caller_, r));
    for (const auto& o : page.contents) out.push_back({o.key, o.size, UnquoteEtag(o.etag), o.last_modified_ms});
    if (!page.truncated) break;
    r.continuation_token = page.next_continuation_token;
  }
  return out;
}

Status WalrusObjectStore::DeleteObject(const std::string& bucket, const std::string& key) {
  return walrus_.DeleteObject(caller_, bucket, key);
}

}  // namespace euca::walrus
