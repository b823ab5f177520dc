#include "tasks/search_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <sstream>

#include "datasets/image.h"
#include "pose/draw.h"
#include "tasks/plot.h"
#include "tensor/atomic_file.h"
#include "tensor/error.h"

namespace wb::tasks {

namespace {

using pose::Point2;
using pose::Rgb;

std::string fixed(double v, int digits = 4) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// Four significant digits: budgets from tiny test spaces (0.01562) to the paper's (18.02).
std::string short_number(double v) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

double total_gflops(const SearchCandidate& c) { return nas::to_gflops(c.macs.total()); }

// The parts of every candidate's table, in the order they first appear.
std::vector<std::string> part_names(const std::vector<SearchCandidate>& candidates) {
  std::vector<std::string> names;
  for (const auto& c : candidates) {
    for (const auto& [part, stats] : c.rows) {
      if (std::find(names.begin(), names.end(), part) == names.end()) names.push_back(part);
    }
  }
  return names;
}

// AP of `part`, or "-" when the candidate's table has no such row.
std::string part_ap(const SearchCandidate& c, const std::string& part) {
  for (const auto& [name, stats] : c.rows) {
    if (name == part) return fixed(stats[0]);
  }
  return "-";
}

std::vector<std::string> gflops_cells(const SearchCandidate& c) {
  return {fixed(nas::to_gflops(c.macs.body)), fixed(nas::to_gflops(c.macs.face)), fixed(nas::to_gflops(c.macs.hand)),
          fixed(total_gflops(c))};
}

std::string results_md(const SearchReportInfo& info, const std::vector<SearchCandidate>& cands, size_t best) {
  const std::vector<std::string> parts = part_names(cands);
  const SearchCandidate& b = cands[best];
  std::ostringstream md;
  md << "# ZoomNAS search: " << info.controller << " controller, budget "
     << (info.min_gflops > 0 ? short_number(info.min_gflops) + "-" : "") << short_number(info.budget_gflops)
     << " GFLOPs, seed " << info.seed << "\n\n"
     << cands.size() << " of " << info.samples << " sub-networks evaluated. Best: #" << best + 1 << ", " << b.metric
     << " AP " << fixed(b.ap) << " at " << short_number(total_gflops(b)) << " GFLOPs (best_config.json).\n\n"
     << "GFLOPs of the whole ZoomNet on one person crop (nas/flops.h; hand: both hands). Config: B = BodyNet, "
        "F = FaceHead, H = HandHead; input size, c stem width, L stage-1 Bottlenecks x planes g groups, D stage "
        "2-4 depths, W branch widths, G branch groups; heads add s feature stage, e RoI expansion.\n\n"
     << "| # | config | body GFLOPs | face | hand | total |";
  for (const auto& p : parts) md << " " << p << " AP |";
  md << " |\n|---|---|---|---|---|---|";
  for (size_t i = 0; i < parts.size(); ++i) md << "---|";
  md << "---|\n";
  for (size_t i = 0; i < cands.size(); ++i) {
    md << "| " << i + 1 << " | `" << config_summary(cands[i].config) << "` |";
    for (const auto& g : gflops_cells(cands[i])) md << " " << g << " |";
    for (const auto& p : parts) md << " " << part_ap(cands[i], p) << " |";
    md << (i == best ? " **best** |" : " |") << "\n";
  }
  return md.str();
}

std::string results_csv(const std::vector<SearchCandidate>& cands, size_t best) {
  const std::vector<std::string> parts = part_names(cands);
  std::ostringstream csv;
  csv << "index,config,gflops_body,gflops_face,gflops_hand,gflops_total";
  for (const auto& p : parts) csv << ",ap_" << p;
  csv << ",best\n";
  for (size_t i = 0; i < cands.size(); ++i) {
    // The summary holds no comma or quote, so it needs no quoting.
    csv << i + 1 << "," << config_summary(cands[i].config);
    for (const auto& g : gflops_cells(cands[i])) csv << "," << g;
    for (const auto& p : parts) csv << "," << part_ap(cands[i], p);
    csv << "," << (i == best ? 1 : 0) << "\n";
  }
  return csv.str();
}

}  // namespace

std::vector<size_t> pareto_front(const std::vector<SearchCandidate>& candidates) {
  std::vector<size_t> idx(candidates.size());
  std::iota(idx.begin(), idx.end(), size_t{0});
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
    if (candidates[a].macs.total() != candidates[b].macs.total()) {
      return candidates[a].macs.total() < candidates[b].macs.total();
    }
    return candidates[a].ap > candidates[b].ap;
  });
  std::vector<size_t> front;
  for (size_t i : idx) {
    if (front.empty() || candidates[i].ap > candidates[front.back()].ap) front.push_back(i);
  }
  return front;
}

void write_pareto_plot(const std::string& path, const SearchReportInfo& info,
                       const std::vector<SearchCandidate>& candidates, size_t best) {
  constexpr int kW = 760, kH = 520, kLeft = 70, kRight = 24, kTop = 44, kBottom = 50;
  const Rgb kBlack{0, 0, 0}, kDot{140, 140, 140}, kFront{31, 119, 180}, kBest{214, 39, 40},
      kBudget{44, 160, 44};

  // Ranges: every candidate and the budget, a little margin; a flat range is widened.
  double x_lo = info.min_gflops > 0 ? info.min_gflops : info.budget_gflops, x_hi = info.budget_gflops;
  double y_lo = 1, y_hi = 0;
  for (const auto& c : candidates) {
    x_lo = std::min(x_lo, total_gflops(c));
    x_hi = std::max(x_hi, total_gflops(c));
    y_lo = std::min(y_lo, c.ap);
    y_hi = std::max(y_hi, c.ap);
  }
  if (y_hi < y_lo) y_lo = 0, y_hi = 1;
  const double x_pad = std::max((x_hi - x_lo) * 0.05, 1e-3 + 0.01 * x_hi);
  // APs are never below 0: the axis stops there, so near-zero scores keep the plot's height.
  const double y_pad = std::max((y_hi - y_lo) * 0.08, 1e-3);
  x_lo = std::max(0.0, x_lo - x_pad), x_hi += x_pad, y_lo = std::max(0.0, y_lo - y_pad), y_hi += y_pad;

  data::Image img(kW, kH, 3);
  std::fill(img.pixels.begin(), img.pixels.end(), uint8_t{255});
  const pose::Canvas c{img.pixels.data(), img.width, img.height, 3};
  const int fx0 = kLeft, fx1 = kW - kRight, fy0 = kTop, fy1 = kH - kBottom;
  const PlotAxes axes{fx0, fy0, fx1, fy1, x_lo, x_hi, y_lo, y_hi};
  const auto at = [&](const SearchCandidate& s) { return Point2{axes.px(total_gflops(s)), axes.py(s.ap)}; };
  draw_axes(c, axes, 6);
  // The budget, and its floor if any: dashed vertical lines, labelled on their left.
  const auto budget_line = [&](double gflops, const std::string& name) {
    const double bx = axes.px(gflops);
    for (int y = fy0; y < fy1; y += 12) draw_line(c, {bx, static_cast<double>(y)}, {bx, std::min(y + 6.0, 1.0 * fy1)}, kBudget, 2);
    const std::string label = name + " " + short_number(gflops);
    draw_text(c, static_cast<int>(bx) - pose::text_width(label) - 4, fy0 + 4, label, kBudget);
  };
  budget_line(info.budget_gflops, "budget");
  if (info.min_gflops > 0) budget_line(info.min_gflops, "floor");

  for (const auto& s : candidates) fill_circle(c, at(s), 2.5, kDot);
  const std::vector<size_t> front = pareto_front(candidates);
  for (size_t i = 1; i < front.size(); ++i) draw_line(c, at(candidates[front[i - 1]]), at(candidates[front[i]]), kFront, 2);
  for (size_t i : front) fill_circle(c, at(candidates[i]), 3.5, kFront);
  draw_circle(c, at(candidates[best]), 7, kBest, 2);

  const std::string title = "AP vs GFLOPs: " + info.controller + ", " + std::to_string(candidates.size()) + " sub-networks";
  draw_text(c, (kW - pose::text_width(title, 2)) / 2, 8, title, kBlack, 2);
  const std::string xlabel = "GFLOPs (whole ZoomNet, one person)";
  draw_text(c, (fx0 + fx1 - pose::text_width(xlabel)) / 2, fy1 + 24, xlabel, kBlack);
  draw_text(c, 6, fy0 - 14, candidates[best].metric + " AP", kBlack);
  // Legend, bottom right inside the frame.
  const int lx = fx1 - 130, ly = fy1 - 44;
  fill_circle(c, {lx + 6.0, ly + 3.0}, 2.5, kDot);
  draw_text(c, lx + 16, ly, "candidate", kBlack);
  draw_line(c, {lx + 0.0, ly + 17.0}, {lx + 12.0, ly + 17.0}, kFront, 2);
  draw_text(c, lx + 16, ly + 14, "Pareto front", kBlack);
  draw_circle(c, {lx + 6.0, ly + 31.0}, 5, kBest, 2);
  draw_text(c, lx + 16, ly + 28, "best", kBlack);
  data::write_image(path, img);
}

void write_search_reports(const std::string& out_dir, const SearchReportInfo& info,
                          const std::vector<SearchCandidate>& candidates, size_t best) {
  check(!candidates.empty() && best < candidates.size(), "search reports: no candidates");
  const std::filesystem::path dir(out_dir);
  write_file_atomic((dir / "results.md").string(), results_md(info, candidates, best));
  write_file_atomic((dir / "results.csv").string(), results_csv(candidates, best));
  write_file_atomic((dir / "best_config.json").string(), pose::to_json(candidates[best].config).dump(2) + "\n");
  write_pareto_plot((dir / "pareto.png").string(), info, candidates, best);
}

}  // namespace wb::tasks
