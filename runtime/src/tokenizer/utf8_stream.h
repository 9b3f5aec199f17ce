/* SPDX-License-Identifier: MIT */
/* Streaming token bytes as text: holds back an unfinished UTF-8 character
 * until its last byte arrives; invalid bytes become U+FFFD. */
#ifndef EMBER_RT_UTF8_STREAM_H
#define EMBER_RT_UTF8_STREAM_H

#include <stddef.h>

struct utf8_stream {
	char pend[4];
	size_t n_pend;
};

/* Appends in[0..n) to the stream; writes complete text to out (room for
 * 3 * (n + 4) bytes) and returns its length. */
size_t utf8_feed(struct utf8_stream *u, const char *in, size_t n, char *out);

#endif
