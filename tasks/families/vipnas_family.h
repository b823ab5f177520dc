// The S-ViPNAS models as top-down heatmap families (tasks/families/vipnas_family.cpp).
#pragma once
#include "tasks/family.h"

namespace wb::tasks {

const PoseFamily& vipnas_resnet_family();
const PoseFamily& vipnas_mbv3_family();

}  // namespace wb::tasks
