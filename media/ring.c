/* ring.c — per-track retransmission ring; see ring.h. One allocation of
 * slots * max_packet bytes plus a small table of (seq, len) per slot made
 * in km_ring_new; put and get only copy and compare. Single-threaded. */
#include "media/ring.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct slot {
	uint16_t seq;
	uint16_t len; /* 0: empty */
};

struct km_ring {
	unsigned slots; /* power of two */
	size_t max_packet;
	bool have_newest;
	uint16_t newest; /* newest seq stored since the last reset */
	struct slot *meta;
	uint8_t *data;  /* slots * max_packet bytes */
};

km_ring_t *km_ring_new(unsigned slots, size_t max_packet)
{
	if (slots == 0 || slots > 32768 || (slots & (slots - 1)) != 0)
		return NULL;
	if (max_packet == 0 || max_packet > UINT16_MAX)
		return NULL;
	km_ring_t *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->slots = slots;
	r->max_packet = max_packet;
	r->meta = calloc(slots, sizeof *r->meta);
	r->data = malloc((size_t)slots * max_packet);
	if (!r->meta || !r->data) {
		km_ring_free(r);
		return NULL;
	}
	return r;
}

void km_ring_free(km_ring_t *r)
{
	if (!r)
		return;
	free(r->meta);
	free(r->data);
	free(r);
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
	memcpy(r->data + (size_t)i * r->max_packet, pkt, len);
	r->meta[i].seq = seq;
	r->meta[i].len = (uint16_t)len;
	return 0;
}

int km_ring_get(const km_ring_t *r, uint16_t seq, const uint8_t **pkt, size_t *len)
{
	if (!r->have_newest || ahead(r, seq) || behind(r, seq) >= r->slots)
		return -1;
	unsigned i = seq & (r->slots - 1);
	const struct slot *s = &r->meta[i];
	if (s->len == 0 || s->seq != seq)
		return -1;
	*pkt = r->data + (size_t)i * r->max_packet;
	*len = s->len;
	return 0;
}
