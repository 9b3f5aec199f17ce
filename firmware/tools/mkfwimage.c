// SPDX-License-Identifier: MIT
/*
 * mkfwimage: build or check ember-fw.bin.
 *   mkfwimage -o OUT PAYLOAD   write struct ember_fw_header + PAYLOAD to OUT
 *   mkfwimage --check IMAGE    check IMAGE as the device would at boot
 * The build id and version are this firmware's own (ember_fw_build_id(),
 * ember_fw_version()), so image and firmware cannot disagree.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ember/fw.h"

static const char *fw_err_name(uint32_t err)
{
	switch (err) {
	case 0: return "ok";
	case EMBER_FW_ERR_DMA: return "DMA";
	case EMBER_FW_ERR_SIZE: return "bad size";
	case EMBER_FW_ERR_MAGIC: return "bad magic or malformed header";
	case EMBER_FW_ERR_CHECKSUM: return "checksum mismatch";
	case EMBER_FW_ERR_ABI: return "ABI major mismatch";
	case EMBER_FW_ERR_BUILD_ID: return "build id is not this firmware's";
	default: return "unknown error";
	}
}

/* Read a whole file; returns a malloc()ed buffer or NULL with a message. */
static unsigned char *read_file(const char *path, size_t *size)
{
	unsigned char *buf = NULL;
	size_t cap = 0, len = 0;
	FILE *f = fopen(path, "rb");

	if (!f) {
		fprintf(stderr, "mkfwimage: cannot open %s: %s\n", path,
			strerror(errno));
		return NULL;
	}
	for (;;) {
		size_t got;

		if (len == cap) {
			unsigned char *nb;

			cap = cap ? cap * 2 : 1 << 16;
			if (cap > (size_t)EMBER_FW_MAX_SIZE * 2) {
				fprintf(stderr, "mkfwimage: %s is larger than the %u-byte image limit\n",
					path, EMBER_FW_MAX_SIZE);
				goto fail;
			}
			nb = realloc(buf, cap);
			if (!nb) {
				fprintf(stderr, "mkfwimage: out of memory reading %s\n", path);
				goto fail;
			}
			buf = nb;
		}
		got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "mkfwimage: error reading %s: %s\n", path,
			strerror(errno));
		goto fail;
	}
	fclose(f);
	*size = len;
	return buf;
fail:
	free(buf);
	fclose(f);
	return NULL;
}

static int write_image(const char *out, const char *payload_path)
{
	struct ember_fw_header h;
	unsigned char *payload;
	size_t size;
	char tmp[4096];
	FILE *f;
	int ok;

	payload = read_file(payload_path, &size);
	if (!payload)
		return 1;
	if (size == 0 || size > EMBER_FW_MAX_SIZE - sizeof(h)) {
		fprintf(stderr, "mkfwimage: payload %s has %zu bytes; it must be 1..%zu\n",
			payload_path, size, EMBER_FW_MAX_SIZE - sizeof(h));
		free(payload);
		return 1;
	}
	memset(&h, 0, sizeof(h));
	h.magic = EMBER_FW_MAGIC;
	h.abi_major = EMBER_FW_ABI_MAJOR;
	h.abi_minor = EMBER_FW_ABI_MINOR;
	h.header_size = sizeof(h);
	h.payload_size = (uint32_t)size;
	h.build_id = ember_fw_build_id();
	h.checksum = ember_crc32(0, payload, size);
	snprintf(h.version, sizeof(h.version), "%s", ember_fw_version());

	/* Write a temporary file and rename it: a half-written image never
	 * appears under the final name. */
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", out) >= sizeof(tmp)) {
		fprintf(stderr, "mkfwimage: output path too long\n");
		free(payload);
		return 1;
	}
	f = fopen(tmp, "wb");
	if (!f) {
		fprintf(stderr, "mkfwimage: cannot create %s: %s\n", tmp,
			strerror(errno));
		free(payload);
		return 1;
	}
	ok = fwrite(&h, sizeof(h), 1, f) == 1 &&
	     fwrite(payload, 1, size, f) == size;
	ok = (fclose(f) == 0) && ok;
	free(payload);
	if (!ok || rename(tmp, out) != 0) {
		fprintf(stderr, "mkfwimage: cannot write %s: %s\n", out,
			strerror(errno));
		remove(tmp);
		return 1;
	}
	return 0;
}

static int check_image(const char *path)
{
	struct ember_fw_header h;
	unsigned char *img;
	size_t size;
	uint32_t err;

	img = read_file(path, &size);
	if (!img)
		return 1;
	err = ember_fw_check_image(img, size);
	if (size >= sizeof(h))
		memcpy(&h, img, sizeof(h));
	free(img);
	if (err) {
		fprintf(stderr, "mkfwimage: %s: %s (EMBER_FW_ERR %u); rebuild it with this tree's mkfwimage\n",
			path, fw_err_name(err), err);
		return 1;
	}
	printf("%s: ok, version %s, build id %016llx, %u payload bytes, crc32 %08x\n",
	       path, h.version, (unsigned long long)h.build_id, h.payload_size,
	       h.checksum);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: mkfwimage -o OUT PAYLOAD    write ember-fw.bin\n"
		"       mkfwimage --check IMAGE     check an image\n"
		"       mkfwimage --build-id        print this firmware's build id\n");
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "-o") == 0)
		return write_image(argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[1], "--check") == 0)
		return check_image(argv[2]);
	if (argc == 2 && strcmp(argv[1], "--build-id") == 0) {
		printf("%016llx\n", (unsigned long long)ember_fw_build_id());
		return 0;
	}
	usage();
	return 2;
}
