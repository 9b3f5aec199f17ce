// SPDX-License-Identifier: GPL-2.0-only
/*
 * Firmware image: load, check the header, keep a DMA copy and boot it.
 * Every failure is reported as one dmesg line that names the file and the
 * versions involved, so a version skew is diagnosable from the log alone.
 */

#include <linux/crc32.h>
#include <linux/dma-mapping.h>
#include <linux/firmware.h>
#include <linux/iopoll.h>
#include <linux/module.h>
#include <linux/string.h>

#include "ember_drv.h"

static unsigned int ember_fw_boot_timeout_ms = 5000;
module_param_named(fw_boot_timeout_ms, ember_fw_boot_timeout_ms, uint, 0644);
MODULE_PARM_DESC(fw_boot_timeout_ms, "Firmware boot timeout in ms (default 5000)");

static const char *ember_fw_err_str(u32 code)
{
	switch (code) {
	case EMBER_FW_ERR_DMA:
		return "image not readable by DMA";
	case EMBER_FW_ERR_SIZE:
		return "image size out of range";
	case EMBER_FW_ERR_MAGIC:
		return "bad magic";
	case EMBER_FW_ERR_CHECKSUM:
		return "checksum mismatch";
	case EMBER_FW_ERR_ABI:
		return "ABI major not the device's";
	case EMBER_FW_ERR_BUILD_ID:
		return "not the firmware build the device runs";
	case EMBER_FW_ERR_CRASH:
		return "crashed while running";
	default:
		return "unknown error";
	}
}

/* Checks the image; on failure fills @why with the reason for the log line. */
static int ember_fw_check(const struct firmware *blob, const struct ember_fw_header **out,
			  char *why, size_t why_len)
{
	const struct ember_fw_header *hdr = (const void *)blob->data;
	u32 crc;

	if (blob->size < sizeof(*hdr)) {
		snprintf(why, why_len, "file is %zu bytes, smaller than the %zu-byte header",
			 blob->size, sizeof(*hdr));
		return -EINVAL;
	}
	if (blob->size > EMBER_FW_MAX_SIZE) {
		snprintf(why, why_len, "file is %zu bytes, above the %u-byte limit",
			 blob->size, EMBER_FW_MAX_SIZE);
		return -EFBIG;
	}
	*out = hdr;
	if (hdr->magic != EMBER_FW_MAGIC) {
		snprintf(why, why_len, "bad magic 0x%08x (want 0x%08x)",
			 hdr->magic, EMBER_FW_MAGIC);
		return -EINVAL;
	}
	if (hdr->header_size < sizeof(*hdr) || hdr->header_size > blob->size ||
	    hdr->payload_size > blob->size - hdr->header_size) {
		snprintf(why, why_len,
			 "header_size %u + payload_size %u do not fit the %zu-byte file",
			 hdr->header_size, hdr->payload_size, blob->size);
		return -EINVAL;
	}
	if (!memchr(hdr->version, '\0', sizeof(hdr->version))) {
		snprintf(why, why_len, "version string not NUL-terminated");
		return -EINVAL;
	}
	crc = ~crc32_le(~0u, blob->data + hdr->header_size, hdr->payload_size);
	if (crc != hdr->checksum) {
		snprintf(why, why_len, "payload CRC-32 0x%08x, header says 0x%08x (corrupt image)",
			 crc, hdr->checksum);
		return -EBADMSG;
	}
	if (hdr->abi_major != EMBER_FW_ABI_MAJOR || hdr->abi_minor < EMBER_DRV_FW_ABI_MINOR) {
		snprintf(why, why_len, "ABI mismatch");
		return -ENOEXEC;
	}
	return 0;
}

/* Boots the image kept in edev->fw; the device is expected to be reset. */
int ember_fw_boot(struct ember_device *edev, bool quiet)
{
	struct ember_fw *fw = &edev->fw;
	u32 status, abi;
	u64 build_id;
	int ret;

	ember_wr64(edev, EMBER_REG_FW_ADDR, fw->image_dma);
	ember_wr32(edev, EMBER_REG_FW_SIZE, fw->image_size);
	ember_wr32(edev, EMBER_REG_FW_CTRL, EMBER_FW_CTRL_BOOT);

	ret = readl_poll_timeout(edev->regs + EMBER_REG_FW_STATUS, status,
				 status == EMBER_FW_STATUS_READY ||
				 (status & EMBER_FW_STATUS_ERROR),
				 1000, ember_fw_boot_timeout_ms * 1000ull);
	if (ret) {
		drm_err(&edev->drm,
			"firmware %s (ABI %u.%u, build id 0x%016llx) did not boot within %u ms (FW_STATUS 0x%08x); driver expects ABI %u.%u+\n",
			fw->name, fw->abi_major, fw->abi_minor, fw->build_id,
			ember_fw_boot_timeout_ms, status, EMBER_FW_ABI_MAJOR,
			EMBER_DRV_FW_ABI_MINOR);
		return -ETIMEDOUT;
	}
	if (status & EMBER_FW_STATUS_ERROR) {
		u32 code = status & ~EMBER_FW_STATUS_ERROR;

		drm_err(&edev->drm,
			"firmware %s (ABI %u.%u, build id 0x%016llx) rejected by the device: error %u (%s); driver expects ABI %u.%u+\n",
			fw->name, fw->abi_major, fw->abi_minor, fw->build_id, code,
			ember_fw_err_str(code), EMBER_FW_ABI_MAJOR, EMBER_DRV_FW_ABI_MINOR);
		return -EIO;
	}

	abi = ember_rd32(edev, EMBER_REG_FW_ABI);
	build_id = ember_rd64(edev, EMBER_REG_FW_BUILD_ID);
	if (abi != ((u32)fw->abi_major << 16 | fw->abi_minor) || build_id != fw->build_id) {
		drm_err(&edev->drm,
			"firmware %s (ABI %u.%u, build id 0x%016llx) booted but the device reports ABI %u.%u build id 0x%016llx; driver expects ABI %u.%u+\n",
			fw->name, fw->abi_major, fw->abi_minor, fw->build_id, abi >> 16,
			abi & 0xffff, build_id, EMBER_FW_ABI_MAJOR, EMBER_DRV_FW_ABI_MINOR);
		return -EIO;
	}
	if (!quiet)
		drm_info(&edev->drm, "firmware %s version %s (ABI %u.%u, build id 0x%016llx) running\n",
			 fw->name, fw->version, fw->abi_major, fw->abi_minor, fw->build_id);
	return 0;
}

int ember_fw_load(struct ember_device *edev, const char *name)
{
	const struct ember_fw_header *hdr = NULL;
	struct ember_fw *fw = &edev->fw;
	const struct firmware *blob;
	char why[96];
	int ret;

	fw->name = name;
	ret = firmware_request_nowarn(&blob, name, edev->drm.dev);
	if (ret) {
		drm_err(&edev->drm,
			"firmware %s: cannot load (error %d): install it under /lib/firmware or set ember.fw_name; driver expects ABI %u.%u+\n",
			name, ret, EMBER_FW_ABI_MAJOR, EMBER_DRV_FW_ABI_MINOR);
		return ret;
	}

	ret = ember_fw_check(blob, &hdr, why, sizeof(why));
	if (ret) {
		if (hdr && hdr->magic == EMBER_FW_MAGIC)
			drm_err(&edev->drm,
				"firmware %s rejected: %s: driver expects ABI %u.%u+, image has ABI %u.%u build id 0x%016llx\n",
				name, why, EMBER_FW_ABI_MAJOR, EMBER_DRV_FW_ABI_MINOR,
				hdr->abi_major, hdr->abi_minor, hdr->build_id);
		else
			drm_err(&edev->drm,
				"firmware %s rejected: %s: driver expects ABI %u.%u+\n",
				name, why, EMBER_FW_ABI_MAJOR, EMBER_DRV_FW_ABI_MINOR);
		goto out;
	}

	fw->abi_major = hdr->abi_major;
	fw->abi_minor = hdr->abi_minor;
	fw->build_id = hdr->build_id;
	strscpy(fw->version, hdr->version, sizeof(fw->version));
	fw->image_size = hdr->header_size + hdr->payload_size;
	/* no allocator warning: the failure is reported below, with the file */
	fw->image = dmam_alloc_coherent(edev->drm.dev, fw->image_size, &fw->image_dma,
					GFP_KERNEL | __GFP_NOWARN);
	if (!fw->image) {
		drm_err(&edev->drm, "firmware %s: no %u bytes of DMA memory for the image; free memory and reload ember\n",
			name, fw->image_size);
		ret = -ENOMEM;
		goto out;
	}
	memcpy(fw->image, blob->data, fw->image_size);
out:
	release_firmware(blob);
	return ret;
}
