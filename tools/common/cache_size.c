/* SPDX-License-Identifier: MIT */
#include "cache_size.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* "32768K", "2M" as sysfs writes cache sizes */
static size_t parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (end == s)
		return 0;
	if (*end == 'K')
		v <<= 10;
	else if (*end == 'M')
		v <<= 20;
	else if (*end == 'G')
		v <<= 30;
	return (size_t)v;
}

size_t ember_llc_bytes(void)
{
	size_t best = 0;
	int best_level = 0;

	for (int i = 0; i < 16; i++) {
		char path[96], buf[32];
		int level = 0;
		FILE *f;

		snprintf(path, sizeof(path),
			 "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
		f = fopen(path, "r");
		if (!f)
			break;
		if (fscanf(f, "%d", &level) != 1)
			level = 0;
		fclose(f);
		snprintf(path, sizeof(path),
			 "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f) && level >= best_level) {
			best_level = level;
			best = parse_size(buf);
		}
		fclose(f);
	}
#ifdef _SC_LEVEL3_CACHE_SIZE
	if (!best) {
		long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
		long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);

		best = l3 > 0 ? (size_t)l3 : l2 > 0 ? (size_t)l2 : 0;
	}
#endif
	return best;
}

size_t ember_cold_bytes(size_t floor)
{
	size_t llc = ember_llc_bytes();

	return llc * 4 > floor ? llc * 4 : floor;
}
