/* SPDX-License-Identifier: GPL-2.0 */
/* refcachectl graph: a heap dump as Graphviz DOT (graph.c). */
#ifndef REFCACHECTL_GRAPH_H
#define REFCACHECTL_GRAPH_H

#include <stdio.h>

#include "refcache.h"

/**
 * struct graph_opts - what to draw
 * @from:  "oN" or a handle: only what it reaches (objgraph's show_refs)
 * @to:    "oN" or a handle: only what reaches it (show_backrefs)
 * @depth: steps from @from or @to; -1 for no bound
 * @title: the graph's label
 */
struct graph_opts {
	const char *from, *to;
	int depth;
	const char *title;
};

/* Write @n dump records as DOT: 0, -ENOENT for an unknown @from/@to, -ENOMEM. */
int refcache_graph_write(const struct refcache_dump_record *r, size_t n,
			 const struct graph_opts *opt, FILE *out);

/* A heap's picture, whole, to @out: 0 or -errno. */
int graph_print_heap(int fd, const char *title, FILE *out);

/* refcachectl graph ...: the exit status. */
int graph_main(int argc, char **argv);

#endif
