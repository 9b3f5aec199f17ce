/* SPDX-License-Identifier: MIT */
#ifndef EMBER_TOOLS_MODEL_PATH_H
#define EMBER_TOOLS_MODEL_PATH_H

#include <stdbool.h>
#include <stddef.h>

/* The default model: $EMBER_MODEL, else shared/models/stories260K.gguf
 * found beside the repository of the executable or the working directory,
 * else /share/stories260K.gguf (the guest's scripts/run-guest.sh --share).
 * Returns 0 and fills buf (*from_env: it is $EMBER_MODEL, not checked to
 * exist), or -ENOENT. */
int default_model_path(char *buf, size_t size, bool *from_env);

#endif
