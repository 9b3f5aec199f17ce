/* SPDX-License-Identifier: MIT */
/* ember-mkmodel --info: the tensors of a GGUF file as ember's reader sees
 * them, and what each weight lost against a reference file. */
#ifndef EMBER_MKMODEL_INFO_H
#define EMBER_MKMODEL_INFO_H

#include <stdio.h>

#include <ember/runtime.h>

/*
 * Prints a line per tensor of path to out: name, type (ember's spelling,
 * as llama.cpp prints it: "q4_K"), dimensions ("576x1024"). With ref_path
 * (may be NULL), a fourth column: the relative RMS error of the tensor's
 * values against ref_path's tensor of the same name and shape (both
 * dequantized to f32), "-" when ref_path has no such tensor or ember cannot
 * read one of the two types.
 */
int synth_info(const char *path, const char *ref_path, FILE *out, struct ember_error *err);

#endif
