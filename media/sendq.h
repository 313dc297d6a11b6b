/* sendq.h — a media worker's queue of outgoing UDP datagrams: what the
 * packet path sends during one iteration of the worker's loop is copied
 * here and sent when the loop is about to poll again, with one sendmmsg()
 * per socket (all the datagrams queued for it, in the order they were
 * queued) instead of one sendmsg() each. It is not ICE: media/ice.c puts
 * datagrams here only for a connection whose ICE pair is selected, to the
 * selected remote address, on libnice's own socket for that pair.
 *
 * Sockets: an entry names its socket by descriptor. Whoever may close a
 * socket that has datagrams queued (media/ice.c, before it lets libnice's
 * agent go) must flush first, so that a datagram never goes out on a
 * descriptor number that was closed and reused.
 *
 * Threads: a queue belongs to one thread (a worker's); no locks. The
 * packet path: km_sendq_push copies and does not allocate. */
#ifndef KM_SENDQ_H
#define KM_SENDQ_H

#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

/* How many datagrams a queue holds before a push flushes it. */
#define KM_SENDQ_SLOTS 64
/* Largest datagram queued; longer ones are sent at once (after a flush). */
#define KM_SENDQ_MAX 1536

typedef struct km_sendq km_sendq_t;

/* Counters (for tests, logs and the benchmark). */
typedef struct {
	uint64_t datagrams; /* handed to the kernel */
	uint64_t calls;     /* sendmmsg/sendto system calls made */
	uint64_t failed;    /* datagrams the kernel refused (lost) */
} km_sendq_stats_t;

/* Returns a new empty queue, or NULL when out of memory. Caller frees with
 * km_sendq_free. */
km_sendq_t *km_sendq_new(void);

/* Flushes, then frees q. Accepts NULL. */
void km_sendq_free(km_sendq_t *q);

/* Queues a copy of p[0..len) (borrowed) for socket fd, to the address
 * to[0..tolen) (borrowed, copied; at most a sockaddr_in6). A full queue is
 * flushed first; a datagram over KM_SENDQ_MAX is sent at once after a
 * flush, so that the order per socket holds. Returns 0 (queued or sent),
 * KM_EINVAL (bad argument) or KM_EIO (sent at once and refused). */
int km_sendq_push(km_sendq_t *q, int fd, const struct sockaddr *to, socklen_t tolen,
		  const uint8_t *p, size_t len);

/* Sends everything queued: per socket, one sendmmsg for its datagrams (more
 * if the kernel takes fewer at a time). A datagram the kernel refuses is
 * counted in `failed` and skipped; nothing is retried. Accepts NULL. */
void km_sendq_flush(km_sendq_t *q);

/* Datagrams queued now. */
size_t km_sendq_pending(const km_sendq_t *q);

/* A copy of the counters. */
void km_sendq_stats(const km_sendq_t *q, km_sendq_stats_t *out);

#endif
