/* A Tessera layer plugin: windowed self-attention (as in Swin's W-MSA, one
 * head, no shift) for the U-Net's bottleneck. Pixels attend to the pixels
 * of their 8×8 window (windows at the right and bottom edges are cut
 * short), with a residual:
 *   q, k, v = W_qkv·x + b_qkv          (1×1 projections, C → 3C)
 *   z_p = Σ_t softmax_t(q_p·k_t / sqrt(C)) v_t   (t in p's window)
 *   y_p = x_p + W_o·z_p + b_o
 *
 *   tessera train --plugins /abs/dir --heads 0 --layers window_attention@bottleneck ...
 *
 * Parameters on C channels: qkv_weight (3C, C, 1, 1) and out_weight
 * (C, C, 1, 1), normal with std 1/sqrt(C) (out: a tenth of it, so the layer
 * starts near the identity); qkv_bias (1, 3C, 1, 1), out_bias (1, C, 1, 1),
 * zeros.
 *
 * Sparse inference: only windows holding an active pixel are computed, and
 * there only the active pixels' queries and outputs; keys and values come
 * from every pixel of the window. Memory: the CPU version keeps q, k, v of
 * one sample (3·C·H·W floats; at a 32×32 bottleneck of 256 channels, 3 MB),
 * its backward also their gradients. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tessera/plugin.h>

TESSERA_PLUGIN_EXPORT const uint32_t tessera_plugin_abi = TESSERA_PLUGIN_ABI_VERSION;

enum { kWindow = 8, kMaxTokens = kWindow * kWindow };

static int parameters(int64_t channels, tessera_layer_parameter* out, int capacity, char* error,
                      size_t error_size) {
  if (channels < 1 || channels > 4096) {
    snprintf(error, error_size, "window_attention takes 1 to 4096 channels, not %lld",
             (long long)channels);
    return -1;
  }
  if (capacity < 4) return 4;
  const double std = 1.0 / sqrt((double)channels);
  const tessera_layer_parameter p[4] = {
      {"qkv_weight", {3 * channels, channels, 1, 1}, TESSERA_INIT_NORMAL, std},
      {"qkv_bias", {1, 3 * channels, 1, 1}, TESSERA_INIT_ZEROS, 0.0},
      {"out_weight", {channels, channels, 1, 1}, TESSERA_INIT_NORMAL, 0.1 * std},
      {"out_bias", {1, channels, 1, 1}, TESSERA_INIT_ZEROS, 0.0},
  };
  memcpy(out, p, sizeof p);
  return 4;
}

/* The pixels of window (wy, wx) of an h×w plane, in row order. */
static int window_pixels(int64_t h, int64_t w, int64_t wy, int64_t wx, int64_t* pixels) {
  int count = 0;
  for (int64_t y = wy * kWindow; y < h && y < (wy + 1) * kWindow; ++y)
    for (int64_t x = wx * kWindow; x < w && x < (wx + 1) * kWindow; ++x)
      pixels[count++] = y * w + x;
  return count;
}

/* ---------------------------------------------------------------- reference
 * Per element as the formulas read, one window after another. */

/* out[o] = b[o] + Σ_i W[o][i]·x[i] at pixel p of sample n. */
static double project(const tessera_tensor* x, const float* weight, const float* bias, int64_t row,
                      int64_t n, int64_t p) {
  const int64_t c = x->c, hw = x->h * x->w;
  double sum = bias[row];
  for (int64_t i = 0; i < c; ++i)
    sum += (double)weight[row * c + i] * x->data[(n * c + i) * hw + p];
  return sum;
}

/* Attention weights a[s][t] of one window, and z[s][i]. q, k, v: [token][C]. */
static void attend_reference(int64_t c, int tokens, const double* q, const double* k,
                             const double* v, double* a, double* z) {
  const double scale = 1.0 / sqrt((double)c);
  for (int s = 0; s < tokens; ++s) {
    double top = -INFINITY;
    for (int t = 0; t < tokens; ++t) {
      double dot = 0;
      for (int64_t i = 0; i < c; ++i) dot += q[s * c + i] * k[t * c + i];
      a[s * tokens + t] = dot * scale;
      if (a[s * tokens + t] > top) top = a[s * tokens + t];
    }
    double sum = 0;
    for (int t = 0; t < tokens; ++t) sum += a[s * tokens + t] = exp(a[s * tokens + t] - top);
    for (int t = 0; t < tokens; ++t) a[s * tokens + t] /= sum;
    for (int64_t i = 0; i < c; ++i) {
      double mix = 0;
      for (int t = 0; t < tokens; ++t) mix += a[s * tokens + t] * v[t * c + i];
      z[s * c + i] = mix;
    }
  }
}

typedef struct {
  double *q, *k, *v, *a, *z;
} window_buffers;

static int allocate(window_buffers* b, int64_t c) {
  const size_t n = (size_t)(kMaxTokens * c);
  b->q = malloc(n * sizeof(double));
  b->k = malloc(n * sizeof(double));
  b->v = malloc(n * sizeof(double));
  b->z = malloc(n * sizeof(double));
  b->a = malloc(kMaxTokens * kMaxTokens * sizeof(double));
  return b->q && b->k && b->v && b->z && b->a;
}

static void release(window_buffers* b) {
  free(b->q);
  free(b->k);
  free(b->v);
  free(b->z);
  free(b->a);
}

/* Projections and attention of one window of the reference. */
static void window_reference(const tessera_layer_call* call, int64_t n, const int64_t* pixels,
                             int tokens, window_buffers* b) {
  const tessera_tensor* x = &call->x;
  const int64_t c = x->c;
  const float* wqkv = call->parameters[0].data;
  const float* bqkv = call->parameters[1].data;
  for (int s = 0; s < tokens; ++s)
    for (int64_t o = 0; o < c; ++o) {
      b->q[s * c + o] = project(x, wqkv, bqkv, o, n, pixels[s]);
      b->k[s * c + o] = project(x, wqkv, bqkv, c + o, n, pixels[s]);
      b->v[s * c + o] = project(x, wqkv, bqkv, 2 * c + o, n, pixels[s]);
    }
  attend_reference(c, tokens, b->q, b->k, b->v, b->a, b->z);
}

static int forward_reference(const tessera_layer_call* call, char* error, size_t error_size) {
  const tessera_tensor* x = &call->x;
  const int64_t c = x->c, h = x->h, w = x->w, hw = h * w;
  const float* wo = call->parameters[2].data;
  const float* bo = call->parameters[3].data;
  window_buffers b;
  if (!allocate(&b, c)) {
    release(&b);
    snprintf(error, error_size, "out of memory");
    return 1;
  }
  int64_t pixels[kMaxTokens];
  for (int64_t n = 0; n < x->n; ++n)
    for (int64_t wy = 0; wy * kWindow < h; ++wy)
      for (int64_t wx = 0; wx * kWindow < w; ++wx) {
        const int tokens = window_pixels(h, w, wy, wx, pixels);
        window_reference(call, n, pixels, tokens, &b);
        for (int s = 0; s < tokens; ++s)
          for (int64_t o = 0; o < c; ++o) {
            double sum = bo[o];
            for (int64_t i = 0; i < c; ++i) sum += (double)wo[o * c + i] * b.z[s * c + i];
            const int64_t at = (n * c + o) * hw + pixels[s];
            call->y.data[at] = (float)(x->data[at] + sum);
          }
      }
  release(&b);
  return 0;
}

/* Backward of one window, as the chain rule reads (ds = a ⊙ (da − Σ a·da)). */
static int backward_reference(const tessera_layer_call* call, char* error, size_t error_size) {
  const tessera_tensor* x = &call->x;
  const int64_t c = x->c, h = x->h, w = x->w, hw = h * w;
  const float* wqkv = call->parameters[0].data;
  const float* wo = call->parameters[2].data;
  float* dwqkv = call->dparameters[0].data;
  float* dbqkv = call->dparameters[1].data;
  float* dwo = call->dparameters[2].data;
  float* dbo = call->dparameters[3].data;
  memset(dwqkv, 0, (size_t)(3 * c * c) * sizeof(float));
  memset(dbqkv, 0, (size_t)(3 * c) * sizeof(float));
  memset(dwo, 0, (size_t)(c * c) * sizeof(float));
  memset(dbo, 0, (size_t)c * sizeof(float));
  if (call->dx.data) memcpy(call->dx.data, call->dy.data, (size_t)(x->n * c * hw) * sizeof(float));
  window_buffers b;
  const size_t per = (size_t)(kMaxTokens * c);
  double* dz = malloc(per * sizeof(double));
  double* dqkv = malloc(3 * per * sizeof(double));
  double* da = malloc(kMaxTokens * kMaxTokens * sizeof(double));
  if (!allocate(&b, c) || !dz || !dqkv || !da) {
    release(&b);
    free(dz);
    free(dqkv);
    free(da);
    snprintf(error, error_size, "out of memory");
    return 1;
  }
  const double scale = 1.0 / sqrt((double)c);
  int64_t pixels[kMaxTokens];
  for (int64_t n = 0; n < x->n; ++n)
    for (int64_t wy = 0; wy * kWindow < h; ++wy)
      for (int64_t wx = 0; wx * kWindow < w; ++wx) {
        const int tokens = window_pixels(h, w, wy, wx, pixels);
        window_reference(call, n, pixels, tokens, &b);
        double* dq = dqkv;
        double* dk = dqkv + per;
        double* dv = dqkv + 2 * per;
        memset(dqkv, 0, 3 * per * sizeof(double));
        for (int s = 0; s < tokens; ++s) {
          for (int64_t i = 0; i < c; ++i) {
            double sum = 0;
            for (int64_t o = 0; o < c; ++o) {
              const double g = call->dy.data[(n * c + o) * hw + pixels[s]];
              sum += (double)wo[o * c + i] * g;
              dwo[o * c + i] += (float)(g * b.z[s * c + i]);
            }
            dz[s * c + i] = sum;
          }
          for (int64_t o = 0; o < c; ++o) dbo[o] += call->dy.data[(n * c + o) * hw + pixels[s]];
        }
        for (int s = 0; s < tokens; ++s) {
          double weighted = 0;
          for (int t = 0; t < tokens; ++t) {
            double d = 0;
            for (int64_t i = 0; i < c; ++i) d += dz[s * c + i] * b.v[t * c + i];
            da[s * tokens + t] = d;
            weighted += b.a[s * tokens + t] * d;
          }
          for (int t = 0; t < tokens; ++t) {
            const double ds = b.a[s * tokens + t] * (da[s * tokens + t] - weighted) * scale;
            for (int64_t i = 0; i < c; ++i) {
              dq[s * c + i] += ds * b.k[t * c + i];
              dk[t * c + i] += ds * b.q[s * c + i];
              dv[t * c + i] += b.a[s * tokens + t] * dz[s * c + i];
            }
          }
        }
        /* Through the projections: rows q, k, v of W_qkv. */
        for (int part = 0; part < 3; ++part)
          for (int s = 0; s < tokens; ++s)
            for (int64_t o = 0; o < c; ++o) {
              const double g = dqkv[part * per + s * c + o];
              const int64_t row = part * c + o;
              dbqkv[row] += (float)g;
              for (int64_t i = 0; i < c; ++i) {
                const int64_t at = (n * c + i) * hw + pixels[s];
                dwqkv[row * c + i] += (float)(g * x->data[at]);
                if (call->dx.data) call->dx.data[at] += (float)(g * wqkv[row * c + i]);
              }
            }
      }
  release(&b);
  free(dz);
  free(dqkv);
  free(da);
  return 0;
}

/* ---------------------------------------------------------------------- CPU
 * Projections of a whole sample at once (rows in parallel), then windows in
 * parallel (OpenMP), skipping inactive windows and queries in sparse
 * inference. Float storage, double sums. */

/* out[(row)·hw + p] = b[row] + Σ_i W[row][i]·x[i][p], rows [0, rows). */
static void project_all(const float* x, int64_t c, int64_t hw, const float* weight,
                        const float* bias, int64_t rows, const uint8_t* pixel_needed, float* out) {
#pragma omp parallel for schedule(static)
  for (int64_t row = 0; row < rows; ++row) {
    float* o = out + row * hw;
    for (int64_t p = 0; p < hw; ++p) o[p] = bias[row];
    for (int64_t i = 0; i < c; ++i) {
      const float wi = weight[row * c + i];
      const float* xi = x + i * hw;
      for (int64_t p = 0; p < hw; ++p)
        if (!pixel_needed || pixel_needed[p]) o[p] += wi * xi[p];
    }
  }
}

static int forward_cpu(const tessera_layer_call* call, char* error, size_t error_size) {
  const tessera_tensor* x = &call->x;
  const int64_t c = x->c, h = x->h, w = x->w, hw = h * w;
  const int64_t wys = (h + kWindow - 1) / kWindow, wxs = (w + kWindow - 1) / kWindow;
  const float* wqkv = call->parameters[0].data;
  const float* bqkv = call->parameters[1].data;
  const float* wo = call->parameters[2].data;
  const float* bo = call->parameters[3].data;
  const double scale = 1.0 / sqrt((double)c);
  float* qkv = malloc((size_t)(3 * c * hw) * sizeof(float));
  float* z = malloc((size_t)(c * hw) * sizeof(float));
  uint8_t* needed = malloc((size_t)hw);
  if (!qkv || !z || !needed) {
    free(qkv);
    free(z);
    free(needed);
    snprintf(error, error_size, "out of memory");
    return 1;
  }
  for (int64_t n = 0; n < x->n; ++n) {
    const uint8_t* active = call->active ? call->active + n * hw : NULL;
    /* A pixel's keys and values are needed when its window has an active pixel. */
    for (int64_t wy = 0; wy < wys; ++wy)
      for (int64_t wx = 0; wx < wxs; ++wx) {
        int64_t pixels[kMaxTokens];
        const int tokens = window_pixels(h, w, wy, wx, pixels);
        uint8_t any = 0;
        for (int s = 0; s < tokens && !any; ++s) any = !active || active[pixels[s]];
        for (int s = 0; s < tokens; ++s) needed[pixels[s]] = any;
      }
    const float* xn = x->data + n * c * hw;
    project_all(xn, c, hw, wqkv, bqkv, 3 * c, needed, qkv);
#pragma omp parallel for schedule(dynamic)
    for (int64_t window = 0; window < wys * wxs; ++window) {
      int64_t pixels[kMaxTokens];
      double a[kMaxTokens];
      const int tokens = window_pixels(h, w, window / wxs, window % wxs, pixels);
      if (!needed[pixels[0]]) continue;
      for (int s = 0; s < tokens; ++s) {
        if (active && !active[pixels[s]]) continue;
        double top = -INFINITY;
        for (int t = 0; t < tokens; ++t) {
          double dot = 0;
          for (int64_t i = 0; i < c; ++i)
            dot += (double)qkv[i * hw + pixels[s]] * qkv[(c + i) * hw + pixels[t]];
          a[t] = dot * scale;
          if (a[t] > top) top = a[t];
        }
        double sum = 0;
        for (int t = 0; t < tokens; ++t) sum += a[t] = exp(a[t] - top);
        for (int64_t i = 0; i < c; ++i) {
          double mix = 0;
          for (int t = 0; t < tokens; ++t) mix += a[t] * qkv[(2 * c + i) * hw + pixels[t]];
          z[i * hw + pixels[s]] = (float)(mix / sum);
        }
      }
    }
    /* y = x + W_o·z + b_o at the pixels whose output is wanted. */
    float* yn = call->y.data + n * c * hw;
    project_all(z, c, hw, wo, bo, c, active, yn);
    for (int64_t i = 0; i < c * hw; ++i)
      if (!active || active[i % hw]) yn[i] += xn[i];
  }
  free(qkv);
  free(z);
  free(needed);
  return 0;
}

static int backward_cpu(const tessera_layer_call* call, char* error, size_t error_size) {
  const tessera_tensor* x = &call->x;
  const int64_t c = x->c, h = x->h, w = x->w, hw = h * w;
  const int64_t wys = (h + kWindow - 1) / kWindow, wxs = (w + kWindow - 1) / kWindow;
  const float* wqkv = call->parameters[0].data;
  const float* bqkv = call->parameters[1].data;
  const float* wo = call->parameters[2].data;
  float* dwqkv = call->dparameters[0].data;
  float* dbqkv = call->dparameters[1].data;
  float* dwo = call->dparameters[2].data;
  float* dbo = call->dparameters[3].data;
  const double scale = 1.0 / sqrt((double)c);
  float* qkv = malloc((size_t)(3 * c * hw) * sizeof(float));
  float* dqkv = malloc((size_t)(3 * c * hw) * sizeof(float));
  float* z = malloc((size_t)(c * hw) * sizeof(float));
  float* dz = malloc((size_t)(c * hw) * sizeof(float));
  if (!qkv || !dqkv || !z || !dz) {
    free(qkv);
    free(dqkv);
    free(z);
    free(dz);
    snprintf(error, error_size, "out of memory");
    return 1;
  }
  memset(dwqkv, 0, (size_t)(3 * c * c) * sizeof(float));
  memset(dbqkv, 0, (size_t)(3 * c) * sizeof(float));
  memset(dwo, 0, (size_t)(c * c) * sizeof(float));
  memset(dbo, 0, (size_t)c * sizeof(float));
  for (int64_t n = 0; n < x->n; ++n) {
    const float* xn = x->data + n * c * hw;
    const float* dyn = call->dy.data + n * c * hw;
    project_all(xn, c, hw, wqkv, bqkv, 3 * c, NULL, qkv);
    /* dz = W_oᵀ·dy, per channel in parallel. */
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < c; ++i)
      for (int64_t p = 0; p < hw; ++p) {
        double sum = 0;
        for (int64_t o = 0; o < c; ++o) sum += (double)wo[o * c + i] * dyn[o * hw + p];
        dz[i * hw + p] = (float)sum;
      }
    memset(dqkv, 0, (size_t)(3 * c * hw) * sizeof(float));
    /* Windows in parallel: each writes z, dq, dk, dv of its own pixels only. */
#pragma omp parallel for schedule(dynamic)
    for (int64_t window = 0; window < wys * wxs; ++window) {
      int64_t pixels[kMaxTokens];
      double a[kMaxTokens][kMaxTokens];
      const int tokens = window_pixels(h, w, window / wxs, window % wxs, pixels);
      for (int s = 0; s < tokens; ++s) {
        double top = -INFINITY, sum = 0;
        for (int t = 0; t < tokens; ++t) {
          double dot = 0;
          for (int64_t i = 0; i < c; ++i)
            dot += (double)qkv[i * hw + pixels[s]] * qkv[(c + i) * hw + pixels[t]];
          a[s][t] = dot * scale;
          if (a[s][t] > top) top = a[s][t];
        }
        for (int t = 0; t < tokens; ++t) sum += a[s][t] = exp(a[s][t] - top);
        for (int t = 0; t < tokens; ++t) a[s][t] /= sum;
        for (int64_t i = 0; i < c; ++i) {
          double mix = 0;
          for (int t = 0; t < tokens; ++t) mix += a[s][t] * qkv[(2 * c + i) * hw + pixels[t]];
          z[i * hw + pixels[s]] = (float)mix;
        }
      }
      for (int s = 0; s < tokens; ++s) {
        double da[kMaxTokens], weighted = 0;
        for (int t = 0; t < tokens; ++t) {
          double d = 0;
          for (int64_t i = 0; i < c; ++i)
            d += (double)dz[i * hw + pixels[s]] * qkv[(2 * c + i) * hw + pixels[t]];
          da[t] = d;
          weighted += a[s][t] * d;
        }
        for (int t = 0; t < tokens; ++t) {
          const double ds = a[s][t] * (da[t] - weighted) * scale;
          for (int64_t i = 0; i < c; ++i) {
            dqkv[i * hw + pixels[s]] += (float)(ds * qkv[(c + i) * hw + pixels[t]]);
            dqkv[(c + i) * hw + pixels[t]] += (float)(ds * qkv[i * hw + pixels[s]]);
            dqkv[(2 * c + i) * hw + pixels[t]] += (float)(a[s][t] * dz[i * hw + pixels[s]]);
          }
        }
      }
    }
    /* Parameter gradients, one output row per task. */
#pragma omp parallel for schedule(static)
    for (int64_t row = 0; row < 3 * c; ++row) {
      const float* g = dqkv + row * hw;
      double b = 0;
      for (int64_t p = 0; p < hw; ++p) b += g[p];
      dbqkv[row] += (float)b;
      for (int64_t i = 0; i < c; ++i) {
        double sum = 0;
        for (int64_t p = 0; p < hw; ++p) sum += (double)g[p] * xn[i * hw + p];
        dwqkv[row * c + i] += (float)sum;
      }
    }
#pragma omp parallel for schedule(static)
    for (int64_t o = 0; o < c; ++o) {
      const float* g = dyn + o * hw;
      double b = 0;
      for (int64_t p = 0; p < hw; ++p) b += g[p];
      dbo[o] += (float)b;
      for (int64_t i = 0; i < c; ++i) {
        double sum = 0;
        for (int64_t p = 0; p < hw; ++p) sum += (double)g[p] * z[i * hw + p];
        dwo[o * c + i] += (float)sum;
      }
    }
    if (!call->dx.data) continue;
    /* dx = dy + W_qkvᵀ·dqkv. */
    float* dxn = call->dx.data + n * c * hw;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < c; ++i)
      for (int64_t p = 0; p < hw; ++p) {
        double sum = dyn[i * hw + p];
        for (int64_t row = 0; row < 3 * c; ++row)
          sum += (double)wqkv[row * c + i] * dqkv[row * hw + p];
        dxn[i * hw + p] = (float)sum;
      }
  }
  free(qkv);
  free(dqkv);
  free(z);
  free(dz);
  return 0;
}

static const tessera_layer layers[] = {
    {"window_attention", "self-attention within 8x8 windows, one head, residual", parameters,
     forward_reference, backward_reference, forward_cpu, backward_cpu},
};
static const tessera_plugin plugin = {"window-attention", "1.0", 0, NULL, 1, layers};

TESSERA_PLUGIN_EXPORT const tessera_plugin* tessera_plugin_entry(void) {
  return &plugin;
}
