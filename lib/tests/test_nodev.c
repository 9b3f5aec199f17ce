// SPDX-License-Identifier: MIT
/*
 * libember on a machine without an Ember device: every way of opening one
 * fails with -ENODEV and a message that says what to do.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ember/ember.h"
#include "check.h"

static void expect_nodev(const char *path, const char *needle)
{
	struct ember_device *dev = (struct ember_device *)1;
	char msg[EMBER_ERRMSG_SIZE] = "";
	int ret = ember_device_open(path, &dev, msg, sizeof(msg));

	if (ret == 0) {
		/* a real device (e.g. run in the guest): nothing to check */
		printf("# %s: an Ember device exists (%s), skipping\n",
		       path ? path : "(auto)", ember_device_path(dev));
		ember_device_close(dev);
		return;
	}
	printf("# open(%s) = %d: %s\n", path ? path : "NULL", ret, msg);
	CHECK(ret == -ENODEV, "got %d (%s)", ret, strerror(-ret));
	CHECK(dev == NULL, "devp not cleared");
	CHECK(strstr(msg, needle) != NULL, "message lacks '%s': %s", needle, msg);
}

int main(void)
{
	char small[8];
	int ret;

	unsetenv("EMBER_DEVICE");
	expect_nodev(NULL, "ember.ko");
	expect_nodev("/dev/accel/accel999", "is ember.ko loaded?");
	expect_nodev("/dev/null", "not an Ember device");
	setenv("EMBER_DEVICE", "/dev/zero", 1);
	expect_nodev(NULL, "/dev/zero");
	unsetenv("EMBER_DEVICE");

	/* a short error buffer is truncated, never overrun */
	memset(small, 'x', sizeof(small));
	ret = ember_device_open("/dev/null", NULL, small, sizeof(small));
	CHECK(ret == -EINVAL, "NULL devp: %d", ret);
	CHECK(memchr(small, '\0', sizeof(small)) != NULL, "not terminated");

	CHECK(strcmp(ember_status_name(EMBER_JOB_MMU_FAULT), "MMU_FAULT") == 0,
	      "status name");
	CHECK(strcmp(ember_status_name(99), "?") == 0, "unknown status");
	CHECK(strcmp(ember_status_name(-1), "?") == 0, "negative status");

	return check_summary();
}
