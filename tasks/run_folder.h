// What a training run folder needs beyond its files (tasks/trainer.h lists them): one writer at a
// time, no debris left by a killed writer, and a --resume that continues the run it claims to.
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace wb::tasks {

// An exclusive lock on DIR/run.lock (flock: released by the kernel when the process dies, so a
// killed run never leaves a stale lock). A second trainer on the same folder gets a one-line error
// instead of interleaving metrics.jsonl and checkpoints with the first.
class RunFolderLock {
 public:
  explicit RunFolderLock(const std::filesystem::path& dir);
  ~RunFolderLock();
  RunFolderLock(const RunFolderLock&) = delete;
  RunFolderLock& operator=(const RunFolderLock&) = delete;

 private:
  int fd_ = -1;
};

// Removes the temporaries "<name>.tmp.<pid>" that write_file_atomic leaves when its process is
// killed mid-write. Only safe while holding the folder's lock.
void remove_stale_temporaries(const std::filesystem::path& dir);

// The config a run is resumed with must be the one it was started with (config.json), except for
// what cannot change its weights or what --resume exists to change: train.epochs, data.root,
// data.workers and eval.*. Otherwise a one-line error names the first field that differs and both
// values.
void check_resume_config(const nlohmann::json& recorded, const nlohmann::json& now, const std::string& where);

}  // namespace wb::tasks
