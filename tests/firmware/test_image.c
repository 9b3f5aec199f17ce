// SPDX-License-Identifier: MIT
/*
 * Firmware identity and image checks: CRC-32 against known vectors,
 * ember_fw_check_image on good / truncated / bad magic / bad checksum /
 * ABI mismatch / wrong build id images, and the built ember-fw.bin (path
 * in argv[1]) as the device would check it at boot.
 */
#include <stdlib.h>

#include "ember/fw.h"
#include "test_util.h"

#define PAYLOAD 1000

struct image {
	struct ember_fw_header h;
	uint8_t payload[PAYLOAD];
};

static void make_image(struct image *img)
{
	memset(img, 0, sizeof(*img));
	for (int i = 0; i < PAYLOAD; i++)
		img->payload[i] = (uint8_t)(i * 7 + 3);
	img->h.magic = EMBER_FW_MAGIC;
	img->h.abi_major = EMBER_FW_ABI_MAJOR;
	img->h.abi_minor = EMBER_FW_ABI_MINOR;
	img->h.header_size = sizeof(img->h);
	img->h.payload_size = PAYLOAD;
	img->h.build_id = ember_fw_build_id();
	img->h.checksum = ember_crc32(0, img->payload, PAYLOAD);
	snprintf(img->h.version, sizeof(img->h.version), "%s", ember_fw_version());
}

static void expect_err(const char *what, const struct image *img, size_t size,
		       uint32_t want)
{
	uint32_t got = ember_fw_check_image(img, size);

	CHECK(got == want, "%s: ember_fw_check_image gave %u, want %u", what,
	      got, want);
}

static void test_crc(void)
{
	const char *s = "123456789";

	CHECK(ember_crc32(0, s, 9) == 0xcbf43926u, "crc32(\"123456789\") = %08x",
	      ember_crc32(0, s, 9));
	CHECK(ember_crc32(0, "", 0) == 0, "crc32(\"\") = %08x", ember_crc32(0, "", 0));
	CHECK(ember_crc32(0, "a", 1) == 0xe8b7be43u, "crc32(\"a\") = %08x",
	      ember_crc32(0, "a", 1));
	CHECK(ember_crc32(ember_crc32(0, s, 4), s + 4, 5) == 0xcbf43926u,
	      "chained crc32 differs");
}

static void test_identity(void)
{
	char want[32];

	CHECK(ember_fw_build_id() == EMBER_FW_BUILD_ID,
	      "build id %016llx, configured %016llx",
	      (unsigned long long)ember_fw_build_id(),
	      (unsigned long long)EMBER_FW_BUILD_ID);
	snprintf(want, sizeof(want), "1.0.0+%08llx",
		 (unsigned long long)(ember_fw_build_id() >> 32));
	CHECK(strcmp(ember_fw_version(), want) == 0, "version \"%s\", want \"%s\"",
	      ember_fw_version(), want);
	CHECK(ember_fw_caps_ops() == 0xff, "caps_ops %#x, want NOP..COPY (ABI 1.1)",
	      ember_fw_caps_ops());
	/* F32 F16 Q4_0 Q8_0 BF16, and Q4_1 Q5_0 Q5_1 Q4_K Q5_K Q6_K (ABI 1.4) */
	CHECK(ember_fw_caps_dtypes() == 0x400071cfu,
	      "caps_dtypes %#x, want 0x400071cf", ember_fw_caps_dtypes());
}

static void test_images(void)
{
	struct image img, bad;
	uint8_t *shifted;

	make_image(&img);
	expect_err("good image", &img, sizeof(img), 0);
	/* unaligned copy of a good image */
	shifted = malloc(sizeof(img) + 1);
	memcpy(shifted + 1, &img, sizeof(img));
	CHECK(ember_fw_check_image(shifted + 1, sizeof(img)) == 0,
	      "unaligned good image refused");
	free(shifted);

	expect_err("NULL image", NULL, 0, EMBER_FW_ERR_SIZE);
	expect_err("empty", &img, 0, EMBER_FW_ERR_SIZE);
	expect_err("truncated header", &img, sizeof(img.h) - 1, EMBER_FW_ERR_SIZE);
	expect_err("truncated payload", &img, sizeof(img) - 1, EMBER_FW_ERR_SIZE);
	shifted = calloc(1, sizeof(img) + 8);
	memcpy(shifted, &img, sizeof(img));
	CHECK(ember_fw_check_image(shifted, sizeof(img) + 8) == EMBER_FW_ERR_SIZE,
	      "image with 8 trailing bytes accepted");
	free(shifted);
	expect_err("beyond EMBER_FW_MAX_SIZE", &img, (size_t)EMBER_FW_MAX_SIZE + 1,
		   EMBER_FW_ERR_SIZE);

	bad = img;
	bad.h.magic ^= 1;
	expect_err("bad magic", &bad, sizeof(bad), EMBER_FW_ERR_MAGIC);
	bad = img;
	bad.h.header_size = sizeof(bad.h) + 8;
	expect_err("header_size wrong", &bad, sizeof(bad), EMBER_FW_ERR_SIZE);
	bad = img;
	bad.h.payload_size = PAYLOAD + 1;
	expect_err("payload_size past the end", &bad, sizeof(bad), EMBER_FW_ERR_SIZE);
	bad = img;
	bad.h.payload_size = 0xffffffc0u;
	expect_err("payload_size huge", &bad, sizeof(bad), EMBER_FW_ERR_SIZE);
	bad = img;
	memset(bad.h.version, 'x', sizeof(bad.h.version));
	expect_err("unterminated version", &bad, sizeof(bad), EMBER_FW_ERR_MAGIC);
	bad = img;
	bad.payload[PAYLOAD / 2] ^= 0x10;
	expect_err("payload bit flip", &bad, sizeof(bad), EMBER_FW_ERR_CHECKSUM);
	bad = img;
	bad.h.checksum ^= 0x80000000u;
	expect_err("bad checksum field", &bad, sizeof(bad), EMBER_FW_ERR_CHECKSUM);
	bad = img;
	bad.h.abi_major = EMBER_FW_ABI_MAJOR + 1;
	expect_err("ABI major + 1", &bad, sizeof(bad), EMBER_FW_ERR_ABI);
	bad.h.abi_major = EMBER_FW_ABI_MAJOR - 1;
	expect_err("ABI major - 1", &bad, sizeof(bad), EMBER_FW_ERR_ABI);
	bad = img;
	bad.h.abi_minor = EMBER_FW_ABI_MINOR + 3;
	expect_err("newer ABI minor is compatible", &bad, sizeof(bad), 0);
	bad = img;
	bad.h.build_id ^= 1;
	expect_err("wrong build id", &bad, sizeof(bad), EMBER_FW_ERR_BUILD_ID);
}

/* The image the build produced, as the device checks it. */
static void test_built_image(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct ember_fw_header h;
	uint8_t *buf;
	long size;

	if (!f) {
		CHECK(0, "cannot open %s (build the ember-fw.bin target)", path);
		return;
	}
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	rewind(f);
	buf = malloc((size_t)size);
	CHECK(buf && fread(buf, 1, (size_t)size, f) == (size_t)size,
	      "cannot read %s", path);
	fclose(f);
	if (!buf)
		return;
	CHECK(ember_fw_check_image(buf, (size_t)size) == 0,
	      "%s: ember_fw_check_image gave %u", path,
	      ember_fw_check_image(buf, (size_t)size));
	memcpy(&h, buf, sizeof(h));
	CHECK(strcmp(h.version, ember_fw_version()) == 0,
	      "%s: version \"%s\", firmware \"%s\"", path, h.version,
	      ember_fw_version());
	CHECK(h.payload_size > 4096, "%s: payload of only %u bytes", path,
	      h.payload_size);
	free(buf);
}

int main(int argc, char **argv)
{
	test_crc();
	test_identity();
	test_images();
	if (argc > 1)
		test_built_image(argv[1]);
	else
		CHECK(0, "usage: test_image path/to/ember-fw.bin");
	return test_finish("test_image");
}
