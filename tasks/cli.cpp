#include "tasks/cli.h"

#include <csignal>

#include "tasks/model_spec.h"
#include "tensor/cuda_runtime.h"

namespace wb::tasks {

namespace {

std::atomic<bool> g_stop{false};

extern "C" void on_sigint(int) {
  g_stop.store(true);
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the program at once
}

}  // namespace

const std::atomic<bool>* stop_on_sigint() {
  std::signal(SIGINT, on_sigint);
  return &g_stop;
}

Device device_from_flag(const std::string& name) {
  if (name == "auto") return cuda::available() ? Device::cuda() : Device::cpu();
  return parse_run_device(name);
}

std::string one_line(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

}  // namespace wb::tasks
