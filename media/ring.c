/* ring.c — per-track retransmission ring; see ring.h. A table of `slots`
 * entries (seq, len, absolute byte position) and one circular byte buffer
 * the packets are appended to at their exact lengths; a packet never wraps
 * (one that does not fit before the end starts again at the beginning).
 * A slot's packet is intact while fewer than `cap` bytes have been
 * written after its start. put and get only copy and compare; allocation
 * happens in new and resize. Single-threaded. */
#include "media/ring.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BYTES ((size_t)64 << 20)

struct slot {
	uint16_t seq;
	uint16_t len; /* 0: empty */
	uint64_t pos; /* absolute position of its first byte */
};

struct km_ring {
	unsigned slots; /* power of two */
	size_t max_packet;
	bool have_newest;
	uint16_t newest; /* newest seq stored since the last reset */
	struct slot *meta;
	uint8_t *data; /* cap bytes */
	size_t cap;
	uint64_t head; /* absolute position where the next packet goes */
};

km_ring_t *km_ring_new_sized(unsigned slots, size_t max_packet, size_t bytes)
{
	if (slots == 0 || slots > 32768 || (slots & (slots - 1)) != 0)
		return NULL;
	if (max_packet == 0 || max_packet > UINT16_MAX || bytes < max_packet || bytes > MAX_BYTES)
		return NULL;
	km_ring_t *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->slots = slots;
	r->max_packet = max_packet;
	r->cap = bytes;
	r->meta = calloc(slots, sizeof *r->meta);
	r->data = malloc(bytes);
	if (!r->meta || !r->data) {
		km_ring_free(r);
		return NULL;
	}
	return r;
}

km_ring_t *km_ring_new(unsigned slots, size_t max_packet)
{
	if (slots == 0 || slots > 32768 || max_packet == 0 || max_packet > UINT16_MAX)
		return NULL;
	return km_ring_new_sized(slots, max_packet, (size_t)slots * max_packet);
}

void km_ring_free(km_ring_t *r)
{
	if (!r)
		return;
	free(r->meta);
	free(r->data);
	free(r);
}

size_t km_ring_bytes(const km_ring_t *r)
{
	return r ? r->cap : 0;
}

void km_ring_reset(km_ring_t *r)
{
	memset(r->meta, 0, (size_t)r->slots * sizeof *r->meta);
	r->have_newest = false;
	r->newest = 0;
}

/* How far seq lies behind newest, modulo 2^16 (0 when equal). */
static uint16_t behind(const km_ring_t *r, uint16_t seq)
{
	return (uint16_t)(r->newest - seq);
}

/* True if seq is newer than the newest stored, in the RFC 3550 half-range
 * sense (a distance of 1..32767 ahead). */
static bool ahead(const km_ring_t *r, uint16_t seq)
{
	uint16_t d = (uint16_t)(seq - r->newest);
	return d != 0 && d < 0x8000;
}

/* Empties the slots of the sequence numbers skipped between the newest
 * and seq (lost or not yet arrived), so that every stored packet lies in
 * the window of `slots` numbers up to the newest. Usually nothing to do. */
static void clear_skipped(km_ring_t *r, uint16_t seq)
{
	uint16_t gap = (uint16_t)(seq - r->newest - 1u);
	if (gap >= r->slots) {
		memset(r->meta, 0, (size_t)r->slots * sizeof *r->meta);
		return;
	}
	for (uint16_t k = 1; k <= gap; k++)
		r->meta[(uint16_t)(r->newest + k) & (r->slots - 1)].len = 0;
}

/* Appends pkt to the byte storage; returns its absolute position. */
static uint64_t store_bytes(km_ring_t *r, const uint8_t *pkt, size_t len)
{
	size_t at = (size_t)(r->head % r->cap);
	if (at + len > r->cap) { /* no wrapping inside a packet */
		r->head += r->cap - at;
		at = 0;
	}
	uint64_t pos = r->head;
	memcpy(r->data + at, pkt, len);
	r->head += len;
	return pos;
}

int km_ring_put(km_ring_t *r, uint16_t seq, const uint8_t *pkt, size_t len)
{
	if (len == 0 || len > r->max_packet)
		return -1;
	if (!r->have_newest) {
		r->have_newest = true;
		r->newest = seq;
	} else if (ahead(r, seq)) {
		clear_skipped(r, seq);
		r->newest = seq;
	} else if (behind(r, seq) >= r->slots) {
		return 1;
	}
	unsigned i = seq & (r->slots - 1);
	r->meta[i].pos = store_bytes(r, pkt, len);
	r->meta[i].seq = seq;
	r->meta[i].len = (uint16_t)len;
	return 0;
}

/* The slot of seq if it holds that packet with its bytes intact. */
static const struct slot *find(const km_ring_t *r, uint16_t seq)
{
	if (!r->have_newest || ahead(r, seq) || behind(r, seq) >= r->slots)
		return NULL;
	const struct slot *s = &r->meta[seq & (r->slots - 1)];
	if (s->len == 0 || s->seq != seq || r->head - s->pos > r->cap)
		return NULL;
	return s;
}

int km_ring_get(const km_ring_t *r, uint16_t seq, const uint8_t **pkt, size_t *len)
{
	const struct slot *s = find(r, seq);
	if (!s)
		return -1;
	*pkt = r->data + (size_t)(s->pos % r->cap);
	*len = s->len;
	return 0;
}

int km_ring_resize(km_ring_t *r, size_t bytes)
{
	if (!r || bytes < r->max_packet || bytes > MAX_BYTES)
		return -1;
	if (bytes == r->cap)
		return 0;
	km_ring_t *n = km_ring_new_sized(r->slots, r->max_packet, bytes);
	if (!n)
		return -1;
	if (r->have_newest) /* oldest first, so that the newest survive */
		for (unsigned k = r->slots; k-- > 0;) {
			uint16_t seq = (uint16_t)(r->newest - k);
			const struct slot *s = find(r, seq);
			if (s)
				km_ring_put(n, seq, r->data + (size_t)(s->pos % r->cap), s->len);
		}
	n->have_newest = r->have_newest;
	n->newest = r->newest;
	free(r->meta);
	free(r->data);
	*r = *n;
	free(n);
	return 0;
}
