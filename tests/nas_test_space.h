// The search space the NAS tests count and search in: Table 2 (nas::zoomnas_space) with every width
// divided by 8 and small inputs — the same structure and choices per dimension, cheap to build.
#pragma once
#include "nas/space.h"

namespace wb::test {

inline nas::ZoomNasSpace table2_divided_by_8() {
  nas::ZoomNasSpace s = nas::zoomnas_space();
  for (nas::HRNetSpace* n : {&s.body, &s.face.net, &s.hand.net}) {
    for (auto& w : n->stem_widths) w /= 8;
    for (auto& w : n->stage1_widths) w /= 8;
    for (auto& b : n->branch_widths) {
      for (auto& w : b) w /= 8;
    }
  }
  s.body.input_heights = {64, 96};
  s.face.net.input_heights = s.hand.net.input_heights = {8, 16};
  return s;
}

}  // namespace wb::test
