/* The C API from C (C11, no C++ anywhere in this program): version and
 * errors, loading the bundled model, segmenting a phantom held in memory
 * sparse and dense and comparing the labels with `tessera segment`'s output
 * of the same file bit for bit, statistics, progress and cancellation, and
 * malformed input refused with a message and no result.
 *
 *   tessera_c_api_test CT.nii.gz CLI_SPARSE.nii CLI_DENSE.nii SCRATCH_DIR */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tessera/tessera.h"

static int failures = 0;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                              \
    }                                                                          \
  } while (0)

/* A call that must succeed; on failure prints the library's message. */
#define CHECK_OK(call)                                                          \
  do {                                                                          \
    tessera_status status_ = (call);                                            \
    if (status_ != TESSERA_OK) {                                                \
      fprintf(stderr, "%s:%d: %s returned %s: %s\n", __FILE__, __LINE__, #call, \
              tessera_status_name(status_), tessera_last_error());              \
      ++failures;                                                               \
    }                                                                           \
  } while (0)

/* A call that must fail with `expected` and say why. */
#define CHECK_FAILS(call, expected)                                                               \
  do {                                                                                            \
    tessera_status status_ = (call);                                                              \
    if (status_ != (expected) || tessera_last_error()[0] == '\0') {                               \
      fprintf(stderr, "%s:%d: %s returned %s (\"%s\"), expected %s\n", __FILE__, __LINE__, #call, \
              tessera_status_name(status_), tessera_last_error(), tessera_status_name(expected)); \
      ++failures;                                                                                 \
    }                                                                                             \
  } while (0)

static int64_t voxel_count(const tessera_geometry* g) {
  return g->size[0] * g->size[1] * g->size[2];
}

static int same_geometry(const tessera_geometry* a, const tessera_geometry* b) {
  for (int i = 0; i < 3; ++i) {
    if (a->size[i] != b->size[i]) return 0;
    if (fabs(a->spacing[i] - b->spacing[i]) > 1e-6) return 0;
    if (fabs(a->origin[i] - b->origin[i]) > 1e-4) return 0;
  }
  for (int i = 0; i < 9; ++i)
    if (fabs(a->direction[i] - b->direction[i]) > 1e-6) return 0;
  return 1;
}

/* Voxels where `labels` differs from the label file at `path`; -1 when the
 * file cannot be read or its geometry differs. */
static int64_t differences_from_file(const tessera_segmentation* seg, const char* path) {
  tessera_volume* expected = NULL;
  if (tessera_volume_read(path, &expected) != TESSERA_OK) {
    fprintf(stderr, "cannot read %s: %s\n", path, tessera_last_error());
    return -1;
  }
  tessera_image image;
  tessera_geometry geometry;
  tessera_volume_image(expected, &image);
  tessera_segmentation_geometry(seg, &geometry);
  int64_t differ = -1;
  if (same_geometry(&image.geometry, &geometry)) {
    const int16_t* want = (const int16_t*)image.data;
    const uint8_t* got = tessera_segmentation_labels(seg);
    differ = 0;
    for (int64_t i = 0; i < voxel_count(&geometry); ++i) differ += want[i] != got[i];
  }
  tessera_volume_free(expected);
  return differ;
}

struct progress_log {
  int calls;
  double last;
  int decreasing;
  int cancel_after; /* calls; 0: never cancel */
};

static int record_progress(double fraction, double eta, const char* message, void* user) {
  struct progress_log* log = (struct progress_log*)user;
  (void)eta;
  if (fraction < log->last) log->decreasing = 1;
  if (message == NULL) log->decreasing = 1;
  log->last = fraction;
  ++log->calls;
  return log->cancel_after > 0 && log->calls >= log->cancel_after;
}

static int file_exists(const char* path) {
  struct stat st;
  return stat(path, &st) == 0;
}

int main(int argc, char** argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s CT CLI_SPARSE CLI_DENSE SCRATCH_DIR\n", argv[0]);
    return 2;
  }
  const char* ct_path = argv[1];
  char path[4096];

  /* Version and status names. */
  CHECK(tessera_abi_version() == TESSERA_ABI_VERSION);
  CHECK(strcmp(tessera_version(), TESSERA_EXPECTED_VERSION) == 0);
  CHECK(strcmp(tessera_status_name(TESSERA_OK), "ok") == 0);
  CHECK(strcmp(tessera_status_name(TESSERA_CANCELLED), "cancelled") == 0);
  CHECK(strcmp(tessera_status_name((tessera_status)99), "unknown status") == 0);

  /* A model that does not exist: an error naming it, no handle. */
  tessera_model* model = (tessera_model*)&failures;
  CHECK_FAILS(tessera_model_load("/nonexistent/model.onnx", &model), TESSERA_NOT_FOUND);
  CHECK(model == NULL);
  CHECK(strstr(tessera_last_error(), "/nonexistent/model.onnx") != NULL);
  CHECK_FAILS(tessera_model_load(NULL, NULL), TESSERA_INVALID_ARGUMENT);

  /* The bundled model ($TESSERA_MODEL_DIR). */
  CHECK_OK(tessera_model_load(NULL, &model));
  if (model == NULL) return 1;
  CHECK(tessera_model_name(model)[0] != '\0');
  CHECK(strstr(tessera_model_path(model), "resources/models/tessera-default.onnx") != NULL);
  CHECK(tessera_model_label_count(model) == 10);
  tessera_label label;
  CHECK_OK(tessera_model_label(model, 0, &label));
  CHECK(label.value == 0 && strcmp(label.name, "background") == 0);
  CHECK_OK(tessera_model_label(model, 5, &label));
  CHECK(label.value == 5 && strcmp(label.name, "liver") == 0);
  CHECK_FAILS(tessera_model_label(model, 10, &label), TESSERA_INVALID_ARGUMENT);
  CHECK_FAILS(tessera_model_label(model, -1, &label), TESSERA_INVALID_ARGUMENT);

  /* Reading the phantom. */
  tessera_volume* volume = NULL;
  CHECK_FAILS(tessera_volume_read("/nonexistent/ct.nii.gz", &volume), TESSERA_NOT_FOUND);
  CHECK(volume == NULL);
  CHECK_OK(tessera_volume_read(ct_path, &volume));
  if (volume == NULL) return 1;
  tessera_image ct;
  CHECK_OK(tessera_volume_image(volume, &ct));
  CHECK(ct.pixel_type == TESSERA_PIXEL_INT16);
  const int64_t n = voxel_count(&ct.geometry);
  CHECK(n > 0);

  /* Sparse, with progress: the same labels as `tessera segment`. */
  tessera_segment_options options;
  tessera_segment_options_init(&options);
  CHECK(options.struct_size == sizeof options && options.mode == TESSERA_MODE_SPARSE);
  struct progress_log log = {0, 0.0, 0, 0};
  options.progress = record_progress;
  options.user_data = &log;
  tessera_segmentation* sparse = NULL;
  CHECK_OK(tessera_segment(model, &ct, &options, &sparse));
  if (sparse == NULL) return 1;
  CHECK(differences_from_file(sparse, argv[2]) == 0);
  CHECK(log.calls >= 2 && !log.decreasing && log.last == 1.0);

  tessera_stats stats;
  memset(&stats, 0, sizeof stats);
  stats.struct_size = sizeof stats;
  CHECK_OK(tessera_segmentation_stats(sparse, &stats));
  CHECK(stats.slices == ct.geometry.size[2]);
  CHECK(stats.active_fraction > 0.0 && stats.active_fraction < 1.0);
  CHECK(stats.flops > 0.0 && stats.flops < stats.dense_flops);
  CHECK(stats.seconds >= stats.engine_seconds && stats.engine_seconds > 0.0);
  stats.struct_size = sizeof stats - 1;
  CHECK_FAILS(tessera_segmentation_stats(sparse, &stats), TESSERA_INVALID_ARGUMENT);

  /* Per-label measurements add up to the labelled voxels. */
  const uint8_t* labels = tessera_segmentation_labels(sparse);
  int64_t labelled = 0;
  for (int64_t i = 0; i < n; ++i) labelled += labels[i] != 0;
  const int64_t count = tessera_segmentation_label_stats_count(sparse);
  CHECK(count > 0 && count < 10);
  const double voxel_ml =
      ct.geometry.spacing[0] * ct.geometry.spacing[1] * ct.geometry.spacing[2] / 1000.0;
  int64_t measured = 0;
  int last_value = 0;
  for (int64_t i = 0; i < count; ++i) {
    tessera_label_stats ls;
    memset(&ls, 0, sizeof ls);
    ls.struct_size = sizeof ls;
    CHECK_OK(tessera_segmentation_label_stats(sparse, i, &ls));
    CHECK(ls.label.value > last_value && ls.label.name[0] != '\0');
    last_value = ls.label.value;
    CHECK(fabs(ls.volume_ml - (double)ls.voxels * voxel_ml) < 1e-6 * (1.0 + ls.volume_ml));
    CHECK(ls.p05_hu <= ls.median_hu && ls.median_hu <= ls.p95_hu && ls.sd_hu >= 0.0);
    measured += ls.voxels;
  }
  CHECK(measured == labelled);
  tessera_label_stats ls;
  ls.struct_size = sizeof ls;
  CHECK_FAILS(tessera_segmentation_label_stats(sparse, count, &ls), TESSERA_INVALID_ARGUMENT);

  /* Writing the labels: a file equal to what was segmented; a folder that
   * does not exist is an error and leaves nothing. */
  snprintf(path, sizeof path, "%s/c_api_sparse.nii", argv[4]);
  remove(path);
  CHECK_OK(tessera_segmentation_write(sparse, path));
  CHECK(differences_from_file(sparse, path) == 0);
  snprintf(path, sizeof path, "%s/missing/c_api.nii", argv[4]);
  CHECK(tessera_segmentation_write(sparse, path) != TESSERA_OK);
  CHECK(!file_exists(path));

  /* Dense: `tessera segment --mode dense`'s labels, every block computed. */
  options.mode = TESSERA_MODE_DENSE;
  options.progress = NULL;
  tessera_segmentation* dense = NULL;
  CHECK_OK(tessera_segment(model, &ct, &options, &dense));
  if (dense != NULL) {
    CHECK(differences_from_file(dense, argv[3]) == 0);
    stats.struct_size = sizeof stats;
    CHECK_OK(tessera_segmentation_stats(dense, &stats));
    CHECK(stats.active_fraction == 1.0 && stats.flops == stats.dense_flops);
    tessera_segmentation_free(dense);
  }

  /* The same CT as float32 HU: the same labels. */
  float* hu = (float*)malloc((size_t)n * sizeof(float));
  for (int64_t i = 0; i < n; ++i) hu[i] = (float)((const int16_t*)ct.data)[i];
  tessera_image floats = ct;
  floats.data = hu;
  floats.pixel_type = TESSERA_PIXEL_FLOAT32;
  tessera_segmentation* from_floats = NULL;
  CHECK_OK(tessera_segment(model, &floats, NULL, &from_floats));
  if (from_floats != NULL) {
    CHECK(memcmp(tessera_segmentation_labels(from_floats), labels, (size_t)n) == 0);
    tessera_segmentation_free(from_floats);
  }

  /* Writing a CT from memory and reading it back. */
  snprintf(path, sizeof path, "%s/c_api_ct.nrrd", argv[4]);
  remove(path);
  CHECK_OK(tessera_image_write(&floats, path));
  tessera_volume* reread = NULL;
  CHECK_OK(tessera_volume_read(path, &reread));
  if (reread != NULL) {
    tessera_image back;
    tessera_volume_image(reread, &back);
    CHECK(same_geometry(&back.geometry, &ct.geometry));
    CHECK(memcmp(back.data, ct.data, (size_t)n * sizeof(int16_t)) == 0);
    tessera_volume_free(reread);
  }
  snprintf(path, sizeof path, "%s/c_api_ct.xyz", argv[4]);
  CHECK(tessera_image_write(&ct, path) != TESSERA_OK);
  CHECK(!file_exists(path));

  /* Plugin stages: an unknown stage and a relative folder are refused. */
  tessera_segment_options staged;
  tessera_segment_options_init(&staged);
  CHECK(staged.stages == NULL && staged.plugins == NULL);
  staged.stages = "largest_component";
  staged.plugins = "relative/plugins";
  tessera_segmentation* refused = NULL;
  CHECK_FAILS(tessera_segment(model, &ct, &staged, &refused), TESSERA_INVALID_ARGUMENT);
  CHECK(strstr(tessera_last_error(), "absolute") != NULL && refused == NULL);
  CHECK(tessera_segmentation_stage_report_count(sparse) == 0);
  const char* key = NULL;
  double value = 0;
  CHECK_FAILS(tessera_segmentation_stage_report(sparse, 0, &key, &value), TESSERA_INVALID_ARGUMENT);

  /* Cancelling from the progress callback: TESSERA_CANCELLED, no result. */
  struct progress_log cancelling = {0, 0.0, 0, 2};
  options.mode = TESSERA_MODE_SPARSE;
  options.progress = record_progress;
  options.user_data = &cancelling;
  tessera_segmentation* cancelled = (tessera_segmentation*)&failures;
  CHECK_FAILS(tessera_segment(model, &ct, &options, &cancelled), TESSERA_CANCELLED);
  CHECK(cancelled == NULL);

  /* Malformed input: refused with a message, no result. */
  tessera_segmentation* none = NULL;
  CHECK_FAILS(tessera_segment(model, NULL, NULL, &none), TESSERA_INVALID_ARGUMENT);
  CHECK_FAILS(tessera_segment(NULL, &ct, NULL, &none), TESSERA_INVALID_ARGUMENT);
  CHECK_FAILS(tessera_segment(model, &ct, NULL, NULL), TESSERA_INVALID_ARGUMENT);
  tessera_image bad = ct;
  bad.data = NULL;
  CHECK_FAILS(tessera_segment(model, &bad, NULL, &none), TESSERA_INVALID_ARGUMENT);
  bad = ct;
  bad.pixel_type = (tessera_pixel_type)7;
  CHECK_FAILS(tessera_segment(model, &bad, NULL, &none), TESSERA_INVALID_ARGUMENT);
  bad = ct;
  bad.geometry.size[2] = 0;
  CHECK_FAILS(tessera_segment(model, &bad, NULL, &none), TESSERA_INVALID_ARGUMENT);
  bad = ct;
  bad.geometry.size[0] = bad.geometry.size[1] = bad.geometry.size[2] = (int64_t)1 << 40;
  CHECK(tessera_segment(model, &bad, NULL, &none) != TESSERA_OK);
  bad = ct;
  bad.geometry.spacing[0] = -1.0;
  CHECK_FAILS(tessera_segment(model, &bad, NULL, &none), TESSERA_INVALID_ARGUMENT);
  bad = ct;
  bad.geometry.direction[0] = 2.0;
  CHECK_FAILS(tessera_segment(model, &bad, NULL, &none), TESSERA_INVALID_ARGUMENT);
  hu[n / 2] = NAN;
  CHECK_FAILS(tessera_segment(model, &floats, NULL, &none), TESSERA_INVALID_ARGUMENT);
  hu[n / 2] = 40000.0f;
  CHECK_FAILS(tessera_segment(model, &floats, NULL, &none), TESSERA_INVALID_ARGUMENT);
  tessera_segment_options old = options;
  old.struct_size = sizeof old - 1;
  CHECK_FAILS(tessera_segment(model, &ct, &old, &none), TESSERA_INVALID_ARGUMENT);
  old = options;
  old.progress = NULL;
  old.mode = (tessera_mode)5;
  CHECK_FAILS(tessera_segment(model, &ct, &old, &none), TESSERA_INVALID_ARGUMENT);
  old.mode = TESSERA_MODE_DENSE;
  old.threads = -2;
  CHECK_FAILS(tessera_segment(model, &ct, &old, &none), TESSERA_INVALID_ARGUMENT);
  CHECK(none == NULL);
  free(hu);

  /* Training options: names are the command line's; bad values are refused
   * by tessera_train before anything is written. */
  tessera_train_options* train = NULL;
  CHECK_OK(tessera_train_options_new(&train));
  if (train != NULL) {
    CHECK_FAILS(tessera_train_options_set(train, "stepz", "3"), TESSERA_INVALID_ARGUMENT);
    CHECK(strstr(tessera_last_error(), "known:") != NULL);
    CHECK_FAILS(tessera_train_options_set(train, "resume", "maybe"), TESSERA_INVALID_ARGUMENT);
    CHECK_FAILS(tessera_train(train, NULL, NULL, NULL), TESSERA_INVALID_ARGUMENT);
    CHECK(strstr(tessera_last_error(), "--out") != NULL);
    snprintf(path, sizeof path, "%s/c_api_train", argv[4]);
    CHECK_OK(tessera_train_options_set(train, "out", path));
    CHECK_OK(tessera_train_options_set(train, "steps", "0"));
    tessera_train_report report;
    report.struct_size = sizeof report;
    CHECK_FAILS(tessera_train(train, NULL, NULL, &report), TESSERA_INVALID_ARGUMENT);
    CHECK(strstr(tessera_last_error(), "--steps") != NULL);
    CHECK_OK(tessera_train_options_set(train, "steps", "2"));
    CHECK_OK(tessera_train_options_set(train, "checkpointing", "sometimes"));
    CHECK_FAILS(tessera_train(train, NULL, NULL, &report), TESSERA_INVALID_ARGUMENT);
    CHECK(!file_exists(path));
    tessera_train_options_free(train);
  }
  tessera_train_options_free(NULL);

  tessera_segmentation_free(sparse);
  tessera_volume_free(volume);
  tessera_model_free(model);
  /* Freeing nothing is allowed, as free(NULL) is. */
  tessera_model_free(NULL);
  tessera_segmentation_free(NULL);
  tessera_volume_free(NULL);

  if (failures)
    fprintf(stderr, "%d checks failed\n", failures);
  else
    printf("all C API checks passed\n");
  return failures ? 1 : 0;
}
