// The training curves of a run folder as a PNG: the loss per log window (left panel) and the
// validation AP of every part per validation (right panel), against the iteration, with axes, tick
// labels and a legend, drawn with pose/draw.h. Records are metrics.jsonl's (tasks/metrics_log.h).
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pose/draw.h"

namespace wb::tasks {

// Axis ticks covering [lo, hi] at a step of 1, 2 or 5 times a power of ten, about `count` of them,
// and their labels (integers in full, fractions with three significant digits).
std::vector<double> plot_ticks(double lo, double hi, int count);
std::string tick_label(double v);

// A plot's frame in pixels (y0 at the top) and the value ranges it shows.
struct PlotAxes {
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  double x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;
  double px(double x) const { return x0 + (x1 - x0) * (x - x_lo) / (x_hi - x_lo); }
  double py(double y) const { return y1 - (y1 - y0) * (y - y_lo) / (y_hi - y_lo); }
};
// Light grid lines at about `ticks` ticks per axis, their labels (x below the frame, y to its left)
// and the frame itself, in black.
void draw_axes(const pose::Canvas& c, const PlotAxes& a, int ticks);

// Written atomically. With no record yet the panels are drawn empty.
void write_training_curves(const std::string& path, const std::vector<nlohmann::json>& records);

}  // namespace wb::tasks
