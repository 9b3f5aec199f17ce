/* SPDX-License-Identifier: MIT */
/*
 * SentencePiece tokenizer on stories260K's vocabulary: reference ids,
 * round trips, byte fallback, special tokens, BOS handling; and the UTF-8
 * stream that generation prints through.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ember/runtime.h>

#include "bpe_pre.h"
#include "check.h"
#include "utf8_stream.h"

int check_failures, check_count;

static int tok(struct ember_model *m, const char *s, bool bos, bool special, int32_t *out)
{
	struct ember_error err;
	int n = ember_tokenize(m, s, -1, bos, special, out, 256, &err);

	CHECK(n >= 0 && n <= 256, "tokenize '%s': %s", s, n < 0 ? err.msg : "too long");
	return n;
}

static char *detok(struct ember_model *m, const int32_t *t, int n, bool special)
{
	static char buf[4096];
	size_t o = 0;

	for (int i = 0; i < n; i++) {
		int k = ember_token_to_piece(m, t[i], special, buf + o, sizeof(buf) - o - 1);

		CHECK(k >= 0, "piece of %d", t[i]);
		o += k > 0 ? (size_t)k : 0;
	}
	buf[o] = '\0';
	return buf;
}

static void test_spm(struct ember_model *m)
{
	static const char *texts[] = {
		"Once upon a time", "Hello, world!", "  two  spaces", "tab\tand\nnewline",
		"numbers 12345 and symbols #$%&", "caf\xc3\xa9 na\xc3\xafve",
		"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x98\x80 emoji", "", " ", "a",
	};
	int32_t t[256];
	int n;

	/* reference ids (llama-tokenize) */
	n = tok(m, "Once upon a time", true, true, t);
	CHECK(n == 5 && t[0] == 1 && t[1] == 403 && t[2] == 407 && t[3] == 261 && t[4] == 378,
	      "Once upon a time");
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		char want[512];

		n = tok(m, texts[i], false, false, t);
		snprintf(want, sizeof(want), "%s%s", texts[i][0] ? " " : "", texts[i]); /* SPM space prefix */
		CHECK(!strcmp(detok(m, t, n, false), want), "round trip '%s' -> '%s'", texts[i],
		      detok(m, t, n, false));
	}
	/* byte fallback: a character outside the 512-token vocabulary */
	n = tok(m, "\xe6\x97\xa5", false, false, t);
	{
		struct ember_error err;
		char p[16];

		CHECK(n >= 3, "byte fallback gave %d tokens", n);
		CHECK(ember_token_to_piece(m, t[n - 1], false, p, sizeof(p)) == 1 &&
		      (unsigned char)p[0] == 0xa5, "last byte token is 0xA5");
		(void)err;
	}
	/* special tokens */
	n = tok(m, "<s>", false, true, t);
	CHECK(n == 1 && t[0] == 1, "'<s>' with parse_special is BOS (%d tokens)", n);
	n = tok(m, "<s>Once", true, true, t);
	CHECK(n >= 2 && t[0] == 1 && t[1] != 1, "no double BOS when the text starts with <s>");
	n = tok(m, "<s>", false, false, t);
	CHECK(n > 1, "'<s>' without parse_special is text");
	n = tok(m, "a</s>b", false, true, t);
	CHECK(n >= 3, "split around </s>");
	{
		bool has_eos = false;

		for (int i = 0; i < n; i++)
			has_eos |= t[i] == 2;
		CHECK(has_eos, "</s> found in the middle");
		CHECK(!strcmp(detok(m, t, n, true), " a</s> b"),
		      "special rendering + space after special: '%s'", detok(m, t, n, true));
		CHECK(!strcmp(detok(m, t, n, false), " a b"), "control hidden: '%s'",
		      detok(m, t, n, false));
	}
	/* BOS only when asked; empty text with BOS is just BOS */
	n = tok(m, "", true, true, t);
	CHECK(n == 1 && t[0] == 1, "empty + BOS");
	n = tok(m, "", false, true, t);
	CHECK(n == 0, "empty");
	CHECK(ember_token_to_piece(m, 512, true, (char[4]){ 0 }, 4) < 0, "bad id rejected");
	CHECK(ember_token_is_eog(m, 2) && !ember_token_is_eog(m, 1), "eog");
	/* buffer too small: returns the needed size */
	{
		int32_t one;
		struct ember_error err;

		n = ember_tokenize(m, "Once upon a time", -1, true, true, &one, 1, &err);
		CHECK(n == 5 && one == 1, "size query");
	}
}

static void test_utf8_stream(void)
{
	struct utf8_stream u = { { 0 }, 0 };
	char out[64];
	size_t n;

	n = utf8_feed(&u, "a\xe6", 2, out);
	CHECK(n == 1 && out[0] == 'a', "holds back a lead byte");
	n = utf8_feed(&u, "\x97", 1, out);
	CHECK(n == 0, "still incomplete");
	n = utf8_feed(&u, "\xa5!", 2, out);
	CHECK(n == 4 && !memcmp(out, "\xe6\x97\xa5!", 4), "completes");
	n = utf8_feed(&u, "\x80x", 2, out);
	CHECK(n == 4 && !memcmp(out, "\xef\xbf\xbdx", 4), "stray continuation -> U+FFFD");
	n = utf8_feed(&u, "\xe6y", 2, out);
	CHECK(n == 4 && !memcmp(out, "\xef\xbf\xbdy", 4), "broken sequence -> U+FFFD");
	n = utf8_feed(&u, "\xf0\x9f\x98\x80", 4, out);
	CHECK(n == 4, "4-byte char");
}

struct words {
	char buf[512];
	size_t n;
};

static void on_word(void *arg, const char *w, size_t len)
{
	struct words *ws = arg;

	if (ws->n + len + 1 < sizeof(ws->buf)) {
		memcpy(ws->buf + ws->n, w, len);
		ws->n += len;
		ws->buf[ws->n++] = '|';
		ws->buf[ws->n] = '\0';
	}
}

/* Pre-tokenizer splits, worked out by hand from the upstream regexes. */
static void test_pre(void)
{
	static const struct {
		enum bpe_pre pre;
		const char *text, *want;
	} cases[] = {
		{ PRE_GPT2, "Hello world's 123 !!", "Hello| world|'s| 123| !!|" },
		{ PRE_GPT2, "a  b", "a| | b|" },
		{ PRE_GPT2, "a \n", "a| \n|" },
		{ PRE_GPT2, "I'LL go", "I|'|LL| go|" },
		{ PRE_SMOLLM, "a 123b", "a| |1|2|3|b|" },
		{ PRE_SMOLLM, "x2 y", "x|2| y|" },
		{ PRE_LLAMA3, "12345", "123|45|" },
		{ PRE_LLAMA3, "I'LL go!", "I|'LL| go|!|" },
		{ PRE_LLAMA3, "a\n\nb", "a|\n\n|b|" },
		{ PRE_LLAMA3, "x  \n y", "x|  \n| y|" },
		{ PRE_LLAMA3, "(hello)", "(hello|)|" },
		{ PRE_QWEN2, "123", "1|2|3|" },
		{ PRE_QWEN2, "caf\xc3\xa9 \xe4\xbd\xa0\xe5\xa5\xbd", "caf\xc3\xa9| \xe4\xbd\xa0\xe5\xa5\xbd|" },
		{ PRE_QWEN2, "...\n\nok", "...\n\n|ok|" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct words ws = { { 0 }, 0 };

		bpe_pre_split(cases[i].pre, cases[i].text, strlen(cases[i].text), on_word, &ws);
		CHECK(!strcmp(ws.buf, cases[i].want), "pre %d '%s': '%s', want '%s'", cases[i].pre,
		      cases[i].text, ws.buf, cases[i].want);
	}
}

int main(int argc, char **argv)
{
	test_pre();
	const char *dir = argc > 1 ? argv[1] : "../shared/models";
	char path[4096];
	struct ember_model *m = NULL;
	struct ember_error err;

	test_utf8_stream();
	snprintf(path, sizeof(path), "%s/stories260K.gguf", dir);
	if (access(path, R_OK)) {
		printf("SKIP SentencePiece checks: %s missing\n", path);
		return CHECK_DONE("tokenizer");
	}
	CHECK(ember_model_load(path, &m, &err) == 0, "%s", err.msg);
	if (m)
		test_spm(m);
	ember_model_free(m);
	return CHECK_DONE("tokenizer");
}
