// The Chrome trace of a profile session (tasks/profile_report.h).
#include <map>
#include <vector>

#include "tasks/profile_report.h"

namespace wb::tasks {

namespace {

// Track ids: host thread t is t; CUDA device d's stream is kCudaTrack + d; steps are kStepTrack.
constexpr int kCudaTrack = 1000, kStepTrack = 2000;

double us(int64_t ns) { return static_cast<double>(ns) * 1e-3; }

}  // namespace

nlohmann::json chrome_trace(const profile::Session& session) {
  nlohmann::json events = nlohmann::json::array();
  std::map<int, std::string> track_names;
  // Per track, ops in begin order with their depth: an op's end event is written when an op at its
  // depth or above begins, so begin and end events nest as the Trace Event Format requires.
  std::map<int, std::vector<int64_t>> open;  // track -> end times of the ops open on it
  auto close_to = [&](int track, size_t depth) {
    std::vector<int64_t>& stack = open[track];
    while (stack.size() > depth) {
      events.push_back({{"ph", "E"}, {"ts", us(stack.back())}, {"pid", 0}, {"tid", track}});
      stack.pop_back();
    }
  };
  for (const profile::OpEvent& e : session.ops) {
    const int track = e.device.is_cuda() ? kCudaTrack + e.device.index : e.thread;
    if (!track_names.contains(track))
      track_names[track] = e.device.is_cuda() ? "CUDA stream (" + e.device.str() + ")" : "host thread " + std::to_string(e.thread);
    const auto depth = static_cast<size_t>(std::max(0, e.depth));
    close_to(track, depth);  // a deeper op whose parent is on another track nests at the depth open here
    std::vector<int64_t>& stack = open[track];
    nlohmann::json args = {{"phase", profile::phase_name(e.phase)}, {"shapes", e.shapes}, {"flops", e.cost.flops},
                           {"bytes", e.cost.bytes}};
    if (e.module >= 0 && e.module < static_cast<int>(session.modules.size()))
      args["module"] = session.modules[static_cast<size_t>(e.module)];
    events.push_back({{"name", e.op},
                      {"cat", profile::phase_name(e.phase)},
                      {"ph", "B"},
                      {"ts", us(e.begin_ns)},
                      {"pid", 0},
                      {"tid", track},
                      {"args", args}});
    stack.push_back(std::max(e.begin_ns, e.end_ns));
  }
  for (auto& [track, stack] : open) close_to(track, 0);
  for (const profile::Span& s : session.spans) {
    track_names[kStepTrack] = "steps";
    events.push_back({{"name", s.name}, {"cat", "step"}, {"ph", "B"}, {"ts", us(s.begin_ns)}, {"pid", 0}, {"tid", kStepTrack}});
    events.push_back({{"ph", "E"}, {"ts", us(std::max(s.begin_ns, s.end_ns))}, {"pid", 0}, {"tid", kStepTrack}});
  }
  for (const auto& [track, name] : track_names) {
    events.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", 0}, {"tid", track}, {"args", {{"name", name}}}});
  }
  return {{"traceEvents", events}, {"displayTimeUnit", "ms"}};
}

}  // namespace wb::tasks
