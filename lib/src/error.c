// SPDX-License-Identifier: MIT
/* Per-device error messages. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

int ember_dev_fail(struct ember_device *dev, int err, const char *fmt, ...)
{
	va_list ap;

	if (!dev)
		return err;
	pthread_mutex_lock(&dev->err_lock);
	va_start(ap, fmt);
	vsnprintf(dev->err, sizeof(dev->err), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&dev->err_lock);
	return err;
}

const char *ember_errmsg(const struct ember_device *dev)
{
	return dev ? dev->err : "no device";
}

void ember_errmsg_copy(const struct ember_device *dev, char *buf, size_t len)
{
	struct ember_device *d = (struct ember_device *)dev;

	if (!buf || !len)
		return;
	if (!d) {
		snprintf(buf, len, "no device");
		return;
	}
	pthread_mutex_lock(&d->err_lock);
	snprintf(buf, len, "%s", d->err);
	pthread_mutex_unlock(&d->err_lock);
}

const char *ember_status_name(int status)
{
	static const char *const names[] = {
		[EMBER_JOB_OK] = "OK",
		[EMBER_JOB_BAD_OP] = "BAD_OP",
		[EMBER_JOB_BAD_DESC] = "BAD_DESC",
		[EMBER_JOB_UNSUPPORTED] = "UNSUPPORTED",
		[EMBER_JOB_MMU_FAULT] = "MMU_FAULT",
		[EMBER_JOB_TIMEOUT] = "TIMEOUT",
		[EMBER_JOB_ABORTED] = "ABORTED",
		[EMBER_JOB_FW_ERROR] = "FW_ERROR",
	};

	if (status < 0 || (size_t)status >= sizeof(names) / sizeof(names[0]))
		return "?";
	return names[status];
}
