// wbpose-bench model --profile DIR: the model's training step profiled op by op (tasks/profile_report.h
// writes DIR), and what the profiler costs, in the same run: a disabled scope's time per op call
// times the op calls of a step (the cost when profiling is off), and the step timed with recording
// off and on.
#pragma once
#include <functional>
#include <string>

#include "bench/timer.h"
#include "tensor/device.h"

namespace wb::bench {

// Returns the text to print: the overhead lines, then the profile's tables.
std::string profile_step(const std::function<void()>& step, Device device, const TimingOptions& timing,
                         const std::string& dir);

}  // namespace wb::bench
