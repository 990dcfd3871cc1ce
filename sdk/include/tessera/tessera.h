/* Tessera's C API: load a segmentation model, segment a CT volume held in
 * memory (block-sparse or dense), read the labels and their statistics, read
 * and write volume files.
 *
 * ABI. Every object is an opaque handle made and freed by the library, so
 * its layout can change without breaking callers. The structs below are
 * either plain data fixed for TESSERA_ABI_VERSION 1 (tessera_geometry,
 * tessera_image, tessera_label) or begin with `struct_size`, which the
 * caller sets to sizeof the struct it was compiled with (the *_init
 * functions do), so that later versions can append fields: the library reads
 * and fills only the fields that fit. Only symbols named tessera_* are
 * exported, under the ELF version node TESSERA_1. A program checks
 * tessera_abi_version() == TESSERA_ABI_VERSION before anything else.
 *
 * Errors. Functions that can fail return a tessera_status; on failure the
 * message, in words a person understands, is tessera_last_error() on the
 * same thread until that thread's next failing call. Nothing is thrown or
 * aborted across this interface; outputs are left untouched on failure
 * (handles set to NULL, no file written).
 *
 * Threads. A model handle serialises calls made on it from several threads;
 * load one model per thread to segment in parallel. The `threads` option
 * sets the process-wide number of worker threads.
 *
 * Units and frames: millimetres, ITK's LPS patient frame, origin at the
 * centre of voxel (0,0,0), direction cosines as the columns of a row-major
 * 3x3 matrix (element (r, c) at direction[3 * r + c]); voxels x fastest
 * (index i + nx * (j + ny * k)); CT values in Hounsfield units. */
#ifndef TESSERA_TESSERA_H
#define TESSERA_TESSERA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define TESSERA_API __attribute__((visibility("default")))
#else
#define TESSERA_API
#endif

#define TESSERA_ABI_VERSION 1

typedef enum tessera_status {
  TESSERA_OK = 0,
  TESSERA_INVALID_ARGUMENT = 1,   /* the caller asked for something malformed */
  TESSERA_NOT_FOUND = 2,          /* a path or model that does not exist */
  TESSERA_IO_ERROR = 3,           /* the operating system refused a read or write */
  TESSERA_CORRUPT_DATA = 4,       /* a file exists but its content is damaged */
  TESSERA_UNSUPPORTED = 5,        /* valid, but not something Tessera handles */
  TESSERA_RESOURCE_EXHAUSTED = 6, /* it would not fit in memory */
  TESSERA_CANCELLED = 7,          /* the progress callback asked to stop */
  TESSERA_INTERNAL = 8            /* a bug in Tessera */
} tessera_status;

/* "MAJOR.MINOR.PATCH" of the library. */
TESSERA_API const char* tessera_version(void);
/* The TESSERA_ABI_VERSION the library was built with. */
TESSERA_API int tessera_abi_version(void);
/* "ok", "invalid argument", ...; never NULL. */
TESSERA_API const char* tessera_status_name(tessera_status status);
/* The message of this thread's last failing call ("" if none). Valid until
 * the next failing call on this thread. */
TESSERA_API const char* tessera_last_error(void);

/* ---- Volumes in memory ------------------------------------------------ */

typedef enum tessera_pixel_type {
  TESSERA_PIXEL_INT16 = 1,  /* HU; read in place, without a copy */
  TESSERA_PIXEL_FLOAT32 = 2 /* HU; rounded to the nearest integer into a copy,
                               NaN/Inf or values outside int16 refused */
} tessera_pixel_type;

typedef struct tessera_geometry {
  int64_t size[3];     /* voxels along i (x), j (y), k (z, slices) */
  double spacing[3];   /* mm, positive */
  double origin[3];    /* LPS mm of voxel (0,0,0)'s centre */
  double direction[9]; /* orthonormal; column c is axis c's LPS unit vector */
} tessera_geometry;

/* A CT volume the caller owns: size[0] * size[1] * size[2] contiguous
 * voxels of `pixel_type`, x fastest. The library only reads it, during the
 * call it is passed to. */
typedef struct tessera_image {
  const void* data;
  tessera_pixel_type pixel_type;
  tessera_geometry geometry;
} tessera_image;

/* Sets an identity geometry of the given size, 1 mm spacing, origin 0. */
TESSERA_API void tessera_geometry_init(tessera_geometry* geometry, int64_t nx, int64_t ny,
                                       int64_t nz);

/* A volume read from a file and owned by the library. */
typedef struct tessera_volume tessera_volume;

/* Reads a CT volume (NIfTI, NRRD, MetaImage, a DICOM file or a DICOM series
 * directory: its largest CT series) in Hounsfield units. */
TESSERA_API tessera_status tessera_volume_read(const char* path, tessera_volume** volume);
/* Describes the volume's voxels (int16, owned by the volume, valid until it
 * is freed). */
TESSERA_API tessera_status tessera_volume_image(const tessera_volume* volume, tessera_image* image);
TESSERA_API void tessera_volume_free(tessera_volume* volume);
/* Writes a CT volume by extension (.nii.gz, .nii, .nrrd, .mha), atomically:
 * a failed write leaves no file. */
TESSERA_API tessera_status tessera_image_write(const tessera_image* image, const char* path);

/* ---- Models ----------------------------------------------------------- */

typedef struct tessera_model tessera_model;

typedef struct tessera_label {
  int value;        /* voxel value in the label map */
  const char* name; /* owned by the model or segmentation it came from */
  uint8_t rgb[3];   /* display colour */
} tessera_label;

/* Loads a Tessera model file (.onnx). NULL or "" loads the bundled default
 * model: $TESSERA_MODEL_DIR, then share/tessera/models beside the
 * library's install prefix. The plugins in $TESSERA_PLUGIN_PATH are loaded
 * first, so that a model using plugin layers finds them. */
TESSERA_API tessera_status tessera_model_load(const char* path, tessera_model** model);
TESSERA_API void tessera_model_free(tessera_model* model);
/* Owned by the model. */
TESSERA_API const char* tessera_model_name(const tessera_model* model);
TESSERA_API const char* tessera_model_version(const tessera_model* model);
/* The file the model was loaded from (the bundled model's path for NULL). */
TESSERA_API const char* tessera_model_path(const tessera_model* model);
/* Output classes, background included. */
TESSERA_API int tessera_model_label_count(const tessera_model* model);
TESSERA_API tessera_status tessera_model_label(const tessera_model* model, int index,
                                               tessera_label* label);

/* ---- Segmenting ------------------------------------------------------- */

typedef enum tessera_mode {
  TESSERA_MODE_SPARSE = 0, /* compute only the blocks that hold anatomy */
  TESSERA_MODE_DENSE = 1   /* compute every block */
} tessera_mode;

/* Called from the segmenting thread as work advances: fraction 0..1 of the
 * call, an estimate of the seconds left (negative while unknown) and a
 * message such as "slice 12/48". Return non-zero to cancel: the call then
 * returns TESSERA_CANCELLED and makes nothing. */
typedef int (*tessera_progress_fn)(double fraction, double eta_seconds, const char* message,
                                   void* user_data);

typedef struct tessera_segment_options {
  size_t struct_size;           /* sizeof(tessera_segment_options) */
  tessera_mode mode;            /* default TESSERA_MODE_SPARSE */
  int threads;                  /* worker threads; 0 (default): all cores */
  tessera_progress_fn progress; /* may be NULL */
  void* user_data;              /* passed to progress */
  /* Plugin stages (tessera/plugin.h, docs/SDK.md), as `tessera segment
   * --stages` takes them: "NAME[=ARGS][;NAME[=ARGS]...]"; NULL or "": none.
   * The plugins are loaded from `plugins` (absolute folders, ':'-separated;
   * may be NULL), then $TESSERA_PLUGIN_PATH; never the working directory. */
  const char* stages;
  const char* plugins;
} tessera_segment_options;

/* The defaults, with struct_size set. */
TESSERA_API void tessera_segment_options_init(tessera_segment_options* options);

typedef struct tessera_segmentation tessera_segmentation;

/* Segments `ct` with `model` (options NULL: the defaults). The result holds
 * a label map with the input's exact geometry, the engine's statistics and
 * per-label measurements. */
TESSERA_API tessera_status tessera_segment(tessera_model* model, const tessera_image* ct,
                                           const tessera_segment_options* options,
                                           tessera_segmentation** segmentation);
TESSERA_API void tessera_segmentation_free(tessera_segmentation* segmentation);

/* The label map: geometry.size[0] * size[1] * size[2] values, x fastest,
 * owned by the segmentation. */
TESSERA_API const uint8_t* tessera_segmentation_labels(const tessera_segmentation* segmentation);
TESSERA_API tessera_status tessera_segmentation_geometry(const tessera_segmentation* segmentation,
                                                         tessera_geometry* geometry);
/* Writes the label map (.nii.gz, .nii, .nrrd, .mha), atomically. */
TESSERA_API tessera_status tessera_segmentation_write(const tessera_segmentation* segmentation,
                                                      const char* path);

typedef struct tessera_stats {
  size_t struct_size;      /* sizeof(tessera_stats), set by the caller */
  int64_t slices;          /* slices segmented */
  int64_t empty_slices;    /* slices without any active block */
  double seconds;          /* the whole call */
  double detector_seconds; /* density detector and block masks */
  double engine_seconds;   /* the network */
  double flops;            /* computed */
  double dense_flops;      /* what dense inference would compute */
  double active_fraction;  /* blocks computed / blocks, mean over slices */
  double settled_fraction; /* blocks labelled early by a coarse decoder head */
} tessera_stats;

TESSERA_API tessera_status tessera_segmentation_stats(const tessera_segmentation* segmentation,
                                                      tessera_stats* stats);

typedef struct tessera_label_stats {
  size_t struct_size; /* sizeof(tessera_label_stats), set by the caller */
  tessera_label label;
  int64_t voxels;
  double volume_ml; /* voxels x voxel volume / 1000 */
  double mean_hu;   /* over the label's voxels */
  double sd_hu;     /* population standard deviation */
  double median_hu;
  double p05_hu, p95_hu; /* percentiles, linear interpolation */
  int touches_edge;      /* non-zero when it touches the field of view's edge */
} tessera_label_stats;

/* Labels present in the result (background excluded), by increasing value. */
TESSERA_API int64_t
tessera_segmentation_label_stats_count(const tessera_segmentation* segmentation);
TESSERA_API tessera_status tessera_segmentation_label_stats(
    const tessera_segmentation* segmentation, int64_t index, tessera_label_stats* stats);

/* Numbers the plugin stages reported ("NAME.key"), in the order reported;
 * `key` is owned by the segmentation. */
TESSERA_API int64_t
tessera_segmentation_stage_report_count(const tessera_segmentation* segmentation);
TESSERA_API tessera_status tessera_segmentation_stage_report(
    const tessera_segmentation* segmentation, int64_t index, const char** key, double* value);

/* ---- Training and fine-tuning ---------------------------------------- */

/* The options of a training run, set one by one by the names and with the
 * values `tessera train` takes (see `tessera train --help`). */
typedef struct tessera_train_options tessera_train_options;

TESSERA_API tessera_status tessera_train_options_new(tessera_train_options** options);
TESSERA_API void tessera_train_options_free(tessera_train_options* options);
/* `name` is the command line's option without its dashes ("out", "steps",
 * "lr", "init", "data", "checkpointing", "no-augment", ...); `value` is
 * what follows it there, "true"/"false" for a flag. An unknown name is
 * refused here, a malformed or out-of-range value by tessera_train. */
TESSERA_API tessera_status tessera_train_options_set(tessera_train_options* options,
                                                     const char* name, const char* value);

typedef struct tessera_train_report {
  size_t struct_size; /* sizeof(tessera_train_report), set by the caller */
  int64_t steps;      /* optimisation steps this call took (after the checkpoint, resuming) */
  double seconds;     /* this call */
  double final_loss;
  double validation_mean_dice; /* the last validation, non-background labels */
  int64_t peak_bytes;          /* the engine allocator's peak */
  const char* model_path;      /* the model written; owned by the options handle */
} tessera_train_report;

/* Trains (or fine-tunes, with "init") a model as `tessera train` does,
 * writing the logs, checkpoints and model.onnx into "out". progress may be
 * NULL; returning non-zero from it saves a checkpoint and stops the run
 * (TESSERA_CANCELLED), which "resume" then continues exactly. report may be
 * NULL. */
TESSERA_API tessera_status tessera_train(tessera_train_options* options,
                                         tessera_progress_fn progress, void* user_data,
                                         tessera_train_report* report);

#ifdef __cplusplus
}
#endif

#endif /* TESSERA_TESSERA_H */
