/* Plugins that misbehave or probe the loader, one per TESSERA_TEST_PLUGIN
 * value (tests/models/CMakeLists.txt builds each into a folder of its own):
 *   1 wrong_abi   built for plugin ABI 99; its entry point aborts if called
 *   2 no_symbols  a shared library without Tessera's symbols
 *   3 failing     a stage after the network that always fails with a message
 *   4 duplicate   a second stage named largest_component
 *   5 set_hu      a stage before the network that sets every voxel to ARGS HU
 *   6 disagreeing_layer  a layer (y = 2x) whose CPU forward adds 0.01
 *   7 failing_layer      a layer (y = 2x) that passes the load-time checks
 *                        but fails on inputs wider than 32 pixels */
#include <stdio.h>
#include <stdlib.h>

#include <tessera/plugin.h>

#if TESSERA_TEST_PLUGIN == 2
TESSERA_PLUGIN_EXPORT int not_a_plugin(void) {
  return 0;
}
#else

#if TESSERA_TEST_PLUGIN == 1
TESSERA_PLUGIN_EXPORT const uint32_t tessera_plugin_abi = 99;
#else
TESSERA_PLUGIN_EXPORT const uint32_t tessera_plugin_abi = TESSERA_PLUGIN_ABI_VERSION;
#endif

static int fail(const tessera_stage_input* in, char* error, size_t error_size) {
  (void)in;
  snprintf(error, error_size, "deliberately failing");
  return 1;
}

static int set_hu(const tessera_stage_input* in, char* error, size_t error_size) {
  const int value = atoi(in->arguments);
  const int64_t n = in->geometry.size[0] * in->geometry.size[1] * in->geometry.size[2];
  (void)error;
  (void)error_size;
  for (int64_t i = 0; i < n; ++i) in->ct[i] = (int16_t)value;
  in->report(in->report_context, "value", value);
  return 0;
}

#if TESSERA_TEST_PLUGIN == 6 || TESSERA_TEST_PLUGIN == 7
/* y = 2x (+ 0.01 in the disagreeing CPU version); no parameters. */
static int no_parameters(int64_t channels, tessera_layer_parameter* out, int capacity, char* error,
                         size_t error_size) {
  (void)channels;
  (void)out;
  (void)capacity;
  (void)error;
  (void)error_size;
  return 0;
}

static int twice(const tessera_layer_call* call, float offset, char* error, size_t error_size) {
  const tessera_tensor* x = &call->x;
  if (TESSERA_TEST_PLUGIN == 7 && x->w > 32) {
    snprintf(error, error_size, "deliberately failing on %lld pixels", (long long)x->w);
    return 1;
  }
  for (int64_t i = 0; i < x->n * x->c * x->h * x->w; ++i)
    call->y.data[i] = 2.0f * x->data[i] + offset;
  return 0;
}

static int twice_reference(const tessera_layer_call* call, char* error, size_t error_size) {
  return twice(call, 0.0f, error, error_size);
}

static int twice_cpu(const tessera_layer_call* call, char* error, size_t error_size) {
  return twice(call, TESSERA_TEST_PLUGIN == 6 ? 0.01f : 0.0f, error, error_size);
}

static int twice_backward(const tessera_layer_call* call, char* error, size_t error_size) {
  const tessera_tensor* x = &call->x;
  (void)error;
  (void)error_size;
  if (call->dx.data)
    for (int64_t i = 0; i < x->n * x->c * x->h * x->w; ++i)
      call->dx.data[i] = 2.0f * call->dy.data[i];
  return 0;
}

static const tessera_layer layers[] = {
    {"twice", "y = 2x", no_parameters, twice_reference, twice_backward, twice_cpu, twice_backward},
};
static const tessera_plugin plugin = {"test", "0", 0, NULL, 1, layers};
#else

static const tessera_stage stages[] = {
#if TESSERA_TEST_PLUGIN == 4
    {"largest_component", "a second stage of that name", TESSERA_STAGE_AFTER_NETWORK, fail},
#elif TESSERA_TEST_PLUGIN == 5
    {"set_hu", "sets every voxel to ARGS HU", TESSERA_STAGE_BEFORE_NETWORK, set_hu},
#else
    {"always_fails", "fails", TESSERA_STAGE_AFTER_NETWORK, fail},
#endif
};
static const tessera_plugin plugin = {"test", "0", 1, stages, 0, NULL};
#endif

TESSERA_PLUGIN_EXPORT const tessera_plugin* tessera_plugin_entry(void) {
#if TESSERA_TEST_PLUGIN == 1
  abort();
#endif
  return &plugin;
}
#endif
