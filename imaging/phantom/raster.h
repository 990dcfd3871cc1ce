// Building blocks of the phantom generator (private to imaging/phantom):
// deterministic random numbers, smooth functions along z, analytic 2D shapes
// and 3D ellipsoid sections, and a slice canvas to paint them on.
//
// Shapes live in *body coordinates* (u, v) in mm: u towards the patient's
// left, v towards the posterior, origin at the body centre of the slice. With
// ITK's LPS identity direction that is also the image's i and j direction,
// so a slice shows the patient as radiologists read it.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <optional>

#include "core/random.h"

namespace tessera::imaging::phantom {

constexpr double kPi = 3.14159265358979323846;

// --- random numbers ---------------------------------------------------------
// SplitMix64 and hashing only (core/random.h), so a seed gives the same
// phantom on every machine.

inline std::uint64_t hashOf(std::uint64_t a, std::uint64_t b) {
  return splitMix64(a ^ splitMix64(b));
}
inline std::uint64_t hashOf(std::uint64_t a, std::uint64_t b, std::uint64_t c) {
  return hashOf(hashOf(a, b), c);
}

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : bits_(seed) {}
  std::uint64_t next() { return bits_.next(); }
  double uniform() { return bits_.uniform(); }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Irwin-Hall: the sum of 12 uniforms minus 6 has mean 0 and variance 1,
  // is bounded by ±6 and uses no transcendental function.
  double normal() {
    double s = 0;
    for (int i = 0; i < 12; ++i) s += uniform();
    return s - 6.0;
  }
  double normal(double mean, double sigma) { return mean + sigma * normal(); }
  bool chance(double p) { return uniform() < p; }
  double sign() { return chance(0.5) ? 1.0 : -1.0; }
  // A child stream, so adding draws to one structure leaves the others alone.
  Rng fork(std::uint64_t tag) { return Rng(hashOf(next(), tag)); }

 private:
  SplitMix64 bits_;
};

// Per-pixel noise of unit variance from a counter-based hash: four 16-bit
// uniforms summed (Irwin-Hall), exact in float.
inline float pixelNoise(std::uint64_t sliceKey, std::uint64_t pixel) {
  const std::uint64_t h = splitMix64(sliceKey + pixel * 0xD1B54A32D192ED03ull);
  const float sum = static_cast<float>(h & 0xFFFF) + static_cast<float>((h >> 16) & 0xFFFF) +
                    static_cast<float>((h >> 32) & 0xFFFF) + static_cast<float>(h >> 48);
  // Four U(0, 65536) sum to mean 131070 and variance 4 * 65536² / 12.
  return (sum - 131070.0f) * (1.0f / 37837.23f);
}

// --- smooth functions along z ------------------------------------------------

// A smooth random wiggle in [-amplitude, amplitude] of z (mm): three
// sinusoids with periods between minPeriodMm and 3 × minPeriodMm.
class Wiggle {
 public:
  Wiggle() = default;
  Wiggle(Rng& rng, double amplitude, double minPeriodMm) {
    for (auto& term : terms_) {
      term.frequency = 1.0 / (minPeriodMm * rng.uniform(1.0, 3.0));
      term.phase = rng.uniform();
      term.amplitude = amplitude / 3.0 * rng.uniform(0.5, 1.0);
    }
  }
  double operator()(double zMm) const {
    double s = 0;
    for (const auto& term : terms_)
      s += term.amplitude * std::sin(2 * kPi * (term.frequency * zMm + term.phase));
    return s;
  }

 private:
  struct Term {
    double frequency = 0, phase = 0, amplitude = 0;
  };
  std::array<Term, 3> terms_{};
};

inline double clamp01(double x) {
  return std::clamp(x, 0.0, 1.0);
}
inline double smoothstep(double e0, double e1, double x) {
  const double t = clamp01((x - e0) / (e1 - e0));
  return t * t * (3 - 2 * t);
}
inline double lerp(double a, double b, double t) {
  return a + (b - a) * t;
}
// 1 at the centre of [lo, hi], falling like an ellipsoid's section to 0 at
// the ends; 0 outside.
inline double ellipsoidProfile(double lo, double hi, double x) {
  if (x <= lo || x >= hi) return 0.0;
  const double s = (2 * x - lo - hi) / (hi - lo);
  return std::sqrt(1 - s * s);
}

// Piecewise-linear curve through (x, y) points sorted by x; flat outside.
template <std::size_t N>
double piecewise(const std::array<std::array<double, 2>, N>& points, double x) {
  if (x <= points[0][0]) return points[0][1];
  for (std::size_t i = 1; i < N; ++i) {
    if (x <= points[i][0]) {
      const double t = (x - points[i - 1][0]) / (points[i][0] - points[i - 1][0]);
      return lerp(points[i - 1][1], points[i][1], smoothstep(0, 1, t));
    }
  }
  return points[N - 1][1];
}

// --- 2D geometry -------------------------------------------------------------

struct Box {
  double u0 = 0, v0 = 0, u1 = 0, v1 = 0;
  bool empty() const { return u1 <= u0 || v1 <= v0; }
};

// Pixel (i, j) ↦ body coordinates u = u0 + i·ui + j·uj, v = v0 + i·vi + j·vj
// (a rotation and translation: the body's roll and position in the slice).
struct Frame {
  int width = 0, height = 0;
  double u0 = 0, v0 = 0, ui = 1, vi = 0, uj = 0, vj = 1;
  double pixelMm = 1;

  double u(double i, double j) const { return u0 + i * ui + j * uj; }
  double v(double i, double j) const { return v0 + i * vi + j * vj; }
  // Inverse (the linear part is a scaled rotation).
  double i(double u, double v) const {
    const double det = ui * vj - uj * vi;
    return ((u - u0) * vj - (v - v0) * uj) / det;
  }
  double j(double u, double v) const {
    const double det = ui * vj - uj * vi;
    return ((v - v0) * ui - (u - u0) * vi) / det;
  }
};

// Calls f(index, u, v) for every pixel whose centre may lie in `box`.
template <class F>
void forEachPixel(const Frame& frame, const Box& box, F&& f) {
  if (box.empty()) return;
  double imin = 1e30, imax = -1e30, jmin = 1e30, jmax = -1e30;
  for (double u : {box.u0, box.u1})
    for (double v : {box.v0, box.v1}) {
      const double i = frame.i(u, v), j = frame.j(u, v);
      imin = std::min(imin, i);
      imax = std::max(imax, i);
      jmin = std::min(jmin, j);
      jmax = std::max(jmax, j);
    }
  const int i0 = std::max(0, static_cast<int>(std::floor(imin)));
  const int i1 = std::min(frame.width - 1, static_cast<int>(std::ceil(imax)));
  const int j0 = std::max(0, static_cast<int>(std::floor(jmin)));
  const int j1 = std::min(frame.height - 1, static_cast<int>(std::ceil(jmax)));
  for (int j = j0; j <= j1; ++j) {
    double u = frame.u(i0, j), v = frame.v(i0, j);
    int index = j * frame.width + i0;
    for (int i = i0; i <= i1; ++i, ++index, u += frame.ui, v += frame.vi) f(index, u, v);
  }
}

// Ellipse as a quadratic form: inside when a·du² + 2b·du·dv + c·dv² ≤ 1.
struct Ellipse {
  double cu = 0, cv = 0, a = 1, b = 0, c = 1;

  static Ellipse axes(double cu, double cv, double ru, double rv, double angle = 0) {
    const double cs = std::cos(angle), sn = std::sin(angle);
    const double iu = 1 / (ru * ru), iv = 1 / (rv * rv);
    return {cu, cv, cs * cs * iu + sn * sn * iv, cs * sn * (iu - iv), sn * sn * iu + cs * cs * iv};
  }
  static Ellipse circle(double cu, double cv, double r) { return axes(cu, cv, r, r); }

  double q(double u, double v) const {
    const double du = u - cu, dv = v - cv;
    return a * du * du + 2 * b * du * dv + c * dv * dv;
  }
  bool inside(double u, double v) const { return q(u, v) <= 1; }
  // Same centre and orientation, every radius multiplied by s.
  Ellipse scaled(double s) const { return {cu, cv, a / (s * s), b / (s * s), c / (s * s)}; }
  // Every radius grown by d mm (exact for circles, close for mild ellipses).
  Ellipse grown(double d) const {
    const double r = std::sqrt(2.0 / (a + c));
    return scaled(std::max(0.05, (r + d) / r));
  }
  Box box() const {
    const double det = a * c - b * b;
    const double hu = std::sqrt(c / det), hv = std::sqrt(a / det);
    return {cu - hu, cv - hv, cu + hu, cv + hv};
  }
};

// An ellipsoid in body coordinates (u, v, z in mm): centre, semi-axes and a
// rotation. Its section by the slice plane z is an ellipse (or nothing).
struct Ellipsoid {
  double cu = 0, cv = 0, cz = 0;
  std::array<double, 9> m{};  // quadratic form M = R diag(1/r²) Rᵀ, row-major

  // Semi-axes (ru, rv, rz) before rotating by `yaw` about z, then `pitch`
  // about u (tilting the long axis towards z).
  static Ellipsoid make(double cu, double cv, double cz, double ru, double rv, double rz,
                        double yaw = 0, double pitch = 0) {
    const double cy = std::cos(yaw), sy = std::sin(yaw), cp = std::cos(pitch), sp = std::sin(pitch);
    // R = Rx(pitch) · Rz(yaw); columns are the rotated axes.
    const std::array<double, 9> r = {cy, -sy, 0, cp * sy, cp * cy, -sp, sp * sy, sp * cy, cp};
    const double inv[3] = {1 / (ru * ru), 1 / (rv * rv), 1 / (rz * rz)};
    Ellipsoid e{cu, cv, cz, {}};
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) {
        double s = 0;
        for (int k = 0; k < 3; ++k) s += r[3 * i + k] * inv[k] * r[3 * j + k];
        e.m[3 * i + j] = s;
      }
    return e;
  }
  // Along a segment from p0 to p1 (u, v, z) with radius r: a prolate
  // ellipsoid reaching slightly past both ends.
  static Ellipsoid segment(const std::array<double, 3>& p0, const std::array<double, 3>& p1,
                           double r) {
    const double du = p1[0] - p0[0], dv = p1[1] - p0[1], dz = p1[2] - p0[2];
    const double len = std::sqrt(du * du + dv * dv + dz * dz);
    const double half = 0.5 * len + 0.5 * r;
    // Long axis along the segment: quadratic form r⁻²·I + (half⁻² − r⁻²)·d·dᵀ.
    const double d[3] = {du / len, dv / len, dz / len};
    const double ir = 1 / (r * r), il = 1 / (half * half);
    Ellipsoid e{0.5 * (p0[0] + p1[0]), 0.5 * (p0[1] + p1[1]), 0.5 * (p0[2] + p1[2]), {}};
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) e.m[3 * i + j] = (i == j ? ir : 0.0) + (il - ir) * d[i] * d[j];
    return e;
  }

  // Section at height z; `shrink` (0..1) makes it the section of the same
  // ellipsoid scaled by that factor about its centre.
  std::optional<Ellipse> section(double z, double scale = 1.0) const {
    const double dz = z - cz;
    const double a = m[0], b = m[1], c = m[4], p = m[2] * dz, q = m[5] * dz;
    const double det = a * c - b * b;
    // Centre of the section: minimise the form over (u, v) for this dz.
    const double su = (-c * p + b * q) / det, sv = (b * p - a * q) / det;
    const double rest = m[8] * dz * dz + p * su + q * sv;
    const double level = scale * scale - rest;
    if (level <= 1e-9) return std::nullopt;
    return Ellipse{cu + su, cv + sv, a / level, b / level, c / level};
  }
  // z range of the ellipsoid.
  double halfHeight() const {
    // Extent along z of {x: xᵀMx ≤ 1} is sqrt((M⁻¹)_zz).
    const double cof = m[0] * m[4] - m[1] * m[3];
    const double det = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) +
                       m[2] * (m[3] * m[7] - m[4] * m[6]);
    return std::sqrt(cof / det);
  }
};

// Ellipse with a smooth angular perturbation of its radius,
// ρ ≤ 1 + δ(θ) with δ(θ) = Σ aₖ cos kθ + bₖ sin kθ (k = 1..4) in the blob's
// normalised frame (x / ru, y / rv): organic outlines (body, lungs, liver)
// from square roots and Chebyshev recurrences only. A negative cos 4θ term
// (`square`) makes it boxy, like a superellipse of exponent > 2.
struct Blob {
  double cu = 0, cv = 0, ru = 1, rv = 1, angle = 0, square = 0;
  std::array<double, 4> ca{}, sa{};  // harmonic amplitudes, relative to the radius
  double cosA = 1, sinA = 0;

  void prepare() {
    cosA = std::cos(angle);
    sinA = std::sin(angle);
  }
  double perturbation(double cx, double sy) const {
    // cos kθ, sin kθ from cos θ, sin θ.
    double ck = cx, sk = sy, d = ca[0] * cx + sa[0] * sy;
    for (int k = 1; k < 4; ++k) {
      const double c2 = ck * cx - sk * sy, s2 = sk * cx + ck * sy;
      ck = c2;
      sk = s2;
      d += (ca[k] + (k == 3 ? square : 0.0)) * ck + sa[k] * sk;
    }
    return d;
  }
  // Normalised radius: < 1 inside, 1 on the outline.
  double rho(double u, double v) const {
    const double du = u - cu, dv = v - cv;
    const double x = (du * cosA + dv * sinA) / ru, y = (-du * sinA + dv * cosA) / rv;
    const double r2 = x * x + y * y;
    if (r2 < 1e-12) return 0;
    const double r = std::sqrt(r2), inv = 1 / r;
    return r / (1 + perturbation(x * inv, y * inv));
  }
  bool inside(double u, double v) const { return rho(u, v) <= 1; }
  double reach() const {
    double s = 1 + std::abs(square);
    for (int k = 0; k < 4; ++k) s += std::abs(ca[k]) + std::abs(sa[k]);
    return s * std::max(ru, rv);
  }
  Box box() const {
    const double r = reach();
    return {cu - r, cv - r, cu + r, cv + r};
  }
  // The outline point in direction θ (angle in the blob's normalised frame),
  // pushed `offsetMm` outwards along the radius.
  std::array<double, 2> boundary(double theta, double offsetMm = 0) const {
    const double cx = std::cos(theta), sy = std::sin(theta);
    const double s = 1 + perturbation(cx, sy);
    double x = cx * s * ru, y = sy * s * rv;
    const double len = std::sqrt(x * x + y * y);
    x *= (len + offsetMm) / len;
    y *= (len + offsetMm) / len;
    return {cu + x * cosA - y * sinA, cv + x * sinA + y * cosA};
  }
  // Same shape with the radii reduced by du and dv mm.
  Blob shrunk(double du, double dv) const {
    Blob b = *this;
    b.ru = std::max(1.0, ru - du);
    b.rv = std::max(1.0, rv - dv);
    return b;
  }
};

}  // namespace tessera::imaging::phantom
