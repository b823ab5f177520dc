#include "tasks/profile_report.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iterator>
#include <map>
#include <sstream>

#include "tensor/atomic_file.h"
#include "tensor/error.h"

namespace wb::tasks {

namespace {

double ms(int64_t ns) { return static_cast<double>(ns) * 1e-6; }

int64_t duration_ns(const profile::OpEvent& e) { return std::max<int64_t>(0, e.end_ns - e.begin_ns); }

std::string module_key(const profile::Session& s, int module, int depth) {
  if (module < 0 || module >= static_cast<int>(s.modules.size())) return "(outside modules)";
  const std::string& path = s.modules[static_cast<size_t>(module)];
  if (path.empty() || depth <= 0) return "(model)";
  size_t pos = 0;  // after the loop: the dot that ends the first `depth` components
  for (int i = 0; i < depth; ++i) {
    pos = path.find('.', i == 0 ? 0 : pos + 1);
    if (pos == std::string::npos) return path;
  }
  return path.substr(0, pos);
}

std::string clip(const std::string& s, size_t width) {
  return s.size() <= width ? s : s.substr(0, width - 3) + "...";
}

}  // namespace

ProfileReport::ProfileReport(profile::Session session, Peak peak)
    : session_(std::move(session)), peak_(peak), self_ms_(session_.ops.size(), 0.0) {
  // Ops arrive in begin order per thread with their nesting depth, so an op's parent is the last
  // op opened one level up on the same thread: its self time loses the child's duration.
  std::map<int, std::vector<size_t>> open;  // thread -> the op open at each depth
  for (size_t i = 0; i < session_.ops.size(); ++i) {
    const profile::OpEvent& e = session_.ops[i];
    self_ms_[i] += ms(duration_ns(e));
    std::vector<size_t>& stack = open[e.thread];
    const auto d = static_cast<size_t>(std::max(0, e.depth));
    if (d > 0 && d <= stack.size()) self_ms_[stack[d - 1]] -= ms(duration_ns(e));
    stack.resize(d + 1);
    stack[d] = i;
  }
  for (double& v : self_ms_) v = std::max(0.0, v);

  // Which ops began inside a step of their thread: each thread's steps sorted by start, the last one
  // starting at or before the op is the only candidate.
  std::map<int, std::vector<std::pair<int64_t, int64_t>>> steps;  // thread -> (begin, end)
  for (const profile::Span& s : session_.spans) steps[s.thread].emplace_back(s.begin_ns, s.end_ns);
  for (auto& [thread, list] : steps) std::sort(list.begin(), list.end());
  in_steps_.resize(session_.ops.size(), session_.spans.empty());
  if (session_.spans.empty()) return;
  for (size_t i = 0; i < session_.ops.size(); ++i) {
    const profile::OpEvent& e = session_.ops[i];
    const auto it = steps.find(e.thread);
    if (it == steps.end()) continue;
    const auto& list = it->second;
    auto after = std::upper_bound(list.begin(), list.end(), std::make_pair(e.begin_ns, INT64_MAX));
    in_steps_[i] = after != list.begin() && e.begin_ns < std::prev(after)->second;
  }
}

ProfileReport ProfileReport::finish(profile::Recording& recording, Device device) {
  profile::Session session = recording.finish();
  const Peak peak = measure_peak(device);
  return ProfileReport(std::move(session), peak);
}

int64_t ProfileReport::steps() const {
  return session_.spans.empty() ? 1 : static_cast<int64_t>(session_.spans.size());
}

double ProfileReport::step_ms() const {
  if (session_.spans.empty()) return ms(session_.duration_ns);
  double t = 0;
  for (const profile::Span& s : session_.spans) t += ms(std::max<int64_t>(0, s.end_ns - s.begin_ns));
  return t;
}

double ProfileReport::op_ms() const {
  double t = 0;
  for (size_t i = 0; i < session_.ops.size(); ++i)
    if (session_.ops[i].depth == 0 && in_steps_[i]) t += ms(duration_ns(session_.ops[i]));
  return t;
}

std::vector<ProfileRow> ProfileReport::rows(ProfileGroup group, int module_depth) const {
  std::map<std::pair<std::string, std::string>, ProfileRow> by;
  for (size_t i = 0; i < session_.ops.size(); ++i) {
    const profile::OpEvent& e = session_.ops[i];
    if (!in_steps_[i]) continue;
    std::string name, phase = profile::phase_name(e.phase);
    switch (group) {
      case ProfileGroup::Op:
        name = e.op;
        break;
      case ProfileGroup::OpShape:
        name = std::string(e.op) + " " + e.shapes;
        break;
      case ProfileGroup::Module:
        name = module_key(session_, e.module, module_depth);
        phase.clear();
        break;
    }
    ProfileRow& r = by[{name, phase}];
    r.name = name;
    r.phase = phase;
    ++r.calls;
    r.self_ms += self_ms_[i];
    r.flops += e.cost.flops;
    r.bytes += e.cost.bytes;
    r.macs += e.cost.macs;
  }
  std::vector<ProfileRow> out;
  for (auto& [key, r] : by) out.push_back(std::move(r));
  std::stable_sort(out.begin(), out.end(), [](const ProfileRow& a, const ProfileRow& b) { return a.self_ms > b.self_ms; });
  return out;
}

double ProfileReport::gflops_per_s(const ProfileRow& r) const { return r.self_ms > 0 ? r.flops / r.self_ms * 1e-6 : 0; }
double ProfileReport::gbytes_per_s(const ProfileRow& r) const { return r.self_ms > 0 ? r.bytes / r.self_ms * 1e-6 : 0; }

double ProfileReport::roof_fraction(const ProfileRow& r) const {
  if (r.self_ms <= 0) return 0;
  if (r.flops <= 0) return peak_.gbps > 0 ? gbytes_per_s(r) / peak_.gbps : 0;
  const double intensity = r.bytes > 0 ? r.flops / r.bytes : 1e30;
  const double roof = std::min(peak_.gflops, intensity * peak_.gbps);
  return roof > 0 ? gflops_per_s(r) / roof : 0;
}

std::string ProfileReport::text(int top, int module_depth) const {
  std::ostringstream os;
  char line[512];
  const double step = step_ms(), per_step = step / static_cast<double>(steps());
  std::snprintf(line, sizeof line,
                "%lld step(s), %.1f ms per step; %.1f%% of it inside the op library. Peaks (measured): %.1f GFLOP/s, "
                "%.1f GB/s.\n",
                static_cast<long long>(steps()), per_step, step > 0 ? 100 * op_ms() / step : 0.0, peak_.gflops,
                peak_.gbps);
  os << line;
  os << "Share: of the steps' wall time. Of roof: achieved FLOP/s over min(peak FLOP/s, FLOP per byte x peak "
        "bandwidth) (an op without FLOPs: bandwidth over peak); above 100% the data sat in cache, the roofs are "
        "main memory's.\n";
  auto table = [&](const char* title, ProfileGroup g, size_t width) {
    const auto rs = rows(g, module_depth);
    os << "\n" << title << " (self time; top " << std::min<size_t>(rs.size(), static_cast<size_t>(top)) << " of "
       << rs.size() << ")\n";
    std::snprintf(line, sizeof line, "%-*s %-9s %7s %10s %9s %6s %8s %7s %7s\n", static_cast<int>(width), "name", "phase",
                  "calls", "total ms", "mean ms", "share", "GFLOP/s", "GB/s", "of roof");
    os << line;
    for (size_t i = 0; i < rs.size() && i < static_cast<size_t>(top); ++i) {
      const ProfileRow& r = rs[i];
      std::snprintf(line, sizeof line, "%-*s %-9s %7lld %10.2f %9.3f %5.1f%% %8.2f %7.2f %6.1f%%\n",
                    static_cast<int>(width), clip(r.name, width).c_str(), r.phase.c_str(),
                    static_cast<long long>(r.calls), r.self_ms, r.self_ms / static_cast<double>(r.calls),
                    step > 0 ? 100 * r.self_ms / step : 0.0, gflops_per_s(r), gbytes_per_s(r), 100 * roof_fraction(r));
      os << line;
    }
  };
  table("By op", ProfileGroup::Op, 28);
  table("By op and input shapes", ProfileGroup::OpShape, 72);
  table(("By module (depth " + std::to_string(module_depth) + ")").c_str(), ProfileGroup::Module, 40);
  return os.str();
}

nlohmann::json ProfileReport::json(int module_depth) const {
  auto rows_json = [&](ProfileGroup g) {
    nlohmann::json a = nlohmann::json::array();
    for (const ProfileRow& r : rows(g, module_depth)) {
      a.push_back({{"name", r.name},
                   {"phase", r.phase},
                   {"calls", r.calls},
                   {"self_ms", r.self_ms},
                   {"flops", r.flops},
                   {"bytes", r.bytes},
                   {"macs", r.macs},
                   {"gflops_per_s", gflops_per_s(r)},
                   {"gbytes_per_s", gbytes_per_s(r)},
                   {"roof_fraction", roof_fraction(r)}});
    }
    return a;
  };
  return {{"steps", steps()},
          {"step_ms", step_ms()},
          {"op_ms", op_ms()},
          {"peak", {{"gflops_per_s", peak_.gflops}, {"gbytes_per_s", peak_.gbps}}},
          {"ops", rows_json(ProfileGroup::Op)},
          {"shapes", rows_json(ProfileGroup::OpShape)},
          {"modules", rows_json(ProfileGroup::Module)}};
}

std::string write_profile(const std::string& dir, const ProfileReport& report, int top) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  check(!ec, "profile: cannot create the folder ", dir, ": ", ec.message());
  const std::string text = report.text(top);
  write_file_atomic(dir + "/profile.txt", text);
  write_file_atomic(dir + "/profile.json", report.json().dump(1) + "\n");
  write_file_atomic(dir + "/trace.json", chrome_trace(report.session()).dump() + "\n");
  write_roofline_png(dir + "/roofline.png", report);
  return text;
}

}  // namespace wb::tasks
