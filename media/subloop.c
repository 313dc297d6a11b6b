/* subloop.c — per-connection GMainContexts run from one epoll source on a
 * worker's context; why and how: media/subloop.h. Each subctx keeps the
 * descriptors of its last g_main_context_query and their registrations in
 * the epoll set (a few slots per subctx; their addresses are the epoll
 * data). The subloop's next timeout is the earliest subctx deadline, found
 * again by a scan only when the earliest one moved later (a timer fired).
 * Threads: the parent context's thread only. */
#include "media/subloop.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/err.h"

#define MAX_EVENTS 64
#define REG_SLOTS 8        /* distinct descriptors per subctx (libnice: 1-2, + wake-up) */
#define NO_DEADLINE INT64_MAX
#define DRAIN_ROUNDS 64
#define OVERFLOW_POLL_US 10000 /* a subctx with more descriptors than slots: polled */

typedef struct {
	km_subctx_t *s;  /* NULL: this is the reg of a km_subwatch_t */
	int fd;          /* -1: free slot */
	uint32_t events; /* registered epoll events */
} reg_t;

struct km_subwatch {
	reg_t reg; /* first: the epoll data points here */
	km_subloop_t *l;
	void (*cb)(void *ud);
	void *ud;
	km_subwatch_t *next_dead;
	bool dead;
};

struct km_subctx {
	km_subloop_t *l;
	GMainContext *ctx;
	km_subctx_t *prev, *next; /* the live list */
	km_subctx_t *next_run;    /* the run list, or the dead list */
	GPollFD *fds;             /* as last queried */
	gint nfds, cap;
	gint max_prio;
	reg_t regs[REG_SLOTS];
	gint64 deadline; /* monotonic µs of its next timeout, NO_DEADLINE: none */
	bool queued, dead, overflow;
};

struct km_subloop {
	GSource src; /* first: the subloop is this GSource */
	int epfd;
	gpointer tag;
	km_subctx_t *live, *dead;
	km_subwatch_t *dead_watches; /* freed inside a dispatch */
	unsigned count;
	gint64 min_deadline;
	bool min_dirty, dispatching;
	/* km_subloop_poll: the parent context's other descriptor (its wake-up)
	 * in the set, and the events it took for the next dispatch. */
	reg_t parent;
	int npending;
	unsigned long fused; /* epoll_waits km_subloop_poll made */
	bool poll_off; /* epoll refused the parent's descriptor: g_poll */
	struct epoll_event ev[MAX_EVENTS];
};

unsigned km_subloop_count(const km_subloop_t *l)
{
	return l ? l->count : 0;
}

unsigned long km_subloop_fused_polls(const km_subloop_t *l)
{
	return l ? l->fused : 0;
}

GMainContext *km_subctx_context(km_subctx_t *s)
{
	return s ? s->ctx : NULL;
}

/* ---- deadlines ---- */

static void set_deadline(km_subctx_t *s, gint64 d)
{
	km_subloop_t *l = s->l;
	gint64 old = s->deadline;

	s->deadline = d;
	if (d < l->min_deadline)
		l->min_deadline = d;
	else if (old == l->min_deadline && d != old)
		l->min_dirty = true;
}

static void rescan_min(km_subloop_t *l)
{
	l->min_deadline = NO_DEADLINE;
	for (km_subctx_t *s = l->live; s; s = s->next)
		if (s->deadline < l->min_deadline)
			l->min_deadline = s->deadline;
	l->min_dirty = false;
}

/* ---- the epoll set ---- */

static uint32_t to_epoll(gushort ev)
{
	return (ev & G_IO_IN ? EPOLLIN : 0) | (ev & G_IO_PRI ? EPOLLPRI : 0) |
	       (ev & G_IO_OUT ? EPOLLOUT : 0);
}

static gushort from_epoll(uint32_t ev)
{
	return (gushort)((ev & EPOLLIN ? G_IO_IN : 0) | (ev & EPOLLPRI ? G_IO_PRI : 0) |
			 (ev & EPOLLOUT ? G_IO_OUT : 0) | (ev & EPOLLERR ? G_IO_ERR : 0) |
			 (ev & EPOLLHUP ? G_IO_HUP : 0));
}

static void reg_ctl(km_subloop_t *l, int op, reg_t *r)
{
	struct epoll_event e = { .events = r->events, .data.ptr = r };

	(void)epoll_ctl(l->epfd, op, r->fd, &e); /* DEL of a closed descriptor: ignored */
}

/* Brings s's registrations in line with s->fds (descriptors merged). */
static void sync_epoll(km_subctx_t *s)
{
	km_subloop_t *l = s->l;

	for (int j = 0; j < REG_SLOTS; j++) {
		reg_t *r = &s->regs[j];
		uint32_t want = 0;
		bool found = false;

		if (r->fd < 0)
			continue;
		for (gint i = 0; i < s->nfds; i++)
			if (s->fds[i].fd == r->fd) {
				want |= to_epoll(s->fds[i].events);
				found = true;
			}
		if (!found) {
			reg_ctl(l, EPOLL_CTL_DEL, r);
			r->fd = -1;
		} else if (want != r->events) {
			r->events = want;
			reg_ctl(l, EPOLL_CTL_MOD, r);
		}
	}
	s->overflow = false;
	for (gint i = 0; i < s->nfds; i++) {
		int fd = s->fds[i].fd, free_slot = -1, j;

		for (j = 0; j < REG_SLOTS && s->regs[j].fd != fd; j++)
			if (s->regs[j].fd < 0 && free_slot < 0)
				free_slot = j;
		if (j < REG_SLOTS)
			continue; /* registered (and merged) above */
		if (free_slot < 0) {
			s->overflow = true;
			continue;
		}
		reg_t *r = &s->regs[free_slot];
		r->fd = fd;
		r->events = 0;
		for (gint k = i; k < s->nfds; k++)
			if (s->fds[k].fd == fd)
				r->events |= to_epoll(s->fds[k].events);
		reg_ctl(l, EPOLL_CTL_ADD, r);
	}
}

static void unregister_all(km_subctx_t *s)
{
	for (int j = 0; j < REG_SLOTS; j++)
		if (s->regs[j].fd >= 0) {
			reg_ctl(s->l, EPOLL_CTL_DEL, &s->regs[j]);
			s->regs[j].fd = -1;
		}
}

/* ---- running one subctx ---- */

/* prepare + query for the next round: descriptors, registrations, deadline. */
static void requery(km_subctx_t *s)
{
	gint timeout = -1, n;

	g_main_context_prepare(s->ctx, &s->max_prio);
	for (;;) {
		n = g_main_context_query(s->ctx, s->max_prio, &timeout, s->fds, s->cap);
		if (n <= s->cap)
			break;
		s->cap = n;
		s->fds = g_renew(GPollFD, s->fds, s->cap);
	}
	s->nfds = n;
	for (gint i = 0; i < n; i++)
		s->fds[i].revents = 0;
	sync_epoll(s);
	if (s->overflow && (timeout < 0 || timeout > OVERFLOW_POLL_US / 1000))
		timeout = OVERFLOW_POLL_US / 1000;
	set_deadline(s, timeout < 0 ? NO_DEADLINE : g_get_monotonic_time() + (gint64)timeout * 1000);
}

/* check + dispatch with the readiness epoll reported (set in s->fds), then
 * requery. */
static void run_sub(km_subctx_t *s)
{
	if (s->overflow)
		(void)g_poll(s->fds, (guint)s->nfds, 0);
	if (g_main_context_check(s->ctx, s->max_prio, s->fds, s->nfds))
		g_main_context_dispatch(s->ctx);
	if (!s->dead)
		requery(s);
}

static void mark_ready(km_subctx_t *s, int fd, uint32_t ev)
{
	gushort rev = from_epoll(ev);

	for (gint i = 0; i < s->nfds; i++)
		if (s->fds[i].fd == fd)
			s->fds[i].revents |= rev & (s->fds[i].events | G_IO_ERR | G_IO_HUP);
}

/* ---- freeing ---- */

static void destroy(km_subctx_t *s)
{
	unregister_all(s);
	/* deferred releases (an agent freed from its own callback) run now */
	for (int i = 0; i < DRAIN_ROUNDS && g_main_context_iteration(s->ctx, FALSE); i++)
		;
	g_main_context_release(s->ctx);
	g_main_context_unref(s->ctx);
	g_free(s->fds);
	free(s);
}

static void free_dead(km_subloop_t *l)
{
	while (l->dead_watches) {
		km_subwatch_t *w = l->dead_watches;

		l->dead_watches = w->next_dead;
		free(w);
	}
	while (l->dead) {
		km_subctx_t *s = l->dead;

		l->dead = s->next_run;
		destroy(s);
	}
}

void km_subctx_free(km_subctx_t *s)
{
	km_subloop_t *l;

	if (!s || s->dead)
		return;
	l = s->l;
	s->dead = true;
	if (s->prev)
		s->prev->next = s->next;
	else
		l->live = s->next;
	if (s->next)
		s->next->prev = s->prev;
	l->count--;
	if (s->deadline == l->min_deadline)
		l->min_dirty = true;
	if (l->dispatching) { /* maybe inside its own dispatch: when that ends */
		if (!s->queued) {
			s->next_run = l->dead;
			l->dead = s;
		}
		/* queued: the run list hands it to the dead list */
		return;
	}
	destroy(s);
}

km_subctx_t *km_subctx_new(km_subloop_t *l)
{
	km_subctx_t *s;

	if (!l)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->l = l;
	s->cap = 4;
	s->fds = g_new0(GPollFD, s->cap);
	s->deadline = NO_DEADLINE;
	for (int j = 0; j < REG_SLOTS; j++)
		s->regs[j] = (reg_t){ .s = s, .fd = -1 };
	s->ctx = g_main_context_new_with_flags(G_MAIN_CONTEXT_FLAGS_OWNERLESS_POLLING);
	g_main_context_acquire(s->ctx);
	s->next = l->live;
	if (l->live)
		l->live->prev = s;
	l->live = s;
	l->count++;
	requery(s); /* registers its wake-up descriptor */
	return s;
}

/* ---- watches ---- */

km_subwatch_t *km_subwatch_new(km_subloop_t *l, int fd, void (*cb)(void *ud), void *ud)
{
	km_subwatch_t *w;

	if (!l || fd < 0 || !cb)
		return NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	/* A duplicate: epoll keys on the descriptor, so a subctx that still has
	 * fd registered (until its next query) does not collide with us. */
	fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0) {
		free(w);
		return NULL;
	}
	w->reg = (reg_t){ .s = NULL, .fd = fd, .events = EPOLLIN };
	w->l = l;
	w->cb = cb;
	w->ud = ud;
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = &w->reg };
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &e) != 0) {
		close(fd);
		free(w);
		return NULL;
	}
	return w;
}

void km_subwatch_free(km_subwatch_t *w)
{
	km_subloop_t *l;

	if (!w || w->dead)
		return;
	l = w->l;
	w->dead = true;
	reg_ctl(l, EPOLL_CTL_DEL, &w->reg);
	close(w->reg.fd);
	if (l->dispatching) { /* its event may still be in the array being run */
		w->next_dead = l->dead_watches;
		l->dead_watches = w;
		return;
	}
	free(w);
}

/* ---- the source on the parent context ---- */

static gboolean loop_prepare(GSource *src, gint *timeout)
{
	km_subloop_t *l = (km_subloop_t *)src;
	gint64 now;

	if (l->min_dirty)
		rescan_min(l);
	*timeout = -1;
	if (l->min_deadline == NO_DEADLINE)
		return FALSE;
	now = g_source_get_time(src);
	if (l->min_deadline <= now) {
		*timeout = 0;
		return TRUE;
	}
	*timeout = (gint)MIN((l->min_deadline - now + 999) / 1000, G_MAXINT);
	return FALSE;
}

static gboolean loop_check(GSource *src)
{
	km_subloop_t *l = (km_subloop_t *)src;

	if (g_source_query_unix_fd(src, l->tag) & G_IO_IN)
		return TRUE;
	if (l->min_dirty)
		rescan_min(l);
	return l->min_deadline <= g_source_get_time(src);
}

static void enqueue(km_subctx_t **head, km_subctx_t **tail, km_subctx_t *s)
{
	if (s->queued || s->dead)
		return;
	s->queued = true;
	s->next_run = NULL;
	if (*tail)
		(*tail)->next_run = s;
	else
		*head = s;
	*tail = s;
}

static gboolean loop_dispatch(GSource *src, GSourceFunc fn, gpointer ud)
{
	km_subloop_t *l = (km_subloop_t *)src;
	km_subctx_t *head = NULL, *tail = NULL;
	int n = l->npending;
	gint64 now = g_get_monotonic_time();

	/* the events km_subloop_poll took, or those ready now */
	l->npending = 0;
	if (n == 0)
		n = epoll_wait(l->epfd, l->ev, MAX_EVENTS, 0);
	l->dispatching = true;
	for (int i = 0; i < n; i++) {
		reg_t *r = l->ev[i].data.ptr;

		if (r == &l->parent)
			continue; /* the parent's wake-up: GLib's business */
		if (r->s) {
			mark_ready(r->s, r->fd, l->ev[i].events);
			enqueue(&head, &tail, r->s);
		}
	}
	for (int i = 0; i < n; i++) { /* watches: directly, after the contexts were noted */
		reg_t *r = l->ev[i].data.ptr;
		km_subwatch_t *w = (km_subwatch_t *)r;

		if (!r->s && r != &l->parent && !w->dead)
			w->cb(w->ud);
	}
	if (l->min_dirty)
		rescan_min(l);
	if (l->min_deadline <= now)
		for (km_subctx_t *s = l->live; s; s = s->next)
			if (s->deadline <= now)
				enqueue(&head, &tail, s);
	while (head) {
		km_subctx_t *s = head;

		head = s->next_run;
		s->queued = false;
		if (s->dead) { /* freed meanwhile: now on the dead list */
			s->next_run = l->dead;
			l->dead = s;
			continue;
		}
		run_sub(s); /* freed inside its run: km_subctx_free put it on the dead list */
	}
	l->dispatching = false;
	free_dead(l);
	return G_SOURCE_CONTINUE;
}

/* ---- polling the parent ---- */

/* Events an earlier km_subloop_poll took that no dispatch ran (a source of
 * higher priority was dispatched instead): dropped, since the set is
 * level-triggered and reports them again; what was freed meanwhile goes. */
static void drop_pending(km_subloop_t *l)
{
	if (l->npending == 0)
		return;
	l->npending = 0;
	l->dispatching = false;
	free_dead(l);
}

/* Puts the parent's other descriptor (GLib's wake-up, which lives as long
 * as the context) into the set the first time; true while it is the same
 * one. Anything else, or epoll refusing it: false, and the caller polls. */
static bool adopt(km_subloop_t *l, const GPollFD *p)
{
	if (l->parent.fd >= 0)
		return l->parent.fd == p->fd && l->parent.events == to_epoll(p->events);
	l->parent = (reg_t){ .s = NULL, .fd = p->fd, .events = to_epoll(p->events) };
	struct epoll_event e = { .events = l->parent.events, .data.ptr = &l->parent };
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, p->fd, &e) != 0) { /* e.g. EEXIST: a subctx's descriptor */
		l->parent.fd = -1;
		l->poll_off = true;
		return false;
	}
	return true;
}

gint km_subloop_poll(void *ud, GPollFD *fds, guint nfds, gint timeout)
{
	km_subloop_t *l = ud;
	GPollFD *self = NULL, *other = NULL;
	int n, k = 0;

	drop_pending(l);
	if (nfds == 2 && !l->poll_off) {
		self = fds[0].fd == l->epfd ? &fds[0] : fds[1].fd == l->epfd ? &fds[1] : NULL;
		other = self == &fds[0] ? &fds[1] : &fds[0];
	}
	if (!self || other->fd < 0 || other->fd == l->epfd || !adopt(l, other))
		return g_poll(fds, nfds, timeout);
	self->revents = other->revents = 0;
	l->fused++;
	n = epoll_wait(l->epfd, l->ev, MAX_EVENTS, timeout);
	if (n < 0)
		return -1; /* errno as poll's (EINTR) */
	for (int i = 0; i < n; i++) {
		if (l->ev[i].data.ptr == &l->parent)
			other->revents |= from_epoll(l->ev[i].events) &
					  (other->events | G_IO_ERR | G_IO_HUP);
		else
			l->ev[k++] = l->ev[i]; /* kept, in order, for the dispatch */
	}
	if (k > 0) {
		self->revents = G_IO_IN;
		l->npending = k;
		/* Until the dispatch runs them, nothing they point at is freed. */
		l->dispatching = true;
	}
	return (self->revents != 0) + (other->revents != 0);
}

static void loop_finalize(GSource *src)
{
	km_subloop_t *l = (km_subloop_t *)src;

	if (l->epfd >= 0)
		close(l->epfd);
}

static GSourceFuncs loop_funcs = { loop_prepare, loop_check, loop_dispatch, loop_finalize,
				   NULL, NULL };

int km_subloop_new(GMainContext *parent, km_subloop_t **out)
{
	GSource *src;
	km_subloop_t *l;

	if (!parent || !out)
		return KM_EINVAL;
	*out = NULL;
	src = g_source_new(&loop_funcs, sizeof(km_subloop_t));
	l = (km_subloop_t *)src;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		g_source_unref(src);
		return KM_EIO;
	}
	l->min_deadline = NO_DEADLINE;
	l->parent = (reg_t){ .s = NULL, .fd = -1 };
	l->tag = g_source_add_unix_fd(src, l->epfd, G_IO_IN);
	g_source_set_priority(src, G_PRIORITY_DEFAULT);
	/* Not blocked while it dispatches: GLib would take the epoll descriptor
	 * out of the parent's poll list and put it back, writing the parent's
	 * wake-up eventfd twice per dispatch. Nothing iterates the parent
	 * from inside this source's dispatch. */
	g_source_set_can_recurse(src, TRUE);
	g_source_attach(src, parent);
	*out = l;
	return 0;
}

void km_subloop_free(km_subloop_t *l)
{
	if (!l)
		return;
	drop_pending(l);
	while (l->live)
		km_subctx_free(l->live);
	free_dead(l);
	g_source_destroy(&l->src);
	g_source_unref(&l->src);
}
