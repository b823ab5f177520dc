// What the training executables share (wbpose-train, wbpose-search): Ctrl-C as a stop flag that the
// loops check after each step, and error messages on one line.
#pragma once
#include <atomic>
#include <string>

#include "tensor/device.h"

namespace wb::tasks {

// Installs a SIGINT handler that sets the returned flag (the loop then saves and returns); a second
// Ctrl-C ends the program at once.
const std::atomic<bool>* stop_on_sigint();

// --device: "cpu", "cuda", "cuda:N" (tasks/model_spec.h's parse_run_device) or "auto" (CUDA when a GPU
// can be used, else the CPU).
Device device_from_flag(const std::string& name);

// `s` with line breaks replaced by spaces.
std::string one_line(std::string s);

}  // namespace wb::tasks
