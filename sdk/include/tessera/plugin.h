/* Tessera plugins: shared libraries that add pipeline stages, run before
 * or after the network (`tessera segment --plugins DIR --stages NAME`).
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
 *   static const tessera_plugin plugin = {"my-plugin", "1.0", 1, stages};
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

#define TESSERA_PLUGIN_ABI_VERSION 1

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

typedef struct tessera_plugin {
  const char* name; /* for messages */
  const char* version;
  int stage_count;
  const tessera_stage* stages;
} tessera_plugin;

/* The two symbols every plugin exports (see above). */
typedef const tessera_plugin* (*tessera_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* TESSERA_PLUGIN_H */
