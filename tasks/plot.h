// The training curves of a run folder as a PNG: the loss per log window (left panel) and the
// validation AP of every part per validation (right panel), against the iteration, with axes, tick
// labels and a legend, drawn with pose/draw.h. Records are metrics.jsonl's (tasks/metrics_log.h).
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace wb::tasks {

// Axis ticks covering [lo, hi] at a step of 1, 2 or 5 times a power of ten, about `count` of them,
// and their labels (integers in full, fractions with three significant digits).
std::vector<double> plot_ticks(double lo, double hi, int count);
std::string tick_label(double v);

// Written atomically. With no record yet the panels are drawn empty.
void write_training_curves(const std::string& path, const std::vector<nlohmann::json>& records);

}  // namespace wb::tasks
