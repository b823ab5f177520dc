#include "tasks/progress.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace wb::tasks {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds)) return "?";  // no rate measured yet
  const long long t = std::llround(std::max(0.0, seconds));
  char buf[32];
  if (t >= 3600) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", t / 3600, t / 60 % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", t / 60, t % 60);
  }
  return buf;
}

ProgressLine::ProgressLine(std::ostream& out, std::string label, std::string unit)
    : out_(out), label_(std::move(label)), unit_(std::move(unit)), start_(std::chrono::steady_clock::now()) {}

void ProgressLine::update(int64_t done, int64_t total) {
  using namespace std::chrono;
  const auto now = steady_clock::now();
  if (drawn_ && done < total && now - last_draw_ < milliseconds(250)) return;
  last_draw_ = now;
  drawn_ = true;
  const double seconds = duration<double>(now - start_).count();
  const double rate = seconds > 0 ? done / seconds : 0;
  const long left = rate > 0 ? static_cast<long>((total - done) / rate + 0.5) : 0;
  char line[160];
  std::snprintf(line, sizeof line, "\r%s %lld/%lld %s  %.1f %s/s  ETA %ld:%02ld   ", label_.c_str(),
                static_cast<long long>(done), static_cast<long long>(total), unit_.c_str(), rate, unit_.c_str(),
                left / 60, left % 60);
  out_ << line << std::flush;
}

void ProgressLine::finish() {
  if (drawn_) out_ << "\n" << std::flush;
  drawn_ = false;
}

}  // namespace wb::tasks
