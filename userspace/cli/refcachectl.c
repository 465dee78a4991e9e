// SPDX-License-Identifier: GPL-2.0
/* refcachectl: command-line front end to /dev/refcache and /proc/refcache. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "refcache.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: refcachectl [--help] COMMAND\n"
		"\n"
		"commands:\n"
		"  version   ABI version and features of the loaded module\n"
		"  stats     module-wide counters from /proc/refcache/stats\n"
		"\n"
		"Exit status: 0 on success, 1 on failure, 2 on a usage error.\n");
}

static int cmd_version(void)
{
	struct refcache_version v;
	int fd, ret;

	fd = refcache_open();
	if (fd < 0) {
		fprintf(stderr, "refcachectl: open %s: %s\n", REFCACHE_DEVICE,
			strerror(-fd));
		return 1;
	}
	ret = refcache_version(fd, &v);
	refcache_close(fd);
	if (ret < 0) {
		fprintf(stderr, "refcachectl: version: %s\n", strerror(-ret));
		return 1;
	}
	printf("abi %u.%u (library built for %u.%u)\n", v.major, v.minor,
	       REFCACHE_ABI_MAJOR, REFCACHE_ABI_MINOR);
	printf("features 0x%llx%s\n", (unsigned long long)v.features,
	       v.features & REFCACHE_FEATURE_HEAP ? " heap" : "");
	return 0;
}

static int cat_proc(const char *path)
{
	char buf[4096];
	size_t n;
	FILE *f;

	f = fopen(path, "r");
	if (!f) {
		perror(path);
		return 1;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, stdout);
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (argc > 2 && !strcmp(argv[2], "--help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "version"))
		return cmd_version();
	if (!strcmp(argv[1], "stats"))
		return cat_proc("/proc/refcache/stats");
	fprintf(stderr, "refcachectl: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
