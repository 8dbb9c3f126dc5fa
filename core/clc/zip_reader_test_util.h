#pragma once
// Test helper: reads a zip back with libarchive, independently of the code under test.

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>

namespace euca::clc::testing {

struct ZipEntry {
  std::string data;
  uint32_t mode = 0;
  int64_t mtime = 0;
};

/// Entries of `zip` by path. Failures are reported as gtest failures.
inline std::map<std::string, ZipEntry> ReadZip(const std::string& zip) {
  std::map<std::string, ZipEntry> out;
  struct archive* a = archive_read_new();
  archive_read_support_format_zip(a);
  EXPECT_EQ(archive_read_open_memory(a, zip.data(), zip.size()), ARCHIVE_OK) << archive_error_string(a);
  struct archive_entry* e = nullptr;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    ZipEntry entry;
    entry.mode = archive_entry_perm(e);
    entry.mtime = archive_entry_mtime(e);
    char buf[4096];
    la_ssize_t n;
    while ((n = archive_read_data(a, buf, sizeof buf)) > 0) entry.data.append(buf, static_cast<size_t>(n));
    EXPECT_GE(n, 0) << archive_error_string(a);
    out[archive_entry_pathname(e)] = entry;
  }
  archive_read_free(a);
  return out;
}

}  // namespace euca::clc::testing
