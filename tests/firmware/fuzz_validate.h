/* SPDX-License-Identifier: MIT */
#ifndef EMBER_FUZZ_VALIDATE_H
#define EMBER_FUZZ_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

/* The libFuzzer entry point (fuzz_validate.c). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
