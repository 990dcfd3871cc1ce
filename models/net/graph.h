// The U-Net's computation graph for one batch: nodes are built first, then
// run forward, then backward. Which activations survive the forward pass is
// the checkpointing policy:
//   inference   nothing but the outputs (values freed once consumed)
//   none        every value some backward step reads (what autograd keeps)
//   stage       stage boundaries only; a stage's inside is recomputed when
//               its backward starts (exact: same ops, same inputs)
//   aggressive  outputs of the expensive ops (conv, up-conv, attention) only;
//               batch norm, ReLU, pooling and concat outputs are recomputed on
//               demand (exact); with half storage, kept values are stored as
//               bfloat16 (not exact: ~3 significant digits)
// Batch norm saves its batch statistics at the first forward so that
// recomputation normalises identically and running statistics are updated
// once per step.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "models/backend/backend.h"
#include "models/net/parameters.h"

namespace tessera::models {

enum class Checkpointing;

enum class GraphMode { kTraining, kInference };

class Graph {
 public:
  Graph(Backend& backend, GraphMode mode, Checkpointing checkpointing, bool updateRunningStats,
        bool halfStorage = false);
  ~Graph();
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  int input(Tensor value);
  int conv(int x, Parameter* w, Parameter* bias, int stride, int pad, int stage);
  int batchNorm(int x, Parameter* gamma, Parameter* beta, Parameter* runningMean,
                Parameter* runningVar, float eps, float momentum, int stage);
  int relu(int x, int stage, bool boundary);
  int maxPool(int x, int stage);
  int upConv(int x, Parameter* w, Parameter* bias, int stage);
  int concat(int a, int b, int stage);
  int attention(int x, const AttentionWeights& weights, std::vector<Parameter*> params,
                const std::vector<std::uint8_t>* tokenMask, int stage, bool boundary);
  // A plugin's layer; params in its declared order.
  int plugin(int x, const tessera_layer& layer, std::vector<Parameter*> params, int stage,
             bool boundary);
  // Marks a node whose value the caller reads after forward().
  void markOutput(int node);

  // Runs every node once in order, releasing values the policy does not keep.
  void forward();
  // The value of a node, recomputing it (and what it needs) if released.
  const Tensor& value(int node);
  // Loss on an output node: computes it and seeds that node's gradient with
  // weight · d loss / d logits. Call after forward(), before backward().
  // Releases the logits: add every other loss on that node first.
  double addLoss(int logits, const Tensor& labels, double diceWeight, double weight);
  // Distillation loss (Backend::distillationLoss) against a teacher's logits
  // of the same shape, kNCHW; seeds weight · d loss / d logits.
  double addDistillationLoss(int logits, const Tensor& teacher, double temperature, double weight);
  // Propagates seeded gradients to every trainable parameter (accumulating
  // into Parameter::grad).
  void backward();

 private:
  struct Node;
  int add(Node node);
  void compute(int id);
  void release(int id);
  void releaseRecomputed(int processed);
  void accumulate(int id, Tensor grad);
  bool keeps(const Node& node) const;

  Backend& backend_;
  GraphMode mode_;
  Checkpointing checkpointing_;
  bool updateRunningStats_;
  bool halfStorage_;
  bool inBackward_ = false;
  std::vector<Node> nodes_;
};

}  // namespace tessera::models
