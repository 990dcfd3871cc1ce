/* A Tessera layer plugin: GroupNorm (Wu & He, 2018) with 8 groups,
 *   y = gamma[c] * (x - mean[n,g]) / sqrt(var[n,g] + 1e-5) + beta[c]
 * over the channels of group g and every pixel of sample n (biased
 * variance). No running statistics: training and inference agree, and the
 * result does not depend on the batch.
 *
 *   tessera train --plugins /abs/dir --layers group_norm@stages ...
 *
 * Parameters on C channels (C a multiple of 8): weight (1, C, 1, 1), ones;
 * bias (1, C, 1, 1), zeros.
 *
 * Sparse inference: the statistics cover every pixel (inactive ones hold
 * the network's values on air); only active pixels are normalised. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <tessera/plugin.h>

TESSERA_PLUGIN_EXPORT const uint32_t tessera_plugin_abi = TESSERA_PLUGIN_ABI_VERSION;

enum { kGroups = 8 };
static const double kEps = 1e-5;

static int parameters(int64_t channels, tessera_layer_parameter* out, int capacity, char* error,
                      size_t error_size) {
  if (channels % kGroups != 0) {
    snprintf(error, error_size, "group_norm needs channels divisible by %d, not %lld", kGroups,
             (long long)channels);
    return -1;
  }
  if (capacity < 2) return 2;
  const tessera_layer_parameter weight = {"weight", {1, channels, 1, 1}, TESSERA_INIT_ONES, 0.0};
  const tessera_layer_parameter bias = {"bias", {1, channels, 1, 1}, TESSERA_INIT_ZEROS, 0.0};
  out[0] = weight;
  out[1] = bias;
  return 2;
}

/* ---------------------------------------------------------------- reference
 * The formulas as written: two passes for the statistics, per element. */

static void statistics_reference(const tessera_tensor* x, int64_t n, int64_t g, double* mean,
                                 double* inv_std) {
  const int64_t per = x->c / kGroups, hw = x->h * x->w;
  double sum = 0;
  for (int64_t c = g * per; c < (g + 1) * per; ++c)
    for (int64_t p = 0; p < hw; ++p) sum += x->data[(n * x->c + c) * hw + p];
  const double m = sum / (double)(per * hw);
  double squares = 0;
  for (int64_t c = g * per; c < (g + 1) * per; ++c)
    for (int64_t p = 0; p < hw; ++p) {
      const double d = x->data[(n * x->c + c) * hw + p] - m;
      squares += d * d;
    }
  *mean = m;
  *inv_std = 1.0 / sqrt(squares / (double)(per * hw) + kEps);
}

static int forward_reference(const tessera_layer_call* call, char* error, size_t error_size) {
  (void)error;
  (void)error_size;
  const tessera_tensor* x = &call->x;
  const float* gamma = call->parameters[0].data;
  const float* beta = call->parameters[1].data;
  const int64_t per = x->c / kGroups, hw = x->h * x->w;
  for (int64_t n = 0; n < x->n; ++n)
    for (int64_t g = 0; g < kGroups; ++g) {
      double mean, inv;
      statistics_reference(x, n, g, &mean, &inv);
      for (int64_t c = g * per; c < (g + 1) * per; ++c)
        for (int64_t p = 0; p < hw; ++p) {
          const int64_t i = (n * x->c + c) * hw + p;
          call->y.data[i] = (float)(gamma[c] * (x->data[i] - mean) * inv + beta[c]);
        }
    }
  return 0;
}

/* With x̂ = (x − mean)·inv and g = dy·gamma, per sample and group:
 *   dx = inv · (g − mean(g) − x̂ · mean(g · x̂)),
 *   dgamma[c] = Σ dy·x̂,  dbeta[c] = Σ dy  (over samples and pixels). */
static int backward_reference(const tessera_layer_call* call, char* error, size_t error_size) {
  (void)error;
  (void)error_size;
  const tessera_tensor* x = &call->x;
  const float* gamma = call->parameters[0].data;
  float* dgamma = call->dparameters[0].data;
  float* dbeta = call->dparameters[1].data;
  const int64_t per = x->c / kGroups, hw = x->h * x->w, count = per * hw;
  for (int64_t c = 0; c < x->c; ++c) dgamma[c] = dbeta[c] = 0.0f;
  for (int64_t n = 0; n < x->n; ++n)
    for (int64_t g = 0; g < kGroups; ++g) {
      double mean, inv;
      statistics_reference(x, n, g, &mean, &inv);
      double mg = 0, mgx = 0;
      for (int64_t c = g * per; c < (g + 1) * per; ++c) {
        double sdg = 0, sdb = 0;
        for (int64_t p = 0; p < hw; ++p) {
          const int64_t i = (n * x->c + c) * hw + p;
          const double xhat = (x->data[i] - mean) * inv, dy = call->dy.data[i];
          sdg += dy * xhat;
          sdb += dy;
          mg += dy * gamma[c];
          mgx += dy * gamma[c] * xhat;
        }
        dgamma[c] += (float)sdg;
        dbeta[c] += (float)sdb;
      }
      mg /= (double)count;
      mgx /= (double)count;
      if (!call->dx.data) continue;
      for (int64_t c = g * per; c < (g + 1) * per; ++c)
        for (int64_t p = 0; p < hw; ++p) {
          const int64_t i = (n * x->c + c) * hw + p;
          const double xhat = (x->data[i] - mean) * inv;
          call->dx.data[i] = (float)(inv * (call->dy.data[i] * gamma[c] - mg - xhat * mgx));
        }
    }
  return 0;
}

/* ---------------------------------------------------------------------- CPU
 * One pass of sums for the statistics, groups in parallel (OpenMP), and in
 * sparse inference only the active pixels normalised. */

static void statistics_cpu(const float* plane, int64_t count, double* mean, double* inv_std) {
  double sum = 0, squares = 0;
  for (int64_t i = 0; i < count; ++i) {
    sum += plane[i];
    squares += (double)plane[i] * plane[i];
  }
  const double m = sum / (double)count;
  const double var = squares / (double)count - m * m;
  *mean = m;
  *inv_std = 1.0 / sqrt((var > 0 ? var : 0) + kEps);
}

static int forward_cpu(const tessera_layer_call* call, char* error, size_t error_size) {
  (void)error;
  (void)error_size;
  const tessera_tensor* x = &call->x;
  const float* gamma = call->parameters[0].data;
  const float* beta = call->parameters[1].data;
  const int64_t per = x->c / kGroups, hw = x->h * x->w;
  const int64_t tasks = x->n * kGroups;
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t n = t / kGroups, g = t % kGroups;
    const int64_t first = (n * x->c + g * per) * hw;
    double mean, inv;
    statistics_cpu(x->data + first, per * hw, &mean, &inv);
    const uint8_t* active = call->active ? call->active + n * hw : NULL;
    for (int64_t c = g * per; c < (g + 1) * per; ++c) {
      const float scale = (float)(gamma[c] * inv);
      const float shift = (float)(beta[c] - mean * gamma[c] * inv);
      const float* in = x->data + (n * x->c + c) * hw;
      float* out = call->y.data + (n * x->c + c) * hw;
      for (int64_t p = 0; p < hw; ++p)
        if (!active || active[p]) out[p] = in[p] * scale + shift;
    }
  }
  return 0;
}

static int backward_cpu(const tessera_layer_call* call, char* error, size_t error_size) {
  (void)error;
  (void)error_size;
  const tessera_tensor* x = &call->x;
  const float* gamma = call->parameters[0].data;
  float* dgamma = call->dparameters[0].data;
  float* dbeta = call->dparameters[1].data;
  const int64_t per = x->c / kGroups, hw = x->h * x->w, count = per * hw;
  /* Groups in parallel, samples inside: each thread owns its channels' gradients. */
#pragma omp parallel for schedule(static)
  for (int64_t g = 0; g < kGroups; ++g) {
    for (int64_t c = g * per; c < (g + 1) * per; ++c) dgamma[c] = dbeta[c] = 0.0f;
    for (int64_t n = 0; n < x->n; ++n) {
      const int64_t first = (n * x->c + g * per) * hw;
      double mean, inv;
      statistics_cpu(x->data + first, count, &mean, &inv);
      double mg = 0, mgx = 0;
      for (int64_t c = g * per; c < (g + 1) * per; ++c) {
        const float* in = x->data + (n * x->c + c) * hw;
        const float* dy = call->dy.data + (n * x->c + c) * hw;
        double a = 0, b = 0;
        for (int64_t p = 0; p < hw; ++p) {
          a += dy[p] * ((in[p] - mean) * inv);
          b += dy[p];
        }
        dgamma[c] += (float)a;
        dbeta[c] += (float)b;
        mg += gamma[c] * b;
        mgx += gamma[c] * a;
      }
      mg /= (double)count;
      mgx /= (double)count;
      if (!call->dx.data) continue;
      for (int64_t c = g * per; c < (g + 1) * per; ++c) {
        const float* in = x->data + (n * x->c + c) * hw;
        const float* dy = call->dy.data + (n * x->c + c) * hw;
        float* dx = call->dx.data + (n * x->c + c) * hw;
        for (int64_t p = 0; p < hw; ++p)
          dx[p] = (float)(inv * (dy[p] * gamma[c] - mg - (in[p] - mean) * inv * mgx));
      }
    }
  }
  return 0;
}

static const tessera_layer layers[] = {
    {"group_norm", "GroupNorm, 8 groups, affine (weight, bias per channel)", parameters,
     forward_reference, backward_reference, forward_cpu, backward_cpu},
};
static const tessera_plugin plugin = {"group-norm", "1.0", 0, NULL, 1, layers};

TESSERA_PLUGIN_EXPORT const tessera_plugin* tessera_plugin_entry(void) {
  return &plugin;
}
