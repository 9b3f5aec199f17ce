/* SPDX-License-Identifier: MIT */
/* The few Unicode properties the pre-tokenizers need. */
#ifndef EMBER_RT_UNICODE_H
#define EMBER_RT_UNICODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct uni_range {
	uint32_t lo, hi;
};
extern const struct uni_range uni_letters[], uni_numbers[];
extern const unsigned uni_letters_n, uni_numbers_n;

bool uni_is_letter(uint32_t cp);
bool uni_is_number(uint32_t cp);
bool uni_is_space(uint32_t cp);	/* the White_Space property */
/* Decodes one UTF-8 character: returns its length (>= 1); invalid bytes
 * decode as one-byte U+FFFD. */
size_t uni_decode(const char *s, size_t n, uint32_t *cp);

#endif
