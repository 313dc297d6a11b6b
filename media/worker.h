/* worker.h — a media worker: one thread running its own GMainContext and
 * GMainLoop, on which the libnice agents (media/ice.h) and everything else
 * of the rooms pinned to it live. It is not the router and knows nothing of
 * rooms; it is only the thread, its inbox and its outbox.
 *
 * Threads: everything attached to km_worker_context(w) runs on the worker's
 * thread only. Other threads reach it in one way: km_worker_call(), which
 * queues a function onto the worker's context (FIFO, asynchronous, never run
 * inline). Events travel back through a bounded, mutex-protected MPSC queue
 * of km_media_event_t: any thread (normally the worker) pushes with
 * km_worker_push_event(), which then calls the event sink's wake function;
 * the signaling thread drains with km_worker_poll_events(). km_worker_new
 * and km_worker_free are for the owner (signaling/main) thread only.
 *
 * Full queue: the queue holds KM_WORKER_EVENT_CAP events. A push into a full
 * queue is refused (KM_EBUSY) and the event is lost; the worker counts the
 * loss, and the next km_worker_poll_events() delivers, in the place where
 * the loss happened, one KM_MEDIA_EV_OVERFLOW event whose code is the number
 * of events lost. The consumer must then treat what it knows of this
 * worker's connections as stale (e.g. tear down connections that are not
 * yet up). Once there is room again, pushes succeed as before. */
#ifndef KM_WORKER_H
#define KM_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "media/sendq.h"

#define KM_WORKER_EVENT_CAP 1024
/* Room for an SDP candidate line (RFC 8839: foundation <= 32 chars, an IPv6
 * address <= 45, ...), with margin; longer text is refused, never cut. */
#define KM_MEDIA_EVENT_TEXT 256

typedef enum {
	KM_MEDIA_EV_NONE = 0,
	KM_MEDIA_EV_OVERFLOW,       /* code: number of events lost (see above) */
	KM_MEDIA_EV_ICE_CANDIDATE,  /* text: local "candidate:..." line to trickle */
	KM_MEDIA_EV_ICE_GATHERED,   /* local gathering done (end-of-candidates) */
	KM_MEDIA_EV_ICE_STATE,      /* code: km_ice_state_t */
	KM_MEDIA_EV_ERROR,          /* code: KM_E*; text: reason, no personal data */
	KM_MEDIA_EV_USER = 100,     /* first value free for other media modules */
} km_media_event_type_t;

typedef struct {
	int type;         /* km_media_event_type_t or >= KM_MEDIA_EV_USER */
	uint64_t conn_id; /* the connection it is about (0: the worker itself) */
	int code;
	char text[KM_MEDIA_EVENT_TEXT]; /* NUL-terminated, "" when unused */
} km_media_event_t;

typedef struct km_worker km_worker_t;

/* Starts a worker thread named `name` (borrowed; at most 15 characters are
 * kept, for the OS thread name) with a fresh GMainContext. *out is new,
 * caller frees with km_worker_free. Returns 0, KM_EINVAL or KM_EIO (the
 * thread could not start). */
int km_worker_new(const char *name, km_worker_t **out);

/* Runs every call queued before it, stops the loop, joins the thread and
 * frees the worker and any events left in its queue. Everything the caller
 * attached to the context (libnice agents, timers) must have been freed
 * before, by a km_worker_call. Must not be called on the worker's own
 * thread. Accepts NULL. */
void km_worker_free(km_worker_t *w);

/* The worker's context (borrowed, lives as long as w). Attach sources and
 * libnice agents to it; they then run on the worker's thread. */
GMainContext *km_worker_context(km_worker_t *w);

/* Queues fn(arg) to run on the worker's thread, after every call queued
 * before it, at G_PRIORITY_DEFAULT (the same as socket I/O, so that calls
 * are not starved under load). Callable from any thread, including the
 * worker's own (the call then runs on a later loop iteration, not inline).
 * arg is passed through untouched (whoever queued it owns it). Returns 0,
 * or KM_EINVAL (NULL w or fn, or the worker is stopping: fn will not run). */
int km_worker_call(km_worker_t *w, void (*fn)(void *), void *arg);

/* The worker's queue of outgoing datagrams (borrowed, lives as long as w;
 * for use on w's thread only, e.g. in km_conn_config_t). The worker's loop
 * flushes it each time before it polls, so that everything sent during one
 * loop iteration leaves in one sendmmsg per socket; and once more when the
 * loop stops. */
km_sendq_t *km_worker_sendq(km_worker_t *w);

/* How the worker's loop polls instead of g_poll (GPollFunc with user
 * data), e.g. km_subloop_poll with the subloop on the worker's context;
 * NULL fn: g_poll again. The send queue is flushed before it either way.
 * On w's thread only (from a km_worker_call); unset it before ud goes. */
typedef gint (*km_poll_fn)(void *ud, GPollFD *fds, guint nfds, gint timeout);
void km_worker_set_poll(km_worker_t *w, km_poll_fn fn, void *ud);

/* 1 when called on w's thread (while its loop runs), else 0. */
int km_worker_is_current(km_worker_t *w);

/* Sets the function called after each successful push (and after a refused
 * one, so that the consumer comes to see the overflow), on the pushing
 * thread, with no lock held. It must be cheap and thread-safe, e.g.
 * lws_cancel_service(). NULL wake: no wake-ups. Set it before the worker has
 * connections; it is read under the queue lock. */
void km_worker_set_event_sink(km_worker_t *w, void (*wake)(void *), void *ud);

/* Queues an event (text is borrowed and copied; NULL means ""). Callable
 * from any thread. Returns 0; KM_ETOOBIG when text does not fit in
 * KM_MEDIA_EVENT_TEXT (nothing queued, not counted as lost); KM_EBUSY when
 * the queue is full (the event is lost and counted, see the top). */
int km_worker_push_event(km_worker_t *w, int type, uint64_t conn_id, int code, const char *text);

/* Moves up to max queued events, oldest first, into out (caller's array).
 * Returns how many. A consumer woken by the sink drains until this returns
 * fewer than max. Callable from any thread (normally the signaling one). */
size_t km_worker_poll_events(km_worker_t *w, km_media_event_t *out, size_t max);

/* Events lost to a full queue since the worker started (for metrics). */
uint64_t km_worker_events_lost(km_worker_t *w);

#endif
