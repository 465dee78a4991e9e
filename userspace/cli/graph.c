// SPDX-License-Identifier: GPL-2.0
/*
 * refcachectl graph: a heap dump (refcache_heap_dump()) as Graphviz DOT,
 * as objgraph draws Python's heap: the whole heap, what one object
 * reaches (show_refs) or what reaches it (show_backrefs).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "refcache.h"
#include "graph.h"

/* Object numbers run 1..nobj; cache records come first. */
struct gview {
	const struct refcache_dump_record *r;
	size_t n;
	uint64_t nobj;
	const struct refcache_dump_record **obj;	/* by number */
	int *depth;					/* -1: not shown */
};

static const char *cache_name(const struct gview *g, uint32_t id)
{
	size_t i;

	for (i = 0; i < g->n && g->r[i].kind == REFCACHE_DUMP_CACHE; i++)
		if (g->r[i].cache_id == id)
			return g->r[i].name;
	return "kernel";
}

/* Object number of a handle id, 0 if it is not a strong handle of the dump. */
static uint64_t object_of_handle(const struct gview *g, uint64_t handle)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		if (g->r[i].kind == REFCACHE_DUMP_HANDLE && g->r[i].value == handle &&
		    !(g->r[i].flags & REFCACHE_DUMP_WEAK))
			return g->r[i].id;
	return 0;
}

/* Breadth first from @start along edges (@back: against them), up to @maxd. */
static void walk(struct gview *g, uint64_t start, int back, int maxd)
{
	uint64_t *queue = calloc(g->nobj + 1, sizeof(*queue)), head = 0, tail = 0;
	size_t i;

	if (!queue)
		return;
	g->depth[start] = 0;
	queue[tail++] = start;
	while (head < tail) {
		uint64_t o = queue[head++];

		if (maxd >= 0 && g->depth[o] >= maxd)
			continue;
		for (i = 0; i < g->n; i++) {
			const struct refcache_dump_record *e = &g->r[i];
			uint64_t from = back ? e->value : e->id, to = back ? e->id : e->value;

			if (e->kind != REFCACHE_DUMP_EDGE || from != o || !to || to > g->nobj ||
			    g->depth[to] >= 0)
				continue;
			g->depth[to] = g->depth[o] + 1;
			queue[tail++] = to;
		}
	}
	free(queue);
}

static void write_dot(const struct gview *g, FILE *out, const char *title)
{
	size_t i;
	uint64_t k;

	fprintf(out, "digraph refcache {\n");
	fprintf(out, "\tlabel=\"%s\";\n\tlabelloc=t;\n\trankdir=LR;\n", title);
	fprintf(out, "\tnode [shape=box, style=\"rounded,filled\", fillcolor=white, "
		"fontname=\"monospace\"];\n");
	for (k = 1; k <= g->nobj; k++) {
		const struct refcache_dump_record *o = g->obj[k];
		const char *fill = "white", *shape = "box";
		char gen[16];

		if (!o || g->depth[k] < 0)
			continue;
		if (o->flags & REFCACHE_DUMP_GARBAGE)
			fill = "lightpink";
		else if (o->flags & REFCACHE_DUMP_FROZEN)
			fill = "lightblue";
		if (!(o->flags & REFCACHE_DUMP_TRACKED))
			shape = "ellipse";
		if (o->generation < 0)
			snprintf(gen, sizeof(gen), "untracked");
		else if (o->generation == 3)
			snprintf(gen, sizeof(gen), "frozen");
		else
			snprintf(gen, sizeof(gen), "gen %d", o->generation);
		fprintf(out, "\to%llu [label=\"%s #%llu\\nrefcount %llu, %s%s%s\", shape=%s, "
			"fillcolor=%s];\n", (unsigned long long)k, cache_name(g, o->cache_id),
			(unsigned long long)k, (unsigned long long)o->value, gen,
			o->flags & REFCACHE_DUMP_GARBAGE ? "\\ngc.garbage" : "",
			o->flags & REFCACHE_DUMP_WEAKREFD ? "\\nweakly referenced" : "",
			shape, fill);
	}
	for (i = 0; i < g->n; i++) {
		const struct refcache_dump_record *e = &g->r[i];

		if (e->kind == REFCACHE_DUMP_EDGE && e->id <= g->nobj && e->value <= g->nobj &&
		    g->depth[e->id] >= 0 && g->depth[e->value] >= 0) {
			if (e->index == REFCACHE_DUMP_TRAVERSE)
				fprintf(out, "\to%llu -> o%llu [style=dotted];\n",
					(unsigned long long)e->id, (unsigned long long)e->value);
			else
				fprintf(out, "\to%llu -> o%llu [label=\"slot %u\"];\n",
					(unsigned long long)e->id, (unsigned long long)e->value,
					e->index);
		}
		/* Handles are the roots: what user space holds. */
		if (e->kind == REFCACHE_DUMP_HANDLE && e->id && e->id <= g->nobj &&
		    g->depth[e->id] >= 0) {
			fprintf(out, "\th%llx [label=\"%s handle\\n%#llx\", shape=plaintext, "
				"style=\"\"];\n", (unsigned long long)e->value,
				e->flags & REFCACHE_DUMP_WEAK ? "weak" : "strong",
				(unsigned long long)e->value);
			fprintf(out, "\th%llx -> o%llu [style=%s];\n", (unsigned long long)e->value,
				(unsigned long long)e->id,
				e->flags & REFCACHE_DUMP_WEAK ? "dashed" : "bold");
		}
	}
	fprintf(out, "}\n");
}

/* Parse "oN" (a node of the graph) or a handle id. */
static int pick(const struct gview *g, const char *s, uint64_t *obj)
{
	unsigned long long v;
	char *end;

	errno = 0;
	if (s[0] == 'o') {
		v = strtoull(s + 1, &end, 10);
		if (errno || *end || !v || v > g->nobj)
			return -ENOENT;
		*obj = v;
		return 0;
	}
	v = strtoull(s, &end, 0);
	if (errno || *end)
		return -EINVAL;
	*obj = object_of_handle(g, v);
	return *obj ? 0 : -ENOENT;
}

int refcache_graph_write(const struct refcache_dump_record *r, size_t n,
			 const struct graph_opts *opt, FILE *out)
{
	struct gview g = { .r = r, .n = n };
	uint64_t start = 0, k;
	size_t i;
	int ret = 0;

	for (i = 0; i < n; i++)
		if (r[i].kind == REFCACHE_DUMP_OBJECT && r[i].id > g.nobj)
			g.nobj = r[i].id;
	g.obj = calloc(g.nobj + 1, sizeof(*g.obj));
	g.depth = calloc(g.nobj + 1, sizeof(*g.depth));
	if (!g.obj || !g.depth) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++)
		if (r[i].kind == REFCACHE_DUMP_OBJECT)
			g.obj[r[i].id] = &r[i];
	if (opt->from || opt->to) {
		ret = pick(&g, opt->from ? opt->from : opt->to, &start);
		if (ret)
			goto out;
		for (k = 0; k <= g.nobj; k++)
			g.depth[k] = -1;
		walk(&g, start, !opt->from, opt->depth);
	}
	write_dot(&g, out, opt->title ? opt->title : "refcache heap");
out:
	free(g.obj);
	free(g.depth);
	return ret;
}

/* The raw records on disk: "RCDUMP1\n", then struct refcache_dump_record each. */
static const char dump_magic[8] = "RCDUMP1\n";

static int load_dump(const char *path, struct refcache_dump_record **r, size_t *n)
{
	FILE *f = fopen(path, "rb");
	char magic[8];
	size_t cap = 0;

	*r = NULL;
	*n = 0;
	if (!f)
		return -errno;
	if (fread(magic, 1, sizeof(magic), f) != sizeof(magic) ||
	    memcmp(magic, dump_magic, sizeof(magic))) {
		fclose(f);
		return -EINVAL;
	}
	for (;;) {
		if (*n == cap) {
			struct refcache_dump_record *nr;

			cap = cap ? cap * 2 : 256;
			nr = realloc(*r, cap * sizeof(**r));
			if (!nr) {
				fclose(f);
				return -ENOMEM;
			}
			*r = nr;
		}
		if (fread(&(*r)[*n], sizeof(**r), 1, f) != 1)
			break;
		(*n)++;
	}
	fclose(f);
	return 0;
}

static int save_dump(const char *path, const struct refcache_dump_record *r, size_t n)
{
	FILE *f = fopen(path, "wb");
	int ok;

	if (!f)
		return -errno;
	ok = fwrite(dump_magic, 1, sizeof(dump_magic), f) == sizeof(dump_magic) &&
	     fwrite(r, sizeof(*r), n, f) == n;
	return fclose(f) == 0 && ok ? 0 : -EIO;
}

int graph_print_heap(int fd, const char *title, FILE *out)
{
	struct graph_opts opt = { .depth = -1, .title = title };
	struct refcache_dump_record *r;
	size_t n;
	int ret = refcache_heap_dump(fd, &r, &n);

	if (ret)
		return ret;
	ret = refcache_graph_write(r, n, &opt, out);
	free(r);
	return ret;
}

/*
 * The known graph refcachectl graph draws without --fd or --load: a chain
 * a -> b -> c held by a handle to a, and a cycle x <-> y held by nothing
 * but itself, with a weak handle to x.
 */
static int demo_heap(void)
{
	uint64_t a, b, c, x, y, w;
	int fd = refcache_open(), cache, ret;

	if (fd < 0)
		return fd;
	refcache_gc_disable(fd);
	cache = refcache_cache_create(fd, "demo", 16, 2, REFCACHE_CACHE_TRACKED);
	ret = cache < 0 ? cache : 0;
	if (!ret)
		ret = refcache_new(fd, cache, &a) ?: refcache_new(fd, cache, &b) ?:
		      refcache_new(fd, cache, &c) ?: refcache_new(fd, cache, &x) ?:
		      refcache_new(fd, cache, &y) ?: refcache_store(fd, a, 0, b) ?:
		      refcache_store(fd, b, 0, c) ?: refcache_store(fd, x, 0, y) ?:
		      refcache_store(fd, y, 0, x) ?: refcache_weak_new(fd, x, &w) ?:
		      refcache_handle_close(fd, b) ?: refcache_handle_close(fd, c) ?:
		      refcache_handle_close(fd, x) ?: refcache_handle_close(fd, y);
	if (ret) {
		refcache_close(fd);
		return ret;
	}
	return fd;
}

static void graph_usage(FILE *out)
{
	fputs("usage: refcachectl graph [--fd N | --load FILE] [--save FILE]\n"
	      "                         [--from NODE | --to NODE] [--depth N]\n"
	      "                         [--collect] [-o FILE.dot] [--svg FILE.svg]\n", out);
}

int graph_main(int argc, char **argv)
{
	struct graph_opts opt = { .depth = -1 };
	const char *load = NULL, *save = NULL, *dotpath = NULL, *svg = NULL;
	struct refcache_dump_record *r = NULL;
	int fd = -1, own = 0, collect = 0, i, ret;
	size_t n = 0;
	FILE *out = stdout;
	char *end;

	for (i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--collect")) {
			collect = 1;
			continue;
		}
		if (!v)
			goto bad;
		i++;
		if (!strcmp(a, "--fd")) {
			fd = (int)strtol(v, &end, 10);
			if (*end || fd < 0)
				goto bad;
		} else if (!strcmp(a, "--load")) {
			load = v;
		} else if (!strcmp(a, "--save")) {
			save = v;
		} else if (!strcmp(a, "--from")) {
			opt.from = v;
		} else if (!strcmp(a, "--to")) {
			opt.to = v;
		} else if (!strcmp(a, "--depth")) {
			opt.depth = (int)strtol(v, &end, 10);
			if (*end || opt.depth < 0)
				goto bad;
		} else if (!strcmp(a, "-o")) {
			dotpath = v;
		} else if (!strcmp(a, "--svg")) {
			svg = v;
		} else {
			goto bad;
		}
	}
	if ((opt.from && opt.to) || (load && fd >= 0) || (load && collect))
		goto bad;
	if (load) {
		ret = load_dump(load, &r, &n);
		if (ret) {
			fprintf(stderr, "refcachectl: graph: %s: %s\n", load, strerror(-ret));
			return 1;
		}
		opt.title = load;
	} else {
		if (fd < 0) {
			fd = demo_heap();
			own = 1;
			if (fd < 0) {
				fprintf(stderr, "refcachectl: graph: %s\n", strerror(-fd));
				return 1;
			}
		}
		if (collect && refcache_gc_collect(fd, 2) < 0) {
			fprintf(stderr, "refcachectl: graph: gc.collect failed\n");
			return 1;
		}
		ret = refcache_heap_dump(fd, &r, &n);
		if (own)
			refcache_close(fd);
		if (ret) {
			fprintf(stderr, "refcachectl: graph: heap dump: %s\n", strerror(-ret));
			return 1;
		}
		opt.title = own ? "refcachectl graph: demo heap" : "refcache heap";
	}
	if (save && (ret = save_dump(save, r, n))) {
		fprintf(stderr, "refcachectl: graph: %s: %s\n", save, strerror(-ret));
		free(r);
		return 1;
	}
	if (svg) {
		char cmd[4096];

		/* Graphviz's dot (Debian package graphviz) renders it. */
		if (system("command -v dot > /dev/null 2>&1")) {
			fprintf(stderr, "refcachectl: graph: --svg needs dot (apt-get install graphviz)\n");
			free(r);
			return 1;
		}
		if (strchr(svg, '\'')) {
			free(r);
			goto bad;
		}
		snprintf(cmd, sizeof(cmd), "dot -Tsvg -o '%s'", svg);
		out = popen(cmd, "w");
	} else if (dotpath) {
		out = fopen(dotpath, "w");
	}
	if (!out) {
		fprintf(stderr, "refcachectl: graph: cannot write %s\n", svg ? svg : dotpath);
		free(r);
		return 1;
	}
	ret = refcache_graph_write(r, n, &opt, out);
	free(r);
	if (svg)
		ret = pclose(out) ? -EIO : ret;
	else if (dotpath && fclose(out))
		ret = -EIO;
	if (ret) {
		fprintf(stderr, "refcachectl: graph: %s\n",
			ret == -ENOENT ? "no such node or handle" : strerror(-ret));
		return 1;
	}
	return 0;
bad:
	graph_usage(stderr);
	return 2;
}
