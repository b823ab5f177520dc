#include "bench/run.h"

#include <omp.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <unistd.h>

#include "bench/cases.h"
#include "tasks/profile_report.h"
#include "tensor/atomic_file.h"
#include "tensor/cuda_runtime.h"
#include "tensor/error.h"

namespace wb::bench {

using nlohmann::json;

namespace {

struct Row {
  const BenchCase* c;
  double fwd = 0, bwd = -1, cudnn_fwd = -1, cudnn_bwd = -1, torch_fwd = -1, torch_bwd = -1;
};

std::string fmt(double v, int prec = 3) {
  if (v < 0) return "-";
  std::ostringstream os;
  os << std::fixed << std::setprecision(prec) << v;
  return os.str();
}

// reference / ours: above 1 means ours is faster.
std::string ratio(double ref, double ours) { return ref < 0 || ours <= 0 ? "-" : fmt(ref / ours, 2) + "x"; }

json run_torch(const RunOptions& opt, const std::vector<BenchCase>& cases, const std::string& device, std::string& error) {
  json spec = json::array();
  for (const BenchCase& c : cases) {
    json s = c.spec;
    s["name"] = c.group + " | " + c.name;
    s["backward"] = static_cast<bool>(c.bwd);
    spec.push_back(s);
  }
  const std::string base = "/tmp/wbpose-bench-" + std::to_string(::getpid());
  write_file_atomic(base + ".spec.json", spec.dump());
  std::ostringstream cmd;
  cmd << opt.python << " " << opt.script << " --device " << device << " --spec " << base << ".spec.json --out " << base
      << ".out.json --iters " << opt.timing.iters << " --warmup " << opt.timing.warmup << " --threads "
      << omp_get_max_threads() << " 2>&1";
  std::cerr << "running the PyTorch reference: " << cmd.str() << "\n";
  std::FILE* p = ::popen(cmd.str().c_str(), "r");
  if (!p) {
    error = "could not start " + opt.python;
    return {};
  }
  std::string log;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) log += buf;
  const int rc = ::pclose(p);
  std::remove((base + ".spec.json").c_str());
  if (rc != 0) {
    error = "PyTorch reference failed (exit " + std::to_string(rc) + "): " + log.substr(log.size() > 600 ? log.size() - 600 : 0);
    return {};
  }
  json out = json::parse(read_file(base + ".out.json"));
  std::remove((base + ".out.json").c_str());
  return out;
}

// The Markdown table of the rows timed so far. torch_note, when set, says why PyTorch's columns
// are empty.
std::string render(const RunOptions& opt, Device device, bool gpu, double bandwidth, const std::vector<Row>& rows,
                   const std::string& torch_note) {
  std::ostringstream md;
  const std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%d", std::gmtime(&now));
  md << "# wbpose-bench " << opt.mode << "\n\n";
  md << "- device: " << device_name(device) << (gpu ? "" : " (" + std::to_string(omp_get_max_threads()) + " OpenMP threads)")
     << "\n- date: " << date << "\n- timing: median of up to " << opt.timing.iters << " runs after " << opt.timing.warmup
     << " warm-ups; ratios are reference time / our time (above 1: ours is faster), from the same run\n";
  if (gpu) md << "- measured device copy bandwidth: " << fmt(bandwidth / 1e9, 0) << " GB/s (read + write)\n";
  if (!torch_note.empty()) md << "- PyTorch reference: " << torch_note << "\n";
  md << "\n| network | op | ours fwd ms | torch fwd ms | fwd vs torch | ours bwd ms | torch bwd ms | bwd vs torch |";
  if (gpu) md << " cudnn fwd ms | fwd vs cudnn | cudnn bwd ms | bwd vs cudnn | ours fwd rate |";
  md << "\n|---|---|---|---|---|---|---|---|";
  if (gpu) md << "---|---|---|---|---|";
  md << "\n";
  for (const Row& r : rows) {
    const BenchCase& c = *r.c;
    md << "| " << c.group << " | " << c.name << " | " << fmt(r.fwd) << " | " << fmt(r.torch_fwd) << " | "
       << ratio(r.torch_fwd, r.fwd) << " | " << fmt(r.bwd) << " | " << fmt(r.torch_bwd) << " | "
       << ratio(r.torch_bwd, r.bwd) << " |";
    if (gpu) {
      std::string rate = "-";
      if (c.fwd_flops > 0) {
        rate = fmt(c.fwd_flops / (r.fwd * 1e-3) / 1e12, 1) + " TFLOP/s";
      } else if (c.fwd_bytes > 0) {
        const double bw = c.fwd_bytes / (r.fwd * 1e-3);
        rate = fmt(bw / 1e9, 0) + " GB/s (" + fmt(100.0 * bw / bandwidth, 0) + "% of copy)";
      }
      md << " " << fmt(r.cudnn_fwd) << " | " << ratio(r.cudnn_fwd, r.fwd) << " | " << fmt(r.cudnn_bwd) << " | "
         << ratio(r.cudnn_bwd, r.bwd) << " | " << rate << " |";
    }
    md << "\n";
  }
  return md.str();
}

}  // namespace

int run_benchmark(const RunOptions& opt) {
  const bool gpu = opt.mode == "kernels";
  check(gpu || opt.mode == "ops", "wbpose-bench: unknown mode '", opt.mode, "' (ops or kernels)");
  if (gpu) check(cuda::available(), "wbpose-bench kernels: no CUDA device is available on this machine");
  const Device device = gpu ? Device::cuda() : Device::cpu();

  const GroupFilter make = [&](const std::string& group) {
    if (opt.groups.empty()) return true;
    for (const std::string& g : opt.groups)
      if (group.find(g) != std::string::npos) return true;
    return false;
  };
  std::vector<BenchCase> all = gpu ? cuda_kernel_cases(make) : cpu_op_cases(make);
  std::vector<BenchCase> cases;
  auto wanted = [&](const BenchCase& c) {
    if (opt.filters.empty()) return true;
    for (const std::string& f : opt.filters)
      if (c.group.find(f) != std::string::npos || c.name.find(f) != std::string::npos) return true;
    return false;
  };
  for (BenchCase& c : all) {
    if (wanted(c)) cases.push_back(std::move(c));
  }
  std::string wanted_text;
  for (const std::string& f : opt.groups) wanted_text += " --group '" + f + "'";
  for (const std::string& f : opt.filters) wanted_text += " --filter '" + f + "'";
  check(!cases.empty(), "wbpose-bench: no case matches", wanted_text);

  // Bytes read + written per second of a 1 GiB copy on the GPU (the profiler's calibration).
  const double bandwidth = gpu ? 1e9 * tasks::measure_copy_gbps(Device::cuda(), int64_t{1} << 30) : 0.0;
  std::vector<Row> rows;
  std::string torch_note = opt.torch ? "pending (timed after all of our cases)" : "";
  auto write = [&] {
    const std::string md = render(opt, device, gpu, bandwidth, rows, torch_note);
    if (!opt.out_md.empty()) write_file_atomic(opt.out_md, md);
    return md;
  };
  for (const BenchCase& c : cases) {
    Row r{&c};
    std::cerr << "timing " << c.group << " | " << c.name << "\n";
    r.fwd = time_ms(c.fwd, device, opt.timing);
    if (c.bwd) r.bwd = time_ms(c.bwd, device, opt.timing);
    if (c.fwd_cudnn) r.cudnn_fwd = time_ms(c.fwd_cudnn, device, opt.timing);
    if (c.bwd_cudnn) r.cudnn_bwd = time_ms(c.bwd_cudnn, device, opt.timing);
    rows.push_back(r);
    write();
  }

  if (opt.torch) {
    std::string torch_error;
    const json t = run_torch(opt, cases, gpu ? "cuda" : "cpu", torch_error);
    torch_note = torch_error.empty() ? "" : "NOT TIMED: " + torch_error;
    for (Row& r : rows) {
      const std::string key = r.c->group + " | " + r.c->name;
      if (t.is_object() && t.contains(key)) {
        r.torch_fwd = t[key].value("fwd_ms", -1.0);
        r.torch_bwd = t[key].value("bwd_ms", -1.0);
      }
    }
  } else {
    torch_note = "NOT TIMED: PyTorch timing switched off (--no-torch)";
  }

  std::cout << write();
  return 0;
}

}  // namespace wb::bench
