/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "greedy_text.h"

static void append_piece(struct greedy_text *o, int32_t tok)
{
	char p[256];
	int n = ember_token_to_piece(o->m, tok, true, p, sizeof(p));

	if (n > 0 && o->n + (size_t)n < sizeof(o->buf) - 2) {
		memcpy(o->buf + o->n, p, (size_t)n);
		o->n += (size_t)n;
	}
}

static int on_token(void *user, int32_t tok, const char *text, size_t len)
{
	struct greedy_text *o = user;

	(void)text;
	(void)len;
	if (o->nt < 1024)
		o->toks[o->nt++] = tok;
	append_piece(o, tok);
	return 0;
}

int greedy_text(struct ember_session *s, const struct ember_model *m, const int32_t *prompt,
		int n, int n_predict, struct greedy_text *o, struct ember_error *err)
{
	struct ember_generate_opts go;
	int ret;

	memset(o, 0, sizeof(*o));
	o->m = m;
	for (int i = 0; i < n; i++)
		append_piece(o, prompt[i]);
	ember_generate_opts_default(&go);
	go.n_predict = n_predict;
	go.stop_at_eog = false;
	go.render_special = true;
	ret = ember_generate(s, prompt, n, &go, on_token, o, NULL, err);
	o->buf[o->n++] = '\n';
	o->buf[o->n] = '\0';
	return ret;
}
