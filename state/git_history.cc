#include "state/git_history.h"

#include <git2.h>
#include <openssl/sha.h>
#include <isa-l/igzip_lib.h>
#include <git2/sys/mempack.h>
#include <git2/sys/odb_backend.h>
#include <git2/odb_backend.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <cstring>
#include <mutex>

namespace euca::state {
namespace {

constexpr const char* kMainRef = "refs/heads/main";

void InitLibgit2Once() {
  static std::once_flag once;
  std::call_once(once, [] { git_libgit2_init(); });
}

Status GitError(std::string_view what) {
  const git_error* e = git_error_last();
  return Internal("history: " + std::string(what) + ": " + (e && e->message ? e->message : "unknown libgit2 error"));
}

template <typename T, void (*Free)(T*)>
struct GitPtr {
  T* p = nullptr;
  GitPtr() = default;
  explicit GitPtr(T* x) : p(x) {}
  ~GitPtr() {
    if (p) Free(p);
  }
  GitPtr(const GitPtr&) = delete;
  GitPtr& operator=(const GitPtr&) = delete;
  T** out() { return &p; }
  T* get() const { return p; }
};
using Commit = GitPtr<git_commit, git_commit_free>;
using Tree = GitPtr<git_tree, git_tree_free>;
using TreeBuilder = GitPtr<git_treebuilder, git_treebuilder_free>;
using Signature = GitPtr<git_signature, git_signature_free>;
using GitObject = GitPtr<git_object, git_object_free>;
using Diff = GitPtr<git_diff, git_diff_free>;
using Revwalk = GitPtr<git_revwalk, git_revwalk_free>;
using Blob = GitPtr<git_blob, git_blob_free>;
using TreeEntry = GitPtr<git_tree_entry, git_tree_entry_free>;

std::string OidHex(const git_oid* oid) {
  char buf[GIT_OID_HEXSZ + 1];
  git_oid_tostr(buf, sizeof buf, oid);
  return buf;
}

std::string HexOf(const char* p, size_t n) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(p[i]);
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

uint64_t ParseSeq(const char* message) {
  const char* p = message ? std::strstr(message, "\nEuca-Seq: ") : nullptr;
  return p ? std::strtoull(p + 11, nullptr, 10) : 0;
}

std::string Trailer(const char* message, const char* key) {
  if (!message) return {};
  std::string needle = std::string("\n") + key + ": ";
  const char* p = std::strstr(message, needle.c_str());
  if (!p) return {};
  p += needle.size();
  const char* end = std::strchr(p, '\n');
  return end ? std::string(p, end) : std::string(p);
}

CommitInfo InfoOf(git_commit* c) {
  CommitInfo info;
  info.rev = OidHex(git_commit_id(c));
  const char* msg = git_commit_message(c);
  info.seq = ParseSeq(msg);
  info.request_id = Trailer(msg, "Request-Id");
  const char* summary = git_commit_summary(c);
  info.action = summary ? summary : "";
  const git_signature* a = git_commit_author(c);
  info.principal = a && a->name ? a->name : "";
  info.time_ms = static_cast<int64_t>(git_commit_time(c)) * 1000;
  return info;
}

// A signature field may not hold '<', '>' or newlines.
std::string SigSafe(std::string s) {
  for (char& ch : s)
    if (ch == '<' || ch == '>' || ch == '\n') ch = '_';
  return s.empty() ? "unknown" : s;
}

// Inserts/removes `changes` (paths relative to `tree`, already grouped) and writes the
// new tree. `base` may be null (no tree yet). Sets *empty when the result has no entries.
Status WriteTree(git_repository* repo, const git_tree* base,
                 const std::vector<std::pair<std::string, const std::optional<git_oid>*>>& changes,
                 git_oid* out, bool* empty, std::vector<git_oid>* written) {
  TreeBuilder bld;
  if (git_treebuilder_new(bld.out(), repo, base) != 0) return GitError("tree builder");
  // Group by first component.
  std::map<std::string, std::vector<std::pair<std::string, const std::optional<git_oid>*>>> sub;
  for (const auto& [path, oid] : changes) {
    auto slash = path.find('/');
    if (slash == std::string::npos) {
      if (*oid) {
        if (git_treebuilder_insert(nullptr, bld.get(), path.c_str(), &**oid, GIT_FILEMODE_BLOB) != 0)
          return GitError("insert '" + path + "'");
      } else if (git_treebuilder_get(bld.get(), path.c_str())) {
        if (git_treebuilder_remove(bld.get(), path.c_str()) != 0) return GitError("remove '" + path + "'");
      }
    } else {
      sub[path.substr(0, slash)].emplace_back(path.substr(slash + 1), oid);
    }
  }
  for (const auto& [dir, entries] : sub) {
    Tree child;
    const git_tree_entry* e = git_treebuilder_get(bld.get(), dir.c_str());
    if (e && git_tree_entry_type(e) == GIT_OBJECT_TREE) {
      if (git_tree_lookup(child.out(), repo, git_tree_entry_id(e)) != 0) return GitError("read tree '" + dir + "'");
    }
    git_oid child_oid;
    bool child_empty = false;
    EUCA_RETURN_IF_ERROR(WriteTree(repo, child.get(), entries, &child_oid, &child_empty, written));
    if (child_empty) {
      if (e && git_treebuilder_remove(bld.get(), dir.c_str()) != 0) return GitError("remove '" + dir + "'");
    } else if (git_treebuilder_insert(nullptr, bld.get(), dir.c_str(), &child_oid, GIT_FILEMODE_TREE) != 0) {
      return GitError("insert '" + dir + "'");
    }
  }
  *empty = git_treebuilder_entrycount(bld.get()) == 0;
  if (git_treebuilder_write(out, bld.get()) != 0) return GitError("write tree");
  if (written && !*empty) written->push_back(*out);
  return Status::Ok();
}

}  // namespace

GitHistory::~GitHistory() {
  if (batch_repo_) git_repository_free(batch_repo_);
  if (repo_) git_repository_free(repo_);
}

Result<std::unique_ptr<GitHistory>> GitHistory::Open(const std::string& path, bool create) {
  InitLibgit2Once();
  git_repository* repo = nullptr;
  if (git_repository_open_bare(&repo, path.c_str()) != 0) {
    if (!create) return NotFound("no history repository at '" + path + "'");
    git_repository_init_options opts = GIT_REPOSITORY_INIT_OPTIONS_INIT;
    opts.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH;
    opts.initial_head = "main";
    opts.mode = GIT_REPOSITORY_INIT_SHARED_UMASK;
    if (git_repository_init_ext(&repo, path.c_str(), &opts) != 0) return GitError("create '" + path + "'");
    ::chmod(path.c_str(), 0700);  // history holds no secrets, but it is the cloud's business
  }
  return std::unique_ptr<GitHistory>(new GitHistory(repo));
}

void GitHistory::BreakStaleLocks() {
  std::string lock = std::string(git_repository_path(repo_)) + kMainRef + ".lock";
  ::unlink(lock.c_str());
}

Result<uint64_t> GitHistory::HeadSeq() {
  git_oid head;
  int rc = git_reference_name_to_id(&head, repo_, kMainRef);
  if (rc == GIT_ENOTFOUND) return uint64_t{0};
  if (rc != 0) return GitError("read main");
  std::string hex = OidHex(&head);
  if (hex == cached_head_) return cached_head_seq_;
  Commit c;
  if (git_commit_lookup(c.out(), repo_, &head) != 0) return GitError("read commit " + hex);
  cached_head_ = hex;
  cached_head_seq_ = ParseSeq(git_commit_message(c.get()));
  return cached_head_seq_;
}

namespace {

// Builds the commit's trees and commit object in `repo_` (whatever backend its odb writes
// to) on top of `parent_oid` (zero = none); sets *out to the commit id.
// Every object it writes is appended to `written`, if given.
Status WriteCommit(git_repository* repo_, const CommitInfo& info, const std::vector<GitHistory::Change>& changes,
                   const git_oid* parent_oid, git_oid* out, std::vector<git_oid>* written) {
  Commit parent;
  Tree base;
  if (parent_oid && !git_oid_is_zero(parent_oid)) {
    if (git_commit_lookup(parent.out(), repo_, parent_oid) != 0) return GitError("read parent commit");
    if (git_commit_tree(base.out(), parent.get()) != 0) return GitError("read parent tree");
  }
  std::vector<std::optional<git_oid>> blobs(changes.size());
  std::vector<std::pair<std::string, const std::optional<git_oid>*>> entries;
  entries.reserve(changes.size());
  for (size_t i = 0; i < changes.size(); ++i) {
    if (changes[i].content) {
      git_oid oid;
      const std::string& c = *changes[i].content;
      if (git_blob_create_from_buffer(&oid, repo_, c.data(), c.size()) != 0)
        return GitError("write '" + changes[i].path + "'");
      blobs[i] = oid;
      if (written) written->push_back(oid);
    }
    entries.emplace_back(changes[i].path, &blobs[i]);
  }
  git_oid tree_oid;
  bool empty = false;
  EUCA_RETURN_IF_ERROR(WriteTree(repo_, base.get(), entries, &tree_oid, &empty, written));
  if (written && empty) written->push_back(tree_oid);  // the empty root tree
  Tree tree;
  if (git_tree_lookup(tree.out(), repo_, &tree_oid) != 0) return GitError("read new tree");

  Signature sig;
  std::string name = SigSafe(info.principal);
  std::string email = name.find('@') != std::string::npos ? name : name + "@euca";
  if (git_signature_new(sig.out(), name.c_str(), email.c_str(), info.time_ms / 1000, 0) != 0)
    return GitError("signature for '" + name + "'");
  std::string message =
      info.action + "\n\nRequest-Id: " + info.request_id + "\nEuca-Seq: " + std::to_string(info.seq) + "\n";
  const git_commit* parents[1] = {parent.get()};
  if (git_commit_create(out, repo_, nullptr, sig.get(), sig.get(), "UTF-8", message.c_str(), tree.get(),
                        parent.get() ? 1 : 0, parents) != 0)
    return GitError("commit seq " + std::to_string(info.seq));
  if (written) written->push_back(*out);
  return Status::Ok();
}

// zlib streams (RFC 1950, what pack entries hold) by ISA-L at level 1: about a quarter of
// zlib's time at Z_BEST_SPEED, which made compression the largest cost of a history flush.
class ZlibDeflater {
 public:
  ZlibDeflater() : level_buf_(ISAL_DEF_LVL1_DEFAULT) {}
  // Compresses `n` bytes at `data` into `out` (resized as needed); returns the length.
  Result<size_t> Compress(const void* data, size_t n, std::vector<unsigned char>& out) {
    for (size_t cap = n + n / 8 + 1024;; cap *= 2) {
      out.resize(cap);
      isal_zstream s;
      isal_deflate_stateless_init(&s);
      s.level = 1;
      s.level_buf = level_buf_.data();
      s.level_buf_size = static_cast<uint32_t>(level_buf_.size());
      s.gzip_flag = IGZIP_ZLIB;
      s.end_of_stream = 1;
      s.flush = NO_FLUSH;
      s.next_in = static_cast<uint8_t*>(const_cast<void*>(data));
      s.avail_in = static_cast<uint32_t>(n);
      s.next_out = out.data();
      s.avail_out = static_cast<uint32_t>(cap);
      int rc = isal_deflate_stateless(&s);
      if (rc == COMP_OK) return static_cast<size_t>(s.total_out);
      if (rc != STATELESS_OVERFLOW || cap > n * 4 + (1 << 20))
        return Internal("history: compress an object: ISA-L error " + std::to_string(rc));
    }
  }

 private:
  std::vector<uint8_t> level_buf_;
};

// Serializes `objects` (read from `odb`) as a version-2 packfile without deltas
// (gitformat-pack(5)): delta search is what makes libgit2's packbuilder slow on the tens of
// KB of tree data each commit of a sharded history rewrites.
Result<std::string> BuildPack(git_odb* odb, const std::vector<git_oid>& objects) {
  std::string pack = "PACK";
  auto be32 = [&pack](uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) pack.push_back(static_cast<char>((v >> shift) & 0xff));
  };
  be32(2);
  be32(static_cast<uint32_t>(objects.size()));
  std::vector<unsigned char> zbuf;
  ZlibDeflater deflater;
  for (const auto& id : objects) {
    git_odb_object* obj = nullptr;
    if (git_odb_read(&obj, odb, &id) != 0) return GitError("read object " + OidHex(&id));
    std::unique_ptr<git_odb_object, void (*)(git_odb_object*)> guard(obj, git_odb_object_free);
    size_t size = git_odb_object_size(obj);
    unsigned type = static_cast<unsigned>(git_odb_object_type(obj));
    unsigned char c = static_cast<unsigned char>((type << 4) | (size & 15));
    size >>= 4;
    while (size) {
      pack.push_back(static_cast<char>(c | 0x80));
      c = size & 0x7f;
      size >>= 7;
    }
    pack.push_back(static_cast<char>(c));
    EUCA_ASSIGN_OR_RETURN(size_t zlen, deflater.Compress(git_odb_object_data(obj), git_odb_object_size(obj), zbuf));
    pack.append(reinterpret_cast<const char*>(zbuf.data()), zlen);
  }
  unsigned char digest[20];
  SHA1(reinterpret_cast<const unsigned char*>(pack.data()), pack.size(), digest);
  pack.append(reinterpret_cast<const char*>(digest), sizeof digest);
  return pack;
}

// Indexes `pack` into the repository's pack folder (temporary file, then rename).
Status WritePack(git_odb* odb, const std::string& pack) {
  git_odb_writepack* wp = nullptr;
  git_indexer_progress stats{};
  Status s;
  if (git_odb_write_pack(&wp, odb, nullptr, nullptr) != 0 || wp->append(wp, pack.data(), pack.size(), &stats) != 0 ||
      wp->commit(wp, &stats) != 0)
    s = GitError("write pack");
  if (wp) wp->free(wp);
  return s;
}

// Moves main from `old_head` (zero = unborn) to `new_head`; fails if someone else moved it.
Status MoveMain(git_repository* repo, const git_oid& old_head, const git_oid& new_head) {
  git_reference* ref = nullptr;
  int rc = git_oid_is_zero(&old_head)
               ? git_reference_create(&ref, repo, kMainRef, &new_head, 0, "euca")
               : git_reference_create_matching(&ref, repo, kMainRef, &new_head, 1, &old_head, "euca");
  if (rc != 0) return GitError("move main");
  git_reference_free(ref);
  return Status::Ok();
}

Status ReadMain(git_repository* repo, git_oid* head) {
  int rc = git_reference_name_to_id(head, repo, kMainRef);
  if (rc == GIT_ENOTFOUND) {
    git_oid_fromstr(head, "0000000000000000000000000000000000000000");
    return Status::Ok();
  }
  return rc == 0 ? Status::Ok() : GitError("read main");
}

// A read-only view of another backend without refresh or freshen: libgit2 calls
// git_odb_refresh (a rescan of the pack folder) after every lookup miss, and every new
// object is a miss. Exists/read lookups are passed through.
struct ReadOnlyBackend {
  git_odb_backend parent;  // first: libgit2 sees a git_odb_backend*
  git_odb_backend* inner;
};
git_odb_backend* Inner(git_odb_backend* b) { return reinterpret_cast<ReadOnlyBackend*>(b)->inner; }

git_odb_backend* NewReadOnlyBackend(git_odb_backend* inner) {
  auto* ro = new ReadOnlyBackend{};
  git_odb_init_backend(&ro->parent, GIT_ODB_BACKEND_VERSION);
  ro->inner = inner;
  ro->parent.read = [](void** buf, size_t* len, git_object_t* type, git_odb_backend* b, const git_oid* oid) {
    return Inner(b)->read(buf, len, type, Inner(b), oid);
  };
  if (inner->read_prefix)
    ro->parent.read_prefix = [](git_oid* out, void** buf, size_t* len, git_object_t* type, git_odb_backend* b,
                                const git_oid* oid, size_t n) {
      return Inner(b)->read_prefix(out, buf, len, type, Inner(b), oid, n);
    };
  if (inner->read_header)
    ro->parent.read_header = [](size_t* len, git_object_t* type, git_odb_backend* b, const git_oid* oid) {
      return Inner(b)->read_header(len, type, Inner(b), oid);
    };
  ro->parent.exists = [](git_odb_backend* b, const git_oid* oid) { return Inner(b)->exists(Inner(b), oid); };
  if (inner->exists_prefix)
    ro->parent.exists_prefix = [](git_oid* out, git_odb_backend* b, const git_oid* oid, size_t n) {
      return Inner(b)->exists_prefix(out, Inner(b), oid, n);
    };
  ro->parent.free = [](git_odb_backend* b) {
    Inner(b)->free(Inner(b));
    delete reinterpret_cast<ReadOnlyBackend*>(b);
  };
  return &ro->parent;
}

}  // namespace

Status GitHistory::Append(const CommitInfo& info, const std::vector<Change>& changes) {
  return AppendBatch({PendingCommit{info, changes}});
}

Status GitHistory::AppendBatch(const std::vector<PendingCommit>& batch) {
  if (batch.empty()) return Status::Ok();
  git_oid old_head;
  EUCA_RETURN_IF_ERROR(ReadMain(repo_, &old_head));
  git_oid head = old_head;
  if (batch.size() == 1 && batch[0].changes.size() <= kMaxLooseChanges) {
    // One small commit: loose objects, no pack to accumulate.
    git_oid next;
    EUCA_RETURN_IF_ERROR(WriteCommit(repo_, batch[0].info, batch[0].changes, &head, &next, nullptr));
    EUCA_RETURN_IF_ERROR(MoveMain(repo_, old_head, next));
    cached_head_ = OidHex(&next);
    cached_head_seq_ = batch[0].info.seq;
    return Status::Ok();
  }
  if (!batch_repo_) {
    const std::string objects = std::string(git_repository_path(repo_)) + "objects";
    git_odb* bodb = nullptr;
    git_odb_backend *pack = nullptr, *loose = nullptr;
    if (git_odb_new(&bodb) != 0) return GitError("open batch object database");
    std::unique_ptr<git_odb, void (*)(git_odb*)> bodb_guard(bodb, git_odb_free);
    if (git_odb_backend_pack(&pack, objects.c_str()) != 0) return GitError("open packs");
    git_odb_backend* ro_pack = NewReadOnlyBackend(pack);
    if (git_odb_add_backend(bodb, ro_pack, 2) != 0) {
      ro_pack->free(ro_pack);
      return GitError("attach packs");
    }
    if (git_odb_backend_loose(&loose, objects.c_str(), -1, 0, 0, 0) != 0) return GitError("open loose objects");
    git_odb_backend* ro_loose = NewReadOnlyBackend(loose);
    if (git_odb_add_backend(bodb, ro_loose, 1) != 0) {
      ro_loose->free(ro_loose);
      return GitError("attach loose objects");
    }
    pack->odb = loose->odb = bodb;
    // Highest priority: every object write of batch_repo_ lands in memory.
    if (git_mempack_new(&mempack_) != 0 || git_odb_add_backend(bodb, mempack_, 1000) != 0)
      return GitError("attach in-memory pack");
    if (git_repository_wrap_odb(&batch_repo_, bodb) != 0) return GitError("open for batch");
    disk_pack_ = pack;
  }
  git_odb* odb = nullptr;
  if (git_repository_odb(&odb, batch_repo_) != 0) return GitError("open object database");
  std::unique_ptr<git_odb, void (*)(git_odb*)> odb_guard(odb, git_odb_free);
  if (disk_pack_->refresh) disk_pack_->refresh(disk_pack_);  // packs written since the last batch
  Status s;
  std::vector<git_oid> written;
  for (const auto& c : batch) {
    git_oid next;
    s = WriteCommit(batch_repo_, c.info, c.changes, &head, &next, &written);
    if (!s.ok()) break;
    head = next;
  }
  if (s.ok()) {
    std::sort(written.begin(), written.end(), [](const git_oid& a, const git_oid& b) { return git_oid_cmp(&a, &b) < 0; });
    written.erase(std::unique(written.begin(), written.end(),
                              [](const git_oid& a, const git_oid& b) { return git_oid_equal(&a, &b); }),
                  written.end());
    auto pack = BuildPack(odb, written);
    git_odb* main_odb = nullptr;  // the pack is indexed into the repository's own packs
    if (!pack.ok()) {
      s = pack.status();
    } else if (git_repository_odb(&main_odb, repo_) != 0) {
      s = GitError("open object database");
    } else {
      s = WritePack(main_odb, *pack);
      git_odb_free(main_odb);
    }
  }
  git_mempack_reset(mempack_);
  EUCA_RETURN_IF_ERROR(s);
  git_odb* main_odb = nullptr;
  if (git_repository_odb(&main_odb, repo_) == 0) {
    git_odb_refresh(main_odb);
    git_odb_free(main_odb);
  }
  EUCA_RETURN_IF_ERROR(MoveMain(repo_, old_head, head));
  cached_head_ = OidHex(&head);
  cached_head_seq_ = batch.back().info.seq;
  auto packs = PackCount();
  if (packs.ok() && *packs > kMaxPacks) return Repack();
  return Status::Ok();
}

Result<size_t> GitHistory::PackCount() {
  std::string dir = std::string(git_repository_path(repo_)) + "objects/pack";
  std::error_code ec;
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().extension() == ".pack") ++n;
  if (ec) return Internal("history: list '" + dir + "': " + ec.message());
  return n;
}

Status GitHistory::Repack() {
  // Merge every pack but the largest into one: the cost is the size of the small packs,
  // not of the whole history (a full repack with delta search of 100k objects takes
  // minutes).
  std::string dir = std::string(git_repository_path(repo_)) + "objects/pack";
  std::vector<std::pair<uintmax_t, std::string>> packs;  // size, path without extension
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().extension() != ".pack") continue;
    std::string stem = (e.path().parent_path() / e.path().stem()).string();
    if (!std::filesystem::exists(stem + ".idx")) continue;  // being written by someone
    packs.emplace_back(e.file_size(ec), stem);
  }
  if (ec) return Internal("history: list '" + dir + "': " + ec.message());
  if (packs.size() < 3) return Status::Ok();
  std::sort(packs.begin(), packs.end(), std::greater<>());
  std::vector<git_oid> objects;
  for (size_t i = 1; i < packs.size(); ++i) {
    git_odb_backend* one = nullptr;
    if (git_odb_backend_one_pack(&one, (packs[i].second + ".idx").c_str()) != 0) return GitError("repack: open pack");
    auto collect = [](const git_oid* id, void* payload) -> int {
      static_cast<std::vector<git_oid>*>(payload)->push_back(*id);
      return 0;
    };
    int rc = one->foreach(one, collect, &objects);
    one->free(one);
    if (rc != 0) return GitError("repack: collect objects");
  }
  std::sort(objects.begin(), objects.end(), [](const git_oid& a, const git_oid& b) { return git_oid_cmp(&a, &b) < 0; });
  objects.erase(std::unique(objects.begin(), objects.end(),
                            [](const git_oid& a, const git_oid& b) { return git_oid_equal(&a, &b); }),
                objects.end());
  git_odb* odb = nullptr;
  if (git_repository_odb(&odb, repo_) != 0) return GitError("repack: open object database");
  std::unique_ptr<git_odb, void (*)(git_odb*)> odb_guard(odb, git_odb_free);
  EUCA_ASSIGN_OR_RETURN(std::string pack, BuildPack(odb, objects));
  EUCA_RETURN_IF_ERROR(WritePack(odb, pack));
  // The new pack is named by the SHA-1 of its contents (its trailer).
  std::string merged = dir + "/pack-" + HexOf(pack.data() + pack.size() - 20, 20);
  for (size_t i = 1; i < packs.size(); ++i) {
    if (packs[i].second == merged) continue;
    for (const char* ext : {".idx", ".pack", ".rev"}) std::filesystem::remove(packs[i].second + ext, ec);
  }
  git_odb_refresh(odb);
  return Status::Ok();
}

Result<std::string> GitHistory::ResolveCommit(const std::string& rev) {
  GitObject obj;
  if (rev.empty() || git_revparse_single(obj.out(), repo_, rev.c_str()) != 0)
    return NotFound("no revision '" + rev + "' in history");
  GitObject peeled;
  if (git_object_peel(peeled.out(), obj.get(), GIT_OBJECT_COMMIT) != 0)
    return NotFound("'" + rev + "' does not name a commit in history");
  return OidHex(git_object_id(peeled.get()));
}

namespace {

Status LookupCommit(git_repository* repo, const std::string& hex, Commit* out) {
  git_oid oid;
  if (git_oid_fromstr(&oid, hex.c_str()) != 0 || git_commit_lookup(out->out(), repo, &oid) != 0)
    return NotFound("no commit '" + hex + "' in history");
  return Status::Ok();
}

Result<std::string> PatchText(git_repository* repo, git_tree* from, git_tree* to, std::vector<std::string>* paths) {
  Diff diff;
  git_diff_options opts = GIT_DIFF_OPTIONS_INIT;
  if (git_diff_tree_to_tree(diff.out(), repo, from, to, &opts) != 0) return GitError("diff");
  if (paths) {
    for (size_t i = 0; i < git_diff_num_deltas(diff.get()); ++i) {
      const git_diff_delta* d = git_diff_get_delta(diff.get(), i);
      paths->push_back(d->status == GIT_DELTA_DELETED ? d->old_file.path : d->new_file.path);
    }
    return std::string();
  }
  git_buf buf = GIT_BUF_INIT;
  if (git_diff_to_buf(&buf, diff.get(), GIT_DIFF_FORMAT_PATCH) != 0) return GitError("format diff");
  std::string text(buf.ptr ? buf.ptr : "", buf.size);
  git_buf_dispose(&buf);
  return text;
}

}  // namespace

Result<std::vector<CommitInfo>> GitHistory::Log(const std::optional<std::string>& path, size_t limit) {
  std::vector<CommitInfo> out;
  git_oid head;
  int rc = git_reference_name_to_id(&head, repo_, kMainRef);
  if (rc == GIT_ENOTFOUND) return out;
  if (rc != 0) return GitError("read main");
  Revwalk walk;
  if (git_revwalk_new(walk.out(), repo_) != 0) return GitError("walk");
  git_revwalk_sorting(walk.get(), GIT_SORT_TOPOLOGICAL);
  git_revwalk_push(walk.get(), &head);
  git_oid oid;
  while ((limit == 0 || out.size() < limit) && git_revwalk_next(&oid, walk.get()) == 0) {
    Commit c;
    if (git_commit_lookup(c.out(), repo_, &oid) != 0) return GitError("read commit");
    Tree tree, parent_tree;
    if (git_commit_tree(tree.out(), c.get()) != 0) return GitError("read tree");
    Commit parent;
    if (git_commit_parentcount(c.get()) > 0) {
      if (git_commit_parent(parent.out(), c.get(), 0) != 0 || git_commit_tree(parent_tree.out(), parent.get()) != 0)
        return GitError("read parent");
    }
    if (path) {
      // Cheap test first: did the blob at `path` change?
      TreeEntry now, before;
      bool has_now = git_tree_entry_bypath(now.out(), tree.get(), path->c_str()) == 0;
      bool has_before = parent_tree.get() && git_tree_entry_bypath(before.out(), parent_tree.get(), path->c_str()) == 0;
      if (has_now == has_before && (!has_now || git_oid_equal(git_tree_entry_id(now.get()), git_tree_entry_id(before.get()))))
        continue;
    }
    CommitInfo info = InfoOf(c.get());
    auto paths = PatchText(repo_, parent_tree.get(), tree.get(), &info.paths);
    if (!paths.ok()) return paths.status();
    out.push_back(std::move(info));
  }
  return out;
}

Result<std::pair<CommitInfo, std::string>> GitHistory::Show(const std::string& rev) {
  EUCA_ASSIGN_OR_RETURN(std::string hex, ResolveCommit(rev));
  Commit c;
  EUCA_RETURN_IF_ERROR(LookupCommit(repo_, hex, &c));
  Tree tree, parent_tree;
  Commit parent;
  if (git_commit_tree(tree.out(), c.get()) != 0) return GitError("read tree");
  if (git_commit_parentcount(c.get()) > 0 &&
      (git_commit_parent(parent.out(), c.get(), 0) != 0 || git_commit_tree(parent_tree.out(), parent.get()) != 0))
    return GitError("read parent");
  CommitInfo info = InfoOf(c.get());
  auto ignore = PatchText(repo_, parent_tree.get(), tree.get(), &info.paths);
  if (!ignore.ok()) return ignore.status();
  EUCA_ASSIGN_OR_RETURN(std::string patch, PatchText(repo_, parent_tree.get(), tree.get(), nullptr));
  return std::make_pair(std::move(info), std::move(patch));
}

Result<std::string> GitHistory::Diff(const std::string& from, const std::optional<std::string>& to) {
  EUCA_ASSIGN_OR_RETURN(std::string a, ResolveCommit(from));
  EUCA_ASSIGN_OR_RETURN(std::string b, ResolveCommit(to ? *to : std::string(kMainRef)));
  Commit ca, cb;
  EUCA_RETURN_IF_ERROR(LookupCommit(repo_, a, &ca));
  EUCA_RETURN_IF_ERROR(LookupCommit(repo_, b, &cb));
  Tree ta, tb;
  if (git_commit_tree(ta.out(), ca.get()) != 0 || git_commit_tree(tb.out(), cb.get()) != 0) return GitError("read tree");
  return PatchText(repo_, ta.get(), tb.get(), nullptr);
}

Result<std::map<std::string, std::string>> GitHistory::ListFiles(const std::string& rev) {
  EUCA_ASSIGN_OR_RETURN(std::string hex, ResolveCommit(rev));
  Commit c;
  EUCA_RETURN_IF_ERROR(LookupCommit(repo_, hex, &c));
  Tree tree;
  if (git_commit_tree(tree.out(), c.get()) != 0) return GitError("read tree");
  std::map<std::string, std::string> files;
  auto cb = [](const char* root, const git_tree_entry* e, void* payload) -> int {
    if (git_tree_entry_type(e) == GIT_OBJECT_BLOB) {
      auto* m = static_cast<std::map<std::string, std::string>*>(payload);
      (*m)[std::string(root) + git_tree_entry_name(e)] = OidHex(git_tree_entry_id(e));
    }
    return 0;
  };
  if (git_tree_walk(tree.get(), GIT_TREEWALK_PRE, cb, &files) != 0) return GitError("walk tree");
  return files;
}

Result<std::string> GitHistory::ReadBlob(const std::string& blob_id) {
  git_oid oid;
  Blob blob;
  if (git_oid_fromstr(&oid, blob_id.c_str()) != 0 || git_blob_lookup(blob.out(), repo_, &oid) != 0)
    return GitError("read blob " + blob_id);
  return std::string(static_cast<const char*>(git_blob_rawcontent(blob.get())),
                     static_cast<size_t>(git_blob_rawsize(blob.get())));
}

std::string GitHistory::HashBlob(const std::string& content) {
  git_oid oid;
  git_odb_hash(&oid, content.data(), content.size(), GIT_OBJECT_BLOB);
  return OidHex(&oid);
}

}  // namespace euca::state
