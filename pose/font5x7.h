// The built-in 5x7 bitmap font of pose/draw.h: printable ASCII, one byte per glyph row.
#pragma once
#include <cstdint>

namespace wb::pose {

constexpr int kFontWidth = 5, kFontHeight = 7;

// The seven rows of a character's glyph, top to bottom; bit 4 is the leftmost column. Bytes outside
// printable ASCII get the glyph of '?'.
const uint8_t* glyph_rows(char ch);

}  // namespace wb::pose
