/* subloop.h — many small GMainContexts (one per WebRTC connection) run from
 * one source on a worker's context, with epoll, so that the work per event
 * does not grow with the number of connections on the worker.
 *
 * Why: a GMainContext iteration prepares, polls and checks every source
 * attached to it. With every libnice agent (a socket and several timers
 * each) on the worker's own context, each wake-up of a worker with 256
 * connections walked about a thousand sources and poll()ed 256 sockets,
 * for the one or two sockets that had a datagram. Here each connection's
 * agent, sockets and timers live on a context of their own (a "subctx");
 * the subloop keeps every subctx's descriptors in one epoll set and its
 * next timeout, and runs (check + dispatch, then prepare + query for the
 * next round) only the subctxs whose descriptors are ready or whose
 * timeout has come. It is not an event loop of its own: it is one GSource
 * (the epoll descriptor) on the parent context, and it knows nothing of
 * ICE or media.
 *
 * A subctx is made with G_MAIN_CONTEXT_FLAGS_OWNERLESS_POLLING, so that a
 * source attached to it from outside its dispatch (a timer libnice adds
 * when a candidate arrives by a command on the worker's context) wakes its
 * wake-up descriptor, and the subloop then prepares it again.
 *
 * Threads: everything on the thread that runs the parent context; the
 * subctx contexts are acquired by that thread for their whole life. */
#ifndef KM_SUBLOOP_H
#define KM_SUBLOOP_H

#include <glib.h>

typedef struct km_subloop km_subloop_t;
typedef struct km_subctx km_subctx_t;

/* Makes a subloop and attaches its source to parent (borrowed; must be run
 * by the calling thread). *out is new; free with km_subloop_free. Returns
 * 0, KM_ENOMEM or KM_EIO (epoll). */
int km_subloop_new(GMainContext *parent, km_subloop_t **out);

/* Frees every subctx still there, then the subloop. Not from inside its
 * own dispatch. Accepts NULL. */
void km_subloop_free(km_subloop_t *l);

/* A new subctx (its context acquired by the calling thread), or NULL when
 * out of memory. Free with km_subctx_free. */
km_subctx_t *km_subctx_new(km_subloop_t *l);

/* Its context (borrowed, lives as long as the subctx): give it to what
 * should run there (km_conn_new). */
GMainContext *km_subctx_context(km_subctx_t *s);

/* Frees s once what runs on it has been freed (e.g. after km_conn_free):
 * its context is iterated a few times so that deferred releases (the
 * libnice agent freed from its own callback) finish, then it is dropped.
 * Called from inside the subloop's dispatch (a callback running on this
 * or another subctx), it happens when that dispatch ends. Accepts NULL. */
void km_subctx_free(km_subctx_t *s);

/* A descriptor in the subloop's epoll set on its own, without a context:
 * when it is readable, the subloop's dispatch calls cb(ud) directly (no
 * prepare, query, check or dispatch of a GLib context around it). cb must
 * read until EAGAIN or leave the rest for the next round (level-
 * triggered). The set holds a duplicate of fd, so a subctx may have fd
 * registered at the same time (both are then told). For the media packet
 * path (media/ice_direct.c). NULL when out of memory or epoll refuses fd. */
typedef struct km_subwatch km_subwatch_t;
km_subwatch_t *km_subwatch_new(km_subloop_t *l, int fd, void (*cb)(void *ud), void *ud);

/* Stops watching (the descriptor is not closed); from inside the
 * subloop's dispatch too, where the memory goes when that dispatch ends.
 * Accepts NULL. */
void km_subwatch_free(km_subwatch_t *w);

/* A poll function for the parent context (GPollFunc's arguments after ud,
 * the subloop): when the parent polls only the subloop's epoll descriptor
 * and one other (GLib's wake-up), that other joins the epoll set and one
 * epoll_wait both sleeps and collects the events the next dispatch runs:
 * one system call per wake-up instead of poll() and then epoll_wait().
 * Any other set of descriptors goes to g_poll. On the parent's thread,
 * from its poll function only (media/worker.h: km_worker_set_poll). */
gint km_subloop_poll(void *ud, GPollFD *fds, guint nfds, gint timeout);

/* How many times km_subloop_poll polled with its one epoll_wait (for
 * tests: the fused path was taken, not g_poll). */
unsigned long km_subloop_fused_polls(const km_subloop_t *l);

/* How many subctxs the subloop runs (for tests). */
unsigned km_subloop_count(const km_subloop_t *l);

#endif
