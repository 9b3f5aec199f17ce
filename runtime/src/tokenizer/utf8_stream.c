/* SPDX-License-Identifier: MIT */
#include "utf8_stream.h"

#include <stdbool.h>
#include <string.h>

static bool is_cont(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

/* Appends in[0..n) to the stream; writes complete text to out (room for
 * 3 * (n + 4) bytes) and returns its length. */
size_t utf8_feed(struct utf8_stream *u, const char *in, size_t n, char *out)
{
	size_t o = 0, i = 0, total = u->n_pend + n;

	/* work on pend ++ in without copying in */
#define AT(k) ((unsigned char)((k) < u->n_pend ? u->pend[k] : in[(k) - u->n_pend]))
	while (i < total) {
		unsigned char c = AT(i);
		size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 :
			     (c & 0xf8) == 0xf0 ? 4 : 0;
		size_t k;

		if (len == 0 || (len == 2 && c < 0xc2)) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		for (k = 1; k < len && i + k < total && is_cont(AT(i + k)); k++)
			;
		if (k < len && i + k == total) {	/* unfinished: hold back */
			char tmp[4];

			for (size_t j = 0; j < k; j++)
				tmp[j] = (char)AT(i + j);
			memcpy(u->pend, tmp, k);
			u->n_pend = k;
			return o;
		}
		if (k < len) {	/* broken sequence */
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		for (size_t j = 0; j < len; j++)
			out[o++] = (char)AT(i + j);
		i += len;
	}
#undef AT
	u->n_pend = 0;
	return o;
}
