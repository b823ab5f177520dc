// runs/NAME/metrics.jsonl: one JSON object per line, appended a whole line at a time (one write
// call, then a flush), so a reader or a crash never sees half a record. Every record carries "iter",
// the global iteration it was made at; a resumed run first drops the records made after its
// checkpoint, which the resumed run will make again.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace wb::tasks {

class MetricsLog {
 public:
  // Starts a fresh log at `path` (replacing any file there), or, with resume, keeps the records of
  // the existing file whose "iter" <= keep_until (the file is rewritten atomically when it shrinks).
  MetricsLog(std::string path, bool resume, int64_t keep_until);

  void append(const nlohmann::json& record);
  const std::vector<nlohmann::json>& records() const { return records_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::vector<nlohmann::json> records_;
};

}  // namespace wb::tasks
