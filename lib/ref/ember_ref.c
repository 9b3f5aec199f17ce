// SPDX-License-Identifier: MIT
/* Host reference math (see ember_ref.h). */
#include <math.h>
#include <string.h>

#include "ember_ref.h"

void eref_seed(struct eref_rng *r, uint64_t seed)
{
	r->s = seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull;
	if (!r->s)
		r->s = 1;
}

uint64_t eref_next(struct eref_rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dull;
}

float eref_uniform(struct eref_rng *r)
{
	/* 24 random bits -> [-1, 1) */
	return (float)(eref_next(r) >> 40) / 8388608.0f - 1.0f;
}

void eref_fill(struct eref_rng *r, float *x, size_t n, float scale)
{
	size_t i;

	for (i = 0; i < n; i++)
		x[i] = eref_uniform(r) * scale;
}

float eref_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h >> 15) << 31;
	uint32_t e = (h >> 10) & 0x1f, m = h & 0x3ff, bits;
	float f;

	if (e == 0x1f) {
		bits = sign | 0x7f800000u | (m << 13);
	} else if (e) {
		bits = sign | ((e + 112) << 23) | (m << 13);
	} else {
		/* zero or subnormal: m * 2^-24 */
		f = ldexpf((float)m, -24);
		return sign ? -f : f;
	}
	memcpy(&f, &bits, sizeof(f));
	return f;
}

uint16_t eref_f32_to_f16(float f)
{
	uint32_t x, sign, mant;
	int e;

	memcpy(&x, &f, sizeof(x));
	sign = (x >> 16) & 0x8000;
	e = (int)((x >> 23) & 0xff);
	mant = x & 0x7fffff;
	if (e == 0xff)
		return (uint16_t)(sign | 0x7c00 | (mant ? 0x200 : 0));
	e -= 127 - 15;
	if (e >= 0x1f)
		return (uint16_t)(sign | 0x7c00);
	if (e <= 0) {
		uint32_t shift, half, r;

		if (e < -10)
			return (uint16_t)sign;
		mant |= 0x800000;
		shift = (uint32_t)(14 - e);
		half = 1u << (shift - 1);
		r = mant >> shift;
		if ((mant & ((1u << shift) - 1)) > half ||
		    ((mant & ((1u << shift) - 1)) == half && (r & 1)))
			r++;
		return (uint16_t)(sign | r);
	}
	{
		uint32_t r = ((uint32_t)e << 10) | (mant >> 13);
		uint32_t rest = mant & 0x1fff;

		if (rest > 0x1000 || (rest == 0x1000 && (r & 1)))
			r++;	/* may carry into the exponent: still right */
		return (uint16_t)(sign | r);
	}
}

/* A Q8_0 / Q4_0 block starts with its scale d, an f16. */
static void put_block_scale(uint8_t *block, float d)
{
	uint16_t dh = eref_f32_to_f16(d);

	memcpy(block, &dh, 2);
}

static float block_scale(const uint8_t *block)
{
	uint16_t dh;

	memcpy(&dh, block, 2);
	return eref_f16_to_f32(dh);
}

void eref_quantize_q8_0(const float *x, void *dst, size_t n)
{
	uint8_t *o = dst;
	size_t b, i;

	for (b = 0; b < n / 32; b++, o += 34) {
		float amax = 0, d, id;

		for (i = 0; i < 32; i++)
			amax = fmaxf(amax, fabsf(x[b * 32 + i]));
		d = amax / 127.0f;
		id = d ? 1.0f / d : 0.0f;
		put_block_scale(o, d);
		for (i = 0; i < 32; i++)
			o[2 + i] = (uint8_t)(int8_t)roundf(x[b * 32 + i] * id);
	}
}

void eref_dequantize_q8_0(const void *src, float *y, size_t n)
{
	const uint8_t *p = src;
	size_t b, i;

	for (b = 0; b < n / 32; b++, p += 34) {
		float d = block_scale(p);

		for (i = 0; i < 32; i++)
			y[b * 32 + i] = d * (float)(int8_t)p[2 + i];
	}
}

void eref_quantize_q4_0(const float *x, void *dst, size_t n)
{
	uint8_t *o = dst;
	size_t b, i;

	for (b = 0; b < n / 32; b++, o += 18) {
		float amax = 0, max = 0, d, id;

		for (i = 0; i < 32; i++) {
			float v = x[b * 32 + i];

			if (fabsf(v) > amax) {
				amax = fabsf(v);
				max = v;
			}
		}
		d = max / -8.0f;
		id = d ? 1.0f / d : 0.0f;
		put_block_scale(o, d);
		for (i = 0; i < 16; i++) {
			float lo = x[b * 32 + i] * id + 8.5f;
			float hi = x[b * 32 + 16 + i] * id + 8.5f;
			uint8_t ql = (uint8_t)fminf(15.0f, lo);
			uint8_t qh = (uint8_t)fminf(15.0f, hi);

			o[2 + i] = (uint8_t)(ql | (qh << 4));
		}
	}
}

void eref_dequantize_q4_0(const void *src, float *y, size_t n)
{
	const uint8_t *p = src;
	size_t b, i;

	for (b = 0; b < n / 32; b++, p += 18) {
		float d = block_scale(p);

		for (i = 0; i < 16; i++) {
			y[b * 32 + i] = d * (float)((p[2 + i] & 0xf) - 8);
			y[b * 32 + 16 + i] = d * (float)((p[2 + i] >> 4) - 8);
		}
	}
}

void eref_matmul(uint32_t m, uint32_t n, uint32_t k, const float *a,
		 size_t lda, const float *w, size_t ldw, const float *bias,
		 const float *c0, size_t ldc0, double *out, double *mag)
{
	uint32_t i, j, l;

	for (i = 0; i < m; i++) {
		for (j = 0; j < n; j++) {
			double s = 0, g = 0;

			for (l = 0; l < k; l++) {
				double p = (double)a[i * lda + l] *
					   (double)w[j * ldw + l];
				s += p;
				g += fabs(p);
			}
			if (bias) {
				s += bias[j];
				g += fabs(bias[j]);
			}
			if (c0) {
				s += c0[i * ldc0 + j];
				g += fabs(c0[i * ldc0 + j]);
			}
			out[(size_t)i * n + j] = s;
			if (mag)
				mag[(size_t)i * n + j] = g;
		}
	}
}

void eref_attention(uint32_t n_tok, uint32_t n_past, uint32_t n_head,
		    uint32_t n_kv, uint32_t hd, float scale, const float *q,
		    size_t q_ld, const float *k, const float *v, size_t kv_ld,
		    double *out)
{
	uint32_t group = n_head / n_kv, t, h, j, d;

	for (t = 0; t < n_tok; t++) {
		uint32_t pos = n_past + t;

		for (h = 0; h < n_head; h++) {
			const float *qh = q + t * q_ld + (size_t)h * hd;
			uint32_t g = h / group;
			double *o = out + (size_t)t * n_head * hd + (size_t)h * hd;
			double mx = -INFINITY, sum = 0;

			for (j = 0; j <= pos; j++) {
				const float *kj = k + j * kv_ld + (size_t)g * hd;
				double s = 0;

				for (d = 0; d < hd; d++)
					s += (double)qh[d] * kj[d];
				s *= scale;
				if (s > mx)
					mx = s;
			}
			for (d = 0; d < hd; d++)
				o[d] = 0;
			for (j = 0; j <= pos; j++) {
				const float *kj = k + j * kv_ld + (size_t)g * hd;
				const float *vj = v + j * kv_ld + (size_t)g * hd;
				double s = 0, e;

				for (d = 0; d < hd; d++)
					s += (double)qh[d] * kj[d];
				e = exp(s * scale - mx);
				sum += e;
				for (d = 0; d < hd; d++)
					o[d] += e * vj[d];
			}
			for (d = 0; d < hd; d++)
				o[d] /= sum;
		}
	}
}

void eref_matmul_q8_act_tol(uint32_t m, uint32_t n, uint32_t k,
			    const float *a, size_t lda, const float *w,
			    size_t ldw, double factor, double *tol)
{
	uint32_t i, j, b, l;

	for (i = 0; i < m; i++) {
		for (j = 0; j < n; j++) {
			double t = 0;

			for (b = 0; b < k / 32; b++) {
				double amax = 0, wsum = 0;

				for (l = b * 32; l < b * 32 + 32; l++) {
					amax = fmax(amax, fabs(a[i * lda + l]));
					wsum += fabs(w[j * ldw + l]);
				}
				t += amax / 254 * wsum;
			}
			tol[(size_t)i * n + j] += factor * t;
		}
	}
}

void eref_rmsnorm(uint32_t rows, uint32_t dim, const float *x, size_t ld,
		  const float *w, double eps, double *out)
{
	for (uint32_t r = 0; r < rows; r++) {
		const float *xr = x + r * ld;
		double ss = 0, inv;

		for (uint32_t i = 0; i < dim; i++)
			ss += (double)xr[i] * xr[i];
		inv = 1.0 / sqrt(ss / dim + eps);
		for (uint32_t i = 0; i < dim; i++)
			out[(size_t)r * dim + i] = xr[i] * inv * (w ? w[i] : 1.0);
	}
}

void eref_rope(double *x, uint32_t n_head, uint32_t hd, uint32_t rope_dim,
	       uint32_t pos, double freq_base, int neox)
{
	uint32_t half = rope_dim / 2;

	for (uint32_t h = 0; h < n_head; h++) {
		double *v = x + (size_t)h * hd;

		for (uint32_t i = 0; i < half; i++) {
			double th = pos * pow(freq_base, -2.0 * i / rope_dim);
			uint32_t a = neox ? i : 2 * i;
			uint32_t b = neox ? i + half : 2 * i + 1;
			double x0 = v[a], x1 = v[b];

			v[a] = x0 * cos(th) - x1 * sin(th);
			v[b] = x0 * sin(th) + x1 * cos(th);
		}
	}
}

double eref_silu(double x)
{
	return x / (1.0 + exp(-x));
}
