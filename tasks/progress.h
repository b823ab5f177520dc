// A one-line progress report for long loops, redrawn in place ("\r"): items done of all, items per
// second and the time left. Redraws at most a few times a second so that it costs nothing.
#pragma once
#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>

namespace wb::tasks {

// A time left for progress lines: "12m05s", or "1h07m" from an hour on (negative counts as 0, an
// infinite or NaN time, from a zero rate, is "?").
std::string format_duration(double seconds);

class ProgressLine {
 public:
  ProgressLine(std::ostream& out, std::string label, std::string unit);
  void update(int64_t done, int64_t total);  // redraws when due, and always at done == total
  void finish();                             // ends the line (once) if anything was drawn

 private:
  std::ostream& out_;
  std::string label_, unit_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool drawn_ = false;
};

}  // namespace wb::tasks
