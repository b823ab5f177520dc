// Checkpoints: everything needed to resume training exactly where it stopped.
//
// save_checkpoint(prefix, ...) writes two files, each atomically (temporary name, then rename):
//   <prefix>.e<epoch>-i<iteration>.safetensors
//                         the model's state_dict as "model.<name>" and the optimizer's as
//                         "optimizer.<key>" (nn/optimizer.h lists the keys); its metadata repeats
//                         epoch and iteration so the pair can be checked for consistency;
//   <prefix>.json         {"format": "wbpose-checkpoint", "version": 1, "epoch", "iteration",
//                          "optimizer": its name, "rng": Generator::state(), "tensors": the file
//                          above, by name}.
// The JSON's rename commits a save: the tensors go to a new name first, so a process killed at any
// moment leaves the previous JSON pointing at the previous tensors, intact. After the commit the
// files of earlier saves are removed (remove_stale_checkpoint_files). Version-1 checkpoints of
// earlier builds ("tensors": "<prefix>.safetensors") load as they are.
//
// Model-only weights (a converted MMPose checkpoint, the output of training) are one safetensors
// file of state_dict() names: save_weights() / load_weights().
#pragma once
#include <cstdint>
#include <string>

#include "nn/module.h"
#include "nn/optimizer.h"
#include "tensor/generator.h"

namespace wb::nn {

// Where training stands. The learning-rate schedule is a function of (epoch, iteration), so
// these two are its position.
struct TrainProgress {
  int64_t epoch = 0;      // the epoch to run next (0-based): epochs completed
  int64_t iteration = 0;  // global iterations completed (optimizer steps across all epochs)
};

void save_checkpoint(const std::string& prefix, const Module& model, const Optimizer& optimizer, const Generator& rng,
                     const TrainProgress& progress);

// Restores the model (strictly: names and shapes must match), the optimizer state (same kind, same
// parameter shapes) and the generator, and returns the progress. Both files are checked in full
// before anything is changed, so on error the model, optimizer and generator are as they were;
// the error names the file and the entry (JSON field or tensor).
TrainProgress load_checkpoint(const std::string& prefix, Module& model, Optimizer& optimizer, Generator& rng);

// Removes the tensors files of <prefix> that <prefix>.json does not point at (earlier saves, or a
// save killed before its commit); nothing when there is no readable JSON.
void remove_stale_checkpoint_files(const std::string& prefix);

void save_weights(const std::string& path, const Module& model);
// Strict by default; a non-strict load returns what it left aside.
LoadResult load_weights(const std::string& path, Module& model, bool strict = true);

}  // namespace wb::nn
