/* A Tessera plugin: after the network, keeps only the largest connected
 * component (6-connected, in 3D) of each chosen label; the other
 * components' voxels become background (0).
 *
 *   tessera segment ... --plugins /abs/dir --stages 'largest_component=liver,spleen'
 *
 * Arguments: label names separated by commas; none: every label but the
 * background. Reports removed_voxels and removed_components.
 *
 * Memory: two bit sets of the volume (a quarter byte per voxel) and a queue
 * as long as the largest component, so a 512x512x300 volume needs ~20 MB
 * beside it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tessera/plugin.h>

TESSERA_PLUGIN_EXPORT const uint32_t tessera_plugin_abi = TESSERA_PLUGIN_ABI_VERSION;

typedef struct {
  int64_t* items;
  int64_t size, capacity;
} queue;

static int push(queue* q, int64_t v) {
  if (q->size == q->capacity) {
    const int64_t capacity = q->capacity ? 2 * q->capacity : 4096;
    int64_t* grown = (int64_t*)realloc(q->items, (size_t)capacity * sizeof(int64_t));
    if (!grown) return 0;
    q->items = grown;
    q->capacity = capacity;
  }
  q->items[q->size++] = v;
  return 1;
}

static int test_bit(const uint8_t* bits, int64_t i) {
  return (bits[i >> 3] >> (i & 7)) & 1;
}
static void set_bit(uint8_t* bits, int64_t i) {
  bits[i >> 3] |= (uint8_t)(1u << (i & 7));
}

/* Marks in `seen` the component of `label` holding `seed`; returns its size
 * (-1 when memory ran out). The queue is used as a stack. */
static int64_t flood(const uint8_t* labels, const int64_t* size, uint8_t label, int64_t seed,
                     uint8_t* seen, queue* q) {
  const int64_t nx = size[0], ny = size[1], nz = size[2];
  int64_t count = 0;
  q->size = 0;
  set_bit(seen, seed);
  if (!push(q, seed)) return -1;
  while (q->size > 0) {
    const int64_t v = q->items[--q->size];
    ++count;
    const int64_t x = v % nx, y = (v / nx) % ny, z = v / (nx * ny);
    const int64_t neighbours[6] = {x > 0 ? v - 1 : -1,       x < nx - 1 ? v + 1 : -1,
                                   y > 0 ? v - nx : -1,      y < ny - 1 ? v + nx : -1,
                                   z > 0 ? v - nx * ny : -1, z < nz - 1 ? v + nx * ny : -1};
    for (int n = 0; n < 6; ++n) {
      const int64_t w = neighbours[n];
      if (w < 0 || labels[w] != label || test_bit(seen, w)) continue;
      set_bit(seen, w);
      if (!push(q, w)) return -1;
    }
  }
  return count;
}

static int chosen(const char* arguments, const char* name) {
  if (!arguments || !*arguments) return 1;
  const size_t length = strlen(name);
  for (const char* p = arguments; *p;) {
    const char* end = strchr(p, ',');
    const size_t item = end ? (size_t)(end - p) : strlen(p);
    if (item == length && strncmp(p, name, length) == 0) return 1;
    if (!end) break;
    p = end + 1;
  }
  return 0;
}

static int run(const tessera_stage_input* in, char* error, size_t error_size) {
  if (!in->labels) {
    snprintf(error, error_size, "runs after the network only");
    return 1;
  }
  /* Every name given must be one of the model's labels. */
  for (const char* p = in->arguments; p && *p;) {
    const char* end = strchr(p, ',');
    const size_t item = end ? (size_t)(end - p) : strlen(p);
    int known = 0;
    for (int v = 1; v < in->label_count; ++v)
      if (strlen(in->label_names[v]) == item && strncmp(p, in->label_names[v], item) == 0)
        known = 1;
    if (!known) {
      snprintf(error, error_size, "unknown label '%.*s' in the arguments", (int)item, p);
      return 1;
    }
    if (!end) break;
    p = end + 1;
  }
  const int64_t* size = in->geometry.size;
  const int64_t n = size[0] * size[1] * size[2];
  uint8_t* seen = (uint8_t*)calloc((size_t)(n / 8 + 1), 1);
  uint8_t* keep = (uint8_t*)calloc((size_t)(n / 8 + 1), 1);
  queue q = {NULL, 0, 0};
  int64_t removed_voxels = 0, removed_components = 0;
  int failed = !seen || !keep;
  for (int label = 1; label < in->label_count && !failed; ++label) {
    if (!chosen(in->arguments, in->label_names[label])) continue;
    int64_t best_seed = -1, best_size = 0, total = 0, components = 0;
    for (int64_t v = 0; v < n && !failed; ++v) {
      if (in->labels[v] != label || test_bit(seen, v)) continue;
      const int64_t count = flood(in->labels, size, (uint8_t)label, v, seen, &q);
      if (count < 0) failed = 1;
      total += count;
      ++components;
      if (count > best_size) {
        best_size = count;
        best_seed = v;
      }
    }
    if (failed || components <= 1) continue;
    if (flood(in->labels, size, (uint8_t)label, best_seed, keep, &q) < 0) {
      failed = 1;
      break;
    }
    for (int64_t v = 0; v < n; ++v)
      if (in->labels[v] == label && !test_bit(keep, v)) in->labels[v] = 0;
    removed_voxels += total - best_size;
    removed_components += components - 1;
  }
  free(seen);
  free(keep);
  free(q.items);
  if (failed) {
    snprintf(error, error_size, "out of memory");
    return 1;
  }
  in->report(in->report_context, "removed_voxels", (double)removed_voxels);
  in->report(in->report_context, "removed_components", (double)removed_components);
  return 0;
}

static const tessera_stage stages[] = {
    {"largest_component",
     "keeps the largest 6-connected component of each chosen label (default: all)",
     TESSERA_STAGE_AFTER_NETWORK, run},
};

static const tessera_plugin plugin = {"largest-component", "1.0", 1, stages, 0, NULL};

TESSERA_PLUGIN_EXPORT const tessera_plugin* tessera_plugin_entry(void) {
  return &plugin;
}
