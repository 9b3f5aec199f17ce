// SPDX-License-Identifier: MIT
/* Firmware identity (build id, version) and the boot-time image check. */
#include <string.h>

#include "ember/fw.h"

/* Both come from firmware/build-id.sh via the build system, so the image
 * mkfwimage writes and the firmware the device runs carry the same id. */
#ifndef EMBER_FW_BUILD_ID
#error "EMBER_FW_BUILD_ID must be defined (see firmware/build-id.sh)"
#endif
#ifndef EMBER_FW_VERSION_STR
#error "EMBER_FW_VERSION_STR must be defined (see firmware/build-id.sh)"
#endif

_Static_assert(sizeof(struct ember_fw_header) == 64,
	       "ember_fw_header layout changed");
_Static_assert(sizeof(EMBER_FW_VERSION_STR) <=
	       sizeof(((struct ember_fw_header *)0)->version),
	       "EMBER_FW_VERSION_STR does not fit the image header");

uint64_t ember_fw_build_id(void)
{
	return EMBER_FW_BUILD_ID;
}

const char *ember_fw_version(void)
{
	return EMBER_FW_VERSION_STR;
}

uint32_t ember_fw_check_image(const void *image, size_t size)
{
	struct ember_fw_header h;
	const uint8_t *bytes = image;

	if (!image || size < sizeof(h) || size > EMBER_FW_MAX_SIZE)
		return EMBER_FW_ERR_SIZE;
	memcpy(&h, image, sizeof(h));	/* the image may be unaligned */
	if (h.magic != EMBER_FW_MAGIC)
		return EMBER_FW_ERR_MAGIC;
	/* The header must be this one, the payload must end the image, and
	 * the version must be a terminated string. */
	if (h.header_size != sizeof(h) ||
	    (uint64_t)h.header_size + h.payload_size != size)
		return EMBER_FW_ERR_SIZE;
	if (memchr(h.version, '\0', sizeof(h.version)) == NULL)
		return EMBER_FW_ERR_MAGIC;
	if (ember_crc32(0, bytes + h.header_size, h.payload_size) != h.checksum)
		return EMBER_FW_ERR_CHECKSUM;
	if (h.abi_major != EMBER_FW_ABI_MAJOR)
		return EMBER_FW_ERR_ABI;
	if (h.build_id != ember_fw_build_id())
		return EMBER_FW_ERR_BUILD_ID;
	return 0;
}
