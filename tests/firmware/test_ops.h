/* SPDX-License-Identifier: MIT */
/* Building command streams and running them on the fake device. */
#ifndef EMBER_TEST_OPS_H
#define EMBER_TEST_OPS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drm/ember_accel.h"
#include "ember/fw.h"
#include "fake_hal.h"

#define ALL_OPS		0xffffffffu
#define ALL_DTYPES	0xffffffffu

/* A command stream under construction in host memory. */
struct stream {
	uint8_t buf[4096];
	uint32_t size;
	uint32_t count;		/* ops */
};

static inline void *stream_add(struct stream *s, const void *op, uint32_t len)
{
	void *at = s->buf + s->size;

	if (s->size + len > sizeof(s->buf)) {
		fprintf(stderr, "stream_add: test stream overflow\n");
		abort();
	}
	memcpy(at, op, len);
	s->size += len;
	s->count++;
	return at;
}

static inline void stream_nop(struct stream *s)
{
	struct ember_op_hdr h = { EMBER_OP_NOP, sizeof(h), 0 };

	stream_add(s, &h, sizeof(h));
}

static inline void op_hdr_init(struct ember_op_hdr *h, uint16_t opcode,
			       uint16_t size)
{
	h->opcode = opcode;
	h->size = size;
	h->flags = 0;
}

/* Copy @s into fresh read-only device memory and run it in slot 0. */
static inline uint64_t stream_upload(struct fake_heap *heap,
				     const struct stream *s)
{
	uint64_t va = fake_alloc(heap, s->size, 8);

	memcpy(fake_dev_ptr(heap->dev, va), s->buf, s->size);
	fake_dev_set_perm(heap->dev, 0, va, s->size, EMBER_PTE_READ);
	return va;
}

#endif /* EMBER_TEST_OPS_H */
