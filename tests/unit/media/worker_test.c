/* worker_test.c — unit tests of media/worker: calls run on the worker's
 * thread in FIFO order and never inline, free runs what was queued before
 * it, events come out in order and wake the sink, and a full queue refuses
 * events, counts them and reports the loss in place. Assertions run on the
 * test's own thread only (cmocka longjmps); worker-side code records facts
 * under a mutex and the main thread checks them. Waits are bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "media/worker.h"

#define WAIT_US (5 * G_TIME_SPAN_SECOND)

typedef struct {
	GMutex lock;
	GCond cond;
	km_worker_t *w;
	GThread *thread;    /* thread the call ran on */
	int is_current;     /* km_worker_is_current() inside the call */
	int owner;          /* g_main_context_is_owner() inside the call */
	int order[200];
	int n_order;
	int inner_ran_inline;
	int done;
	int wakes;
} probe_t;

static void probe_init(probe_t *p, km_worker_t *w)
{
	memset(p, 0, sizeof(*p));
	g_mutex_init(&p->lock);
	g_cond_init(&p->cond);
	p->w = w;
}

static void probe_clear(probe_t *p)
{
	g_mutex_clear(&p->lock);
	g_cond_clear(&p->cond);
}

/* Waits until *flag >= want (read under p->lock); 1 if reached in time. */
static int wait_for(probe_t *p, const int *flag, int want)
{
	gint64 end = g_get_monotonic_time() + WAIT_US;
	int ok = 1;

	g_mutex_lock(&p->lock);
	while (*flag < want && ok)
		ok = g_cond_wait_until(&p->cond, &p->lock, end);
	ok = *flag >= want;
	g_mutex_unlock(&p->lock);
	return ok;
}

static void where_am_i(void *arg)
{
	probe_t *p = arg;

	g_mutex_lock(&p->lock);
	p->thread = g_thread_self();
	p->is_current = km_worker_is_current(p->w);
	p->owner = g_main_context_is_owner(km_worker_context(p->w));
	p->done++;
	g_cond_broadcast(&p->cond);
	g_mutex_unlock(&p->lock);
}

static void test_call_runs_on_worker_thread(void **state)
{
	km_worker_t *w = NULL;
	probe_t p;

	assert_int_equal(km_worker_new("kmtest-w1", &w), 0);
	probe_init(&p, w);
	assert_int_equal(km_worker_call(w, where_am_i, &p), 0);
	assert_true(wait_for(&p, &p.done, 1));
	assert_non_null(p.thread);
	assert_ptr_not_equal(p.thread, g_thread_self());
	assert_int_equal(p.is_current, 1);
	assert_int_equal(p.owner, 1);
	/* And not from here. */
	assert_int_equal(km_worker_is_current(w), 0);
	assert_false(g_main_context_is_owner(km_worker_context(w)));
	km_worker_free(w);
	probe_clear(&p);
}

typedef struct {
	probe_t *p;
	int i;
} step_t;

static void record_step(void *arg)
{
	step_t *s = arg;

	g_mutex_lock(&s->p->lock);
	if (s->p->n_order < (int)G_N_ELEMENTS(s->p->order))
		s->p->order[s->p->n_order++] = s->i;
	g_cond_broadcast(&s->p->cond);
	g_mutex_unlock(&s->p->lock);
}

static void test_calls_are_fifo(void **state)
{
	km_worker_t *w = NULL;
	probe_t p;
	step_t steps[150];
	int i;

	assert_int_equal(km_worker_new("kmtest-fifo", &w), 0);
	probe_init(&p, w);
	for (i = 0; i < 150; i++) {
		steps[i].p = &p;
		steps[i].i = i;
		assert_int_equal(km_worker_call(w, record_step, &steps[i]), 0);
	}
	assert_true(wait_for(&p, &p.n_order, 150));
	for (i = 0; i < 150; i++)
		assert_int_equal(p.order[i], i);
	km_worker_free(w);
	probe_clear(&p);
}

static void inner_call(void *arg)
{
	probe_t *p = arg;

	g_mutex_lock(&p->lock);
	p->done++;
	g_cond_broadcast(&p->cond);
	g_mutex_unlock(&p->lock);
}

static void outer_call(void *arg)
{
	probe_t *p = arg;
	int before, after;

	g_mutex_lock(&p->lock);
	before = p->done;
	g_mutex_unlock(&p->lock);
	km_worker_call(p->w, inner_call, p); /* from the worker itself */
	g_mutex_lock(&p->lock);
	after = p->done;
	p->inner_ran_inline = after != before;
	g_mutex_unlock(&p->lock);
}

static void test_call_from_worker_is_not_inline(void **state)
{
	km_worker_t *w = NULL;
	probe_t p;

	assert_int_equal(km_worker_new("kmtest-self", &w), 0);
	probe_init(&p, w);
	assert_int_equal(km_worker_call(w, outer_call, &p), 0);
	assert_true(wait_for(&p, &p.done, 1));
	assert_int_equal(p.inner_ran_inline, 0);
	km_worker_free(w);
	probe_clear(&p);
}

static void slow_step(void *arg)
{
	g_usleep(1000);
	record_step(arg);
}

static void test_free_runs_queued_calls(void **state)
{
	km_worker_t *w = NULL;
	probe_t p;
	step_t steps[40];
	int i;

	assert_int_equal(km_worker_new("kmtest-drain", &w), 0);
	probe_init(&p, w);
	for (i = 0; i < 40; i++) {
		steps[i].p = &p;
		steps[i].i = i;
		assert_int_equal(km_worker_call(w, slow_step, &steps[i]), 0);
	}
	km_worker_free(w); /* returns only after all 40 ran */
	assert_int_equal(p.n_order, 40);
	for (i = 0; i < 40; i++)
		assert_int_equal(p.order[i], i);
	km_worker_free(NULL);
	assert_int_equal(km_worker_call(NULL, slow_step, NULL), KM_EINVAL);
	probe_clear(&p);
}

static void wake_sink(void *ud)
{
	probe_t *p = ud;

	g_mutex_lock(&p->lock);
	p->wakes++;
	g_cond_broadcast(&p->cond);
	g_mutex_unlock(&p->lock);
}

static void push_ten(void *arg)
{
	probe_t *p = arg;
	char text[32];
	int i;

	for (i = 0; i < 10; i++) {
		snprintf(text, sizeof(text), "candidate:%d", i);
		km_worker_push_event(p->w, KM_MEDIA_EV_ICE_CANDIDATE, 7, i, text);
	}
}

static void test_events_in_order_and_wake(void **state)
{
	km_worker_t *w = NULL;
	probe_t p;
	km_media_event_t ev[16];
	char want[32];
	size_t n;
	int i;

	assert_int_equal(km_worker_new("kmtest-ev", &w), 0);
	probe_init(&p, w);
	km_worker_set_event_sink(w, wake_sink, &p);
	assert_int_equal(km_worker_call(w, push_ten, &p), 0);
	assert_true(wait_for(&p, &p.wakes, 10));
	n = km_worker_poll_events(w, ev, 4); /* partial drain, then the rest */
	assert_int_equal(n, 4);
	n += km_worker_poll_events(w, ev + 4, 12);
	assert_int_equal(n, 10);
	for (i = 0; i < 10; i++) {
		snprintf(want, sizeof(want), "candidate:%d", i);
		assert_int_equal(ev[i].type, KM_MEDIA_EV_ICE_CANDIDATE);
		assert_int_equal(ev[i].conn_id, 7);
		assert_int_equal(ev[i].code, i);
		assert_string_equal(ev[i].text, want);
	}
	assert_int_equal(km_worker_poll_events(w, ev, 16), 0);
	/* NULL text is "", too long text is refused and not counted as lost. */
	assert_int_equal(km_worker_push_event(w, KM_MEDIA_EV_ICE_GATHERED, 7, 0, NULL), 0);
	{
		char big[KM_MEDIA_EVENT_TEXT + 1];

		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		assert_int_equal(km_worker_push_event(w, 1, 7, 0, big), KM_ETOOBIG);
		big[KM_MEDIA_EVENT_TEXT - 1] = '\0'; /* exactly fits */
		assert_int_equal(km_worker_push_event(w, KM_MEDIA_EV_ERROR, 7, 0, big), 0);
	}
	assert_int_equal(km_worker_poll_events(w, ev, 16), 2);
	assert_int_equal(ev[0].type, KM_MEDIA_EV_ICE_GATHERED);
	assert_string_equal(ev[0].text, "");
	assert_int_equal(strlen(ev[1].text), KM_MEDIA_EVENT_TEXT - 1);
	assert_int_equal(km_worker_events_lost(w), 0);
	km_worker_free(w);
	probe_clear(&p);
}

static void test_full_queue(void **state)
{
	km_worker_t *w = NULL;
	probe_t p;
	km_media_event_t *ev = calloc(KM_WORKER_EVENT_CAP + 8, sizeof(*ev));
	size_t n, i;

	assert_non_null(ev);
	assert_int_equal(km_worker_new("kmtest-full", &w), 0);
	probe_init(&p, w);
	km_worker_set_event_sink(w, wake_sink, &p);
	for (i = 0; i < KM_WORKER_EVENT_CAP; i++)
		assert_int_equal(km_worker_push_event(w, KM_MEDIA_EV_ICE_STATE, i, (int)i, NULL), 0);
	/* Full: refused, counted, and the sink is still woken. */
	for (i = 0; i < 3; i++)
		assert_int_equal(km_worker_push_event(w, KM_MEDIA_EV_ICE_STATE, 9999, 0, NULL),
				 KM_EBUSY);
	assert_int_equal(km_worker_events_lost(w), 3);
	assert_int_equal(p.wakes, KM_WORKER_EVENT_CAP + 3);

	/* Make room for 10, then push one: the loss marker comes before it. */
	assert_int_equal(km_worker_poll_events(w, ev, 10), 10);
	for (i = 0; i < 10; i++)
		assert_int_equal(ev[i].code, (int)i);
	assert_int_equal(km_worker_push_event(w, KM_MEDIA_EV_ERROR, 42, -1, "after"), 0);
	n = km_worker_poll_events(w, ev, KM_WORKER_EVENT_CAP + 8);
	assert_int_equal(n, KM_WORKER_EVENT_CAP - 10 + 2);
	for (i = 0; i < KM_WORKER_EVENT_CAP - 10; i++)
		assert_int_equal(ev[i].conn_id, i + 10);
	assert_int_equal(ev[i].type, KM_MEDIA_EV_OVERFLOW);
	assert_int_equal(ev[i].code, 3);
	assert_int_equal(ev[i + 1].type, KM_MEDIA_EV_ERROR);
	assert_string_equal(ev[i + 1].text, "after");

	/* Fill again, lose 2, drain: the marker comes last. */
	for (i = 0; i < KM_WORKER_EVENT_CAP; i++)
		assert_int_equal(km_worker_push_event(w, KM_MEDIA_EV_ICE_STATE, i, 0, NULL), 0);
	assert_int_equal(km_worker_push_event(w, 1, 0, 0, NULL), KM_EBUSY);
	assert_int_equal(km_worker_push_event(w, 1, 0, 0, NULL), KM_EBUSY);
	n = km_worker_poll_events(w, ev, KM_WORKER_EVENT_CAP); /* no room for the marker */
	assert_int_equal(n, KM_WORKER_EVENT_CAP);
	assert_int_equal(ev[KM_WORKER_EVENT_CAP - 1].type, KM_MEDIA_EV_ICE_STATE);
	n = km_worker_poll_events(w, ev, 4);
	assert_int_equal(n, 1);
	assert_int_equal(ev[0].type, KM_MEDIA_EV_OVERFLOW);
	assert_int_equal(ev[0].code, 2);
	assert_int_equal(km_worker_poll_events(w, ev, 4), 0);
	assert_int_equal(km_worker_events_lost(w), 5);
	km_worker_free(w);
	probe_clear(&p);
	free(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_call_runs_on_worker_thread),
		cmocka_unit_test(test_calls_are_fifo),
		cmocka_unit_test(test_call_from_worker_is_not_inline),
		cmocka_unit_test(test_free_runs_queued_calls),
		cmocka_unit_test(test_events_in_order_and_wake),
		cmocka_unit_test(test_full_queue),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
