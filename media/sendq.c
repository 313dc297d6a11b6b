/* sendq.c — a worker's queue of outgoing datagrams, sent with sendmmsg per
 * socket when the loop is about to poll; see media/sendq.h. One allocation
 * in km_sendq_new; push copies, flush groups by socket. Single-threaded. */
#include "media/sendq.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

typedef union {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
} addr_t;

typedef struct {
	int fd;
	socklen_t alen;
	size_t len;
	addr_t to;
	_Alignas(16) uint8_t data[KM_SENDQ_MAX];
} entry_t;

struct km_sendq {
	size_t n;
	km_sendq_stats_t st;
	bool done[KM_SENDQ_SLOTS];
	struct mmsghdr msgs[KM_SENDQ_SLOTS];
	struct iovec iov[KM_SENDQ_SLOTS];
	entry_t e[KM_SENDQ_SLOTS];
};

km_sendq_t *km_sendq_new(void)
{
	return calloc(1, sizeof(km_sendq_t));
}

void km_sendq_free(km_sendq_t *q)
{
	if (!q)
		return;
	km_sendq_flush(q);
	free(q);
}

size_t km_sendq_pending(const km_sendq_t *q)
{
	return q ? q->n : 0;
}

void km_sendq_stats(const km_sendq_t *q, km_sendq_stats_t *out)
{
	if (!out)
		return;
	if (!q) {
		memset(out, 0, sizeof(*out));
		return;
	}
	*out = q->st;
}

/* Sends msgs[0..k) on fd, as many per call as the kernel takes; one the
 * kernel refuses is counted and skipped. */
static void send_group(km_sendq_t *q, int fd, struct mmsghdr *msgs, unsigned k)
{
	unsigned off = 0;

	while (off < k) {
		int r = sendmmsg(fd, msgs + off, k - off, MSG_DONTWAIT | MSG_NOSIGNAL);

		q->st.calls++;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			q->st.failed++; /* the first one was refused: skip it */
			off++;
			continue;
		}
		q->st.datagrams += (uint64_t)r;
		off += (unsigned)r;
	}
}

void km_sendq_flush(km_sendq_t *q)
{
	if (!q || q->n == 0)
		return;
	memset(q->done, 0, q->n * sizeof(q->done[0]));
	for (size_t i = 0; i < q->n; i++) {
		unsigned k = 0;

		if (q->done[i])
			continue;
		/* every datagram for this socket, in queue order */
		for (size_t j = i; j < q->n; j++) {
			entry_t *e = &q->e[j];

			if (q->done[j] || e->fd != q->e[i].fd)
				continue;
			q->done[j] = true;
			q->iov[k].iov_base = e->data;
			q->iov[k].iov_len = e->len;
			memset(&q->msgs[k], 0, sizeof(q->msgs[k]));
			q->msgs[k].msg_hdr.msg_name = &e->to;
			q->msgs[k].msg_hdr.msg_namelen = e->alen;
			q->msgs[k].msg_hdr.msg_iov = &q->iov[k];
			q->msgs[k].msg_hdr.msg_iovlen = 1;
			k++;
		}
		send_group(q, q->e[i].fd, q->msgs, k);
	}
	q->n = 0;
}

int km_sendq_push(km_sendq_t *q, int fd, const struct sockaddr *to, socklen_t tolen,
		  const uint8_t *p, size_t len)
{
	entry_t *e;

	if (!q || fd < 0 || !to || tolen == 0 || tolen > sizeof(addr_t) || !p || len == 0)
		return KM_EINVAL;
	if (len > KM_SENDQ_MAX) { /* rare (a large DTLS flight): keep the order */
		km_sendq_flush(q);
		q->st.calls++;
		if (sendto(fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL, to, tolen) != (ssize_t)len) {
			q->st.failed++;
			return KM_EIO;
		}
		q->st.datagrams++;
		return 0;
	}
	if (q->n == KM_SENDQ_SLOTS)
		km_sendq_flush(q);
	e = &q->e[q->n++];
	e->fd = fd;
	e->alen = tolen;
	memcpy(&e->to, to, tolen);
	e->len = len;
	memcpy(e->data, p, len);
	return 0;
}
