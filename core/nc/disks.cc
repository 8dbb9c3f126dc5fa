#include "core/nc/disks.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <thread>

#include "core/base/random.h"

namespace euca::nc {
namespace {

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;

// YAML double-quoted scalar.
std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      continue;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

Status Run(CommandRunner& runner, std::vector<std::string> argv) {
  Command cmd;
  cmd.argv = std::move(argv);
  cmd.timeout = std::chrono::minutes(10);
  return runner.Run(cmd).status();
}

}  // namespace

Status RunConcurrently(std::vector<std::function<Status()>> steps) {
  if (steps.empty()) return Status::Ok();
  std::vector<Status> results(steps.size());
  std::vector<std::thread> threads;
  threads.reserve(steps.size() - 1);
  for (size_t i = 1; i < steps.size(); ++i) threads.emplace_back([&, i] { results[i] = steps[i](); });
  results[0] = steps[0]();
  for (std::thread& t : threads) t.join();
  for (Status& s : results) {
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Result<DiskSizes> PlanDisks(const RunInstanceRequest& r, uint64_t image_bytes, uint64_t swap_mib) {
  const uint64_t disk = r.vm_type.disk_gib * kGiB;
  if (image_bytes > disk) {
    return InvalidArgument("image '" + r.image.id + "' is " + std::to_string((image_bytes + kMiB - 1) / kMiB) +
                           " MiB, larger than the " + std::to_string(r.vm_type.disk_gib) + " GiB disk of VM type '" +
                           r.vm_type.name + "'");
  }
  DiskSizes s;
  s.root_bytes = image_bytes;
  uint64_t left = disk - image_bytes;
  s.swap_bytes = std::min(swap_mib * kMiB, left) / kMiB * kMiB;
  if (s.swap_bytes < 16 * kMiB) s.swap_bytes = 0;  // mkswap wants some room; none is better than a sliver
  left -= s.swap_bytes;
  s.ephemeral_bytes = left / kMiB * kMiB;
  if (s.ephemeral_bytes < 16 * kMiB) s.ephemeral_bytes = 0;
  return s;
}

namespace {

// The on-disk formats written here (qcow2, swap, ISO 9660) store `width`-byte integers in
// place: big-endian, little-endian, or ISO 9660's "both-endian" (little, then big).
void PutBe(std::string& b, size_t at, uint64_t v, int width) {
  for (int i = 0; i < width; ++i) b[at + i] = static_cast<char>(v >> (8 * (width - 1 - i)));
}
void PutLe(std::string& b, size_t at, uint64_t v, int width) {
  for (int i = 0; i < width; ++i) b[at + i] = static_cast<char>(v >> (8 * i));
}
void PutBoth(std::string& b, size_t at, uint64_t v, int width) {
  PutLe(b, at, v, width);
  PutBe(b, at + width, v, width);
}

}  // namespace

Result<std::string> Qcow2Overlay(const std::string& backing_path, uint64_t virtual_size) {
  constexpr uint32_t kClusterBits = 16;
  constexpr uint64_t kCluster = 1ull << kClusterBits;
  constexpr uint64_t kL2Entries = kCluster / 8;
  constexpr size_t kHeaderLength = 112;  // version 3 with the compression type byte, padded
  constexpr size_t kBackingFormatExt = kHeaderLength;  // "raw", padded to 8 bytes
  constexpr size_t kEndExt = kBackingFormatExt + 8 + 8;
  constexpr size_t kBackingName = kEndExt + 8;
  if (backing_path.empty() || backing_path[0] != '/')
    return InvalidArgument("backing image '" + backing_path + "' is not an absolute path");
  if (kBackingName + backing_path.size() > kCluster || backing_path.size() > 1023)
    return InvalidArgument("backing image path is longer than 1,023 bytes");
  const uint64_t l1_size = (virtual_size + kCluster * kL2Entries - 1) / (kCluster * kL2Entries);
  if (l1_size > kCluster / 8) return InvalidArgument("a disk over 4 TiB is not supported");
  const uint64_t refcount_table = 1 * kCluster, refcount_block = 2 * kCluster, l1_table = 3 * kCluster;

  std::string b(l1_table + std::max<uint64_t>(l1_size, 1) * 8, '\0');
  b[0] = 'Q', b[1] = 'F', b[2] = 'I', b[3] = '\xfb';
  PutBe(b, 4, 3, 4);                                   // version
  PutBe(b, 8, kBackingName, 8);                        // backing_file_offset
  PutBe(b, 16, static_cast<uint32_t>(backing_path.size()), 4);
  PutBe(b, 20, kClusterBits, 4);
  PutBe(b, 24, virtual_size, 8);
  PutBe(b, 32, 0, 4);                                  // no encryption
  PutBe(b, 36, static_cast<uint32_t>(l1_size), 4);
  PutBe(b, 40, l1_table, 8);
  PutBe(b, 48, refcount_table, 8);
  PutBe(b, 56, 1, 4);                                  // refcount table clusters
  // nb_snapshots, snapshots_offset, incompatible/compatible/autoclear features: all 0.
  PutBe(b, 96, 4, 4);                                  // refcount_order: 16-bit refcounts
  PutBe(b, 100, kHeaderLength, 4);                     // compression type (byte 104): zlib = 0
  PutBe(b, kBackingFormatExt, 0xE2792ACA, 4);          // backing file format name
  PutBe(b, kBackingFormatExt + 4, 3, 4);
  b.replace(kBackingFormatExt + 8, 3, "raw");
  // The end-of-extensions marker (type 0, length 0) is already zeros at kEndExt.
  b.replace(kBackingName, backing_path.size(), backing_path);
  PutBe(b, refcount_table, refcount_block, 8);
  for (uint64_t cluster = 0; cluster <= 3; ++cluster) {  // header, table, block, L1: in use once
    b[refcount_block + 2 * cluster + 1] = 1;
  }
  return b;
}

Result<std::string> SwapHeader(uint64_t size, const std::string& uuid, const std::string& label) {
  constexpr uint64_t kPage = 4096;
  const uint64_t pages = size / kPage;
  if (pages < 10) return InvalidArgument("a swap area of " + std::to_string(size) + " bytes is under 10 pages");
  if (pages - 1 > UINT32_MAX) return InvalidArgument("a swap area of " + std::to_string(size) + " bytes is too large");
  if (uuid.size() != 16) return InvalidArgument("a swap uuid is 16 bytes");
  if (label.size() > 16) return InvalidArgument("swap label '" + label + "' is over 16 bytes");
  // union swap_header (linux/swap.h), little-endian: 1,024 boot bytes, then version,
  // last_page, nr_badpages, uuid[16], volume_name[16]; "SWAPSPACE2" ends the page.
  std::string page(kPage, '\0');
  PutLe(page, 1024, 1, 4);          // version
  PutLe(page, 1028, pages - 1, 4);  // last_page
  PutLe(page, 1032, 0, 4);          // nr_badpages
  page.replace(1036, 16, uuid);
  page.replace(1052, label.size(), label);
  page.replace(kPage - 10, 10, "SWAPSPACE2");
  return page;
}

namespace {

constexpr size_t kIsoSector = 2048;

// UCS-2 big-endian, as Joliet stores names (ASCII input).
std::string Ucs2(const std::string& ascii) {
  std::string out;
  for (char c : ascii) out += '\0', out += c;
  return out;
}

// One directory record (ECMA-119 9.1): `name` as stored (0x00 = ".", 0x01 = "..").
std::string DirectoryRecord(uint32_t extent, uint32_t size, bool directory, const std::string& name,
                            const std::string& date7) {
  std::string r(33 + name.size() + (name.size() % 2 == 0 ? 1 : 0), '\0');
  r[0] = static_cast<char>(r.size());
  PutBoth(r, 2, extent, 4);
  PutBoth(r, 10, size, 4);
  r.replace(18, 7, date7);
  r[25] = directory ? 2 : 0;
  PutBoth(r, 28, 1, 2);  // volume sequence number
  r[32] = static_cast<char>(name.size());
  r.replace(33, name.size(), name);
  return r;
}

}  // namespace

Result<std::string> NoCloudSeedIso(const std::string& meta_data, const std::string& user_data, int64_t unix_seconds) {
  // EC2 allows 16 KiB of user data; far more fits, but a seed is no place for bulk data.
  constexpr size_t kMaxFile = 16u << 20;
  if (meta_data.size() > kMaxFile || user_data.size() > kMaxFile)
    return InvalidArgument("a seed file over 16 MiB is not supported");
  auto sectors = [](size_t bytes) { return static_cast<uint32_t>((bytes + kIsoSector - 1) / kIsoSector); };
  // Sectors: 0-15 system area, 16 primary and 17 Joliet descriptors, 18 terminator, 19-22 the
  // path tables (primary L and M, Joliet L and M), 23 and 24 the root directories, then data.
  constexpr uint32_t kPrimary = 16, kJoliet = 17, kTerminator = 18, kPathTables = 19, kPrimaryRoot = 23,
                     kJolietRoot = 24, kData = 25;
  const uint32_t meta_at = kData, user_at = kData + sectors(meta_data.size());
  // And 150 sectors of zeros, as genisoimage pads: readers probe past a short volume's end
  // (busybox's findfs, as the test guest runs it, finds no label on an unpadded one).
  constexpr uint32_t kPadding = 150;
  const uint32_t total = user_at + sectors(user_data.size()) + kPadding;
  std::string iso(static_cast<size_t>(total) * kIsoSector, '\0');
  auto sector = [&](uint32_t n) { return static_cast<size_t>(n) * kIsoSector; };

  // Dates: 7 bytes in directory records, 17 characters in volume descriptors (UTC).
  time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm {};
  gmtime_r(&t, &tm);
  std::string date7 = {static_cast<char>(tm.tm_year), static_cast<char>(tm.tm_mon + 1), static_cast<char>(tm.tm_mday),
                       static_cast<char>(tm.tm_hour), static_cast<char>(tm.tm_min),  static_cast<char>(tm.tm_sec), 0};
  char date17[64];
  std::snprintf(date17, sizeof date17, "%04d%02d%02d%02d%02d%02d00", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec);
  const std::string unset17 = std::string(16, '0') + '\0';

  struct Tree {
    uint32_t descriptor, root, l_table, m_table;
    bool joliet;
    std::string meta_name, user_name;
  };
  const Tree trees[] = {
      {kPrimary, kPrimaryRoot, kPathTables, kPathTables + 1, false, "META_DAT.;1", "USER_DAT.;1"},
      {kJoliet, kJolietRoot, kPathTables + 2, kPathTables + 3, true, Ucs2("meta-data"), Ucs2("user-data")},
  };
  for (const Tree& tree : trees) {
    // The root directory: ".", "..", then the files in name order.
    std::string dir = DirectoryRecord(tree.root, kIsoSector, true, std::string(1, '\0'), date7) +
                      DirectoryRecord(tree.root, kIsoSector, true, std::string(1, '\1'), date7) +
                      DirectoryRecord(meta_at, static_cast<uint32_t>(meta_data.size()), false, tree.meta_name, date7) +
                      DirectoryRecord(user_data.empty() ? 0 : user_at, static_cast<uint32_t>(user_data.size()), false,
                                      tree.user_name, date7);
    iso.replace(sector(tree.root), dir.size(), dir);
    // Path tables: the root alone (identifier 0x00, parent 1), little- and big-endian.
    size_t l = sector(tree.l_table), m = sector(tree.m_table);
    iso[l] = iso[m] = 1;  // identifier length
    PutLe(iso, l + 2, tree.root, 4);
    PutBe(iso, m + 2, tree.root, 4);
    PutLe(iso, l + 6, 1, 2);  // parent directory number
    PutBe(iso, m + 6, 1, 2);

    // The volume descriptor (ECMA-119 8.4; Joliet: type 2 with the UCS-2 level 3 escape).
    size_t d = sector(tree.descriptor);
    auto text = [&](size_t at, size_t width, const std::string& value) {
      std::string field = tree.joliet ? Ucs2(value) : value;
      const std::string pad = tree.joliet ? std::string("\0 ", 2) : std::string(" ");
      while (field.size() < width) field += pad;
      iso.replace(d + at, width, field.substr(0, width));
    };
    iso[d] = tree.joliet ? 2 : 1;
    iso.replace(d + 1, 5, "CD001");
    iso[d + 6] = 1;
    text(8, 32, "LINUX");
    text(40, 32, "cidata");
    PutBoth(iso, d + 80, total, 4);
    if (tree.joliet) iso.replace(d + 88, 3, "%/E");
    PutBoth(iso, d + 120, 1, 2);        // volume set size
    PutBoth(iso, d + 124, 1, 2);        // volume sequence number
    PutBoth(iso, d + 128, kIsoSector, 2);
    PutBoth(iso, d + 132, 10, 4);       // path table size: one 10-byte record
    PutLe(iso, d + 140, tree.l_table, 4);
    PutBe(iso, d + 148, tree.m_table, 4);
    std::string root = DirectoryRecord(tree.root, kIsoSector, true, std::string(1, '\0'), date7);
    iso.replace(d + 156, root.size(), root);
    text(190, 128, "");  // volume set
    text(318, 128, "");  // publisher
    text(446, 128, "");  // data preparer
    text(574, 128, "");  // application
    text(702, 37, "");   // copyright file
    text(739, 37, "");   // abstract file
    text(776, 37, "");   // bibliographic file
    iso.replace(d + 813, 17, std::string(date17, 17));  // created (the 17th byte, offset 0: UTC)
    iso.replace(d + 830, 17, std::string(date17, 17));  // modified
    iso.replace(d + 847, 17, unset17);                   // expires: never
    iso.replace(d + 864, 17, unset17);                   // effective: at once
    iso[d + 881] = 1;                                    // file structure version
  }
  size_t end = sector(kTerminator);
  iso[end] = static_cast<char>(255);
  iso.replace(end + 1, 5, "CD001");
  iso[end + 6] = 1;
  iso.replace(sector(meta_at), meta_data.size(), meta_data);
  iso.replace(sector(user_at), user_data.size(), user_data);
  return iso;
}

std::string NoCloudMetaData(const RunInstanceRequest& r) {
  std::string m = "instance-id: " + r.instance_id + "\nlocal-hostname: " + r.instance_id + "\n";
  if (!r.public_key.empty()) {
    std::string key = r.public_key.substr(0, r.public_key.find('\n'));
    m += "public-keys:\n  - " + Quote(key) + "\n";
  }
  return m;
}

Result<InstanceDisks> PrepareDisks(Env& env, CommandRunner& runner, const RunInstanceRequest& r,
                                   const std::string& dir, const std::string& image_path, uint64_t swap_mib,
                                   int64_t unix_seconds) {
  EUCA_ASSIGN_OR_RETURN(uint64_t image_bytes, env.FileSize(image_path));
  EUCA_ASSIGN_OR_RETURN(DiskSizes sizes, PlanDisks(r, image_bytes, swap_mib));
  InstanceDisks d;
  d.root = JoinPath(dir, "root.qcow2");
  if (sizes.ephemeral_bytes > 0) d.ephemeral = JoinPath(dir, "ephemeral.img");
  if (sizes.swap_bytes > 0) d.swap = JoinPath(dir, "swap.img");
  d.seed = JoinPath(dir, "seed.iso");
  std::vector<std::function<Status()>> steps;
  steps.push_back([&] {
    // Written here, not by `qemu-img create`: a qemu-img start (mostly dynamic linking) cost
    // more than the whole overlay, eight times over when eight instances start at once.
    EUCA_ASSIGN_OR_RETURN(std::string overlay, Qcow2Overlay(image_path, image_bytes));
    return env.WriteFileAtomic(d.root, overlay, 0600);
  });
  if (!d.ephemeral.empty()) {
    steps.push_back([&] {
      // A raw disk is a sparse file of its size: made here, not by a qemu-img process (whose
      // start alone, mostly dynamic linking, was a visible part of starting 8 at once).
      EUCA_RETURN_IF_ERROR(env.CreateSparseFile(d.ephemeral, sizes.ephemeral_bytes, 0600, ""));
      // Lazy init keeps formatting cheap whatever the size; no journal on a scratch disk.
      return Run(runner, {"mkfs.ext4", "-q", "-F", "-L", "ephemeral0", "-O", "^has_journal", "-E",
                          "lazy_itable_init=1,nodiscard", d.ephemeral});
    });
  }
  if (!d.swap.empty()) {
    steps.push_back([&] {
      // The swap header is one page, written here: a mkswap process cost more than it.
      std::string uuid = RandomBytes(16);
      uuid[6] = static_cast<char>((uuid[6] & 0x0f) | 0x40);  // version 4 (random)
      uuid[8] = static_cast<char>((uuid[8] & 0x3f) | 0x80);  // RFC 4122 variant
      EUCA_ASSIGN_OR_RETURN(std::string header, SwapHeader(sizes.swap_bytes, uuid, "swap"));
      return env.CreateSparseFile(d.swap, sizes.swap_bytes, 0600, header);
    });
  }
  steps.push_back([&]() -> Status {
    // Written here, not by genisoimage: its start cost more than the whole seed.
    EUCA_ASSIGN_OR_RETURN(std::string iso, NoCloudSeedIso(NoCloudMetaData(r), r.user_data, unix_seconds));
    return env.CreateSparseFile(d.seed, iso.size(), 0600, iso);
  });
  EUCA_RETURN_IF_ERROR(RunConcurrently(std::move(steps)));
  return d;
}

}  // namespace euca::nc
