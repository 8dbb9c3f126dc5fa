#include "cmd/progress.h"

#include <algorithm>
#include <cstdio>
#include <ostream>

namespace euca::cmd {
namespace {

constexpr int64_t kRedrawNs = 100'000'000;  // 10 redraws a second at most
constexpr size_t kBarWidth = 30;

}  // namespace

std::string HumanBytes(uint64_t bytes) {
  static const char* const kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double v = static_cast<double>(bytes) / 1024;
  size_t unit = 0;
  while (v >= 1024 && unit + 1 < std::size(kUnits)) {
    v /= 1024;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[unit]);
  return buf;
}

std::string ProgressBar::Render(uint64_t done, uint64_t total, int64_t elapsed_ns) {
  done = std::min(done, total);
  const double fraction = total == 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total);
  const size_t filled = static_cast<size_t>(fraction * kBarWidth);
  std::string bar = std::string(filled, '#') + std::string(kBarWidth - filled, ' ');
  char rate[32] = "    -- MB/s";
  if (elapsed_ns > 0) {
    double mb_per_s = static_cast<double>(done) / 1e6 / (static_cast<double>(elapsed_ns) / 1e9);
    std::snprintf(rate, sizeof rate, "%6.1f MB/s", mb_per_s);
  }
  char line[256];
  std::snprintf(line, sizeof line, "%s / %s %3d%% [%s] %s", HumanBytes(done).c_str(), HumanBytes(total).c_str(),
                static_cast<int>(fraction * 100), bar.c_str(), rate);
  return line;
}

ProgressBar::ProgressBar(std::ostream& err, Clock& clock, bool enabled)
    : err_(err), clock_(clock), enabled_(enabled), start_ns_(enabled ? clock.MonotonicNanos() : 0) {}

ProgressBar::~ProgressBar() { Finish(); }

void ProgressBar::Update(uint64_t done, uint64_t total) {
  if (!enabled_) return;
  const int64_t now = clock_.MonotonicNanos();
  if (drawn_ && done == last_done_ && total == last_total_) return;
  if (drawn_ && done < total && now - last_draw_ns_ < kRedrawNs) return;
  Draw(done, total, now);
}

void ProgressBar::Draw(uint64_t done, uint64_t total, int64_t now) {
  std::string line = Render(done, total, now - start_ns_);
  const size_t width = line.size();
  if (width < last_width_) line += std::string(last_width_ - width, ' ');  // wipe a longer line
  err_ << '\r' << line << std::flush;
  last_width_ = width;
  last_draw_ns_ = now;
  last_done_ = done;
  last_total_ = total;
  drawn_ = true;
}

void ProgressBar::Finish() {
  if (!drawn_) return;
  err_ << '\n' << std::flush;
  drawn_ = false;
  last_width_ = 0;
}

}  // namespace euca::cmd
