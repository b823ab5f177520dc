#include "tasks/metrics_log.h"

#include <cstdio>
#include <filesystem>
#include <sstream>

#include "tensor/atomic_file.h"
#include "tensor/error.h"

namespace wb::tasks {

MetricsLog::MetricsLog(std::string path, bool resume, int64_t keep_until) : path_(std::move(path)) {
  bool dropped = false;
  if (resume && std::filesystem::exists(path_)) {
    std::istringstream in(read_file(path_));
    std::string line;
    int64_t n = 0;
    while (std::getline(in, line)) {
      ++n;
      if (line.empty()) continue;
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(line);
      } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for 1e999
        fail(path_, ": line ", n, ": malformed JSON: ", e.what());
      }
      check(j.is_object() && j.contains("iter") && j["iter"].is_number_integer(), path_, ": line ", n,
            ": a record needs an integer \"iter\"");
      if (j["iter"].get<int64_t>() <= keep_until) {
        records_.push_back(std::move(j));
      } else {
        dropped = true;
      }
    }
  }
  if (!resume || dropped || !std::filesystem::exists(path_)) {
    std::string text;
    for (const auto& r : records_) text += r.dump() + "\n";
    write_file_atomic(path_, text);
  }
}

void MetricsLog::append(const nlohmann::json& record) {
  const std::string line = record.dump() + "\n";
  std::FILE* f = std::fopen(path_.c_str(), "ab");
  check(f != nullptr, path_, ": cannot open for appending");
  const bool ok = std::fwrite(line.data(), 1, line.size(), f) == line.size();
  const bool closed = std::fclose(f) == 0;
  check(ok && closed, path_, ": write failed");
  records_.push_back(record);
}

}  // namespace wb::tasks
