// The U-Net layer table: wiring, channels and levels consistent for every
// architecture, and the parameter set the network is built with.
#include "models/net/unet_layers.h"

#include <gtest/gtest.h>

#include <set>
#include <sstream>

namespace tessera::models {
namespace {

std::string describe(const UNetConfig& c) {
  std::ostringstream s;
  s << "levels " << c.levels << " base " << c.baseWidth << " heads " << c.attentionHeads
    << " deep supervision " << c.deepSupervision << " input " << c.inputChannels << " classes "
    << c.classes;
  return s.str();
}

TEST(UNetLayers, WiringChannelsAndLevelsAreConsistent) {
  for (int levels : {1, 2, 4, 6})
    for (int heads : {0, 2})
      for (bool ds : {false, true}) {
        UNetConfig c;
        c.levels = levels;
        c.baseWidth = 16;
        c.attentionHeads = heads;
        c.deepSupervision = ds;
        c.inputChannels = 5;
        c.classes = 7;
        SCOPED_TRACE(describe(c));
        const std::vector<Layer> layers = unetLayers(c);
        std::set<std::string> names;
        int headCount = 0, stage = 0;
        for (std::size_t i = 0; i < layers.size(); ++i) {
          const Layer& l = layers[i];
          SCOPED_TRACE(l.name);
          EXPECT_TRUE(names.insert(l.name).second) << "duplicate name";
          ASSERT_FALSE(l.inputs.empty());
          for (int in : l.inputs) ASSERT_LT(in, static_cast<int>(i)) << "reads a later layer";
          const int in = l.inputs[0];
          const std::int64_t inChannels = in < 0 ? c.inputChannels : layers[in].outChannels;
          const int inLevel = in < 0 ? 0 : layers[in].level;
          EXPECT_GE(l.stage, stage) << "stages go forward";
          stage = l.stage;
          switch (l.kind) {
            case LayerKind::kConvBnRelu:
              EXPECT_EQ(l.inChannels, inChannels);
              EXPECT_EQ(l.level, inLevel);
              EXPECT_EQ(l.parameters.size(), 5u);
              EXPECT_EQ(l.parameters[0].shape, (Shape{l.outChannels, l.inChannels, 3, 3}));
              break;
            case LayerKind::kPlugin:
              EXPECT_EQ(l.level, inLevel);
              EXPECT_EQ(l.outChannels, inChannels);
              break;
            case LayerKind::kMaxPool:
              EXPECT_EQ(l.level, inLevel + 1);
              EXPECT_EQ(l.outChannels, inChannels);
              break;
            case LayerKind::kAttention:
              EXPECT_GT(heads, 0);
              EXPECT_EQ(l.level, levels);
              EXPECT_EQ(l.outChannels, inChannels);
              EXPECT_EQ(l.parameters.size(), 8u);
              break;
            case LayerKind::kConvTranspose:
              EXPECT_EQ(l.inChannels, inChannels);
              EXPECT_EQ(l.level, inLevel - 1);
              break;
            case LayerKind::kConcat: {
              ASSERT_EQ(l.inputs.size(), 2u);
              const Layer& skip = layers[l.inputs[1]];
              EXPECT_EQ(layers[l.inputs[0]].kind, LayerKind::kConvTranspose);
              EXPECT_TRUE(skip.stageOutput && !skip.decoder) << "the skip is an encoder output";
              EXPECT_EQ(skip.level, inLevel);
              EXPECT_EQ(l.outChannels, inChannels + skip.outChannels);
              EXPECT_EQ(l.level, inLevel);
              break;
            }
            case LayerKind::kHead:
              ++headCount;
              EXPECT_EQ(l.inChannels, inChannels);
              EXPECT_EQ(l.outChannels, c.classes);
              EXPECT_EQ(l.level, inLevel);
              break;
          }
        }
        EXPECT_EQ(headCount, ds ? levels : 1);
        // The last layer is the full-resolution output head.
        EXPECT_EQ(layers.back().kind, LayerKind::kHead);
        EXPECT_EQ(layers.back().level, 0);
      }
}

TEST(UNetLayers, TheNetworkHasExactlyTheTablesParametersInOrder) {
  UNetConfig c;
  c.levels = 3;
  c.attentionHeads = 4;
  c.deepSupervision = true;
  UNet net(c);
  const std::vector<Layer> layers = unetLayers(c);
  std::vector<const LayerParameter*> table;
  for (const Layer& l : layers)
    for (const LayerParameter& p : l.parameters) table.push_back(&p);
  const auto& all = net.parameters().all();
  ASSERT_EQ(all.size(), table.size());
  for (std::size_t i = 0; i < table.size(); ++i) {
    SCOPED_TRACE(table[i]->name);
    EXPECT_EQ(all[i]->name, table[i]->name);
    EXPECT_EQ(all[i]->value.shape(), table[i]->shape);
    EXPECT_EQ(all[i]->trainable, table[i]->trainable);
  }
}

}  // namespace
}  // namespace tessera::models
