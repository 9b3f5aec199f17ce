/* SPDX-License-Identifier: MIT */
/* Generation: prefill, then sample/evaluate token by token, streaming text
 * that is always whole UTF-8 characters. Buffers are set up before the
 * token loop, which allocates nothing. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "backend.h"
#include "npu/npu.h"
#include "utf8_stream.h"

void ember_generate_opts_default(struct ember_generate_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->n_predict = 64;
	o->stop_at_eog = true;
	ember_sampler_params_default(&o->sampler);
}

uint64_t ember_peak_rss(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return (uint64_t)ru.ru_maxrss * 1024;
}

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double now(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

static double cpu_now(void)
{
	return clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

int ember_generate(struct ember_session *s, const int32_t *prompt, int n_prompt,
		   const struct ember_generate_opts *o, ember_token_fn fn, void *user,
		   struct ember_stats *stats, struct ember_error *err)
{
	const struct ember_model *m;
	struct ember_generate_opts def;
	struct ember_sampler *smp = NULL;
	struct utf8_stream u = { { 0 }, 0 };
	const float *logits;
	char *piece = NULL, *text = NULL;
	size_t piece_cap = 0;
	double t0, t1, c0, c1;
	uint64_t rd, wr, cp0 = 0, cp1;
	bool have_dev;
	int ret, n_gen = 0, n_dec = 0;

	if (!o) {
		ember_generate_opts_default(&def);
		o = &def;
	}
	if (stats)
		memset(stats, 0, sizeof(*stats));
	m = session_model(s);
	ret = ember_sampler_create(&o->sampler, m->info.n_vocab, &smp, err);
	if (ret)
		return ret;
	for (uint32_t i = 0; i < m->vocab.n; i++)
		piece_cap = m->vocab.text[i].n > piece_cap ? m->vocab.text[i].n : piece_cap;
	piece_cap += 8;
	piece = malloc(piece_cap);
	text = malloc(3 * (piece_cap + 4));
	if (!piece || !text) {
		ret = ember_fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (int i = 0; i < n_prompt; i++)
		ember_sampler_accept(smp, prompt[i]);
	t0 = now();
	c0 = cpu_now();
	ret = ember_eval(s, prompt, n_prompt, &logits, err);
	t1 = now();
	c1 = cpu_now();
	if (stats) {
		stats->n_prompt = n_prompt;
		stats->prefill_s = t1 - t0;
		stats->prefill_cpu_s = c1 - c0;
	}
	if (ret)
		goto out;
	have_dev = stats && session_device_counters(s, &rd, &wr, &cp0) == 0;
	for (n_gen = 0; n_gen < o->n_predict;) {
		int32_t tok;
		int len;
		size_t tl = 0;
		bool eog;

		if (o->on_logits)
			o->on_logits(user, n_gen, logits, m->info.n_vocab);
		tok = ember_sampler_sample(smp, logits);
		eog = ember_token_is_eog(m, tok);

		ember_sampler_accept(smp, tok);
		n_gen++;
		len = ember_token_to_piece(m, tok, o->render_special, piece, piece_cap);
		if (len > 0)
			tl = utf8_feed(&u, piece, (size_t)len < piece_cap ? (size_t)len : piece_cap,
				       text);
		if (fn && fn(user, tok, text, tl))
			break;
		if ((eog && o->stop_at_eog) || n_gen == o->n_predict)
			break;
		ret = ember_eval(s, &tok, 1, &logits, err);
		n_dec++;
		if (ret)
			break;
	}
	if (!ret && u.n_pend && fn) {	/* an unfinished character at the end */
		fn(user, -1, "\xef\xbf\xbd", 3);
	}
	if (stats) {
		stats->n_generated = n_gen;
		stats->decode_s = now() - t1;
		stats->decode_cpu_s = cpu_now() - c1;
		stats->n_decode_evals = n_dec;
		stats->peak_rss_bytes = ember_peak_rss();
		if (have_dev && session_device_counters(s, &rd, &wr, &cp1) == 0) {
			stats->have_device_counters = true;
			stats->decode_device_copied = cp1 - cp0;
		}
	}
out:
	free(piece);
	free(text);
	ember_sampler_free(smp);
	return ret;
}
