#pragma once
// A one-line progress bar on stderr for long transfers (bundle, unbundle; later upload and
// download): "  512.0 MiB / 1.0 GiB   50% [##########          ]  210.3 MB/s", redrawn in
// place with a carriage return. Commands draw it only when stderr is a terminal
// (Context::err_is_tty) and --quiet is not given.

#include <cstdint>
#include <iosfwd>
#include <string>

#include "bundles/bundle.h"
#include "core/base/clock.h"

namespace euca::cmd {

/// Renders bundles::Progress updates. Not thread-safe: the pipelines call Update on the
/// thread that started them. A disabled bar writes nothing at all.
class ProgressBar final : public bundles::Progress {
 public:
  /// REQUIRES: `err` and `clock` outlive the bar.
  ProgressBar(std::ostream& err, Clock& clock, bool enabled);
  /// Ends the line (Finish).
  ~ProgressBar() override;
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  /// Redraws at most every 100 ms, and always for the first update and when done reaches
  /// total (unless that is what is shown already).
  void Update(uint64_t done, uint64_t total) override;
  /// Ends the bar's line with a newline if anything was drawn, so that what follows (an
  /// error message) starts on a line of its own. Idempotent.
  void Finish();

  /// The line for `done` of `total` bytes after `elapsed_ns` (no carriage return).
  static std::string Render(uint64_t done, uint64_t total, int64_t elapsed_ns);

 private:
  void Draw(uint64_t done, uint64_t total, int64_t now);

  std::ostream& err_;
  Clock& clock_;
  const bool enabled_;
  const int64_t start_ns_;
  int64_t last_draw_ns_ = 0;
  uint64_t last_done_ = 0;
  uint64_t last_total_ = 0;
  bool drawn_ = false;
  size_t last_width_ = 0;
};

/// "0 B", "1023 B", "1.0 KiB", "512.0 MiB", "4.0 GiB".
std::string HumanBytes(uint64_t bytes);

}  // namespace euca::cmd
