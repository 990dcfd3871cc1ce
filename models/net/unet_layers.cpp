#include "models/net/unet_layers.h"

#include "models/backend/plugin_layer.h"

namespace tessera::models {

std::vector<Layer> unetLayers(const UNetConfig& config) {
  std::vector<Layer> layers;
  auto add = [&](Layer layer) {
    layers.push_back(std::move(layer));
    return static_cast<int>(layers.size()) - 1;
  };
  auto vector = [](std::int64_t c) { return Shape{1, c, 1, 1}; };
  auto convBnRelu = [&](const std::string& block, int index, int level, int stage, bool output,
                        bool decoder, std::int64_t cin, std::int64_t cout, int input) {
    const std::string i = std::to_string(index);
    const std::string conv = block + ".conv" + i, bn = block + ".bn" + i;
    return add({.kind = LayerKind::kConvBnRelu,
                .name = conv,
                .block = block,
                .index = index,
                .level = level,
                .stage = stage,
                .stageOutput = output,
                .decoder = decoder,
                .inChannels = cin,
                .outChannels = cout,
                .inputs = {input},
                .parameters = {{conv + ".weight", {cout, cin, 3, 3}},
                               {bn + ".weight", vector(cout)},
                               {bn + ".bias", vector(cout)},
                               {bn + ".running_mean", vector(cout), false},
                               {bn + ".running_var", vector(cout), false}}});
  };

  // The plugin layers placed at `place` after layer x (of `block`); the
  // stage output flag moves to the last of them.
  auto plugins = [&](int x, LayerPlace place, const std::string& block) {
    for (const PluginLayerUse& use : config.pluginLayers) {
      if (use.place != place) continue;
      const Layer& before = layers[x];
      Layer layer{.kind = LayerKind::kPlugin,
                  .name = block + "." + use.name,
                  .block = block + "." + use.name,
                  .level = before.level,
                  .stage = before.stage,
                  .stageOutput = before.stageOutput,
                  .decoder = before.decoder,
                  .inChannels = before.outChannels,
                  .outChannels = before.outChannels,
                  .inputs = {x},
                  .plugin = findPluginLayer(use.name)};
      layers[x].stageOutput = false;
      if (layer.plugin)
        if (Result<std::vector<tessera_layer_parameter>> declared =
                pluginLayerParameters(*layer.plugin, layer.inChannels);
            declared.ok())
          for (const tessera_layer_parameter& p : *declared)
            layer.parameters.push_back(
                {.name = layer.name + "." + p.name,
                 .shape = {p.dims[0], p.dims[1], p.dims[2], p.dims[3]},
                 .init = p.init == TESSERA_INIT_ZEROS  ? LayerParameter::Init::kZeros
                         : p.init == TESSERA_INIT_ONES ? LayerParameter::Init::kOnes
                                                       : LayerParameter::Init::kNormal,
                 .std = p.std});
      x = add(std::move(layer));
    }
    return x;
  };

  const int levels = config.levels;
  std::vector<int> skips(levels);
  int x = -1;
  std::int64_t cin = config.inputChannels;
  for (int l = 0; l < levels; ++l) {
    const std::string block = "enc" + std::to_string(l);
    const std::int64_t c = config.channels(l);
    x = convBnRelu(block, 1, l, l, false, false, cin, c, x);
    x = convBnRelu(block, 2, l, l, true, false, c, c, x);
    x = skips[l] = plugins(x, LayerPlace::kStages, block);
    x = add({.kind = LayerKind::kMaxPool,
             .name = block + ".pool",
             .block = block + ".pool",
             .level = l + 1,
             .stage = l + 1,
             .inChannels = c,
             .outChannels = c,
             .inputs = {x}});
    cin = c;
  }

  const std::int64_t cb = config.channels(levels);
  const bool attention = config.attentionHeads > 0;
  x = convBnRelu("bott", 1, levels, levels, false, false, cin, cb, x);
  x = convBnRelu("bott", 2, levels, levels, !attention, false, cb, cb, x);
  x = plugins(x, LayerPlace::kStages, "bott");
  if (attention) {
    std::vector<LayerParameter> params;
    for (const char* m : {"q", "k", "v", "o"}) {
      params.push_back({std::string("att.") + m + ".weight", {cb, cb, 1, 1}});
      params.push_back({std::string("att.") + m + ".bias", vector(cb)});
    }
    x = add({.kind = LayerKind::kAttention,
             .name = "att",
             .block = "att",
             .level = levels,
             .stage = levels,
             .stageOutput = true,
             .inChannels = cb,
             .outChannels = cb,
             .inputs = {x},
             .parameters = std::move(params)});
  }
  x = plugins(x, LayerPlace::kBottleneck, "bott");

  for (int l = levels - 1; l >= 0; --l) {
    const std::string L = std::to_string(l);
    const std::int64_t c = config.channels(l), coarse = config.channels(l + 1);
    const int stage = 2 * levels - l;
    const std::string up = "up" + L, dec = "dec" + L, head = "head" + L;
    const int u =
        add({.kind = LayerKind::kConvTranspose,
             .name = up,
             .block = up,
             .level = l,
             .stage = stage,
             .decoder = true,
             .inChannels = coarse,
             .outChannels = c,
             .inputs = {x},
             .parameters = {{up + ".weight", {coarse, c, 2, 2}}, {up + ".bias", vector(c)}}});
    const int cat = add({.kind = LayerKind::kConcat,
                         .name = dec + ".concat",
                         .block = dec + ".concat",
                         .level = l,
                         .stage = stage,
                         .decoder = true,
                         .inChannels = 2 * c,
                         .outChannels = 2 * c,
                         .inputs = {u, skips[l]}});
    x = convBnRelu(dec, 1, l, stage, false, true, 2 * c, c, cat);
    x = convBnRelu(dec, 2, l, stage, true, true, c, c, x);
    x = plugins(x, LayerPlace::kStages, dec);
    if (l == 0 || config.deepSupervision)
      add({.kind = LayerKind::kHead,
           .name = head,
           .block = head,
           .level = l,
           .stage = stage,
           .decoder = true,
           .inChannels = c,
           .outChannels = config.classes,
           .inputs = {x},
           .parameters = {{head + ".weight", {config.classes, c, 1, 1}},
                          {head + ".bias", vector(config.classes)}}});
  }
  return layers;
}

}  // namespace tessera::models
