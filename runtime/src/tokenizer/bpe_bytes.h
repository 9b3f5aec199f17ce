/* SPDX-License-Identifier: MIT */
/*
 * GPT-2's reversible byte <-> character table: printable bytes stand for
 * themselves, the other 68 bytes map to U+0100.. in byte order, so every
 * byte string is a string of visible characters.
 */
#ifndef EMBER_RT_BPE_BYTES_H
#define EMBER_RT_BPE_BYTES_H

#include <stddef.h>
#include <stdint.h>

static inline int bpe_byte_is_printable(int b)
{
	return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
}

static inline uint32_t bpe_byte_to_cp(uint8_t b)
{
	int n = 0;

	if (bpe_byte_is_printable(b))
		return b;
	for (int i = 0; i < b; i++)
		if (!bpe_byte_is_printable(i))
			n++;
	return 256u + (uint32_t)n;
}

/* Writes the UTF-8 of byte b's character (1-2 bytes), returns its length. */
static inline size_t bpe_byte_to_utf8(uint8_t b, char *out)
{
	uint32_t cp = bpe_byte_to_cp(b);

	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	out[0] = (char)(0xc0 | (cp >> 6));
	out[1] = (char)(0x80 | (cp & 0x3f));
	return 2;
}

/* Decodes one character of s; *byte = the byte it stands for or -1.
 * Returns the character's length in bytes (>= 1). */
static inline size_t bpe_utf8_to_byte(const char *s, size_t n, int *byte)
{
	unsigned char c = (unsigned char)s[0];
	uint32_t cp;

	*byte = -1;
	if (c < 0x80) {
		if (bpe_byte_is_printable(c))
			*byte = c;
		return 1;
	}
	if ((c & 0xe0) == 0xc0 && n >= 2) {
		cp = (uint32_t)(c & 0x1f) << 6 | ((unsigned char)s[1] & 0x3f);
		if (cp < 256) {
			if (bpe_byte_is_printable((int)cp))
				*byte = (int)cp;
		} else if (cp < 256 + 68) {
			for (int b = 0, k = 0; b < 256; b++)
				if (!bpe_byte_is_printable(b) && k++ == (int)(cp - 256))
					*byte = b;
		}
		return 2;
	}
	if ((c & 0xf0) == 0xe0 && n >= 3)
		return 3;
	if ((c & 0xf8) == 0xf0 && n >= 4)
		return 4;
	return 1;
}

#endif
