/* subloop_test.c — unit tests of media/subloop: a timer attached to a
 * subctx from outside runs; a ready descriptor on one of many subctxs
 * dispatches only that subctx's source; a subctx freed from inside its own
 * dispatch (and another one freed from there too) goes safely when the
 * dispatch ends; the subloop frees what is left. As the parent's poll
 * function (km_subloop_poll): watches, timers and wake-ups from another
 * thread work through its one epoll_wait; a watch freed after that poll
 * took its event, before or instead of the dispatch, is not called; other
 * descriptors on the parent fall back to g_poll. */
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

/* ---- km_subloop_poll ---- */

static km_subloop_t *poll_loop; /* GPollFunc has no user data */

static gint fused_poll(GPollFD *fds, guint nfds, gint timeout)
{
	return km_subloop_poll(poll_loop, fds, nfds, timeout);
}

/* A source that is ready when *armed (at prepare, or only at check) and
 * frees a watch when dispatched. */
typedef struct {
	GSource src;
	bool *armed, at_check;
	wpipe_t *victim;
} freer_t;

static gboolean freer_prepare(GSource *src, gint *timeout)
{
	freer_t *f = (freer_t *)src;
	*timeout = -1;
	return !f->at_check && *f->armed;
}

static gboolean freer_check(GSource *src)
{
	freer_t *f = (freer_t *)src;
	return *f->armed;
}

static gboolean freer_dispatch(GSource *src, GSourceFunc fn, gpointer ud)
{
	freer_t *f = (freer_t *)src;
	(void)fn;
	(void)ud;
	*f->armed = false;
	km_subwatch_free(f->victim->w);
	f->victim->w = NULL;
	return G_SOURCE_CONTINUE;
}

static GSourceFuncs freer_funcs = { freer_prepare, freer_check, freer_dispatch, NULL, NULL, NULL };

static GSource *freer_new(GMainContext *ctx, int prio, bool *armed, bool at_check, wpipe_t *victim)
{
	GSource *src = g_source_new(&freer_funcs, sizeof(freer_t));
	freer_t *f = (freer_t *)src;
	f->armed = armed;
	f->at_check = at_check;
	f->victim = victim;
	g_source_set_priority(src, prio);
	g_source_attach(src, ctx);
	return src;
}

static gboolean set_flag(gpointer p)
{
	g_atomic_int_set((int *)p, 1);
	return G_SOURCE_REMOVE;
}

static int attached_ran;

static gpointer attach_later(gpointer p)
{
	GMainContext *parent = p;
	g_usleep(100 * 1000);
	GSource *idle = g_idle_source_new();
	g_source_set_callback(idle, set_flag, &attached_ran, NULL);
	g_source_attach(idle, parent); /* wakes the parent's poll */
	g_source_unref(idle);
	return NULL;
}

/* A subloop on parent with km_subloop_poll as parent's poll function, and
 * a watch on each of two pipes. */
static km_subloop_t *fused_start(GMainContext *parent, wpipe_t p[2])
{
	km_subloop_t *l = NULL;
	memset(p, 0, 2 * sizeof p[0]);
	assert_int_equal(km_subloop_new(parent, &l), 0);
	poll_loop = l;
	g_main_context_set_poll_func(parent, fused_poll);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pipe(p[i].fds), 0);
		p[i].w = km_subwatch_new(l, p[i].fds[0], on_watch, &p[i]);
		assert_non_null(p[i].w);
	}
	return l;
}

/* Frees the watches still there, the subloop, the pipes and parent. */
static void fused_end(GMainContext *parent, km_subloop_t *l, wpipe_t p[2])
{
	for (int i = 0; i < 2; i++) {
		km_subwatch_free(p[i].w);
		close(p[i].fds[0]);
		close(p[i].fds[1]);
	}
	km_subloop_free(l);
	g_main_context_unref(parent);
	poll_loop = NULL;
}

static void test_poll_fused(void **state)
{
	GMainContext *parent = g_main_context_new();
	static wpipe_t p[2];
	int fired = 0;
	km_subloop_t *l = fused_start(parent, p);
	/* a watch, through the one epoll_wait */
	assert_int_equal(write(p[1].fds[1], "x", 1), 1);
	run_until(parent, &p[1].calls, 1);
	assert_int_equal(p[1].calls, 1);
	assert_int_equal(p[0].calls, 0);
	assert_true(km_subloop_fused_polls(l) > 0);
	/* a subctx's timer: epoll_wait's timeout is the subloop's deadline */
	km_subctx_t *s = km_subctx_new(l);
	GSource *t = g_timeout_source_new(30);
	g_source_set_callback(t, count_tick, &fired, NULL);
	g_source_attach(t, km_subctx_context(s));
	g_source_unref(t);
	gint64 t0 = g_get_monotonic_time();
	for (int r = 0; r < 50 && !fired; r++)
		g_main_context_iteration(parent, TRUE); /* blocks in epoll_wait */
	assert_int_equal(fired, 1);
	assert_true(g_get_monotonic_time() - t0 < 2 * G_USEC_PER_SEC);
	km_subctx_free(s);
	/* a source attached from another thread wakes a blocking iteration
	 * (GLib's wake-up descriptor is in the epoll set now); a 3 s timer
	 * bounds the wait if it did not */
	unsigned long before = km_subloop_fused_polls(l);
	GSource *guard = g_timeout_source_new(3000);
	g_source_set_callback(guard, count_tick, &fired, NULL);
	g_source_attach(guard, parent);
	g_atomic_int_set(&attached_ran, 0);
	GThread *th = g_thread_new("attach", attach_later, parent);
	t0 = g_get_monotonic_time();
	for (int r = 0; r < 50 && fired == 1 && !g_atomic_int_get(&attached_ran); r++)
		g_main_context_iteration(parent, TRUE);
	g_thread_join(th);
	assert_int_equal(g_atomic_int_get(&attached_ran), 1);
	assert_int_equal(fired, 1); /* not the guard */
	assert_true(g_get_monotonic_time() - t0 < 2 * G_USEC_PER_SEC);
	assert_true(km_subloop_fused_polls(l) > before);
	g_source_destroy(guard);
	g_source_unref(guard);
	fused_end(parent, l, p);
}

/* The poll took a watch's event; a source dispatched before the subloop
 * in the same round (same priority, attached first), or instead of it
 * (higher priority, ready at check), frees the watch: never called, and
 * nothing read after it was freed (ASan). */
static void freed_after_poll(int prio, bool at_check)
{
	GMainContext *parent = g_main_context_new();
	static wpipe_t p[2];
	bool armed = false;
	/* attached before the subloop: dispatched before it at one priority */
	GSource *fr = freer_new(parent, prio, &armed, at_check, &p[0]);
	km_subloop_t *l = fused_start(parent, p);
	unsigned long before = km_subloop_fused_polls(l);
	assert_int_equal(write(p[0].fds[1], "x", 1), 1);
	armed = true;
	g_main_context_iteration(parent, FALSE);
	assert_false(armed); /* the freer ran in that round */
	assert_null(p[0].w);
	assert_true(km_subloop_fused_polls(l) > before);
	for (int r = 0; r < 10; r++)
		g_main_context_iteration(parent, FALSE);
	assert_int_equal(p[0].calls, 0);
	/* the other still works */
	assert_int_equal(write(p[1].fds[1], "x", 1), 1);
	run_until(parent, &p[1].calls, 1);
	assert_int_equal(p[1].calls, 1);
	g_source_destroy(fr);
	g_source_unref(fr);
	fused_end(parent, l, p);
}

static void test_poll_freed_before_dispatch(void **state)
{
	freed_after_poll(G_PRIORITY_DEFAULT, false);
}

static void test_poll_freed_instead_of_dispatch(void **state)
{
	freed_after_poll(G_PRIORITY_HIGH, true);
}

/* A third descriptor on the parent: g_poll, and everything still works. */
static gboolean on_extra(gint fd, GIOCondition cond, gpointer p)
{
	char b[16];
	(void)cond;
	(void)!read(fd, b, sizeof b);
	(*(int *)p)++;
	return G_SOURCE_CONTINUE;
}

static void test_poll_fallback(void **state)
{
	GMainContext *parent = g_main_context_new();
	km_subloop_t *l = NULL;
	static wpipe_t p;
	int extra[2], got = 0;
	memset(&p, 0, sizeof p);
	assert_int_equal(km_subloop_new(parent, &l), 0);
	poll_loop = l;
	g_main_context_set_poll_func(parent, fused_poll);
	assert_int_equal(pipe(p.fds), 0);
	assert_int_equal(pipe(extra), 0);
	p.w = km_subwatch_new(l, p.fds[0], on_watch, &p);
	GSource *src = g_unix_fd_source_new(extra[0], G_IO_IN);
	g_source_set_callback(src, (GSourceFunc)(void (*)(void))on_extra, &got, NULL);
	g_source_attach(src, parent);
	for (int r = 0; r < 3; r++)
		g_main_context_iteration(parent, FALSE);
	unsigned long before = km_subloop_fused_polls(l);
	assert_int_equal(write(p.fds[1], "x", 1), 1);
	assert_int_equal(write(extra[1], "y", 1), 1);
	run_until(parent, &p.calls, 1);
	run_until(parent, &got, 1);
	assert_int_equal(p.calls, 1);
	assert_int_equal(got, 1);
	assert_int_equal(km_subloop_fused_polls(l), before); /* three descriptors: g_poll */
	g_source_destroy(src);
	g_source_unref(src);
	km_subwatch_free(p.w);
	km_subloop_free(l);
	close(p.fds[0]);
	close(p.fds[1]);
	close(extra[0]);
	close(extra[1]);
	g_main_context_unref(parent);
	poll_loop = NULL;
}

static void test_args(void **state)
{
	km_subloop_t *l = (km_subloop_t *)1;
	assert_int_equal(km_subloop_new(NULL, &l) < 0, 1);
	assert_null(km_subctx_new(NULL));
	assert_null(km_subctx_context(NULL));
	assert_int_equal(km_subloop_count(NULL), 0);
	assert_int_equal(km_subloop_fused_polls(NULL), 0);
	km_subctx_free(NULL);
	km_subloop_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timer),
		cmocka_unit_test(test_only_ready_dispatched),
		cmocka_unit_test(test_watches),
		cmocka_unit_test(test_poll_fused),
		cmocka_unit_test(test_poll_freed_before_dispatch),
		cmocka_unit_test(test_poll_freed_instead_of_dispatch),
		cmocka_unit_test(test_poll_fallback),
		cmocka_unit_test(test_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
