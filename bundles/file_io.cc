#include "bundles/file_io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bitset>
#include <cstring>
#include <mutex>
#include <new>

#include "bundles/queue.h"

namespace euca::bundles {

File::~File() {
  if (fd_ >= 0) ::close(fd_);
}

File& File::operator=(File&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    path_ = std::move(other.path_);
    other.fd_ = -1;
  }
  return *this;
}

Result<File> File::OpenRead(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open '" + path + "'", errno);
  return File(fd, path);
}

Result<File> File::Create(const std::string& path, uint32_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoStatus("create '" + path + "'", errno);
  return File(fd, path);
}

Result<File> File::CreateTemp(const std::string& dir, const std::string& stem, uint32_t mode) {
  std::string tmpl = dir + "/" + stem + "XXXXXX";
  int fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("create a temporary file in '" + dir + "'", errno);
  if (::fchmod(fd, mode) != 0) {
    int err = errno;
    ::close(fd);
    ::unlink(tmpl.c_str());
    return ErrnoStatus("chmod '" + tmpl + "'", err);
  }
  return File(fd, tmpl);
}

Result<uint64_t> File::Size() const {
  struct stat st;
  if (::fstat(fd_, &st) != 0) return ErrnoStatus("stat '" + path_ + "'", errno);
  return static_cast<uint64_t>(st.st_size);
}

Result<size_t> File::ReadAt(uint64_t offset, void* buf, size_t n) const {
  size_t done = 0;
  auto* p = static_cast<uint8_t*>(buf);
  while (done < n) {
    ssize_t r = ::pread(fd_, p + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("read '" + path_ + "'", errno);
    }
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  return done;
}

Result<size_t> File::Read(void* buf, size_t n) const {
  size_t done = 0;
  auto* p = static_cast<uint8_t*>(buf);
  while (done < n) {
    ssize_t r = ::read(fd_, p + done, n - done);
    if (r < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("read '" + path_ + "'", errno);
    }
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  return done;
}

Status File::Write(const void* buf, size_t n) const {
  const auto* p = static_cast<const uint8_t*>(buf);
  while (n > 0) {
    ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("write '" + path_ + "'", errno);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return Status::Ok();
}

Status File::WriteAt(uint64_t offset, const void* buf, size_t n) const {
  const auto* p = static_cast<const uint8_t*>(buf);
  while (n > 0) {
    ssize_t w = ::pwrite(fd_, p, n, static_cast<off_t>(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("write '" + path_ + "'", errno);
    }
    p += w;
    offset += static_cast<uint64_t>(w);
    n -= static_cast<size_t>(w);
  }
  return Status::Ok();
}

Status File::Truncate(uint64_t size) const {
  if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) return ErrnoStatus("truncate '" + path_ + "'", errno);
  return Status::Ok();
}

Status File::Sync() const {
  if (::fdatasync(fd_) != 0) return ErrnoStatus("sync '" + path_ + "'", errno);
  return Status::Ok();
}

Status File::Close() {
  if (fd_ < 0) return Status::Ok();
  int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0 && errno != EINTR) return ErrnoStatus("close '" + path_ + "'", errno);
  return Status::Ok();
}

Status SparseReader::FindSegment(uint64_t pos) {
  if (!seek_data_ok_ || pos >= size_) {
    seg_hole_ = false;
    seg_end_ = size_;
    return Status::Ok();
  }
  off_t data = ::lseek(file_.fd(), static_cast<off_t>(pos), SEEK_DATA);
  if (data < 0) {
    if (errno == ENXIO) {  // no data after pos: a hole up to the end
      seg_hole_ = true;
      seg_end_ = size_;
      return Status::Ok();
    }
    seek_data_ok_ = false;  // EINVAL etc.: the file system cannot tell; read everything
    seg_hole_ = false;
    seg_end_ = size_;
    return Status::Ok();
  }
  if (static_cast<uint64_t>(data) > pos) {
    seg_hole_ = true;
    seg_end_ = std::min<uint64_t>(static_cast<uint64_t>(data), size_);
    return Status::Ok();
  }
  off_t hole = ::lseek(file_.fd(), static_cast<off_t>(pos), SEEK_HOLE);
  seg_hole_ = false;
  seg_end_ = hole < 0 ? size_ : std::min<uint64_t>(static_cast<uint64_t>(hole), size_);
  if (seg_end_ <= pos) seg_end_ = size_;
  return Status::Ok();
}

Status SparseReader::ReadAt(uint64_t offset, uint8_t* buf, size_t n, bool* all_zero) {
  bool zero = true;
  size_t done = 0;
  while (done < n) {
    uint64_t pos = offset + done;
    if (pos >= size_)
      return InvalidArgument("'" + file_.path() + "' shrank while being read (expected " + std::to_string(size_) +
                             " bytes)");
    if (pos >= seg_end_) EUCA_RETURN_IF_ERROR(FindSegment(pos));
    size_t take = static_cast<size_t>(std::min<uint64_t>(n - done, seg_end_ - pos));
    if (seg_hole_) {
      std::memset(buf + done, 0, take);
    } else {
      EUCA_ASSIGN_OR_RETURN(size_t got, file_.ReadAt(pos, buf + done, take));
      if (got < take)
        return InvalidArgument("'" + file_.path() + "' shrank while being read (expected " + std::to_string(size_) +
                               " bytes)");
      if (zero) zero = IsAllZero(buf + done, take);
    }
    done += take;
  }
  *all_zero = zero;
  return Status::Ok();
}

bool IsAllZero(const uint8_t* p, size_t n) {
  size_t i = 0;
  for (; i < n && (reinterpret_cast<uintptr_t>(p + i) & 7) != 0; ++i)
    if (p[i] != 0) return false;
  // Eight words at a time: the compiler vectorizes the OR; the early exit keeps non-zero
  // data cheap (it usually fails in the first line).
  for (; i + 64 <= n; i += 64) {
    uint64_t w[8];
    std::memcpy(w, p + i, 64);
    if ((w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7]) != 0) return false;
  }
  for (; i < n; ++i)
    if (p[i] != 0) return false;
  return true;
}

// --- ImageWriter ------------------------------------------------------------------------------

namespace {
constexpr size_t kStageBlocks = ImageWriter::kStageBytes / kHoleGranule;
static_assert(ImageWriter::kStageBytes % kHoleGranule == 0);

struct AlignedDelete {
  void operator()(uint8_t* p) const { ::operator delete[](p, std::align_val_t(kHoleGranule)); }
};
}  // namespace

// One window of the file: kStageBytes at `base` (a multiple of kStageBytes), of which the
// blocks marked in `data` hold bytes to write. A block is zeroed when it is first marked
// unless the bytes that mark it cover it whole, so its bytes not given yet read as zeros.
struct ImageWriter::Stage {
  std::unique_ptr<uint8_t[], AlignedDelete> buf{
      static_cast<uint8_t*>(::operator new[](kStageBytes, std::align_val_t(kHoleGranule)))};
  uint64_t base = 0;
  std::bitset<kStageBlocks> data;
};

// The pool of windows and the first error of the writer threads.
struct ImageWriter::Shared {
  BoundedQueue<std::unique_ptr<Stage>> free{kStageSlots}, full{kStageSlots};
  std::mutex mu;
  Status error;  // guarded by mu

  void Fail(Status s) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (error.ok()) error = std::move(s);
    }
    free.Cancel();
    full.Cancel();
  }
  Status Error() {
    std::lock_guard<std::mutex> lock(mu);
    return error;
  }
};

ImageWriter::ImageWriter(const File& file, ImageWriterOptions options)
    : file_(file), options_(options), shared_(std::make_unique<Shared>()) {
  for (size_t i = 0; i < kStageSlots; ++i) (void)shared_->free.Push(std::make_unique<Stage>());
  if (options_.direct_io) {
    // Set after the open (the file exists already): a file system without O_DIRECT answers
    // EINVAL here, and the writes are buffered.
    const int flags = ::fcntl(file_.fd(), F_GETFL);
    const int rc = flags < 0 ? -1
                   : options_.set_fl_for_test != nullptr
                       ? options_.set_fl_for_test(file_.fd(), flags | O_DIRECT)
                       : ::fcntl(file_.fd(), F_SETFL, flags | O_DIRECT);
    direct_.store(rc == 0, std::memory_order_relaxed);
  }
  for (size_t i = 0; i < kWriterThreads; ++i) threads_.emplace_back([this] { WriteStages(); });
}

ImageWriter::~ImageWriter() {
  if (!threads_.empty()) {
    shared_->free.Cancel();
    shared_->full.Cancel();
    for (auto& t : threads_) t.join();
  }
}

Status ImageWriter::Write(uint64_t offset, const uint8_t* p, size_t n) {
  if (finished_) return Internal("write to '" + file_.path() + "' after its end");
  if (offset < end_)
    return InvalidArgument("the data for '" + file_.path() + "' at offset " + std::to_string(offset) +
                           " comes before the end of the data before it (" + std::to_string(end_) + ")");
  end_ = offset + n;
  // Runs of pieces holding data are placed at once; a piece is a whole block, or the part of
  // one at the edge of this call. Zero pieces are skipped: in a block with data they are
  // zeros already, and a block of nothing else stays a hole.
  uint64_t run_start = offset;  // the data not placed yet: [run_start, run_start + run_len)
  size_t run_len = 0;
  while (n > 0) {
    const size_t piece = static_cast<size_t>(std::min<uint64_t>(n, kHoleGranule - offset % kHoleGranule));
    if (IsAllZero(p, piece)) {
      if (run_len > 0) EUCA_RETURN_IF_ERROR(Place(run_start, p - run_len, run_len));
      run_len = 0;
      run_start = offset + piece;
    } else {
      run_len += piece;
    }
    offset += piece;
    p += piece;
    n -= piece;
  }
  if (run_len > 0) EUCA_RETURN_IF_ERROR(Place(run_start, p - run_len, run_len));
  return Status::Ok();
}

Status ImageWriter::Place(uint64_t offset, const uint8_t* p, size_t n) {
  while (n > 0) {
    if (!current_ || offset >= current_->base + kStageBytes) {
      EUCA_RETURN_IF_ERROR(Ship());
      if (!current_) {
        auto item = shared_->free.Pop();
        if (!item) return Ship();  // a writer thread failed: its error
        current_ = std::move(*item);
      }
      current_->base = offset - offset % kStageBytes;
    }
    const size_t at = static_cast<size_t>(offset - current_->base);
    const size_t take = std::min(n, kStageBytes - at);
    const size_t first = at / kHoleGranule, last = (at + take - 1) / kHoleGranule;
    uint8_t* buf = current_->buf.get();
    if (!current_->data[first] && (at % kHoleGranule != 0 || take < kHoleGranule))
      std::memset(buf + first * kHoleGranule, 0, kHoleGranule);
    if (last != first && !current_->data[last] && (at + take) % kHoleGranule != 0)
      std::memset(buf + last * kHoleGranule, 0, kHoleGranule);
    std::memcpy(buf + at, p, take);
    for (size_t b = first; b <= last; ++b) current_->data.set(b);
    offset += take;
    p += take;
    n -= take;
  }
  return Status::Ok();
}

Status ImageWriter::Ship() {
  if (current_ && current_->data.any()) {
    if (!shared_->full.Push(std::move(current_))) current_.reset();
  }
  Status s = shared_->Error();
  if (!s.ok()) return s;
  if (shared_->free.cancelled()) return Internal("the writer of '" + file_.path() + "' stopped");
  return Status::Ok();
}

Status ImageWriter::Finish(uint64_t size) {
  if (finished_) return Internal("'" + file_.path() + "' finished twice");
  finished_ = true;
  Status shipped = Ship();
  shared_->full.Close();
  for (auto& t : threads_) t.join();
  threads_.clear();
  EUCA_RETURN_IF_ERROR(shipped);
  EUCA_RETURN_IF_ERROR(shared_->Error());
  if (size < end_)
    return InvalidArgument("'" + file_.path() + "' has data up to offset " + std::to_string(end_) +
                           ", past its size " + std::to_string(size));
  // Also cuts the zeros a partial last block was padded with.
  return file_.Truncate(size);
}

void ImageWriter::WriteStages() {
  while (auto item = shared_->full.Pop()) {
    std::unique_ptr<Stage> stage = std::move(*item);
    // Each run of blocks with data: one write of whole, aligned blocks.
    for (size_t b = 0; b < kStageBlocks;) {
      if (!stage->data[b]) {
        ++b;
        continue;
      }
      size_t e = b + 1;
      while (e < kStageBlocks && stage->data[e]) ++e;
      Status s = WriteRun(stage->buf.get() + b * kHoleGranule, (e - b) * kHoleGranule, stage->base + b * kHoleGranule);
      if (!s.ok()) return shared_->Fail(std::move(s));
      b = e;
    }
    stage->data.reset();
    if (!shared_->free.Push(std::move(stage))) return;
  }
}

Status ImageWriter::WriteRun(const uint8_t* p, size_t n, uint64_t offset) {
  bool retried = false;
  while (n > 0) {
    ssize_t w = options_.pwrite_for_test != nullptr
                    ? options_.pwrite_for_test(file_.fd(), p, n, static_cast<off_t>(offset))
                    : ::pwrite(file_.fd(), p, n, static_cast<off_t>(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      // A device whose direct I/O wants bigger blocks than ours: buffered from here on
      // (once per run: the other writer thread may have turned O_DIRECT off already).
      if (errno == EINVAL && options_.direct_io && !retried && DropDirect()) {
        retried = true;
        continue;
      }
      return ErrnoStatus("write '" + file_.path() + "'", errno);
    }
    p += w;
    offset += static_cast<uint64_t>(w);
    n -= static_cast<size_t>(w);
  }
  return Status::Ok();
}

bool ImageWriter::DropDirect() {
  std::lock_guard<std::mutex> lock(shared_->mu);
  const int flags = ::fcntl(file_.fd(), F_GETFL);
  if (flags < 0) return false;
  if ((flags & O_DIRECT) != 0) {
    const int rc = options_.set_fl_for_test != nullptr ? options_.set_fl_for_test(file_.fd(), flags & ~O_DIRECT)
                                                       : ::fcntl(file_.fd(), F_SETFL, flags & ~O_DIRECT);
    if (rc != 0) return false;
  }
  direct_.store(false, std::memory_order_relaxed);
  return true;
}

Result<std::string> MakeTempDir(const std::string& dir, const std::string& stem) {
  std::string tmpl = dir + "/" + stem + "XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) return ErrnoStatus("create a temporary folder in '" + dir + "'", errno);
  return tmpl;
}

Status RenamePath(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) return ErrnoStatus("rename '" + from + "' to '" + to + "'", errno);
  return Status::Ok();
}

void RemoveQuietly(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return;
  if (S_ISDIR(st.st_mode)) {
    if (DIR* d = ::opendir(path.c_str())) {
      while (struct dirent* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        RemoveQuietly(path + "/" + name);
      }
      ::closedir(d);
    }
    ::rmdir(path.c_str());
  } else {
    ::unlink(path.c_str());
  }
}

Result<uint64_t> FileSize(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoStatus("stat '" + path + "'", errno);
  return static_cast<uint64_t>(st.st_size);
}

bool IsDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Result<std::string> ReadSmallFile(const std::string& path, size_t max_bytes) {
  EUCA_ASSIGN_OR_RETURN(File f, File::OpenRead(path));
  EUCA_ASSIGN_OR_RETURN(uint64_t size, f.Size());
  if (size > max_bytes)
    return InvalidArgument("'" + path + "' is " + std::to_string(size) + " bytes; at most " +
                           std::to_string(max_bytes) + " are expected");
  std::string out(static_cast<size_t>(size), '\0');
  EUCA_ASSIGN_OR_RETURN(size_t got, f.ReadAt(0, out.data(), out.size()));
  out.resize(got);
  return out;
}

}  // namespace euca::bundles
