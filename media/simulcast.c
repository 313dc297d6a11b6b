/* simulcast.c — see simulcast.h: the VP8 payload descriptor and key frame
 * test, VP8 picture numbers across switches, and the per-subscriber layer
 * choice with its hysteresis and probing. Pure; no allocation. */
#include "media/simulcast.h"

#include <string.h>

/* VP8 payload descriptor bits (RFC 7741 4.2) */
#define VP8_X 0x80   /* first byte: extension byte follows */
#define VP8_N 0x20   /* non-reference frame */
#define VP8_S 0x10   /* start of a partition */
#define VP8_PID 0x07 /* partition index */
#define VP8_I 0x80   /* extension byte: PictureID present */
#define VP8_L 0x40   /* TL0PICIDX present */
#define VP8_T 0x20   /* TID present */
#define VP8_K 0x10   /* KEYIDX present */
#define VP8_M 0x80   /* PictureID byte: 15-bit form */
#define VP8_KEY_HEADER 10 /* frame tag (3), start code (3), width (2), height (2) */

/* The optional fields behind the extension byte x, from p[*off..len). */
static int parse_ext(const uint8_t *p, size_t len, size_t *off, uint8_t x, km_simulcast_vp8_t *out)
{
	size_t o = *off;
	if (x & VP8_I) {
		if (o >= len)
			return KM_SIMULCAST_ETRUNC;
		out->has_picture_id = true;
		if (p[o] & VP8_M) {
			if (len - o < 2)
				return KM_SIMULCAST_ETRUNC;
			out->picture_id = (uint16_t)((p[o] & 0x7f) << 8 | p[o + 1]);
			out->picture_id_len = 2;
			o += 2;
		} else {
			out->picture_id = p[o] & 0x7f;
			out->picture_id_len = 1;
			o += 1;
		}
	}
	if (x & VP8_L) {
		if (o >= len)
			return KM_SIMULCAST_ETRUNC;
		out->has_tl0picidx = true;
		out->tl0picidx = p[o++];
	}
	if (x & (VP8_T | VP8_K)) {
		if (o >= len)
			return KM_SIMULCAST_ETRUNC;
		uint8_t b = p[o++];
		if (x & VP8_T) {
			out->has_tid = true;
			out->tid = (uint8_t)(b >> 6);
			out->layer_sync = (b & 0x20) != 0;
		}
		if (x & VP8_K) {
			out->has_keyidx = true;
			out->keyidx = b & 0x1f;
		}
	}
	*off = o;
	return 0;
}

/* The key frame header (RFC 6386 9.1) at q[0..n), if it is one. */
static void parse_key_header(const uint8_t *q, size_t n, km_simulcast_vp8_t *out)
{
	if (n < VP8_KEY_HEADER || (q[0] & 0x01) != 0) /* P bit: 0 = key frame */
		return;
	if (q[3] != 0x9d || q[4] != 0x01 || q[5] != 0x2a)
		return;
	out->keyframe = true;
	out->width = (uint16_t)((q[6] | q[7] << 8) & 0x3fff);
	out->height = (uint16_t)((q[8] | q[9] << 8) & 0x3fff);
}

int km_simulcast_vp8_parse(const uint8_t *p, size_t len, km_simulcast_vp8_t *out)
{
	if (!out)
		return KM_SIMULCAST_EINVAL;
	memset(out, 0, sizeof *out);
	if (!p)
		return KM_SIMULCAST_EINVAL;
	if (len < 1)
		return KM_SIMULCAST_ETRUNC;
	uint8_t b0 = p[0];
	size_t off = 1;
	out->non_ref = (b0 & VP8_N) != 0;
	out->pid = b0 & VP8_PID;
	if (b0 & VP8_X) {
		if (off >= len)
			return KM_SIMULCAST_ETRUNC;
		uint8_t x = p[off++];
		int rc = parse_ext(p, len, &off, x, out);
		if (rc)
			return rc;
	}
	out->desc_len = off;
	if (off >= len)
		return KM_SIMULCAST_EEMPTY;
	out->start = (b0 & VP8_S) && out->pid == 0;
	if (out->start)
		parse_key_header(p + off, len - off, out);
	return 0;
}

int km_simulcast_vp8_keyframe(const uint8_t *p, size_t len)
{
	km_simulcast_vp8_t d;
	return km_simulcast_vp8_parse(p, len, &d) == 0 && d.keyframe;
}

void km_simulcast_vp8_map_init(km_simulcast_vp8_map_t *m)
{
	memset(m, 0, sizeof *m);
	m->src = -1;
}

/* true if picture id a is newer than b, both of `bits` bits (15 or 7) */
static bool pid_newer(uint16_t a, uint16_t b, unsigned bits)
{
	uint16_t mask = (uint16_t)((1u << bits) - 1), d = (uint16_t)((a - b) & mask);
	return d != 0 && d < (uint16_t)(1u << (bits - 1));
}

int km_simulcast_vp8_map(km_simulcast_vp8_map_t *m, int src, uint8_t *p, size_t len)
{
	km_simulcast_vp8_t d;
	if (!m || src < 0)
		return KM_SIMULCAST_EINVAL;
	int rc = km_simulcast_vp8_parse(p, len, &d);
	if (rc)
		return rc;
	size_t off = 2; /* the first optional field, behind the X byte */
	uint16_t pid = d.picture_id;
	uint8_t tl0 = d.tl0picidx, key = d.keyidx;
	if (src != m->src) { /* a new source: its picture follows the last one sent */
		m->pid_off = m->started ? (uint16_t)((m->last_pid + 1 - pid) & 0x7fff) : 0;
		m->tl0_off = m->started ? (uint8_t)(m->last_tl0 + 1 - tl0) : 0;
		m->key_off = m->started ? (uint8_t)((m->last_key + 1 - key) & 0x1f) : 0;
		m->src = src;
	}
	unsigned bits = d.picture_id_len == 1 ? 7 : 15;
	uint16_t out_pid = (uint16_t)((pid + m->pid_off) & ((1u << bits) - 1));
	uint8_t out_tl0 = (uint8_t)(tl0 + m->tl0_off), out_key = (uint8_t)((key + m->key_off) & 0x1f);
	if (d.has_picture_id) {
		if (d.picture_id_len == 2) {
			p[off] = (uint8_t)(0x80 | out_pid >> 8);
			p[off + 1] = (uint8_t)out_pid;
		} else {
			p[off] = (uint8_t)out_pid;
		}
		off += d.picture_id_len;
	}
	if (d.has_tl0picidx)
		p[off++] = out_tl0;
	if (d.has_keyidx)
		p[off] = (uint8_t)((p[off] & 0xe0) | out_key);
	if (!m->started || !d.has_picture_id || pid_newer(out_pid, m->last_pid, bits)) {
		m->last_pid = out_pid;
		m->last_tl0 = out_tl0;
		m->last_key = out_key;
	}
	m->started = true;
	return 0;
}

const char *km_simulcast_strerror(int code)
{
	switch (code) {
	case KM_SIMULCAST_OK:
		return "ok";
	case KM_SIMULCAST_ETRUNC:
		return "VP8 payload descriptor truncated";
	case KM_SIMULCAST_EEMPTY:
		return "no VP8 payload after the descriptor";
	case KM_SIMULCAST_EINVAL:
		return "bad argument";
	default:
		return "unknown error";
	}
}

/* ---- the layer choice ---- */

bool km_simulcast_below(const km_simulcast_layer_t *l, size_t a, size_t b)
{
	if (l[a].width && l[b].width && l[a].width != l[b].width)
		return l[a].width < l[b].width;
	return a < b;
}

/* 0.9 * est, without overflow for any est */
static bool fits(uint64_t bps, uint64_t est)
{
	return bps <= est / 10 * 9 + est % 10 * 9 / 10;
}

int km_simulcast_choose(const km_simulcast_layer_t *l, size_t n, uint64_t est_bps)
{
	int lowest = -1, best = -1;
	for (size_t i = 0; l && i < n && i < 127; i++) {
		if (l[i].bps == 0)
			continue;
		if (lowest < 0 || km_simulcast_below(l, i, (size_t)lowest))
			lowest = (int)i;
		if (est_bps && fits(l[i].bps, est_bps) && (best < 0 || km_simulcast_below(l, (size_t)best, i)))
			best = (int)i;
	}
	return best >= 0 ? best : lowest;
}

void km_simulcast_sel_init(km_simulcast_sel_t *s)
{
	memset(s, 0, sizeof *s);
	s->cur = s->want = s->up = -1;
	s->probe_backoff = KM_SIMULCAST_PROBE_BLOCK;
}

static void set_want(km_simulcast_sel_t *s, int layer)
{
	s->want = (int8_t)layer;
	s->up = -1;
	s->up_count = 0;
}

/* Counts decision in a row in which layer t could be gone up to; true
 * once it has been KM_SIMULCAST_UP_AFTER of them. */
static bool count_up(km_simulcast_sel_t *s, int t)
{
	if (s->up == t) {
		s->up_count++;
	} else {
		s->up = (int8_t)t;
		s->up_count = 1;
	}
	return s->up_count >= KM_SIMULCAST_UP_AFTER;
}

/* The lowest-ranked sending layer above layer a, or -1. */
static int next_above(const km_simulcast_layer_t *l, size_t n, size_t a)
{
	int best = -1;
	for (size_t i = 0; i < n && i < 127; i++)
		if (i != a && l[i].bps && km_simulcast_below(l, a, i) &&
		    (best < 0 || km_simulcast_below(l, i, (size_t)best)))
			best = (int)i;
	return best;
}

/* A probe under way: true while it is kept (or just failed: want set back
 * to t); false once it succeeded (it fitted KM_SIMULCAST_UP_AFTER
 * decisions in a row) and the normal rule goes on. */
static bool probe_held(km_simulcast_sel_t *s, const km_simulcast_layer_t *l, size_t n, int t, uint64_t est,
		       uint64_t prev_est)
{
	bool fell = prev_est && est / 9 < prev_est / 10; /* est < 0.9 * prev_est, without overflow */
	bool gone = s->want < 0 || (size_t)s->want >= n || l[s->want].bps == 0;
	if (!fell && !gone) {
		bool fits = t == s->want || km_simulcast_below(l, (size_t)s->want, (size_t)t);
		if (fits && count_up(s, s->want)) {
			s->probing = false;
			s->probe_backoff = KM_SIMULCAST_PROBE_BLOCK;
			set_want(s, s->want);
			return false;
		}
		if (!fits)
			s->up_count = 0;
		if (++s->probe_age < KM_SIMULCAST_PROBE_HOLD)
			return true;
	}
	s->probing = false;
	s->probe_block = s->probe_backoff;
	unsigned next = s->probe_backoff * 2u;
	s->probe_backoff = (uint8_t)(next > KM_SIMULCAST_PROBE_BLOCK_MAX ? KM_SIMULCAST_PROBE_BLOCK_MAX : next);
	set_want(s, t);
	return true;
}

/* Steady on want (== t): begins a probe of the next layer up when the
 * estimate sits at the receiver's cap (est >= 1.3 * sent). */
static void maybe_probe(km_simulcast_sel_t *s, const km_simulcast_layer_t *l, size_t n, uint64_t est, uint64_t sent)
{
	int next = s->want == s->cur ? next_above(l, n, (size_t)s->want) : -1;
	bool capped = sent && est / 13 >= sent / 10;
	if (next < 0 || !capped || s->probe_block) {
		s->up = -1;
		s->up_count = 0;
		return;
	}
	if (count_up(s, next)) {
		set_want(s, next);
		s->probing = true;
		s->probe_age = 0;
	}
}

bool km_simulcast_decide(km_simulcast_sel_t *s, const km_simulcast_layer_t *l, size_t n, uint64_t est_bps,
			 uint64_t sent_bps)
{
	uint64_t prev_est = s->last_est;
	s->last_est = est_bps;
	if (s->probe_block)
		s->probe_block--;
	int t = km_simulcast_choose(l, n, est_bps);
	if (t < 0)
		return s->want != s->cur;
	if (s->probing && probe_held(s, l, n, t, est_bps, prev_est))
		return s->want != s->cur;
	bool want_gone = s->want < 0 || (size_t)s->want >= n || l[s->want].bps == 0;
	if (want_gone || (t != s->want && (t == s->cur || km_simulcast_below(l, (size_t)t, (size_t)s->want))))
		set_want(s, t); /* down, back, or away from a layer that stopped: at once */
	else if (t == s->want)
		maybe_probe(s, l, n, est_bps, sent_bps);
	else if (count_up(s, t)) /* up: only once it fitted KM_SIMULCAST_UP_AFTER times in a row */
		set_want(s, t);
	return s->want != s->cur;
}

bool km_simulcast_accept(km_simulcast_sel_t *s, int layer, bool keyframe)
{
	if (layer < 0)
		return false;
	if (layer == s->cur)
		return true;
	if (layer == s->want && keyframe) {
		s->cur = s->want;
		return true;
	}
	return false;
}
