// BundleImage: the bundling pipeline (docs/bundle-format.md, "Pipeline").
//
// Threads: the calling thread reads the image (holes without reading), lays it out as the
// tar stream in blocks and feeds the tar SHA-1; `threads` workers compress blocks; one
// writer takes compressed blocks in order, frames them as one gzip member, encrypts and cuts
// parts. A fixed pool of blocks circulates reader -> workers -> writer -> reader, which is
// what bounds memory.

#include "bundles/bundle.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include "bundles/crypto.h"
#include "bundles/file_io.h"
#include "bundles/queue.h"
#include "bundles/tar.h"
#include "core/base/pki.h"

namespace euca::bundles {
namespace {

struct Block {
  uint64_t seq = 0;
  Buffer in;  // tar stream bytes
  bool zero = false;
  Buffer out;  // raw deflate of `in`, ending in a full flush
  uint32_t crc = 0;
};
using BlockPtr = std::unique_ptr<Block>;



// Cuts the ciphertext into PREFIX.part.NN files in `dir`, with a SHA-1 each.
class PartSink {
 public:
  PartSink(std::string dir, std::string prefix, uint64_t part_size, bool sync,
           const std::function<Status(std::string_view)>& fault)
      : dir_(std::move(dir)), prefix_(std::move(prefix)), part_size_(part_size), sync_(sync), fault_(fault) {}

  Status Write(const uint8_t* p, size_t n) {
    while (n > 0) {
      if (file_.fd() < 0) {
        EUCA_ASSIGN_OR_RETURN(file_, File::Create(dir_ + "/" + PartName(parts_.size()), 0644));
        in_part_ = 0;
      }
      size_t take = static_cast<size_t>(std::min<uint64_t>(n, part_size_ - in_part_));
      EUCA_RETURN_IF_ERROR(file_.Write(p, take));
      sha_.Update(p, take);
      in_part_ += take;
      total_ += take;
      p += take;
      n -= take;
      if (in_part_ == part_size_) EUCA_RETURN_IF_ERROR(ClosePart());
    }
    return Status::Ok();
  }

  Status Finish() {
    if (file_.fd() >= 0) EUCA_RETURN_IF_ERROR(ClosePart());
    return Status::Ok();
  }

  std::string PartName(size_t index) const {
    char num[32];
    std::snprintf(num, sizeof num, "%02zu", index);
    return prefix_ + ".part." + num;
  }
  const std::vector<ManifestPart>& parts() const { return parts_; }
  uint64_t total() const { return total_; }

 private:
  Status ClosePart() {
    if (sync_) EUCA_RETURN_IF_ERROR(file_.Sync());
    EUCA_RETURN_IF_ERROR(file_.Close());
    parts_.push_back({PartName(parts_.size()), sha_.FinishHex()});
    if (fault_) {
      char num[32];
      std::snprintf(num, sizeof num, "part %02zu", parts_.size() - 1);
      EUCA_RETURN_IF_ERROR(fault_(num));
    }
    return Status::Ok();
  }

  std::string dir_, prefix_;
  uint64_t part_size_;
  bool sync_;
  const std::function<Status(std::string_view)>& fault_;
  File file_;
  Sha1 sha_;
  uint64_t in_part_ = 0;
  uint64_t total_ = 0;
  std::vector<ManifestPart> parts_;
};

std::string BaseName(const std::string& path) {
  size_t end = path.find_last_not_of('/');
  if (end == std::string::npos) return "";
  size_t slash = path.rfind('/', end);
  return path.substr(slash == std::string::npos ? 0 : slash + 1,
                     end - (slash == std::string::npos ? 0 : slash + 1) + 1);
}

Status CheckOptions(const BundleOptions& o) {
  if (o.image_path.empty()) return InvalidArgument("no image file given");
  if (o.destination_dir.empty()) return InvalidArgument("no destination folder given");
  if (!IsDirectory(o.destination_dir)) return NotFound("destination folder '" + o.destination_dir + "' does not exist");
  if (o.cloud_cert_pem.empty())
    return InvalidArgument("the cloud certificate is required: the cloud decrypts the image with its key");
  if (o.part_size == 0) return InvalidArgument("part size '0' is too small; use at least 1 byte");
  if (o.block_size < 64 * 1024 || o.block_size > 64 * 1024 * 1024)
    return InvalidArgument("block size '" + std::to_string(o.block_size) + "' must be between 64 KiB and 64 MiB");
  if (o.image_type != "machine" && o.image_type != "kernel" && o.image_type != "ramdisk")
    return InvalidArgument("image type '" + o.image_type + "' must be machine, kernel or ramdisk");
  if (o.image_type != "machine" && !o.block_device_mappings.empty())
    return InvalidArgument("block device mappings are for machine images only, not '" + o.image_type + "'");
  return Status::Ok();
}

std::string DigitsOnly(const std::string& account) {
  std::string out;
  for (char c : account)
    if (c != '-') out.push_back(c);
  return out;
}

}  // namespace

Result<BundleResult> BundleImage(const BundleOptions& options, Progress* progress) {
  EUCA_RETURN_IF_ERROR(CheckOptions(options));
  std::string prefix = options.prefix.empty() ? BaseName(options.image_path) : options.prefix;
  std::string account = DigitsOnly(options.account_id);
  if (account.empty() || account.find_first_not_of("0123456789") != std::string::npos)
    return InvalidArgument("account id '" + options.account_id + "' must be digits (hyphens allowed)");

  // Everything that can be refused is refused before the image is read.
  EUCA_ASSIGN_OR_RETURN(File image, File::OpenRead(options.image_path));
  struct stat st;
  if (::fstat(image.fd(), &st) != 0) return ErrnoStatus("stat '" + options.image_path + "'", errno);
  if (!S_ISREG(st.st_mode)) return InvalidArgument("image '" + options.image_path + "' is not a regular file");
  const uint64_t image_size = static_cast<uint64_t>(st.st_size);
  EUCA_ASSIGN_OR_RETURN(std::string tar_header, TarMemberHeader(prefix, image_size, st.st_mtime));

  Manifest m;
  m.architecture = options.architecture;
  m.block_device_mappings = options.block_device_mappings;
  m.product_codes = options.product_codes;
  m.kernel_id = options.kernel_id;
  m.ramdisk_id = options.ramdisk_id;
  if (options.image_type == "kernel" && m.kernel_id.empty()) m.kernel_id = "true";
  if (options.image_type == "ramdisk" && m.ramdisk_id.empty()) m.ramdisk_id = "true";
  m.name = prefix;
  m.user = account;
  m.type = options.image_type;
  m.size = image_size;

  BundleKey key = options.key ? *options.key : NewBundleKey();
  {
    auto k = WrapForCertificate(options.cloud_cert_pem, key.key_hex);
    if (!k.ok()) return k.status().WithContext("cloud certificate");
    m.ec2_encrypted_key = *k;
    EUCA_ASSIGN_OR_RETURN(m.ec2_encrypted_iv, WrapForCertificate(options.cloud_cert_pem, key.iv_hex));
  }
  if (!options.user_cert_pem.empty()) {
    auto k = WrapForCertificate(options.user_cert_pem, key.key_hex);
    if (!k.ok()) return k.status().WithContext("user certificate");
    m.user_encrypted_key = *k;
    EUCA_ASSIGN_OR_RETURN(m.user_encrypted_iv, WrapForCertificate(options.user_cert_pem, key.iv_hex));
  }
  if (!options.user_private_key_pem.empty()) {
    auto pub = PublicKeyPem(options.user_private_key_pem);
    if (!pub.ok()) return pub.status().WithContext("user private key");
    if (!options.user_cert_pem.empty())
      EUCA_RETURN_IF_ERROR(VerifyKeyMatchesCertificate(options.user_private_key_pem, options.user_cert_pem));
  }
  EUCA_ASSIGN_OR_RETURN(auto aes, AesCbc::Create(AesCbc::Direction::kEncrypt, key));

  // The tar stream: header, image bytes, zero trailer.
  const uint64_t header_size = tar_header.size();
  const uint64_t data_end = header_size + image_size;
  const uint64_t tar_size = data_end + TarTrailerSize(data_end);
  const size_t block_size = options.block_size;
  const uint64_t nblocks = (tar_size + block_size - 1) / block_size;

  EUCA_ASSIGN_OR_RETURN(std::string tmp_dir, MakeTempDir(options.destination_dir, "." + prefix + ".bundle-"));
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      if (!dir.empty()) RemoveQuietly(dir);
    }
  } cleanup{tmp_dir};

  unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  const int nworkers = options.threads > 0 ? options.threads : static_cast<int>(hw);
  const size_t pool_size = static_cast<size_t>(nworkers) * 2 + 4;

  BoundedQueue<BlockPtr> free_blocks(pool_size);
  BoundedQueue<BlockPtr> work(pool_size);
  ReorderQueue<BlockPtr> reorder;
  FirstError error;
  auto cancel = [&] {
    free_blocks.Cancel();
    work.Cancel();
    reorder.Cancel();
  };
  for (size_t i = 0; i < pool_size; ++i) {
    auto b = std::make_unique<Block>();
    b->in = Buffer(block_size);
    b->out = Buffer(DeflateBlockCompressor::Bound(block_size));
    (void)free_blocks.Push(std::move(b));
  }

  // A full block of zeros compresses the same every time (no history crosses blocks).
  Buffer zero_deflate(DeflateBlockCompressor::Bound(block_size));
  uint32_t zero_crc = 0;
  {
    std::unique_ptr<uint8_t[]> zeros(new uint8_t[block_size]());
    DeflateBlockCompressor c(options.compression_level);
    EUCA_ASSIGN_OR_RETURN(zero_deflate.len,
                          c.Compress(zeros.get(), block_size, zero_deflate.data.get(), zero_deflate.cap));
    zero_crc = Crc32(0, zeros.get(), block_size);
  }

  std::vector<std::thread> workers;
  for (int w = 0; w < nworkers; ++w) {
    workers.emplace_back([&] {
      DeflateBlockCompressor compressor(options.compression_level);
      while (auto item = work.Pop()) {
        BlockPtr b = std::move(*item);
        if (b->zero && b->in.len == block_size) {
          std::memcpy(b->out.data.get(), zero_deflate.data.get(), zero_deflate.len);
          b->out.len = zero_deflate.len;
          b->crc = zero_crc;
        } else {
          auto n = compressor.Compress(b->in.data.get(), b->in.len, b->out.data.get(), b->out.cap);
          if (!n.ok()) return error.Set(n.status(), cancel);
          b->out.len = *n;
          b->crc = Crc32(0, b->in.data.get(), b->in.len);
        }
        const uint64_t seq = b->seq;
        reorder.Put(seq, std::move(b));
      }
    });
  }

  PartSink sink(tmp_dir, prefix, options.part_size, options.sync, options.fault_for_test);
  std::vector<uint32_t> index;  // compressed size of each block, in order (the writer's)
  index.reserve(static_cast<size_t>(nblocks));
  std::thread writer([&] {
    Buffer cipher(DeflateBlockCompressor::Bound(block_size) + 64);
    auto emit = [&](const uint8_t* p, size_t n) -> Status {
      while (n > 0) {
        size_t take = std::min(n, cipher.cap - 32);
        EUCA_ASSIGN_OR_RETURN(size_t c, aes->Update(p, take, cipher.data.get()));
        EUCA_RETURN_IF_ERROR(sink.Write(cipher.data.get(), c));
        p += take;
        n -= take;
      }
      return Status::Ok();
    };
    auto run = [&]() -> Status {
      std::string header = GzipHeader();
      EUCA_RETURN_IF_ERROR(emit(reinterpret_cast<const uint8_t*>(header.data()), header.size()));
      uint32_t crc = 0;
      uint64_t total_in = 0;
      for (uint64_t seq = 0; seq < nblocks; ++seq) {
        auto taken = reorder.Take(seq);
        if (!taken) return Status::Ok();  // cancelled; the error is elsewhere
        BlockPtr b = std::move(*taken);
        EUCA_RETURN_IF_ERROR(emit(b->out.data.get(), b->out.len));
        index.push_back(static_cast<uint32_t>(b->out.len));
        crc = Crc32Combine(crc, b->crc, b->in.len);
        total_in += b->in.len;
        (void)free_blocks.Push(std::move(b));
      }
      std::string trailer = GzipTrailer(crc, total_in);
      EUCA_RETURN_IF_ERROR(emit(reinterpret_cast<const uint8_t*>(trailer.data()), trailer.size()));
      EUCA_ASSIGN_OR_RETURN(size_t c, aes->Finish(cipher.data.get()));
      EUCA_RETURN_IF_ERROR(sink.Write(cipher.data.get(), c));
      return sink.Finish();
    };
    error.Set(run(), cancel);
  });

  // The reader: this thread.
  Sha1 tar_sha;
  SparseReader reader(image, image_size);
  for (uint64_t seq = 0; seq < nblocks; ++seq) {
    auto item = free_blocks.Pop();
    if (!item) break;
    BlockPtr b = std::move(*item);
    b->seq = seq;
    const uint64_t start = seq * block_size;
    const uint64_t end = std::min<uint64_t>(start + block_size, tar_size);
    uint8_t* p = b->in.data.get();
    bool zero = true;
    uint64_t pos = start;
    if (pos < header_size) {
      size_t n = static_cast<size_t>(std::min(end, header_size) - pos);
      std::memcpy(p, tar_header.data() + pos, n);
      p += n;
      pos += n;
      zero = false;
    }
    if (pos < end && pos < data_end) {
      size_t n = static_cast<size_t>(std::min(end, data_end) - pos);
      bool all_zero = false;
      Status s = reader.ReadAt(pos - header_size, p, n, &all_zero);
      if (!s.ok()) {
        error.Set(s, cancel);
        break;
      }
      zero = zero && all_zero;
      p += n;
      pos += n;
    }
    if (pos < end) {
      std::memset(p, 0, static_cast<size_t>(end - pos));
      pos = end;
    }
    b->in.len = static_cast<size_t>(end - start);
    b->zero = zero;
    tar_sha.Update(b->in.data.get(), b->in.len);
    if (!work.Push(std::move(b))) break;
    if (progress != nullptr)
      progress->Update(end <= header_size ? 0 : std::min(end - header_size, image_size), image_size);
  }
  work.Close();
  for (auto& t : workers) t.join();
  writer.join();
  EUCA_RETURN_IF_ERROR(error.Get());

  m.digest = tar_sha.FinishHex();
  m.bundled_size = sink.total();
  m.parts = sink.parts();
  if (options.deflate_index) m.deflate_index = DeflateIndex{block_size, std::move(index)};
  EUCA_ASSIGN_OR_RETURN(std::string xml, SignedManifestXml(m, options.user_private_key_pem));
  EUCA_ASSIGN_OR_RETURN(m, ParseManifest(xml));  // the manifest as a reader sees it

  // Publish: parts first, the manifest last; undo on failure.
  BundleResult result;
  result.manifest_path = options.destination_dir + "/" + prefix + ".manifest.xml";
  std::vector<std::string> published;
  auto publish = [&]() -> Status {
    {
      EUCA_ASSIGN_OR_RETURN(File f, File::Create(tmp_dir + "/" + prefix + ".manifest.xml", 0644));
      EUCA_RETURN_IF_ERROR(f.Write(xml.data(), xml.size()));
      if (options.sync) EUCA_RETURN_IF_ERROR(f.Sync());
      EUCA_RETURN_IF_ERROR(f.Close());
    }
    for (const auto& part : m.parts) {
      if (options.fault_for_test) EUCA_RETURN_IF_ERROR(options.fault_for_test("rename"));
      std::string to = options.destination_dir + "/" + part.filename;
      EUCA_RETURN_IF_ERROR(RenamePath(tmp_dir + "/" + part.filename, to));
      published.push_back(to);
    }
    if (options.fault_for_test) EUCA_RETURN_IF_ERROR(options.fault_for_test("manifest"));
    EUCA_RETURN_IF_ERROR(RenamePath(tmp_dir + "/" + prefix + ".manifest.xml", result.manifest_path));
    return Status::Ok();
  };
  Status s = publish();
  if (!s.ok()) {
    for (const auto& p : published) RemoveQuietly(p);
    return s;
  }
  if (progress != nullptr) progress->Update(image_size, image_size);
  result.part_paths = std::move(published);
  result.manifest = std::move(m);
  return result;
}

}  // namespace euca::bundles
