// SPDX-License-Identifier: MIT
/* Finding, opening and querying an Ember device. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xf86drm.h>

#include "internal.h"

#define EMBER_DRIVER_NAME "ember"
#define ACCEL_DIR "/dev/accel"

/* Messages written while no device exists yet. */
struct open_err {
	char msg[EMBER_ERRMSG_SIZE];
};

static int open_fail(struct open_err *oe, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int open_fail(struct open_err *oe, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(oe->msg, sizeof(oe->msg), fmt, ap);
	va_end(ap);
	return err;
}

/* The DRM driver name of @fd into @name ("" if the fd is not DRM). */
static void driver_name(int fd, char *name, size_t len)
{
	drmVersionPtr v = drmGetVersion(fd);

	name[0] = '\0';
	if (v) {
		snprintf(name, len, "%.*s", v->name_len, v->name ? v->name : "");
		drmFreeVersion(v);
	}
}

/*
 * Open @path and check its driver is ember. Returns the fd, or -errno with
 * a message; *@other gets the driver name if it is another driver.
 */
static int open_node(const char *path, struct open_err *oe, char *other,
		     size_t other_len)
{
	char name[64];
	int fd, err;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		if (err == EACCES || err == EPERM)
			return open_fail(oe, -err,
				"cannot open %s: %s; run as root or give your user access to the node (e.g. a udev rule or the 'render'/'accel' group)",
				path, strerror(err));
		if (err == ENOENT)
			return open_fail(oe, -ENODEV,
				"no Ember device: %s does not exist; is ember.ko loaded?",
				path);
		if (err == ENODEV)
			return open_fail(oe, -ENODEV,
				"%s is down: its firmware stopped and the driver could not recover it (see dmesg); reload the driver (rmmod ember; modprobe ember)",
				path);
		return open_fail(oe, -err, "cannot open %s: %s", path,
				 strerror(err));
	}
	driver_name(fd, name, sizeof(name));
	if (strcmp(name, EMBER_DRIVER_NAME) != 0) {
		if (other)
			snprintf(other, other_len, "%s", name[0] ? name : "not DRM");
		close(fd);
		return open_fail(oe, -ENODEV,
			"%s is not an Ember device (driver '%s', expected '%s'); pass an Ember node or leave the path NULL",
			path, name[0] ? name : "none: not a DRM node",
			EMBER_DRIVER_NAME);
	}
	return fd;
}

/* libdrm's enumeration (render/primary nodes; 2.4.114 skips accel). */
static int find_libdrm(char *path, size_t len, struct open_err *oe)
{
	drmDevicePtr devs[16];
	int n, i, j, fd = -ENODEV;

	n = drmGetDevices2(0, devs, 16);
	if (n <= 0)
		return -ENODEV;
	for (i = 0; i < n && fd < 0; i++) {
		for (j = 0; j < DRM_NODE_MAX && fd < 0; j++) {
			if (!(devs[i]->available_nodes & (1 << j)))
				continue;
			fd = open_node(devs[i]->nodes[j], oe, NULL, 0);
			if (fd >= 0)
				snprintf(path, len, "%s", devs[i]->nodes[j]);
		}
	}
	drmFreeDevices(devs, n);
	return fd >= 0 ? fd : -ENODEV;
}

static int cmp_str(const void *a, const void *b)
{
	return strverscmp(*(char *const *)a, *(char *const *)b);
}

/* Scan /dev/accel/accel* in name order for an ember node. */
static int find_accel(char *path, size_t len, struct open_err *oe)
{
	char names[16][32], others[128] = "", other[32], *sorted[16];
	int n = 0, i, fd, denied = 0, down = 0, first_err = -ENODEV;
	struct open_err tmp;
	struct dirent *de;
	DIR *d;

	d = opendir(ACCEL_DIR);
	if (!d)
		return open_fail(oe, -ENODEV,
			"no Ember device: %s does not exist (no DRM accel driver is loaded); is ember.ko loaded?",
			ACCEL_DIR);
	while ((de = readdir(d)) && n < 16) {
		if (strncmp(de->d_name, "accel", 5) != 0)
			continue;
		snprintf(names[n], sizeof(names[n]), "%.31s", de->d_name);
		sorted[n] = names[n];
		n++;
	}
	closedir(d);
	if (!n)
		return open_fail(oe, -ENODEV,
			"no Ember device: %s has no accel nodes; is ember.ko loaded (and did its probe succeed: see dmesg)?",
			ACCEL_DIR);
	qsort(sorted, n, sizeof(sorted[0]), cmp_str);
	for (i = 0; i < n; i++) {
		char p[64];

		snprintf(p, sizeof(p), "%s/%s", ACCEL_DIR, sorted[i]);
		other[0] = '\0';
		fd = open_node(p, &tmp, other, sizeof(other));
		if (fd >= 0) {
			snprintf(path, len, "%s", p);
			return fd;
		}
		if (fd == -EACCES || fd == -EPERM) {
			denied = 1;
			first_err = fd;
			*oe = tmp;
		} else if (fd == -ENODEV && !other[0] && !denied && !down) {
			down = 1;	/* an Ember node whose device is down */
			*oe = tmp;
		}
		if (other[0] && strlen(others) + strlen(other) + 3 < sizeof(others)) {
			if (others[0])
				strcat(others, ", ");
			strcat(others, other);
		}
	}
	if (denied || down)
		return first_err;
	return open_fail(oe, -ENODEV,
		"no Ember device: %s has no node whose driver is '%s' (found: %s); is ember.ko loaded?",
		ACCEL_DIR, EMBER_DRIVER_NAME, others[0] ? others : "none");
}

static int query_info(struct ember_device *dev)
{
	int ret = ember_query(dev, DRM_EMBER_QUERY_DEVICE_INFO, &dev->info,
			      sizeof(dev->info));

	if (ret < 0)
		return ember_dev_fail(dev, ret,
			"%s: DEVICE_INFO query failed (%s); ember.ko and libember disagree on the uapi, or the firmware is not running (see dmesg)",
			dev->path, strerror(-ret));
	dev->info.fw_version[sizeof(dev->info.fw_version) - 1] = '\0';
	return 0;
}

int ember_device_open(const char *path, struct ember_device **devp,
		      char *errbuf, size_t errlen)
{
	struct open_err oe = { "" };
	struct ember_device *dev;
	char found[64] = "";
	int fd, ret;

	if (!devp) {
		ret = open_fail(&oe, -EINVAL, "ember_device_open: devp is NULL");
		goto fail;
	}
	*devp = NULL;
	if (!path)
		path = getenv("EMBER_DEVICE");
	if (path && path[0]) {
		fd = open_node(path, &oe, NULL, 0);
		snprintf(found, sizeof(found), "%s", path);
	} else {
		fd = find_libdrm(found, sizeof(found), &oe);
		if (fd < 0)
			fd = find_accel(found, sizeof(found), &oe);
	}
	if (fd < 0) {
		ret = fd;
		goto fail;
	}
	dev = calloc(1, sizeof(*dev));
	if (!dev) {
		close(fd);
		ret = open_fail(&oe, -ENOMEM, "out of memory");
		goto fail;
	}
	dev->fd = fd;
	snprintf(dev->path, sizeof(dev->path), "%s", found);
	pthread_mutex_init(&dev->err_lock, NULL);
	ret = query_info(dev);
	if (ret < 0) {
		snprintf(oe.msg, sizeof(oe.msg), "%s", dev->err);
		ember_device_close(dev);
		goto fail;
	}
	*devp = dev;
	return 0;
fail:
	if (errbuf && errlen)
		snprintf(errbuf, errlen, "%s", oe.msg);
	return ret;
}

void ember_device_close(struct ember_device *dev)
{
	if (!dev)
		return;
	close(dev->fd);
	pthread_mutex_destroy(&dev->err_lock);
	free(dev);
}

int ember_device_fd(const struct ember_device *dev)
{
	return dev->fd;
}

const char *ember_device_path(const struct ember_device *dev)
{
	return dev->path;
}

const struct drm_ember_device_info *
ember_device_info(const struct ember_device *dev)
{
	return &dev->info;
}

int ember_device_has_op(const struct ember_device *dev, unsigned int op)
{
	return op < 64 && (dev->info.caps_ops >> op) & 1;
}

int ember_device_has_dtype(const struct ember_device *dev, unsigned int dtype)
{
	return dtype < 64 && (dev->info.caps_dtypes >> dtype) & 1;
}

int ember_get_param(struct ember_device *dev, uint32_t param, uint64_t *value)
{
	struct drm_ember_get_param gp = { .param = param };

	if (drmIoctl(dev->fd, DRM_IOCTL_EMBER_GET_PARAM, &gp))
		return ember_dev_fail(dev, ember_neg_errno(errno),
			"GET_PARAM %u failed: %s%s", param, strerror(errno),
			errno == EINVAL ? " (unknown parameter for this ember.ko)" : "");
	*value = gp.value;
	return 0;
}

int ember_query(struct ember_device *dev, uint32_t type, void *buf,
		uint32_t size)
{
	struct drm_ember_query q = {
		.type = type, .size = size, .ptr = (uintptr_t)buf,
	};

	if (size)
		memset(buf, 0, size);
	if (drmIoctl(dev->fd, DRM_IOCTL_EMBER_QUERY, &q))
		return ember_dev_fail(dev, ember_neg_errno(errno),
			"QUERY type %u failed: %s%s", type, strerror(errno),
			errno == EINVAL ? " (unknown query type for this ember.ko)" : "");
	return (int)q.size;
}

int ember_query_perf(struct ember_device *dev, struct drm_ember_perf *perf)
{
	int ret = ember_query(dev, DRM_EMBER_QUERY_PERF, perf, sizeof(*perf));

	return ret < 0 ? ret : 0;
}
