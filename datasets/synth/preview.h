// A contact sheet of synthetic images with their annotations drawn, for a person to check what
// the generator makes: person boxes in white, the whole-body skeleton in the metadata's part
// colours (pose::coco_wholebody()), visible points as dots, hidden ones as darker dots, and the
// face and hand boxes.
#pragma once
#include <vector>

#include "datasets/coco.h"
#include "datasets/image.h"

namespace wb::data::synth {

// Images in rows of `columns`, each scaled to `cell_width` pixels wide (aspect kept, never
// enlarged); all images must have the same size.
Image contact_sheet(const std::vector<Image>& images, const std::vector<std::vector<PersonAnnotation>>& people,
                    int columns, int cell_width);

}  // namespace wb::data::synth
