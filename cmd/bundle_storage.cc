// Bundles in the object store, euca2ools style: euca upload-bundle, euca download-bundle,
// euca delete-bundle (docs/bundle-format.md). Embedded mode only for now: the commands open
// the Walrus store of EUCA_HOME (HOME/walrus) and call walrus::Walrus as the session's
// principal; a remote S3_URL is refused until the Walrus service has a client.

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <mutex>
#include <ostream>
#include <thread>

#include "bundles/crypto.h"
#include "bundles/manifest.h"
#include "cmd/common.h"
#include "cmd/progress.h"
#include "core/walrus/walrus.h"
#include "drivers/objects/fs_backend.h"

namespace euca::cmd {
namespace {

// Parts uploaded at once.
constexpr int kUploadThreads = 4;
// Read and write buffer.
constexpr size_t kBufferSize = 1 << 20;
// A manifest is a few KiB; refuse anything absurd rather than hold it in memory.
constexpr uint64_t kMaxManifestSize = 16 << 20;

// euca2ools' --acl choices and the Walrus canned ACL each is stored as. aws-exec-read and
// ec2-bundle-read grant read to the cloud's own EC2 identity; the embedded cloud reads
// bundles from the store directly, so they are the owner's alone here (private).
const std::vector<std::pair<std::string, std::string>> kAclChoices = {
    {"aws-exec-read", "private"},
    {"ec2-bundle-read", "private"},
    {"public-read", "public-read"},
    {"private", "private"},
    {"authenticated-read", "authenticated-read"},
};

std::string Lower32Hex(const unsigned char* p, size_t n) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += kHex[p[i] >> 4];
    out += kHex[p[i] & 15];
  }
  return out;
}

/// Streaming MD5 (the ETag of a single PUT).
class Md5 final {
 public:
  Md5() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_md5(), nullptr); }
  ~Md5() { EVP_MD_CTX_free(ctx_); }
  Md5(const Md5&) = delete;
  Md5& operator=(const Md5&) = delete;
  void Update(const void* p, size_t n) { EVP_DigestUpdate(ctx_, p, n); }
  std::string FinishHex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, md, &len);
    return Lower32Hex(md, len);
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

/// MD5 (hex) and size of a whole file.
Result<std::pair<std::string, uint64_t>> FileMd5(const std::string& path) {
  EUCA_ASSIGN_OR_RETURN(Fd f, OpenRead(path));
  Md5 md5;
  std::vector<char> buf(kBufferSize);
  uint64_t size = 0;
  while (true) {
    EUCA_ASSIGN_OR_RETURN(size_t n, ReadSome(f.fd, path, buf.data(), buf.size()));
    if (n == 0) break;
    md5.Update(buf.data(), n);
    size += n;
  }
  return std::make_pair(md5.FinishHex(), size);
}

/// The ProgressBar of several threads: a shared byte count, drawn under a lock.
class SharedProgress {
 public:
  SharedProgress(ProgressBar& bar, uint64_t total) : bar_(bar), total_(total) {}
  void Add(uint64_t n) {
    std::lock_guard lock(mu_);
    done_ += n;
    bar_.Update(done_, total_);
  }

 private:
  ProgressBar& bar_;
  const uint64_t total_;
  std::mutex mu_;
  uint64_t done_ = 0;
};

/// A file as a PUT body, hashing (MD5) and counting progress as it is read.
class FileSource final : public walrus::ByteSource {
 public:
  FileSource(Fd fd, std::string path, SharedProgress* progress)
      : fd_(std::move(fd)), path_(std::move(path)), progress_(progress) {}
  Result<size_t> Read(char* buf, size_t n) override {
    EUCA_ASSIGN_OR_RETURN(size_t got, ReadSome(fd_.fd, path_, buf, n));
    md5_.Update(buf, got);
    if (progress_ != nullptr && got > 0) progress_->Add(got);
    return got;
  }
  std::string Md5Hex() { return md5_.FinishHex(); }

 private:
  Fd fd_;
  std::string path_;
  SharedProgress* progress_;
  Md5 md5_;
};

walrus::GetObjectRequest ObjectRef(const std::string& bucket, const std::string& key) {
  walrus::GetObjectRequest r;
  r.bucket = bucket;
  r.key = key;
  return r;
}

walrus::CreateBucketRequest BucketRequest(const std::string& bucket, const std::string& location) {
  walrus::CreateBucketRequest r;
  r.bucket = bucket;
  r.location_constraint = location;
  return r;
}

std::string Unquote(std::string etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, etag.size() - 2);
  return etag;
}

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

/// The embedded object store of the context's cloud, and who calls it.
struct Store {
  Session session;
  std::unique_ptr<objects::FsBackend> backend;
  std::unique_ptr<walrus::Walrus> walrus;
  walrus::Caller Caller() const { return walrus::Caller(session.principal); }
};

Result<std::unique_ptr<Store>> OpenStore(const Context& ctx) {
  if (!ctx.s3_url.empty())
    return Unsupported("remote S3 upload comes with the Walrus service; unset S3_URL to use the embedded store");
  auto store = std::make_unique<Store>();
  EUCA_ASSIGN_OR_RETURN(store->session, OpenSession(ctx));
  const std::string dir = clc::HomePaths(ctx.home).Walrus();
  ctx.Debug("object store '" + dir + "'");
  EUCA_ASSIGN_OR_RETURN(store->backend, objects::OpenFsBackend(dir));
  store->walrus = std::make_unique<walrus::Walrus>(*store->backend, *ctx.clock, walrus::WalrusOptions{},
                                                   store->session.store.get());
  return store;
}

/// Reads a (small) object whole.
Result<std::string> GetSmallObject(Store& s, const std::string& bucket, const std::string& key) {
  EUCA_ASSIGN_OR_RETURN(auto got, s.walrus->GetObject(s.Caller(), ObjectRef(bucket, key)));
  if (got.content_length > kMaxManifestSize)
    return InvalidArgument("'" + bucket + "/" + key + "' is " + std::to_string(got.content_length) +
                           " bytes, too large for a manifest");
  std::string text;
  std::vector<char> buf(64 << 10);
  while (true) {
    EUCA_ASSIGN_OR_RETURN(size_t n, got.body->Read(buf.data(), buf.size()));
    if (n == 0) break;
    text.append(buf.data(), n);
  }
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

// --- upload ------------------------------------------------------------------------------

struct UploadFlags {
  std::string bucket;
  std::string manifest;
  std::string acl = "aws-exec-read";
  std::string location;
  std::string directory;
  bool quiet = false;
};

struct PartJob {
  std::string name;
  std::string path;
  uint64_t size = 0;
};

Status UploadOne(const Context& ctx, Store& s, const BucketPath& where, const std::string& canned, const PartJob& job,
                 SharedProgress& progress, std::atomic<int>& skipped) {
  const std::string key = where.Key(job.name);
  // Resume: a stored object of the same size is compared by MD5 (its ETag).
  auto head = s.walrus->HeadObject(s.Caller(), ObjectRef(where.bucket, key));
  if (head.ok() && head->info.size == job.size && head->info.parts_count == 0) {
    EUCA_ASSIGN_OR_RETURN(auto local, FileMd5(job.path));
    if (local.second == job.size && local.first == Unquote(head->info.etag)) {
      ctx.Debug("skipping " + where.Location(job.name) + ": already stored with MD5 " + local.first);
      ++skipped;
      progress.Add(job.size);
      return Status::Ok();
    }
  } else if (!head.ok() && head.status().code() != Code::kNotFound) {
    return head.status().WithContext("upload " + where.Location(job.name));
  }
  EUCA_ASSIGN_OR_RETURN(Fd fd, OpenRead(job.path));
  FileSource body(std::move(fd), job.path, &progress);
  auto put = s.walrus->PutObject(
      s.Caller(), {.bucket = where.bucket, .key = key, .canned_acl = canned, .content_length = job.size}, body);
  if (!put.ok()) return put.status().WithContext("upload " + where.Location(job.name));
  const std::string sent = body.Md5Hex();
  if (Unquote(put->etag) != sent)
    return Internal("upload " + where.Location(job.name) + ": stored ETag " + put->etag + " but sent MD5 " + sent);
  ctx.Debug("uploaded " + where.Location(job.name) + " (" + std::to_string(job.size) + " bytes, MD5 " + sent + ")");
  return Status::Ok();
}

Status RunUploadBundle(Context& ctx, const UploadFlags& f) {
  EUCA_ASSIGN_OR_RETURN(BucketPath where, ParseBucketPath(f.bucket));
  std::string canned;
  for (const auto& [name, stored] : kAclChoices)
    if (name == f.acl) canned = stored;
  if (canned.empty())
    return InvalidArgument("unknown ACL '" + f.acl +
                           "'; use aws-exec-read, ec2-bundle-read, public-read, private or authenticated-read");
  if (!ctx.env->Exists(f.manifest)) return NotFound("manifest '" + f.manifest + "' does not exist");
  auto xml = ctx.env->ReadFile(f.manifest);
  if (!xml.ok()) return xml.status().WithContext("manifest '" + f.manifest + "'");
  EUCA_ASSIGN_OR_RETURN(bundles::Manifest manifest, ParseManifestText(*xml, f.manifest));
  const std::string manifest_name = Basename(f.manifest);
  const std::string dir = f.directory.empty() ? Dirname(f.manifest) : f.directory;

  // Every part must be there before anything is sent.
  std::vector<PartJob> jobs;
  uint64_t total = 0;
  for (const auto& p : manifest.parts) {
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

  EUCA_ASSIGN_OR_RETURN(auto store, OpenStore(ctx));
  Store& s = *store;
  Status head = s.walrus->HeadBucket(s.Caller(), where.bucket);
  if (!head.ok()) {
    if (head.code() != Code::kNotFound) return head;
    ctx.Debug("creating bucket '" + where.bucket + "'" +
              (f.location.empty() ? std::string() : " in '" + f.location + "'"));
    Status made = s.walrus->CreateBucket(s.Caller(), BucketRequest(where.bucket, f.location));
    if (!made.ok() && made.wire_code() != "BucketAlreadyOwnedByYou") return made;
  }

  ProgressBar bar(*ctx.err, *ctx.clock, ctx.err_is_tty && !f.quiet);
  SharedProgress progress(bar, total + xml->size());
  std::atomic<size_t> next{0};
  std::atomic<int> skipped{0};
  std::atomic<bool> failed{false};
  std::mutex error_mu;
  Status first_error = Status::Ok();
  auto worker = [&] {
    while (!failed.load()) {
      size_t i = next++;
      if (i >= jobs.size()) return;
      Status st = UploadOne(ctx, s, where, canned, jobs[i], progress, skipped);
      if (!st.ok()) {
        std::lock_guard lock(error_mu);
        if (!failed.exchange(true)) first_error = st;
      }
    }
  };
  {
    std::vector<std::jthread> pool;
    const size_t n = std::min<size_t>(kUploadThreads, jobs.size());
    for (size_t i = 1; i < n; ++i) pool.emplace_back(worker);
    worker();
  }
  if (failed.load()) {
    bar.Finish();
    return first_error;
  }

  // The manifest last: a bundle is complete in the store once its manifest is.
  walrus::StringSource body(*xml);
  auto put = s.walrus->PutObject(s.Caller(),
                                 {.bucket = where.bucket, .key = where.Key(manifest_name), .canned_acl = canned}, body);
  if (!put.ok()) {
    bar.Finish();
    return put.status().WithContext("upload " + where.Location(manifest_name));
  }
  progress.Add(xml->size());
  bar.Finish();
  ctx.Debug(std::to_string(jobs.size() - static_cast<size_t>(skipped.load())) + " part(s) uploaded, " +
            std::to_string(skipped.load()) + " already stored");

  if (ctx.output == OutputFormat::kJson) {
    Json parts = Json::array();
    for (const auto& j : jobs) parts.push_back(where.Key(j.name));
    PrintRecords(ctx, {{"BUNDLE",
                        {{"location", where.Location(manifest_name)},
                         {"bucket", where.bucket},
                         {"manifest", where.Key(manifest_name)},
                         {"parts", parts},
                         {"skipped", skipped.load()}}}});
  } else {
    *ctx.out << "Uploaded " << where.Location(manifest_name) << "\n";
  }
  return Status::Ok();
}

// --- download ----------------------------------------------------------------------------

struct DownloadFlags {
  std::string bucket;
  std::string manifest;
  std::string prefix;
  std::string directory = ".";
  bool quiet = false;
};

/// -m NAME or -p PREFIX: the manifest's object name (below -b's prefix).
Result<std::string> ManifestName(const std::string& manifest, const std::string& prefix) {
  if (!manifest.empty() && !prefix.empty()) return InvalidArgument("give -m NAME or -p PREFIX, not both");
  if (manifest.empty() && prefix.empty())
    return InvalidArgument(
        "no bundle named: give -m MANIFEST (its object name) or -p PREFIX (for PREFIX.manifest.xml)");
  std::string name = manifest.empty() ? prefix + ".manifest.xml" : Basename(manifest);
  if (name.empty()) return InvalidArgument("-m '" + manifest + "' names no manifest");
  return name;
}

/// Temporary files in the destination, removed unless kept.
struct TempFiles {
  std::vector<std::pair<std::string, std::string>> files;  // temp path, final path
  bool keep = false;
  ~TempFiles() {
    if (!keep)
      for (const auto& f : files) ::unlink(f.first.c_str());
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
Status DownloadPart(const Context& ctx, Store& s, const BucketPath& where, const bundles::ManifestPart& part, int fd,
                    const std::string& fd_path, ProgressBar& bar, uint64_t& done, uint64_t total) {
  auto got = s.walrus->GetObject(s.Caller(), ObjectRef(where.bucket, where.Key(part.filename)));
  if (!got.ok()) return got.status().WithContext("part '" + part.filename + "'");
  bundles::Sha1 sha;
  std::vector<char> buf(kBufferSize);
  while (true) {
    EUCA_ASSIGN_OR_RETURN(size_t n, got->body->Read(buf.data(), buf.size()));
    if (n == 0) break;
    sha.Update(buf.data(), n);
    if (fd >= 0) {
      EUCA_RETURN_IF_ERROR(WriteAll(fd, fd_path, buf.data(), n));
    } else {
      ctx.out->write(buf.data(), static_cast<std::streamsize>(n));
      if (!*ctx.out) return Internal("write part '" + part.filename + "' to standard output");
    }
    done += n;
    bar.Update(done, total);
  }
  std::string digest = sha.FinishHex();
  if (digest != part.sha1)
    return InvalidArgument("part '" + part.filename + "' (" + where.Location(part.filename) +
                           ") is corrupt: SHA-1 expected " + part.sha1 + ", got " + digest);
  ctx.Debug("downloaded " + where.Location(part.filename) + " (SHA-1 " + digest + ")");
  return Status::Ok();
}

Status RunDownloadBundle(Context& ctx, const DownloadFlags& f) {
  EUCA_ASSIGN_OR_RETURN(BucketPath where, ParseBucketPath(f.bucket));
  EUCA_ASSIGN_OR_RETURN(std::string name, ManifestName(f.manifest, f.prefix));
  const bool to_stdout = f.directory == "-";
  if (!to_stdout) {
    struct stat st {};
    if (::stat(f.directory.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      return NotFound("destination folder '" + f.directory + "' does not exist");
  }
  EUCA_ASSIGN_OR_RETURN(auto store, OpenStore(ctx));
  Store& s = *store;
  auto xml = GetSmallObject(s, where.bucket, where.Key(name));
  if (!xml.ok()) return xml.status().WithContext("manifest '" + where.Location(name) + "'");
  EUCA_ASSIGN_OR_RETURN(bundles::Manifest manifest, ParseManifestText(*xml, where.Location(name)));

  uint64_t total = 0, done = 0;
  for (const auto& p : manifest.parts) {
    auto head = s.walrus->HeadObject(s.Caller(), ObjectRef(where.bucket, where.Key(p.filename)));
    if (!head.ok()) return head.status().WithContext("part '" + p.filename + "'");
    total += head->info.size;
  }

  ProgressBar bar(*ctx.err, *ctx.clock, ctx.err_is_tty && !f.quiet);
  TempFiles temps;
  for (const auto& p : manifest.parts) {
    Status st;
    if (to_stdout) {
      st = DownloadPart(ctx, s, where, p, -1, "", bar, done, total);
    } else {
      std::string tmp;
      auto fd = CreateTemp(f.directory, p.filename, &tmp);
      if (!fd.ok()) {
        bar.Finish();
        return fd.status();
      }
      temps.files.emplace_back(tmp, f.directory + "/" + p.filename);
      st = DownloadPart(ctx, s, where, p, fd->fd, tmp, bar, done, total);
    }
    if (!st.ok()) {
      bar.Finish();
      return st;
    }
  }
  bar.Finish();
  if (to_stdout) {
    ctx.out->flush();
    return Status::Ok();
  }

  std::string tmp;
  EUCA_ASSIGN_OR_RETURN(Fd mfd, CreateTemp(f.directory, name, &tmp));
  temps.files.emplace_back(tmp, f.directory + "/" + name);  // the manifest last
  EUCA_RETURN_IF_ERROR(WriteAll(mfd.fd, tmp, xml->data(), xml->size()));
  for (const auto& [from, to] : temps.files)
    if (::rename(from.c_str(), to.c_str()) != 0) return ErrnoStatus("rename '" + from + "' to '" + to + "'", errno);
  temps.keep = true;

  const std::string manifest_path = f.directory + "/" + name;
  if (ctx.output == OutputFormat::kJson) {
    Json parts = Json::array();
    for (const auto& p : manifest.parts) parts.push_back(f.directory + "/" + p.filename);
    PrintRecords(ctx, {{"MANIFEST",
                        {{"manifest", manifest_path},
                         {"location", where.Location(name)},
                         {"directory", f.directory},
                         {"parts", parts}}}});
  } else {
    *ctx.out << "Wrote manifest " << manifest_path << "\n";
  }
  return Status::Ok();
}

// --- delete ------------------------------------------------------------------------------

struct DeleteFlags {
  std::string bucket;
  std::string manifest;
  std::string prefix;
  bool clear = false;
};

Status RunDeleteBundle(Context& ctx, const DeleteFlags& f) {
  EUCA_ASSIGN_OR_RETURN(BucketPath where, ParseBucketPath(f.bucket));
  EUCA_ASSIGN_OR_RETURN(std::string name, ManifestName(f.manifest, f.prefix));
  EUCA_ASSIGN_OR_RETURN(auto store, OpenStore(ctx));
  Store& s = *store;
  auto xml = GetSmallObject(s, where.bucket, where.Key(name));
  if (!xml.ok()) return xml.status().WithContext("manifest '" + where.Location(name) + "'");
  EUCA_ASSIGN_OR_RETURN(bundles::Manifest manifest, ParseManifestText(*xml, where.Location(name)));
  for (const auto& p : manifest.parts) {
    Status st = s.walrus->DeleteObject(s.Caller(), where.bucket, where.Key(p.filename));
    if (!st.ok()) return st.WithContext("delete " + where.Location(p.filename));
    ctx.Debug("deleted " + where.Location(p.filename));
  }
  Status st = s.walrus->DeleteObject(s.Caller(), where.bucket, where.Key(name));
  if (!st.ok()) return st.WithContext("delete " + where.Location(name));
  ctx.Debug("deleted " + where.Location(name));
  if (f.clear) {
    Status gone = s.walrus->DeleteBucket(s.Caller(), where.bucket);
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
                 "canned ACL of the uploaded objects (default: aws-exec-read, which is stored as private)")
      ->type_name("ACL")
      ->check(CLI::IsMember({"aws-exec-read", "ec2-bundle-read", "public-read", "private", "authenticated-read"}));
  app.add_option("--location", f->location, "location constraint of the bucket, if it is created")
      ->type_name("LOCATION");
  app.add_option("-d,--directory", f->directory, "folder of the parts (default: the manifest's folder)")
      ->type_name("DIR");
  app.add_flag("--quiet", f->quiet, "draw no progress bar");
  return [f](Context& ctx) { return RunUploadBundle(ctx, *f); };
}

Handler SetupDownloadBundle(CLI::App& app) {
  auto f = std::make_shared<DownloadFlags>();
  app.add_option("-b,--bucket", f->bucket, "bucket the bundle is in, with an optional key prefix")
      ->required()
      ->type_name("BUCKET[/PREFIX]");
  app.add_option("-m,--manifest", f->manifest, "object name of the bundle's manifest (below the prefix)")
      ->type_name("NAME");
  app.add_option("-p,--prefix", f->prefix, "the bundle's name: downloads PREFIX.manifest.xml and its parts")
      ->type_name("PREFIX");
  app.add_option("-d,--directory", f->directory,
                 "existing folder to write the manifest and parts into (default: .); '-' writes the parts to "
                 "standard output")
      ->type_name("DIR");
  app.add_flag("--quiet", f->quiet, "draw no progress bar");
  return [f](Context& ctx) { return RunDownloadBundle(ctx, *f); };
}

Handler SetupDeleteBundle(CLI::App& app) {
  auto f = std::make_shared<DeleteFlags>();
  app.add_option("-b,--bucket", f->bucket, "bucket the bundle is in, with an optional key prefix")
      ->required()
      ->type_name("BUCKET[/PREFIX]");
  app.add_option("-m,--manifest", f->manifest, "object name of the bundle's manifest (below the prefix)")
      ->type_name("NAME");
  app.add_option("-p,--prefix", f->prefix, "the bundle's name: deletes PREFIX.manifest.xml and its parts")
      ->type_name("PREFIX");
  app.add_flag("--clear", f->clear, "also delete the bucket if nothing else is left in it");
  return [f](Context& ctx) { return RunDeleteBundle(ctx, *f); };
}

}  // namespace euca::cmd
