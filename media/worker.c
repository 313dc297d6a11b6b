/* worker.c — a media worker thread: its GMainContext/GMainLoop, the call
 * inbox (idle sources attached to the context) and the bounded event outbox
 * (a mutex-protected ring). Threads: see media/worker.h. */
#include "media/worker.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"

struct km_worker {
	char name[16];
	GMainContext *ctx;
	GMainLoop *loop;
	GThread *thread;
	km_sendq_t *sendq; /* the worker thread's only */
	km_poll_fn poll;   /* the worker thread's only; NULL: g_poll */
	void *poll_ud;

	GMutex lock; /* guards everything below */
	int stopping;
	void (*wake)(void *);
	void *wake_ud;
	km_media_event_t ring[KM_WORKER_EVENT_CAP];
	size_t head;          /* index of the oldest event */
	size_t count;         /* events in the ring */
	uint64_t pending_lost; /* lost since the last OVERFLOW marker was queued */
	uint64_t lost;         /* lost in total */
};

typedef struct {
	void (*fn)(void *);
	void *arg;
} call_t;

/* The worker running on this thread (GLib's poll function has no user
 * data). */
static _Thread_local km_worker_t *thread_worker;

/* The worker context's poll function: what the sources dispatched in this
 * loop iteration queued goes out now, just before the loop polls (and
 * perhaps sleeps). */
static gint poll_flushing(GPollFD *fds, guint nfds, gint timeout)
{
	km_worker_t *w = thread_worker;

	if (!w)
		return g_poll(fds, nfds, timeout);
	km_sendq_flush(w->sendq);
	return w->poll ? w->poll(w->poll_ud, fds, nfds, timeout) : g_poll(fds, nfds, timeout);
}

static gpointer run(gpointer p)
{
	km_worker_t *w = p;

	thread_worker = w;
	g_main_context_push_thread_default(w->ctx);
	g_main_loop_run(w->loop);
	/* Let sources made ready by the last calls (e.g. an ICE endpoint freed
	 * from its own callback) finish on this thread; bounded. */
	for (int i = 0; i < 64 && g_main_context_iteration(w->ctx, FALSE); i++)
		;
	km_sendq_flush(w->sendq);
	g_main_context_pop_thread_default(w->ctx);
	thread_worker = NULL;
	return NULL;
}

int km_worker_new(const char *name, km_worker_t **out)
{
	km_worker_t *w;
	GError *gerr = NULL;

	if (!name || !out)
		return KM_EINVAL;
	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return KM_ENOMEM;
	g_strlcpy(w->name, name, sizeof(w->name));
	w->sendq = km_sendq_new();
	if (!w->sendq) {
		free(w);
		return KM_ENOMEM;
	}
	g_mutex_init(&w->lock);
	w->ctx = g_main_context_new();
	g_main_context_set_poll_func(w->ctx, poll_flushing);
	w->loop = g_main_loop_new(w->ctx, FALSE);
	w->thread = g_thread_try_new(w->name, run, w, &gerr);
	if (!w->thread) {
		km_error("media", "worker_start_failed", "worker=%s reason=%s", w->name,
			 gerr ? "thread" : "unknown");
		g_clear_error(&gerr);
		g_main_loop_unref(w->loop);
		g_main_context_unref(w->ctx);
		g_mutex_clear(&w->lock);
		km_sendq_free(w->sendq);
		free(w);
		return KM_EIO;
	}
	km_debug("media", "worker_started", "worker=%s", w->name);
	*out = w;
	return 0;
}

static gboolean call_dispatch(gpointer p)
{
	call_t *c = p;

	c->fn(c->arg);
	return G_SOURCE_REMOVE;
}

/* Attaches fn(arg) as a default-priority idle source: sources of one
 * priority are dispatched in the order they were attached. */
static void queue_call(km_worker_t *w, void (*fn)(void *), void *arg)
{
	call_t *c = g_new(call_t, 1);
	GSource *src = g_idle_source_new();

	c->fn = fn;
	c->arg = arg;
	g_source_set_priority(src, G_PRIORITY_DEFAULT);
	g_source_set_callback(src, call_dispatch, c, g_free);
	g_source_attach(src, w->ctx);
	g_source_unref(src);
}

int km_worker_call(km_worker_t *w, void (*fn)(void *), void *arg)
{
	int rc = 0;

	if (!w || !fn)
		return KM_EINVAL;
	/* Under the lock, so that no call can slip in behind the final quit. */
	g_mutex_lock(&w->lock);
	if (w->stopping)
		rc = KM_EINVAL;
	else
		queue_call(w, fn, arg);
	g_mutex_unlock(&w->lock);
	return rc;
}

static void quit_loop(void *arg)
{
	km_worker_t *w = arg;

	g_main_loop_quit(w->loop);
}

void km_worker_free(km_worker_t *w)
{
	if (!w)
		return;
	if (km_worker_is_current(w)) {
		/* Joining itself would deadlock: refuse (and leak) loudly. */
		km_error("media", "worker_free_on_own_thread", "worker=%s", w->name);
		return;
	}
	g_mutex_lock(&w->lock);
	w->stopping = 1;
	/* Queued last, so every call queued before it runs first. */
	queue_call(w, quit_loop, w);
	g_mutex_unlock(&w->lock);
	g_thread_join(w->thread);
	km_debug("media", "worker_stopped", "worker=%s lost_events=%llu", w->name,
		 (unsigned long long)w->lost);
	/* Sources the caller forgot are destroyed with the context. */
	g_main_loop_unref(w->loop);
	g_main_context_unref(w->ctx);
	g_mutex_clear(&w->lock);
	km_sendq_free(w->sendq);
	free(w);
}

GMainContext *km_worker_context(km_worker_t *w)
{
	return w ? w->ctx : NULL;
}

void km_worker_set_poll(km_worker_t *w, km_poll_fn fn, void *ud)
{
	if (!w)
		return;
	w->poll = fn;
	w->poll_ud = fn ? ud : NULL;
}

km_sendq_t *km_worker_sendq(km_worker_t *w)
{
	return w ? w->sendq : NULL;
}

int km_worker_is_current(km_worker_t *w)
{
	return w && g_main_context_is_owner(w->ctx) && g_main_loop_is_running(w->loop);
}

void km_worker_set_event_sink(km_worker_t *w, void (*wake)(void *), void *ud)
{
	if (!w)
		return;
	g_mutex_lock(&w->lock);
	w->wake = wake;
	w->wake_ud = ud;
	g_mutex_unlock(&w->lock);
}

/* Appends one event; the caller holds the lock and has checked for room. */
static void ring_put(km_worker_t *w, int type, uint64_t conn_id, int code, const char *text,
		     size_t tlen)
{
	km_media_event_t *e = &w->ring[(w->head + w->count) % KM_WORKER_EVENT_CAP];

	e->type = type;
	e->conn_id = conn_id;
	e->code = code;
	memcpy(e->text, text, tlen);
	e->text[tlen] = '\0';
	w->count++;
}

static int lost_code(uint64_t n)
{
	return n > (uint64_t)INT32_MAX ? INT32_MAX : (int)n;
}

int km_worker_push_event(km_worker_t *w, int type, uint64_t conn_id, int code, const char *text)
{
	size_t tlen;
	int rc = 0;
	void (*wake)(void *);
	void *ud;

	if (!w)
		return KM_EINVAL;
	if (!text)
		text = "";
	tlen = strlen(text);
	if (tlen >= KM_MEDIA_EVENT_TEXT)
		return KM_ETOOBIG;
	g_mutex_lock(&w->lock);
	/* An earlier loss is reported where it happened: before this event. */
	if (w->pending_lost && w->count < KM_WORKER_EVENT_CAP) {
		ring_put(w, KM_MEDIA_EV_OVERFLOW, 0, lost_code(w->pending_lost), "", 0);
		w->pending_lost = 0;
	}
	if (w->count < KM_WORKER_EVENT_CAP) {
		ring_put(w, type, conn_id, code, text, tlen);
	} else {
		w->pending_lost++;
		w->lost++;
		rc = KM_EBUSY;
	}
	wake = w->wake;
	ud = w->wake_ud;
	g_mutex_unlock(&w->lock);
	if (wake)
		wake(ud);
	return rc;
}

size_t km_worker_poll_events(km_worker_t *w, km_media_event_t *out, size_t max)
{
	size_t n = 0;

	if (!w || !out)
		return 0;
	g_mutex_lock(&w->lock);
	while (n < max && w->count > 0) {
		out[n++] = w->ring[w->head];
		w->head = (w->head + 1) % KM_WORKER_EVENT_CAP;
		w->count--;
	}
	/* Losses after the last queued event: the marker comes last. */
	if (n < max && w->count == 0 && w->pending_lost) {
		memset(&out[n], 0, sizeof(out[n]));
		out[n].type = KM_MEDIA_EV_OVERFLOW;
		out[n].code = lost_code(w->pending_lost);
		n++;
		w->pending_lost = 0;
	}
	g_mutex_unlock(&w->lock);
	return n;
}

uint64_t km_worker_events_lost(km_worker_t *w)
{
	uint64_t n;

	if (!w)
		return 0;
	g_mutex_lock(&w->lock);
	n = w->lost;
	g_mutex_unlock(&w->lock);
	return n;
}
