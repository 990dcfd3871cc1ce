/* Tessera plugins: shared libraries that add pipeline stages, run before
 * or after the network (`tessera segment --plugins DIR --stages NAME`), and
 * layer types for the network (`tessera train --plugins DIR --layers
 * NAME@PLACE`; a model that uses them names them, and loading it needs them).
 *
 * Loading. Tessera loads plugins only from the folders named by --plugins
 * or $TESSERA_PLUGIN_PATH (':'-separated absolute paths), never from the
 * working directory, and only files named *.so directly inside them
 * (regular files, or links to them). Of each, it first reads the data symbol `tessera_plugin_abi`
 * without running any of the plugin's functions; a plugin whose value is not
 * TESSERA_PLUGIN_ABI_VERSION is refused with both numbers. Only then is
 * `tessera_plugin_entry` called, once, for the plugin's description.
 *
 * A minimal plugin:
 *
 *   #include <tessera/plugin.h>
 *   TESSERA_PLUGIN_EXPORT const uint32_t tessera_plugin_abi = TESSERA_PLUGIN_ABI_VERSION;
 *   static int run(const tessera_stage_input* in, char* error, size_t error_size) { ... }
 *   static const tessera_stage stages[] = {{"my_stage", "what it does",
 *                                           TESSERA_STAGE_AFTER_NETWORK, run}};
 *   static const tessera_plugin plugin = {"my-plugin", "1.0", 1, stages, 0, NULL};
 *   TESSERA_PLUGIN_EXPORT const tessera_plugin* tessera_plugin_entry(void) { return &plugin; }
 *
 * Threads and errors: a stage runs on the segmenting thread, once per
 * volume; it returns 0, or non-zero after writing a message (NUL-terminated,
 * at most error_size bytes) into `error`. A stage must not throw or longjmp
 * out of `run`. Everything it is given is valid only during the call. */
#ifndef TESSERA_PLUGIN_H
#define TESSERA_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/tessera.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 2: layers (tessera_plugin.layer_count, .layers). */
#define TESSERA_PLUGIN_ABI_VERSION 2

#if defined(__GNUC__)
#define TESSERA_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define TESSERA_PLUGIN_EXPORT
#endif

typedef enum tessera_stage_when {
  TESSERA_STAGE_BEFORE_NETWORK = 1, /* may change the CT's HU values in place */
  TESSERA_STAGE_AFTER_NETWORK = 2   /* may change the labels in place */
} tessera_stage_when;

/* What a stage works on: one volume and its label map (after the network),
 * same geometry, voxels x fastest. */
typedef struct tessera_stage_input {
  size_t struct_size;             /* sizeof(tessera_stage_input) of the Tessera that calls */
  int16_t* ct;                    /* HU; writable before the network, read-only after */
  uint8_t* labels;                /* NULL before the network; writable after it */
  tessera_geometry geometry;      /* size, spacing (mm), origin, direction (LPS) */
  int label_count;                /* the model's classes, background included */
  const char* const* label_names; /* label_names[value] */
  const char* arguments;          /* what followed "NAME=" in --stages, or "" */
  /* Adds a number to the report (`stages` object: "NAME.key": value). */
  void (*report)(void* report_context, const char* key, double value);
  void* report_context;
} tessera_stage_input;

typedef struct tessera_stage {
  const char* name;        /* [a-z0-9_]+, unique among the loaded plugins */
  const char* description; /* one line, for `tessera plugins` */
  tessera_stage_when when;
  int (*run)(const tessera_stage_input* input, char* error, size_t error_size);
} tessera_stage;

/* ------------------------------------------------------------------ layers
 *
 * A layer maps (N, C, H, W) to (N, C, H, W): same channels, same size. A
 * model places it after the second convolution of every U-Net stage
 * (`NAME@stages`) or once at the bottleneck, after the attention if any
 * (`NAME@bottleneck`). It has trainable parameters but no state (no running
 * statistics): training and inference compute the same function.
 *
 * Each layer brings two implementations of its forward and backward pass:
 * the reference (plain loops, the oracle) and the CPU one (fast). Tessera
 * trains and infers with the CPU one; the reference backend (`tessera train
 * --backend reference`, tests) uses the reference. When the plugin loads,
 * Tessera runs both on random data and refuses the plugin if they disagree
 * (relative difference over 1e-4), if the CPU forward's outputs at active
 * pixels depend on `active`, or if a function fails. The backward must be
 * the forward's gradient: tests check it against finite differences (the
 * harness of tests/support/tensor_util.h, docs/SDK.md).
 *
 * Sparse inference calls the CPU forward with `active` set: outputs are
 * needed at those pixels only (whole 16×16-image-pixel blocks); inputs at
 * inactive pixels hold what the network computes on air. With every pixel
 * active the result must equal the call with `active` NULL. */

typedef struct tessera_tensor {
  int64_t n, c, h, w; /* contiguous NCHW floats, x fastest */
  float* data;        /* NULL: not wanted (a backward's dx) */
} tessera_tensor;

typedef enum tessera_init {
  TESSERA_INIT_ZEROS = 1,
  TESSERA_INIT_ONES = 2,
  TESSERA_INIT_NORMAL = 3 /* mean 0, standard deviation `std` */
} tessera_init;

typedef struct tessera_layer_parameter {
  char name[32];   /* [a-z0-9_]+; the model file calls it BLOCK.LAYER.NAME */
  int64_t dims[4]; /* shape (N, C, H, W order; e.g. {1, C, 1, 1} for a vector) */
  tessera_init init;
  double std;
} tessera_layer_parameter;

/* One call. The forward reads x and parameters and writes y; the backward
 * reads x, parameters and dy and overwrites dx (unless dx.data is NULL) and
 * every dparameters[i] (shaped as parameters[i]). Everything is valid only
 * during the call; the function may run on several threads at once (one
 * call each) and may use OpenMP inside. */
typedef struct tessera_layer_call {
  size_t struct_size; /* sizeof(tessera_layer_call) of the Tessera that calls */
  tessera_tensor x;
  const tessera_tensor* parameters;
  int parameter_count;
  const uint8_t* active; /* forward: N·H·W bytes, non-zero where y is needed; NULL: all */
  tessera_tensor y;
  tessera_tensor dy;
  tessera_tensor dx;
  tessera_tensor* dparameters;
} tessera_layer_call;

/* 0, or non-zero after writing a message into `error` (as stages do). */
typedef int (*tessera_layer_fn)(const tessera_layer_call* call, char* error, size_t error_size);

typedef struct tessera_layer {
  const char* name;        /* [a-z0-9_]+, unique among the loaded plugins */
  const char* description; /* one line, for `tessera plugins` */
  /* Describes the parameters of the layer on `channels` channels: writes at
   * most `capacity` entries and returns how many, or -1 after writing why
   * into `error` (channels the layer cannot take). */
  int (*parameters)(int64_t channels, tessera_layer_parameter* out, int capacity, char* error,
                    size_t error_size);
  tessera_layer_fn forward_reference;
  tessera_layer_fn backward_reference;
  tessera_layer_fn forward_cpu;
  tessera_layer_fn backward_cpu;
} tessera_layer;

typedef struct tessera_plugin {
  const char* name; /* for messages */
  const char* version;
  int stage_count;
  const tessera_stage* stages;
  int layer_count;
  const tessera_layer* layers;
} tessera_plugin;

/* The two symbols every plugin exports (see above). */
typedef const tessera_plugin* (*tessera_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* TESSERA_PLUGIN_H */
