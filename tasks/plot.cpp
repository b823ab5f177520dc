#include "tasks/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>

#include "datasets/image.h"
#include "pose/draw.h"

namespace wb::tasks {

std::vector<double> plot_ticks(double lo, double hi, int count) {
  const double raw = (hi - lo) / count;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * mag;
    if (step >= raw) break;
  }
  std::vector<double> out;
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push_back(t);
  return out;
}

std::string tick_label(double v) {
  char buf[32];
  if (std::abs(v) < 1e-12) v = 0;
  // Iterations print in full ("1500", not "1.5e+03"); fractions with three significant digits.
  if (v == std::round(v) && std::abs(v) < 1e9) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.3g", v);
  }
  return buf;
}

void draw_axes(const pose::Canvas& c, const PlotAxes& a, int ticks) {
  const pose::Rgb black{0, 0, 0}, grid{225, 225, 225};
  for (double t : plot_ticks(a.x_lo, a.x_hi, ticks)) {
    const int x = static_cast<int>(std::lround(a.px(t)));
    pose::fill_rect(c, x, a.y0, x + 1, a.y1, grid);
    const std::string s = tick_label(t);
    pose::draw_text(c, x - pose::text_width(s) / 2, a.y1 + 6, s, black);
  }
  for (double t : plot_ticks(a.y_lo, a.y_hi, ticks)) {
    const int y = static_cast<int>(std::lround(a.py(t)));
    pose::fill_rect(c, a.x0, y, a.x1, y + 1, grid);
    const std::string s = tick_label(t);
    pose::draw_text(c, a.x0 - 6 - pose::text_width(s), y - 3, s, black);
  }
  pose::draw_rect(c, a.x0, a.y0, a.x1 + 1, a.y1 + 1, black);
}

namespace {

using pose::Point2;
using pose::Rgb;

constexpr int kPanelW = 520, kPanelH = 400;
constexpr int kLeft = 70, kRight = 20, kTop = 34, kBottom = 46;  // margins inside a panel
const Rgb kBlack{0, 0, 0}, kLoss{31, 119, 180};

struct Series {
  std::string name;
  Rgb color;
  std::vector<Point2> points;  // (iteration, value)
};

// The skeleton's part colours, with the face's pale yellow darkened to show on white.
Rgb part_plot_color(const std::string& part) {
  if (part == "wholebody") return kBlack;
  if (part == "face") return {204, 170, 0};
  return pose::part_color(part);
}

// One panel at horizontal offset x0: frame, grid, tick labels, title, the series and their legend.
void draw_panel(const pose::Canvas& c, int x0, const std::string& title, const std::vector<Series>& series,
                double y_lo, double y_hi, double x_hi) {
  const int fx0 = x0 + kLeft, fx1 = x0 + kPanelW - kRight, fy0 = kTop, fy1 = kPanelH - kBottom;
  const PlotAxes axes{fx0, fy0, fx1, fy1, 0, x_hi, y_lo, y_hi};
  draw_axes(c, axes, 5);
  draw_text(c, x0 + (kPanelW - pose::text_width(title, 2)) / 2, 8, title, kBlack, 2);
  const std::string xlabel = "iteration";
  draw_text(c, (fx0 + fx1 - pose::text_width(xlabel)) / 2, fy1 + 22, xlabel, kBlack);

  int legend_y = fy0 + 8;
  for (const Series& s : series) {
    const auto to_px = [&](Point2 p) { return Point2{axes.px(p.x), axes.py(p.y)}; };
    for (size_t i = 1; i < s.points.size(); ++i) draw_line(c, to_px(s.points[i - 1]), to_px(s.points[i]), s.color, 2);
    for (const Point2& p : s.points) {
      if (s.points.size() < 40) fill_circle(c, to_px(p), 2.5, s.color);
    }
    if (series.size() > 1) {
      const int lx = fx1 - 8 - pose::text_width("righthand") - 22;
      draw_line(c, {static_cast<double>(lx), legend_y + 3.0}, {lx + 16.0, legend_y + 3.0}, s.color, 2);
      draw_text(c, lx + 22, legend_y, s.name, kBlack);
      legend_y += pose::kCellHeight + 3;
    }
  }
}

}  // namespace

void write_training_curves(const std::string& path, const std::vector<nlohmann::json>& records) {
  Series loss{"loss", kLoss, {}};
  std::map<std::string, Series> ap;  // by part
  const std::vector<std::string> order{"body", "foot", "face", "lefthand", "righthand", "wholebody"};
  double x_hi = 1, loss_hi = 0, loss_lo = std::numeric_limits<double>::infinity();
  int64_t window = 0;
  for (const auto& r : records) {
    const double it = static_cast<double>(r.value("iter", int64_t{0}));
    x_hi = std::max(x_hi, it);
    const std::string kind = r.value("kind", "");
    if (kind == "train" && r.contains("loss")) {
      const double l = r["loss"].get<double>();
      if (!loss.points.empty()) window = std::max<int64_t>(window, static_cast<int64_t>(it - loss.points.back().x));
      loss.points.push_back({it, l});
      loss_hi = std::max(loss_hi, l);
      loss_lo = std::min(loss_lo, l);
    } else if (kind == "val" && r.contains("parts")) {
      for (const auto& [part, stats] : r["parts"].items()) {
        Series& s = ap[part];
        s.name = part;
        s.color = part_plot_color(part);
        s.points.push_back({it, stats.value("AP", 0.0)});
      }
    }
  }
  std::vector<Series> ap_series;
  for (const std::string& part : order) {
    if (ap.count(part)) ap_series.push_back(ap[part]);
  }
  if (loss.points.empty()) loss_lo = 0, loss_hi = 1;
  // Loss axis from 0 (or just below the lowest loss when it stays far from 0) to a little above the top.
  const double span = loss_hi - loss_lo;
  double y_lo = loss_lo > 2 * span ? loss_lo - 0.1 * span : 0.0;
  double y_hi = loss_hi + 0.05 * std::max(span, loss_hi * 0.1) + 1e-12;

  data::Image img(2 * kPanelW, kPanelH, 3);
  std::fill(img.pixels.begin(), img.pixels.end(), uint8_t{255});
  const pose::Canvas canvas{img.pixels.data(), img.width, img.height, 3};
  const std::string loss_title = window > 1 ? "loss (mean of " + std::to_string(window) + " iterations)" : "loss";
  draw_panel(canvas, 0, loss_title, {loss}, y_lo, y_hi, x_hi);
  draw_panel(canvas, kPanelW, "validation AP", ap_series, 0.0, 1.0, x_hi);
  data::write_image(path, img);
}

}  // namespace wb::tasks
