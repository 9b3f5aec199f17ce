/* SPDX-License-Identifier: MIT */
/* Which backend runs each step of the forward pass: decided once per
 * session (ggml's scheduler does the same per graph), so every pass runs
 * the same placement and the session can say what it is. */
#ifndef EMBER_RT_PLACEMENT_H
#define EMBER_RT_PLACEMENT_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"

struct placement {
	/* backend index per step: [0] embed, [1 + 2l] attention of layer l,
	 * [2 + 2l] its FFN, [1 + 2 n_layer] output */
	int8_t *of;
	uint32_t n_layer;
};

/* Each step to the first of be[0..n_be) that supports it; the last
 * backend takes whatever no other does. -ENOMEM or 0. */
int placement_init(struct placement *p, const struct backend *be, int n_be,
		   uint32_t n_layer);
void placement_free(struct placement *p);
/* Every step of backend @from goes to backend @to (a device that is gone). */
void placement_move(struct placement *p, int from, int to);
/* The backend index of a step. */
int placement_of(const struct placement *p, const struct step *st);
/* "npu: 5/5 layers + embed + output; cpu: sampling", with sampling on
 * backend @sampler. snprintf's contract: returns the full length. */
int placement_describe(const struct placement *p, const struct backend *be, int n_be,
		       int sampler, char *buf, size_t size);

#endif
