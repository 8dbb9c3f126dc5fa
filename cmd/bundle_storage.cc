// Bundles in the object store, euca2ools style: euca upload-bundle, euca download-bundle,
// euca delete-bundle (docs/bundle-format.md). The commands work on a walrus::ObjectStore:
// the Walrus store of EUCA_HOME (HOME/walrus) called as the session's principal, or, when
// -U/--url or S3_URL names an endpoint, the S3Client talking to `euca serve walrus` (or any
// S3) with the access key of the flags, the environment or EUCA_HOME/eucarc. The same upload,
// resume, download and delete logic runs in both modes.

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <functional>
#include <thread>
#include <vector>

#include "bundles/crypto.h"
#include "bundles/manifest.h"
#include "cmd/common.h"
#include "cmd/progress.h"
#include "core/api/digest.h"
#include "core/clc/credentials.h"
#include "core/sla/engine.h"
#include "core/walrus/object_store.h"
#include "core/walrus/s3_client.h"
#include "core/walrus/walrus.h"
#include "drivers/objects/fs_backend.h"

namespace euca::cmd {
namespace {

// Parts uploaded at once.
constexpr int kUploadThreads = 4;
// Parts downloaded at once.
constexpr int kDownloadThreads = 4;
// Read and write buffer.
constexpr size_t kBufferSize = 1 << 20;
// A manifest is a few KiB; refuse anything absurd rather than hold it in memory.
constexpr uint64_t kMaxManifestSize = 16 << 20;
// --retry: how many more times a failed part upload is tried (euca2ools: 5).
constexpr int kRetries = 5;

// euca2ools' --acl choices, sent as the canned ACL of every object. aws-exec-read and
// ec2-bundle-read grant the cloud's system account read (docs/s3-rest.md).
const std::vector<std::string> kAclChoices = {"aws-exec-read", "ec2-bundle-read", "public-read", "private",
                                              "authenticated-read"};

/// Streaming MD5 (the ETag of a single PUT, and its Content-MD5).
class Md5 final {
 public:
  Md5() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_md5(), nullptr); }
  ~Md5() { EVP_MD_CTX_free(ctx_); }
  Md5(const Md5&) = delete;
  Md5& operator=(const Md5&) = delete;
  void Update(const void* p, size_t n) { EVP_DigestUpdate(ctx_, p, n); }
  /// The 16 raw bytes.
  std::string Finish() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, md, &len);
    return std::string(reinterpret_cast<char*>(md), len);
  }

 private:
  EVP_MD_CTX* ctx_;
};

/// An open file descriptor, closed on destruction.
struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(Fd&& o) noexcept : fd(o.fd) { o.fd = -1; }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd& operator=(Fd&&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

Result<Fd> OpenRead(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT) return NotFound("'" + path + "' does not exist");
    return ErrnoStatus("open '" + path + "'", e);
  }
  return Fd(fd);
}

Result<size_t> ReadSome(int fd, const std::string& path, char* buf, size_t n) {
  while (true) {
    ssize_t r = ::read(fd, buf, n);
    if (r >= 0) return static_cast<size_t>(r);
    if (errno != EINTR) return ErrnoStatus("read '" + path + "'", errno);
  }
}

Status WriteAll(int fd, const std::string& path, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("write '" + path + "'", errno);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return Status::Ok();
}

/// The MD5 of a whole file: raw bytes (for Content-MD5) and its size.
struct FileDigest {
  std::string md5;
  uint64_t size = 0;
  std::string Hex() const { return api::Hex(md5); }
};

Result<FileDigest> FileMd5(const std::string& path) {
  EUCA_ASSIGN_OR_RETURN(Fd f, OpenRead(path));
  Md5 md5;
  std::vector<char> buf(kBufferSize);
  FileDigest out;
  while (true) {
    EUCA_ASSIGN_OR_RETURN(size_t n, ReadSome(f.fd, path, buf.data(), buf.size()));
    if (n == 0) break;
    md5.Update(buf.data(), n);
    out.size += n;
  }
  out.md5 = md5.Finish();
  return out;
}

/// Runs job(0) .. job(count - 1) on up to `threads` threads (this one included), each index
/// once; after the first failure no further job starts, and that failure is returned.
Status ForEachInParallel(size_t count, size_t threads, const std::function<Status(size_t)>& job) {
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex error_mu;
  Status first_error = Status::Ok();
  auto worker = [&] {
    while (!failed.load()) {
      size_t i = next++;
      if (i >= count) return;
      Status st = job(i);
      if (!st.ok()) {
        std::lock_guard lock(error_mu);
        if (!failed.exchange(true)) first_error = st;
      }
    }
  };
  {
    std::vector<std::jthread> pool;
    const size_t n = std::min(threads, count);
    for (size_t i = 1; i < n; ++i) pool.emplace_back(worker);
    worker();
  }
  return first_error;
}

/// The ProgressBar of several threads: a shared byte count, drawn under a lock, and the
/// --debug lines of those threads, written under the same lock.
class SharedProgress {
 public:
  SharedProgress(const Context& ctx, ProgressBar& bar, uint64_t total) : ctx_(ctx), bar_(bar), total_(total) {}
  void Debug(std::string_view message) {
    std::lock_guard lock(mu_);
    ctx_.Debug(message);
  }
  /// Adds `n` bytes; a negative `n` takes back what a failed attempt counted.
  void Add(int64_t n) {
    std::lock_guard lock(mu_);
    done_ += n;
    bar_.Update(static_cast<uint64_t>(std::max<int64_t>(done_, 0)), total_);
  }

 private:
  const Context& ctx_;
  ProgressBar& bar_;
  const uint64_t total_;
  std::mutex mu_;
  int64_t done_ = 0;
};

/// A file as a PUT body, counting progress as it is read.
class FileSource final : public walrus::ByteSource {
 public:
  FileSource(Fd fd, std::string path, SharedProgress* progress)
      : fd_(std::move(fd)), path_(std::move(path)), progress_(progress) {}
  Result<size_t> Read(char* buf, size_t n) override {
    EUCA_ASSIGN_OR_RETURN(size_t got, ReadSome(fd_.fd, path_, buf, n));
    sent_ += got;
    if (progress_ != nullptr && got > 0) progress_->Add(static_cast<int64_t>(got));
    return got;
  }
  uint64_t sent() const { return sent_; }

 private:
  Fd fd_;
  std::string path_;
  SharedProgress* progress_;
  uint64_t sent_ = 0;
};

std::string Basename(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string Dirname(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

/// -b BUCKET[/PREFIX]: the bucket and the key prefix ("" or "PREFIX/").
struct BucketPath {
  std::string bucket;
  std::string prefix;
  std::string Key(const std::string& name) const { return prefix + name; }
  /// BUCKET/PREFIX/NAME, for messages and output.
  std::string Location(const std::string& name) const { return bucket + "/" + prefix + name; }
};

Result<BucketPath> ParseBucketPath(const std::string& text) {
  BucketPath b;
  size_t slash = text.find('/');
  b.bucket = text.substr(0, slash);
  if (slash != std::string::npos) {
    std::string prefix = text.substr(slash + 1);
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    if (!prefix.empty()) b.prefix = prefix + "/";
  }
  if (b.bucket.empty()) return InvalidArgument("-b '" + text + "' names no bucket; use -b BUCKET[/PREFIX]");
  return b;
}

// --- the store ---------------------------------------------------------------------------

/// The flags every command here takes to name its access key (euca2ools 3: -I/-S; 1.x: -a/-s).
struct KeyFlags {
  std::string access_key;
  std::string secret_key;
};

void AddKeyFlags(CLI::App& app, KeyFlags& f) {
  app.add_option(
         "-I,-a,--access-key-id,--access-key", f.access_key,
         "access key id (default: AWS_ACCESS_KEY_ID or EC2_ACCESS_KEY; with S3, else the key of EUCA_HOME/eucarc)")
      ->type_name("KEY_ID");
  app.add_option("-S,-s,--secret-key", f.secret_key, "secret key of the access key id")->type_name("KEY");
}

/// The object store the commands talk to and what keeps it alive: the embedded Walrus of
/// EUCA_HOME, or an S3 client.
struct Store {
  Session session;                              // embedded only
  std::unique_ptr<objects::FsBackend> backend;  // embedded only
  std::unique_ptr<walrus::Walrus> walrus;       // embedded only
  std::unique_ptr<walrus::ObjectStore> objects;
  walrus::ObjectStore* operator->() const { return objects.get(); }
};

/// The SigV4 region: --region (or its variables; euca2ools' [USER@]REGION), else the region
/// of the cloud in EUCA_HOME, else us-east-1.
Result<std::string> SigningRegion(const Context& ctx) {
  std::string region = ctx.region;
  if (size_t at = region.find('@'); at != std::string::npos) region = region.substr(at + 1);
  if (!region.empty()) return region;
  if (HasCloud(ctx)) {
    EUCA_ASSIGN_OR_RETURN(Session session, OpenSession(ctx, /*authenticate=*/false));
    return session.admin->GetProperty("cloud.region");
  }
  return std::string("us-east-1");
}

Result<std::unique_ptr<Store>> OpenStore(const Context& ctx, const KeyFlags& flags) {
  api::Credentials key{ctx.access_key_id, ctx.secret_key};
  std::string key_source = "the environment";
  if (!flags.access_key.empty() || !flags.secret_key.empty()) {
    if (flags.access_key.empty() || flags.secret_key.empty())
      return InvalidArgument("give the access key id (-I) and its secret key (-S) together");
    key = {flags.access_key, flags.secret_key};
    key_source = "-I/-S";
  }
  auto store = std::make_unique<Store>();
  const std::string url = !ctx.url_option.empty() ? ctx.url_option : ctx.s3_url;

  if (url.empty()) {
    Context as = ctx;
    as.access_key_id = key.access_key_id;
    as.secret_key = key.secret_key;
    EUCA_ASSIGN_OR_RETURN(store->session, OpenSession(as));
    const std::string dir = clc::HomePaths(ctx.home).Walrus();
    ctx.Debug("object store '" + dir + "'");
    EUCA_ASSIGN_OR_RETURN(store->backend, objects::OpenFsBackend(dir));
    walrus::WalrusOptions wopts;
    wopts.admit_put = sla::StorageQuotaHook(*store->session.store);  // storage-quota rules (docs/sla.md)
    store->walrus =
        std::make_unique<walrus::Walrus>(*store->backend, *ctx.clock, std::move(wopts), store->session.store.get());
    store->objects = std::make_unique<walrus::WalrusObjectStore>(*store->walrus, store->session.principal);
    return store;
  }

  if (key.access_key_id.empty()) {
    const std::string eucarc = clc::HomePaths(ctx.home).Eucarc();
    if (ctx.env->Exists(eucarc)) {
      auto text = ctx.env->ReadFile(eucarc);
      if (!text.ok()) return text.status().WithContext("credentials");
      if (auto keys = clc::ParseEucarcKeys(*text); keys.ok()) {
        key = {keys->first, keys->second};
        key_source = "'" + eucarc + "'";
      }
    }
  }
  if (!key.access_key_id.empty() && key.secret_key.empty())
    return InvalidArgument("access key '" + key.access_key_id + "' (from " + key_source +
                           ") has no secret key; set AWS_SECRET_ACCESS_KEY or give -S");
  EUCA_ASSIGN_OR_RETURN(std::string region, SigningRegion(ctx));
  ctx.Debug("S3 endpoint '" + url + "', region '" + region + "', " +
            (key.access_key_id.empty() ? std::string("anonymous (no access key)")
                                       : "access key '" + key.access_key_id + "' (from " + key_source + ")"));
  EUCA_ASSIGN_OR_RETURN(
      store->objects,
      walrus::S3Client::Create({.endpoint = url, .credentials = key, .region = region, .clock = ctx.clock}));
  return store;
}

/// Reads a (small) object whole.
Result<std::string> GetSmallObject(walrus::ObjectStore& s, const std::string& bucket, const std::string& key) {
  std::string text;
  auto got = s.GetObject(bucket, key, [&](std::string_view piece) -> Status {
    if (text.size() + piece.size() > kMaxManifestSize)
      return InvalidArgument("'" + bucket + "/" + key + "' is larger than " + std::to_string(kMaxManifestSize) +
                             " bytes, too large for a manifest");
    text.append(piece);
    return Status::Ok();
  });
  if (!got.ok()) return got.status();
  return text;
}

Result<bundles::Manifest> ParseManifestText(const std::string& xml, const std::string& where) {
  auto m = bundles::ParseManifest(xml);
  if (!m.ok()) return m.status().WithContext("manifest '" + where + "'");
  for (const auto& p : m->parts)
    if (p.filename.empty() || p.filename.find('/') != std::string::npos || p.filename == "." || p.filename == "..")
      return InvalidArgument("manifest '" + where + "' names a part '" + p.filename +
                             "' that is not a plain file name");
  return m;
}

/// A manifest file on this machine, read whole and parsed.
Result<std::pair<std::string, bundles::Manifest>> ReadLocalManifest(const Context& ctx, const std::string& path) {
  if (!ctx.env->Exists(path)) return NotFound("manifest '" + path + "' does not exist");
  auto xml = ctx.env->ReadFile(path);
  if (!xml.ok()) return xml.status().WithContext("manifest '" + path + "'");
  EUCA_ASSIGN_OR_RETURN(bundles::Manifest manifest, ParseManifestText(*xml, path));
  return std::make_pair(std::move(*xml), std::move(manifest));
}

/// Which bundle a download or delete is about: its manifest object in the bucket (-m NAME or
/// -p PREFIX), or a manifest on this machine (--local-manifest FILE) naming the parts.
struct BundleRef {
  std::string manifest;
  std::string prefix;
  std::string local_manifest;
};

void AddBundleRef(CLI::App& app, BundleRef& ref, const std::string& verb) {
  app.add_option("-m,--manifest", ref.manifest, "object name of the bundle's manifest (below the prefix)")
      ->type_name("NAME");
  app.add_option("-p,--prefix", ref.prefix, "the bundle's name: " + verb + " PREFIX.manifest.xml and its parts")
      ->type_name("PREFIX");
  app.add_option("--local-manifest", ref.local_manifest,
                 "a manifest on this machine: " + verb + " the parts it names (and the manifest object of its name)")
      ->type_name("FILE");
}

/// The manifest's object name (below -b's prefix) and, for --local-manifest, its text.
struct ResolvedBundle {
  std::string name;
  std::optional<std::string> local_xml;
};

Result<ResolvedBundle> ResolveBundle(const Context& ctx, const BundleRef& ref) {
  int given = !ref.manifest.empty() + !ref.prefix.empty() + !ref.local_manifest.empty();
  if (given > 1) return InvalidArgument("give one of -m NAME, -p PREFIX and --local-manifest FILE, not both");
  if (given == 0)
    return InvalidArgument(
        "no bundle named: give -m MANIFEST (its object name), -p PREFIX (for PREFIX.manifest.xml) or "
        "--local-manifest FILE");
  ResolvedBundle out;
  if (!ref.local_manifest.empty()) {
    EUCA_ASSIGN_OR_RETURN(auto local, ReadLocalManifest(ctx, ref.local_manifest));
    out.name = Basename(ref.local_manifest);
    out.local_xml = std::move(local.first);
    return out;
  }
  out.name = ref.manifest.empty() ? ref.prefix + ".manifest.xml" : Basename(ref.manifest);
  if (out.name.empty()) return InvalidArgument("-m '" + ref.manifest + "' names no manifest");
  return out;
}

/// The manifest of a bundle: the local one, or the object in the bucket.
Result<std::pair<std::string, bundles::Manifest>> FetchManifest(walrus::ObjectStore& s, const BucketPath& where,
                                                                const ResolvedBundle& bundle,
                                                                const std::string& local_path) {
  if (bundle.local_xml) {
    EUCA_ASSIGN_OR_RETURN(bundles::Manifest m, ParseManifestText(*bundle.local_xml, local_path));
    return std::make_pair(*bundle.local_xml, std::move(m));
  }
  auto xml = GetSmallObject(s, where.bucket, where.Key(bundle.name));
  if (!xml.ok()) return xml.status().WithContext("manifest '" + where.Location(bundle.name) + "'");
  EUCA_ASSIGN_OR_RETURN(bundles::Manifest m, ParseManifestText(*xml, where.Location(bundle.name)));
  return std::make_pair(std::move(*xml), std::move(m));
}

// --- upload ------------------------------------------------------------------------------

struct UploadFlags {
  KeyFlags key;
  std::string bucket;
  std::string manifest;
  std::string acl = "aws-exec-read";
  std::string location;
  std::string directory;
  bool skip_manifest = false;
  bool retry = false;
  int first_part = 0;
  std::string upload_policy;
  std::string upload_policy_file;
  std::string upload_policy_signature;
  std::string ec2cert;
  bool quiet = false;
};

struct PartJob {
  std::string name;
  std::string path;
  uint64_t size = 0;
};

/// What the store holds already, by key: from one listing, or nullopt when listing was
/// denied (then each part is asked for with a HEAD).
using StoredParts = std::optional<std::map<std::string, walrus::StoredObject>>;

bool Retryable(const Status& s) {
  return s.code() == Code::kUnavailable || s.code() == Code::kInternal || s.code() == Code::kResourceExhausted;
}

Status UploadOne(walrus::ObjectStore& s, const BucketPath& where, const std::string& canned, const PartJob& job,
                 const StoredParts& stored, int retries, SharedProgress& progress, std::atomic<int>& skipped) {
  const std::string key = where.Key(job.name);
  const std::string what = "upload " + where.Location(job.name);
  EUCA_ASSIGN_OR_RETURN(FileDigest local, FileMd5(job.path));
  if (local.size != job.size) return Conflict("part '" + job.path + "' changed while it was being uploaded");

  // Resume: a stored single-PUT object of the same size is compared by MD5 (its ETag).
  std::optional<walrus::StoredObject> existing;
  if (stored) {
    if (auto it = stored->find(key); it != stored->end()) existing = it->second;
  } else if (auto head = s.HeadObject(where.bucket, key); head.ok()) {
    existing = *head;
  } else if (head.status().code() != Code::kNotFound) {
    return head.status().WithContext(what);
  }
  if (existing && existing->size == job.size && existing->etag == local.Hex()) {
    progress.Debug("skipping " + where.Location(job.name) + ": already stored with MD5 " + local.Hex());
    ++skipped;
    progress.Add(static_cast<int64_t>(job.size));
    return Status::Ok();
  }

  for (int attempt = 0;; ++attempt) {
    EUCA_ASSIGN_OR_RETURN(Fd fd, OpenRead(job.path));
    FileSource body(std::move(fd), job.path, &progress);
    auto put = s.PutObject({.bucket = where.bucket,
                            .key = key,
                            .canned_acl = canned,
                            .content_md5 = api::Base64Encode(local.md5),
                            .content_length = job.size},
                           body);
    if (put.ok()) {
      if (!put->etag.empty() && put->etag != local.Hex())
        return Internal(what + ": stored ETag " + put->etag + " but sent MD5 " + local.Hex());
      progress.Debug("uploaded " + where.Location(job.name) + " (" + std::to_string(job.size) + " bytes, MD5 " +
                     local.Hex() + ")");
      return Status::Ok();
    }
    progress.Add(-static_cast<int64_t>(body.sent()));
    if (attempt >= retries || !Retryable(put.status())) return put.status().WithContext(what);
    progress.Debug(what + " failed (" + put.status().message() + "); retrying, " + std::to_string(retries - attempt) +
                   " attempt(s) left");
  }
}

/// The longest common prefix of `names`.
std::string CommonPrefix(const std::vector<PartJob>& jobs) {
  if (jobs.empty()) return "";
  std::string prefix = jobs.front().name;
  for (const auto& j : jobs) {
    size_t n = 0;
    while (n < prefix.size() && n < j.name.size() && prefix[n] == j.name[n]) ++n;
    prefix.resize(n);
  }
  return prefix;
}

Status RunUploadBundle(Context& ctx, const UploadFlags& f) {
  if (!f.upload_policy.empty() || !f.upload_policy_file.empty() || !f.upload_policy_signature.empty())
    return Unsupported(
        "--upload-policy, --upload-policy-file and --upload-policy-signature are not supported: uploads are "
        "signed with the access key (-I/-S, the environment or eucarc); leave them out");
  if (!f.ec2cert.empty())
    return Unsupported(
        "--ec2cert is not used by upload-bundle: the manifest already holds the key encrypted for "
        "the cloud (give --ec2cert to bundle-image)");
  EUCA_ASSIGN_OR_RETURN(BucketPath where, ParseBucketPath(f.bucket));
  const std::string& canned = f.acl;
  if (std::find(kAclChoices.begin(), kAclChoices.end(), canned) == kAclChoices.end())
    return InvalidArgument("unknown ACL '" + f.acl +
                           "'; use aws-exec-read, ec2-bundle-read, public-read, private or authenticated-read");
  EUCA_ASSIGN_OR_RETURN(auto local, ReadLocalManifest(ctx, f.manifest));
  const std::string& xml = local.first;
  const bundles::Manifest& manifest = local.second;
  const std::string manifest_name = Basename(f.manifest);
  const std::string dir = f.directory.empty() ? Dirname(f.manifest) : f.directory;
  if (f.first_part < 0 || (f.first_part > 0 && static_cast<size_t>(f.first_part) >= manifest.parts.size()))
    return InvalidArgument("--part " + std::to_string(f.first_part) + " is not a part of the manifest (it has " +
                           std::to_string(manifest.parts.size()) + ", numbered from 0)");

  // Every part must be there before anything is sent.
  std::vector<PartJob> jobs;
  uint64_t total = 0;
  for (size_t i = static_cast<size_t>(f.first_part); i < manifest.parts.size(); ++i) {
    const auto& p = manifest.parts[i];
    PartJob job{p.filename, dir + "/" + p.filename, 0};
    struct stat st {};
    if (::stat(job.path.c_str(), &st) != 0) {
      if (errno == ENOENT)
        return NotFound("part '" + p.filename + "' of the manifest is missing: '" + job.path + "' does not exist");
      return ErrnoStatus("stat '" + job.path + "'", errno);
    }
    if (!S_ISREG(st.st_mode)) return InvalidArgument("part '" + job.path + "' is not a regular file");
    job.size = static_cast<uint64_t>(st.st_size);
    total += job.size;
    jobs.push_back(std::move(job));
  }

  EUCA_ASSIGN_OR_RETURN(auto store, OpenStore(ctx, f.key));
  walrus::ObjectStore& s = *store->objects;
  Status head = s.HeadBucket(where.bucket);
  if (!head.ok()) {
    if (head.code() != Code::kNotFound) return head;
    ctx.Debug("creating bucket '" + where.bucket + "'" +
              (f.location.empty() ? std::string() : " in '" + f.location + "'"));
    Status made = s.CreateBucket(where.bucket, f.location, "");
    if (!made.ok() && made.wire_code() != "BucketAlreadyOwnedByYou") return made;
  }

  // What is stored already, in one listing (one HEAD per part when listing is denied).
  StoredParts stored;
  const std::string list_prefix = where.Key(CommonPrefix(jobs));
  if (auto listed = s.ListObjects(where.bucket, list_prefix); listed.ok()) {
    stored.emplace();
    for (auto& o : *listed) (*stored)[o.key] = std::move(o);
  } else if (listed.status().code() != Code::kPermissionDenied) {
    return listed.status().WithContext("list '" + where.bucket + "/" + list_prefix + "'");
  }

  ProgressBar bar(*ctx.err, *ctx.clock, ctx.err_is_tty && !f.quiet);
  SharedProgress progress(ctx, bar, total + (f.skip_manifest ? 0 : xml.size()));
  std::atomic<int> skipped{0};
  const int retries = f.retry ? kRetries : 0;
  Status uploaded = ForEachInParallel(jobs.size(), kUploadThreads, [&](size_t i) {
    return UploadOne(s, where, canned, jobs[i], stored, retries, progress, skipped);
  });
  if (!uploaded.ok()) {
    bar.Finish();
    return uploaded;
  }

  // The manifest last: a bundle is complete in the store once its manifest is.
  if (!f.skip_manifest) {
    walrus::StringSource body(xml);
    Md5 md5;
    md5.Update(xml.data(), xml.size());
    auto put = s.PutObject({.bucket = where.bucket,
                            .key = where.Key(manifest_name),
                            .canned_acl = canned,
                            .content_md5 = api::Base64Encode(md5.Finish()),
                            .content_length = xml.size()},
                           body);
    if (!put.ok()) {
      bar.Finish();
      return put.status().WithContext("upload " + where.Location(manifest_name));
    }
    progress.Add(static_cast<int64_t>(xml.size()));
  }
  bar.Finish();
  ctx.Debug(std::to_string(jobs.size() - static_cast<size_t>(skipped.load())) + " part(s) uploaded, " +
            std::to_string(skipped.load()) + " already stored" +
            (f.skip_manifest ? "; manifest not uploaded (--skipmanifest)" : ""));

  if (ctx.output == OutputFormat::kJson) {
    Json parts = Json::array();
    for (const auto& j : jobs) parts.push_back(where.Key(j.name));
    PrintRecords(ctx, {{"BUNDLE",
                        {{"location", where.Location(manifest_name)},
                         {"bucket", where.bucket},
                         {"manifest", where.Key(manifest_name)},
                         {"manifest_uploaded", !f.skip_manifest},
                         {"parts", parts},
                         {"skipped", skipped.load()}}}});
  } else if (!f.skip_manifest) {
    *ctx.out << "Uploaded " << where.Location(manifest_name) << "\n";
  }
  return Status::Ok();
}

// --- download ----------------------------------------------------------------------------

struct DownloadFlags {
  KeyFlags key;
  std::string bucket;
  BundleRef bundle;
  std::string directory = ".";
  bool quiet = false;
};

/// Temporary files in the destination, removed unless kept.
struct TempFiles {
  std::vector<std::pair<std::string, std::string>> files;  // temp path, final path
  bool keep = false;
  ~TempFiles() {
    if (!keep)
      for (const auto& f : files)
        if (!f.first.empty()) ::unlink(f.first.c_str());
  }
};

Result<Fd> CreateTemp(const std::string& dir, const std::string& name, std::string* path) {
  std::string templ = dir + "/." + name + ".tmp-XXXXXX";
  int fd = ::mkostemp(templ.data(), O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("create a temporary file in '" + dir + "'", errno);
  ::fchmod(fd, 0644);
  *path = templ;
  return Fd(fd);
}

/// Streams one part to `fd` (or the output stream), checking its SHA-1 as it goes.
/// Thread-safe for distinct parts written to files (not to the output stream).
Status DownloadPart(const Context& ctx, walrus::ObjectStore& s, const BucketPath& where,
                    const bundles::ManifestPart& part, int fd, const std::string& fd_path, SharedProgress& progress) {
  bundles::Sha1 sha;
  auto got = s.GetObject(where.bucket, where.Key(part.filename), [&](std::string_view piece) -> Status {
    sha.Update(piece.data(), piece.size());
    if (fd >= 0) {
      EUCA_RETURN_IF_ERROR(WriteAll(fd, fd_path, piece.data(), piece.size()));
    } else {
      ctx.out->write(piece.data(), static_cast<std::streamsize>(piece.size()));
      if (!*ctx.out) return Internal("write part '" + part.filename + "' to standard output");
    }
    progress.Add(static_cast<int64_t>(piece.size()));
    return Status::Ok();
  });
  if (!got.ok()) return got.status().WithContext("part '" + part.filename + "'");
  std::string digest = sha.FinishHex();
  if (digest != part.sha1)
    return InvalidArgument("part '" + part.filename + "' (" + where.Location(part.filename) +
                           ") is corrupt: SHA-1 expected " + part.sha1 + ", got " + digest);
  progress.Debug("downloaded " + where.Location(part.filename) + " (SHA-1 " + digest + ")");
  return Status::Ok();
}

Status RunDownloadBundle(Context& ctx, const DownloadFlags& f) {
  EUCA_ASSIGN_OR_RETURN(BucketPath where, ParseBucketPath(f.bucket));
  EUCA_ASSIGN_OR_RETURN(ResolvedBundle bundle, ResolveBundle(ctx, f.bundle));
  const bool to_stdout = f.directory == "-";
  if (!to_stdout) {
    struct stat st {};
    if (::stat(f.directory.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      return NotFound("destination folder '" + f.directory + "' does not exist");
  }
  EUCA_ASSIGN_OR_RETURN(auto store, OpenStore(ctx, f.key));
  walrus::ObjectStore& s = *store->objects;
  EUCA_ASSIGN_OR_RETURN(auto fetched, FetchManifest(s, where, bundle, f.bundle.local_manifest));
  const std::string& xml = fetched.first;
  const bundles::Manifest& manifest = fetched.second;

  uint64_t total = 0;
  for (const auto& p : manifest.parts) {
    auto head = s.HeadObject(where.bucket, where.Key(p.filename));
    if (!head.ok()) return head.status().WithContext("part '" + p.filename + "'");
    total += head->size;
  }

  ProgressBar bar(*ctx.err, *ctx.clock, ctx.err_is_tty && !f.quiet);
  SharedProgress progress(ctx, bar, total);
  TempFiles temps;
  if (to_stdout) {
    // One after the other: the parts go out concatenated, in order.
    for (const auto& p : manifest.parts) {
      Status st = DownloadPart(ctx, s, where, p, -1, "", progress);
      if (!st.ok()) {
        bar.Finish();
        return st;
      }
    }
    bar.Finish();
    ctx.out->flush();
    return Status::Ok();
  }

  // Into temporary files beside their final names, several parts at once (each worker opens
  // one file at a time); renamed (the manifest last) only when every part arrived whole.
  for (const auto& p : manifest.parts) temps.files.emplace_back("", f.directory + "/" + p.filename);
  std::mutex temps_mu;
  auto download_to_file = [&](size_t i) -> Status {
    const bundles::ManifestPart& p = manifest.parts[i];
    std::string tmp;
    EUCA_ASSIGN_OR_RETURN(Fd fd, CreateTemp(f.directory, p.filename, &tmp));
    {
      std::lock_guard lock(temps_mu);
      temps.files[i].first = tmp;
    }
    return DownloadPart(ctx, s, where, p, fd.fd, tmp, progress);
  };
  Status downloaded = ForEachInParallel(manifest.parts.size(), kDownloadThreads, download_to_file);
  bar.Finish();
  if (!downloaded.ok()) return downloaded;

  std::string tmp;
  EUCA_ASSIGN_OR_RETURN(Fd mfd, CreateTemp(f.directory, bundle.name, &tmp));
  temps.files.emplace_back(tmp, f.directory + "/" + bundle.name);  // the manifest last
  EUCA_RETURN_IF_ERROR(WriteAll(mfd.fd, tmp, xml.data(), xml.size()));
  for (const auto& [from, to] : temps.files)
    if (::rename(from.c_str(), to.c_str()) != 0) return ErrnoStatus("rename '" + from + "' to '" + to + "'", errno);
  temps.keep = true;

  const std::string manifest_path = f.directory + "/" + bundle.name;
  if (ctx.output == OutputFormat::kJson) {
    Json parts = Json::array();
    for (const auto& p : manifest.parts) parts.push_back(f.directory + "/" + p.filename);
    PrintRecords(ctx, {{"MANIFEST",
                        {{"manifest", manifest_path},
                         {"location", where.Location(bundle.name)},
                         {"directory", f.directory},
                         {"parts", parts}}}});
  } else {
    *ctx.out << "Wrote manifest " << manifest_path << "\n";
  }
  return Status::Ok();
}

// --- delete ------------------------------------------------------------------------------

struct DeleteFlags {
  KeyFlags key;
  std::string bucket;
  BundleRef bundle;
  bool clear = false;
};

Status RunDeleteBundle(Context& ctx, const DeleteFlags& f) {
  EUCA_ASSIGN_OR_RETURN(BucketPath where, ParseBucketPath(f.bucket));
  EUCA_ASSIGN_OR_RETURN(ResolvedBundle bundle, ResolveBundle(ctx, f.bundle));
  EUCA_ASSIGN_OR_RETURN(auto store, OpenStore(ctx, f.key));
  walrus::ObjectStore& s = *store->objects;
  EUCA_ASSIGN_OR_RETURN(auto fetched, FetchManifest(s, where, bundle, f.bundle.local_manifest));
  for (const auto& p : fetched.second.parts) {
    Status st = s.DeleteObject(where.bucket, where.Key(p.filename));
    if (!st.ok()) return st.WithContext("delete " + where.Location(p.filename));
    ctx.Debug("deleted " + where.Location(p.filename));
  }
  Status st = s.DeleteObject(where.bucket, where.Key(bundle.name));
  if (!st.ok()) return st.WithContext("delete " + where.Location(bundle.name));
  ctx.Debug("deleted " + where.Location(bundle.name));
  if (f.clear) {
    Status gone = s.DeleteBucket(where.bucket);
    if (gone.wire_code() == "BucketNotEmpty") {
      *ctx.err << ctx.program << ": bucket '" << where.bucket << "' still holds other objects; not deleted\n";
    } else if (!gone.ok()) {
      return gone.WithContext("delete bucket '" + where.bucket + "'");
    } else {
      ctx.Debug("deleted bucket '" + where.bucket + "'");
    }
  }
  return Status::Ok();
}

}  // namespace

Handler SetupUploadBundle(CLI::App& app) {
  auto f = std::make_shared<UploadFlags>();
  app.add_option("-b,--bucket", f->bucket, "bucket to upload into, with an optional key prefix")
      ->required()
      ->type_name("BUCKET[/PREFIX]");
  app.add_option("-m,--manifest", f->manifest, "the bundle's manifest")->required()->type_name("FILE");
  app.add_option("--acl", f->acl,
                 "canned ACL of the uploaded objects (default: aws-exec-read, which lets the cloud's system "
                 "account read them)")
      ->type_name("ACL")
      ->check(CLI::IsMember(kAclChoices));
  app.add_option("--location", f->location, "location constraint of the bucket, if it is created")
      ->type_name("LOCATION");
  app.add_option("-d,--directory", f->directory, "folder of the parts (default: the manifest's folder)")
      ->type_name("DIR");
  app.add_flag("--skipmanifest", f->skip_manifest, "upload the parts only, not the manifest");
  app.add_flag("--retry", f->retry, "try a part whose upload failed up to 5 more times");
  app.add_option("--part", f->first_part, "start with part N (numbered from 0); the parts before it are not sent")
      ->type_name("N");
  app.add_option("--upload-policy", f->upload_policy, "not supported (uploads are signed with the access key)")
      ->type_name("POLICY");
  app.add_option("--upload-policy-file", f->upload_policy_file, "not supported")->type_name("FILE");
  app.add_option("--upload-policy-signature", f->upload_policy_signature, "not supported")->type_name("SIGNATURE");
  app.add_option("--ec2cert", f->ec2cert, "not used (euca2ools 1.x); give --ec2cert to bundle-image")
      ->type_name("FILE");
  AddKeyFlags(app, f->key);
  app.add_flag("--quiet", f->quiet, "draw no progress bar");
  return [f](Context& ctx) { return RunUploadBundle(ctx, *f); };
}

Handler SetupDownloadBundle(CLI::App& app) {
  auto f = std::make_shared<DownloadFlags>();
  app.add_option("-b,--bucket", f->bucket, "bucket the bundle is in, with an optional key prefix")
      ->required()
      ->type_name("BUCKET[/PREFIX]");
  AddBundleRef(app, f->bundle, "downloads");
  app.add_option("-d,--directory", f->directory,
                 "existing folder to write the manifest and parts into (default: .); '-' writes the parts to "
                 "standard output")
      ->type_name("DIR");
  AddKeyFlags(app, f->key);
  app.add_flag("--quiet", f->quiet, "draw no progress bar");
  return [f](Context& ctx) { return RunDownloadBundle(ctx, *f); };
}

Handler SetupDeleteBundle(CLI::App& app) {
  auto f = std::make_shared<DeleteFlags>();
  app.add_option("-b,--bucket", f->bucket, "bucket the bundle is in, with an optional key prefix")
      ->required()
      ->type_name("BUCKET[/PREFIX]");
  AddBundleRef(app, f->bundle, "deletes");
  app.add_flag("--clear", f->clear, "also delete the bucket if nothing else is left in it");
  AddKeyFlags(app, f->key);
  return [f](Context& ctx) { return RunDeleteBundle(ctx, *f); };
}

}  // namespace euca::cmd
