// The multi-stage family: MSPN (tasks/families/mspn_family.cpp says how it trains and predicts).
#pragma once
#include "tasks/family.h"

namespace wb::tasks {

const PoseFamily& mspn_family();

}  // namespace wb::tasks
