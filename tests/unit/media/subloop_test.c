/* subloop_test.c — unit tests of media/subloop: a timer attached to a
 * subctx from outside runs; a ready descriptor on one of many subctxs
 * dispatches only that subctx's source; a subctx freed from inside its own
 * dispatch (and another one freed from there too) goes safely when the
 * dispatch ends; the subloop frees what is left. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <glib-unix.h>
#include <unistd.h>

#include <cmocka.h>

#include "media/subloop.h"

/* Iterates parent until *flag reaches want or 3 s pass. */
static void run_until(GMainContext *parent, const int *flag, int want)
{
	gint64 end = g_get_monotonic_time() + 3 * G_USEC_PER_SEC;
	while (*flag < want && g_get_monotonic_time() < end)
		if (!g_main_context_iteration(parent, FALSE))
			g_usleep(1000);
}

static gboolean count_tick(gpointer p)
{
	(*(int *)p)++;
	return G_SOURCE_REMOVE;
}

static void test_timer(void **state)
{
	GMainContext *parent = g_main_context_new();
	km_subloop_t *l = NULL;
	int fired = 0;
	assert_int_equal(km_subloop_new(parent, &l), 0);
	km_subctx_t *s = km_subctx_new(l);
	assert_non_null(s);
	assert_int_equal(km_subloop_count(l), 1);
	GSource *t = g_timeout_source_new(20);
	g_source_set_callback(t, count_tick, &fired, NULL);
	g_source_attach(t, km_subctx_context(s)); /* from outside: wakes the subctx */
	g_source_unref(t);
	run_until(parent, &fired, 1);
	assert_int_equal(fired, 1);
	km_subctx_free(s);
	assert_int_equal(km_subloop_count(l), 0);
	km_subloop_free(l);
	g_main_context_unref(parent);
}

typedef struct {
	int fds[2];
	int reads;
	km_subctx_t *s, *other; /* other: freed from inside the callback */
	bool free_self;
} piped_t;

static gboolean on_readable(gint fd, GIOCondition cond, gpointer p)
{
	piped_t *x = p;
	char b[64];
	(void)!read(fd, b, sizeof b);
	x->reads++;
	if (x->other) {
		km_subctx_free(x->other);
		x->other = NULL;
	}
	if (x->free_self) {
		km_subctx_free(x->s); /* deferred: we are inside its dispatch */
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

static void watch(piped_t *x, km_subloop_t *l)
{
	assert_int_equal(pipe(x->fds), 0);
	x->s = km_subctx_new(l);
	GSource *src = g_unix_fd_source_new(x->fds[0], G_IO_IN);
	g_source_set_callback(src, (GSourceFunc)(void (*)(void))on_readable, x, NULL);
	g_source_attach(src, km_subctx_context(x->s));
	g_source_unref(src);
}

static void test_only_ready_dispatched(void **state)
{
	enum { N = 100 };
	GMainContext *parent = g_main_context_new();
	km_subloop_t *l = NULL;
	static piped_t p[N];
	memset(p, 0, sizeof p);
	assert_int_equal(km_subloop_new(parent, &l), 0);
	for (int i = 0; i < N; i++)
		watch(&p[i], l);
	assert_int_equal(km_subloop_count(l), N);
	for (int k = 1; k <= 3; k++) {
		assert_int_equal(write(p[57].fds[1], "x", 1), 1);
		run_until(parent, &p[57].reads, k);
		assert_int_equal(p[57].reads, k);
	}
	for (int i = 0; i < N; i++)
		if (i != 57)
			assert_int_equal(p[i].reads, 0);
	/* 57 frees itself and 58 from inside its callback */
	p[57].free_self = true;
	p[57].other = p[58].s;
	assert_int_equal(write(p[57].fds[1], "x", 1), 1);
	assert_int_equal(write(p[58].fds[1], "x", 1), 1); /* 58 may be ready in the same round */
	run_until(parent, &p[57].reads, 4);
	assert_int_equal(p[57].reads, 4);
	assert_int_equal(km_subloop_count(l), N - 2);
	for (int r = 0; r < 20; r++)
		g_main_context_iteration(parent, FALSE);
	assert_true(p[58].reads <= 1); /* freed: at most the round it shared */
	/* another one still works */
	assert_int_equal(write(p[3].fds[1], "x", 1), 1);
	run_until(parent, &p[3].reads, 1);
	assert_int_equal(p[3].reads, 1);
	km_subloop_free(l); /* frees the N - 2 left */
	for (int i = 0; i < N; i++) {
		close(p[i].fds[0]);
		close(p[i].fds[1]);
	}
	g_main_context_unref(parent);
}

/* Watches: called directly when readable; one frees another whose event is
 * in the same round (it must not run), and itself. */
typedef struct wp {
	int fds[2];
	int calls;
	km_subwatch_t *w;
	struct wp *victim;
	bool free_self;
} wpipe_t;

static void on_watch(void *ud)
{
	wpipe_t *x = ud;
	char b[64];
	(void)!read(x->fds[0], b, sizeof b);
	x->calls++;
	if (x->victim) {
		km_subwatch_free(x->victim->w);
		x->victim->w = NULL;
		x->victim = NULL;
	}
	if (x->free_self) {
		km_subwatch_free(x->w);
		x->w = NULL;
	}
}

static void test_watches(void **state)
{
	GMainContext *parent = g_main_context_new();
	km_subloop_t *l = NULL;
	static wpipe_t p[3];
	memset(p, 0, sizeof p);
	assert_int_equal(km_subloop_new(parent, &l), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(pipe(p[i].fds), 0);
		p[i].w = km_subwatch_new(l, p[i].fds[0], on_watch, &p[i]);
		assert_non_null(p[i].w);
	}
	assert_int_equal(km_subloop_count(l), 0); /* no context behind a watch */
	assert_int_equal(write(p[1].fds[1], "x", 1), 1);
	run_until(parent, &p[1].calls, 1);
	assert_int_equal(p[1].calls, 1);
	assert_int_equal(p[0].calls + p[2].calls, 0);
	/* both ready in one round: whichever runs first frees the other and itself */
	p[0].victim = &p[2];
	p[0].free_self = true;
	p[2].victim = &p[0];
	p[2].free_self = true;
	assert_int_equal(write(p[0].fds[1], "x", 1), 1);
	assert_int_equal(write(p[2].fds[1], "x", 1), 1);
	for (int r = 0; r < 20; r++)
		g_main_context_iteration(parent, FALSE);
	assert_int_equal(p[0].calls + p[2].calls, 1);
	assert_null(p[0].w);
	assert_null(p[2].w);
	/* the one left still works; no more calls for the freed */
	assert_int_equal(write(p[0].fds[1], "x", 1), 1);
	assert_int_equal(write(p[1].fds[1], "x", 1), 1);
	run_until(parent, &p[1].calls, 2);
	assert_int_equal(p[1].calls, 2);
	assert_int_equal(p[0].calls + p[2].calls, 1);
	assert_null(km_subwatch_new(l, -1, on_watch, NULL));
	assert_null(km_subwatch_new(NULL, p[1].fds[0], on_watch, NULL));
	km_subwatch_free(p[1].w);
	km_subwatch_free(NULL);
	km_subloop_free(l);
	for (int i = 0; i < 3; i++) {
		close(p[i].fds[0]);
		close(p[i].fds[1]);
	}
	g_main_context_unref(parent);
}

static void test_args(void **state)
{
	km_subloop_t *l = (km_subloop_t *)1;
	assert_int_equal(km_subloop_new(NULL, &l) < 0, 1);
	assert_null(km_subctx_new(NULL));
	assert_null(km_subctx_context(NULL));
	assert_int_equal(km_subloop_count(NULL), 0);
	km_subctx_free(NULL);
	km_subloop_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timer),
		cmocka_unit_test(test_only_ready_dispatched),
		cmocka_unit_test(test_watches),
		cmocka_unit_test(test_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
