/* sfu_path.c — the SFU's packet path on a media worker: RTP from a
 * publisher is parsed, stored for retransmission and copied to each
 * subscriber of its track in the same room (extensions renumbered, SSRC,
 * payload type, sequence and timestamp rewritten), protected and sent.
 * A simulcast track has up to three layers, each with its own SSRC (learnt
 * from the rid extension), ring, reception statistics and measured
 * bitrate; each subscriber receives one layer, chosen once a second from
 * its REMB estimate and switched on a key frame of the new layer.
 * RTCP is terminated here: NACKs are answered from the ring of the layer
 * the subscriber receives (or passed on to the publisher when the ring
 * misses), PLI/FIR become at most one keyframe request per publisher
 * stream per 500 ms, subscribers' REMB estimates are kept, and kamer sends
 * its own RR + REMB to publishers and SR to subscribers once a second.
 * No allocation, no lock, no SQLite, no logging on the packet path: buffers
 * are the worker's (the 1 s measurement resizes the rings).
 * Threads: the worker's thread only. */
#include "media/sfu_int.h"

#include "media/rtcp.h"

#include <string.h>

/* True if packet r carries extension id with exactly the bytes of text. */
static bool ext_is(const km_rtp_t *r, uint8_t id, const char *text)
{
	const km_rtp_ext_t *e = id ? km_rtp_ext_find(r, id) : NULL;
	size_t n = strlen(text);
	return e && e->len == n && memcmp(km_rtp_ext_data(r, e), text, n) == 0;
}

/* Learns an SSRC not in the SDP: a simulcast layer by its rid extension
 * (and the mid extension, when negotiated), a plain track by the mid. */
static sfu_track_t *learn_ssrc(sfu_wconn_t *c, const km_rtp_t *r, uint8_t *layer)
{
	for (size_t i = 0; i < c->ntracks; i++) {
		sfu_track_t *t = &c->tracks[i];
		if (r->pt != t->neg.pt)
			continue;
		if (t->neg.nlayers == 0) {
			if (t->layers[0].ssrc == 0 && ext_is(r, t->neg.ext_mid, t->neg.mid)) {
				t->layers[0].ssrc = r->ssrc;
				*layer = 0;
				return t;
			}
			continue;
		}
		if (t->neg.ext_mid && !ext_is(r, t->neg.ext_mid, t->neg.mid))
			continue;
		for (uint8_t k = 0; k < t->nlayers; k++)
			if (t->layers[k].ssrc == 0 && ext_is(r, t->neg.ext_rid, t->neg.rids[k])) {
				t->layers[k].ssrc = r->ssrc;
				*layer = k;
				return t;
			}
	}
	return NULL;
}

static sfu_track_t *track_for(sfu_wconn_t *c, const km_rtp_t *r, uint8_t *layer)
{
	for (size_t i = 0; i < c->ntracks; i++)
		for (uint8_t k = 0; k < c->tracks[i].nlayers; k++)
			if (c->tracks[i].layers[k].ssrc == r->ssrc) {
				*layer = k;
				return &c->tracks[i];
			}
	return learn_ssrc(c, r, layer);
}

static void note_received(sfu_layer_t *l, uint16_t seq, size_t len)
{
	int64_t v = km_rtp_unwrap(&l->unwrap, seq);
	if (!l->started) {
		l->started = true;
		l->base_seq = l->max_seq = v;
	} else if (v > l->max_seq) {
		l->max_seq = v;
	}
	l->received++;
	l->octets += len;
}

/* Copies src (parsed as r) for out o of subscriber s, rewrites and sends;
 * layer: the simulcast layer it is of (-1: not simulcast). */
static void send_copy(sfu_wconn_t *s, sfu_out_t *o, const km_rtp_t *r, int layer, int64_t now)
{
	sfu_wstate_t *ws = s->ws;
	int n = km_rtp_copy_ext_map(r, o->map, ws->buf, sizeof ws->buf - KM_CONN_SEND_SLACK);
	if (n <= 0)
		return;
	if (layer >= 0) { /* the payload sits at the same distance from the end */
		size_t at = (size_t)n - r->pad_len - r->payload_len;
		km_simulcast_vp8_map(&o->vp8, layer, ws->buf + at, r->payload_len);
	}
	km_rtp_t view = *r;
	view.len = (size_t)n;
	if (km_rewrite_apply(&o->rw, ws->buf, (size_t)n, &view, now) != 0)
		return;
	if (km_conn_send_rtp(s->conn, ws->buf, (size_t)n, sizeof ws->buf) == 0) {
		o->packets++;
		o->octets += r->payload_len;
	}
}

/* A simulcast layer's packet: whether it starts a key frame (and its width). */
static bool layer_keyframe(sfu_track_t *t, uint8_t layer, const km_rtp_t *r)
{
	km_simulcast_vp8_t d;
	if (km_simulcast_vp8_parse(r->data + r->header_len, r->payload_len, &d) != 0 || !d.keyframe)
		return false;
	t->rates[layer].width = d.width;
	return true;
}

void sfu_on_rtp(void *ud, uint8_t *p, size_t len)
{
	sfu_wconn_t *c = ud;
	km_rtp_t r;
	uint8_t li = 0;
	if (km_rtp_parse(p, len, &r) != 0) {
		c->drop_parse++;
		return;
	}
	sfu_track_t *t = track_for(c, &r, &li);
	if (!t || r.pt != t->neg.pt) {
		c->drop_unknown_ssrc++;
		return;
	}
	sfu_layer_t *l = &t->layers[li];
	note_received(l, r.seq, len);
	if (l->ring)
		km_ring_put(l->ring, r.seq, p, len);
	bool key = t->neg.nlayers && layer_keyframe(t, li, &r);
	if (t->nsubs == 0)
		return;
	int64_t now = g_get_monotonic_time();
	if (l->pli_pending && now - l->last_pli_us >= SFU_PLI_INTERVAL_US)
		sfu_request_keyframe(c, t, li, now);
	for (size_t i = 0; i < t->nsubs; i++) {
		sfu_wconn_t *s = t->subs[i].conn;
		sfu_out_t *o = &s->outs[t->subs[i].out];
		if (!s->connected || (t->neg.nlayers && !km_simulcast_accept(&o->sel, li, key)))
			continue; /* not yet, or another layer than this subscriber's */
		send_copy(s, o, &r, t->neg.nlayers ? li : -1, now);
	}
}

void sfu_request_keyframe(sfu_wconn_t *c, sfu_track_t *t, uint8_t layer, int64_t now_us)
{
	int64_t now = g_get_monotonic_time();
	if (layer >= t->nlayers)
		return;
	sfu_layer_t *l = &t->layers[layer];
	if (!c->connected || t->neg.kind != KM_SDP_VIDEO || !l->ssrc)
		return;
	if (now_us != 0 && l->last_pli_us && now - l->last_pli_us < SFU_PLI_INTERVAL_US) {
		l->pli_pending = true; /* not dropped: sent once the 500 ms are up */
		return;
	}
	int n = km_rtcp_write_pli(c->ws->rtcp, sizeof c->ws->rtcp - KM_CONN_SEND_SLACK, SFU_KAMER_SSRC, l->ssrc);
	if (n > 0 && km_conn_send_rtcp(c->conn, c->ws->rtcp, (size_t)n, sizeof c->ws->rtcp) == 0) {
		l->last_pli_us = now;
		l->pli_pending = false;
	}
}

uint8_t sfu_out_layer(const sfu_out_t *o)
{
	if (!o->src || o->src->tracks[o->src_track].neg.nlayers == 0)
		return 0;
	return (uint8_t)(o->sel.cur >= 0 ? o->sel.cur : o->sel.want >= 0 ? o->sel.want : 0);
}

static sfu_out_t *out_by_ssrc(sfu_wconn_t *s, uint32_t ssrc)
{
	for (size_t i = 0; i < s->nouts; i++)
		if (s->outs[i].accepted && s->outs[i].ssrc == ssrc)
			return &s->outs[i];
	return NULL;
}

typedef struct {
	sfu_wconn_t *s;
	sfu_out_t *o;
	int layer; /* the simulcast layer answered from (-1: not simulcast) */
	uint16_t miss[64];
	size_t nmiss;
} nack_ctx_t;

static int answer_nack(uint16_t out_seq, void *ud)
{
	nack_ctx_t *x = ud;
	sfu_layer_t *l = &x->o->src->tracks[x->o->src_track].layers[sfu_out_layer(x->o)];
	uint16_t in_seq;
	const uint8_t *pkt;
	size_t len;
	km_rtp_t r;
	if (km_rewrite_map_nack(&x->o->rw, out_seq, &in_seq) != 0)
		return 0;
	if (l->ring && km_ring_get(l->ring, in_seq, &pkt, &len) == 0 && km_rtp_parse(pkt, len, &r) == 0)
		send_copy(x->s, x->o, &r, x->layer, g_get_monotonic_time());
	else if (x->nmiss < sizeof x->miss / sizeof x->miss[0])
		x->miss[x->nmiss++] = in_seq;
	return 0;
}

static void on_nack(sfu_wconn_t *s, const km_rtcp_fb_t *fb)
{
	nack_ctx_t x = { .s = s, .o = out_by_ssrc(s, fb->media_ssrc), .layer = -1 };
	if (!x.o || !x.o->src)
		return;
	if (x.o->src->tracks[x.o->src_track].neg.nlayers)
		x.layer = sfu_out_layer(x.o);
	km_rtcp_nack_foreach(fb, answer_nack, &x);
	sfu_wconn_t *pub = x.o->src;
	sfu_track_t *t = &pub->tracks[x.o->src_track];
	uint32_t ssrc = t->layers[sfu_out_layer(x.o)].ssrc;
	if (x.nmiss && t->neg.nack && ssrc && pub->connected) { /* the publisher may still have them */
		int n = km_rtcp_write_nack(s->ws->rtcp, sizeof s->ws->rtcp - KM_CONN_SEND_SLACK, SFU_KAMER_SSRC,
					   ssrc, x.miss, x.nmiss);
		if (n > 0)
			km_conn_send_rtcp(pub->conn, s->ws->rtcp, (size_t)n, sizeof s->ws->rtcp);
	}
}

static void on_feedback(sfu_wconn_t *s, const km_rtcp_pkt_t *pkt)
{
	km_rtcp_fb_t fb;
	if (km_rtcp_parse_fb(pkt, &fb) != 0)
		return;
	if (fb.pt == KM_RTCP_RTPFB && fb.fmt == KM_RTCP_FMT_NACK) {
		on_nack(s, &fb);
		return;
	}
	km_rtcp_remb_t remb;
	if (fb.pt == KM_RTCP_PSFB && fb.fmt == KM_RTCP_FMT_AFB && km_rtcp_parse_remb(&fb, &remb) == 0) {
		s->remb_bps = remb.bitrate;
		return;
	}
	uint32_t media = fb.media_ssrc;
	if (fb.pt == KM_RTCP_PSFB && fb.fmt == KM_RTCP_FMT_FIR) {
		km_rtcp_fir_entry_t e;
		if (km_rtcp_fir_at(&fb, 0, &e) != 0)
			return;
		media = e.ssrc;
	} else if (!(fb.pt == KM_RTCP_PSFB && fb.fmt == KM_RTCP_FMT_PLI)) {
		return;
	}
	sfu_out_t *o = out_by_ssrc(s, media);
	if (o && o->src) /* the layer this subscriber receives */
		sfu_request_keyframe(o->src, &o->src->tracks[o->src_track], sfu_out_layer(o), g_get_monotonic_time());
}

static void on_sender_report(sfu_wconn_t *c, const km_rtcp_pkt_t *pkt)
{
	km_rtcp_sr_t sr;
	if (km_rtcp_parse_sr(pkt, &sr) != 0)
		return;
	for (size_t i = 0; i < c->ntracks; i++)
		for (size_t k = 0; k < c->tracks[i].nlayers; k++)
			if (c->tracks[i].layers[k].ssrc == sr.info.ssrc) {
				c->tracks[i].layers[k].sr_mid = (uint32_t)(sr.info.ntp >> 16);
				c->tracks[i].layers[k].sr_at_us = g_get_monotonic_time();
			}
}

void sfu_on_rtcp(void *ud, uint8_t *p, size_t len)
{
	sfu_wconn_t *c = ud;
	km_rtcp_iter_t it;
	km_rtcp_pkt_t pkt;
	km_rtcp_iter_init(&it, p, len);
	for (int guard = 0; guard < 64 && km_rtcp_next(&it, &pkt) > 0; guard++) {
		if (pkt.pt == KM_RTCP_SR && c->ntracks)
			on_sender_report(c, &pkt);
		else if ((pkt.pt == KM_RTCP_RTPFB || pkt.pt == KM_RTCP_PSFB) && c->nouts)
			on_feedback(c, &pkt);
	}
}

/* ---- routes ---- */

void sfu_link_out(sfu_wconn_t *c, uint8_t i)
{
	sfu_out_t *o = &c->outs[i];
	o->src = NULL;
	sfu_wconn_t *pub = NULL;
	for (sfu_wconn_t *x = c->room->conns; x && !pub; x = x->next) /* this room only */
		if (x->id == o->src_conn)
			pub = x;
	if (!pub)
		return;
	for (uint8_t k = 0; k < pub->ntracks; k++) {
		sfu_track_t *t = &pub->tracks[k];
		if (strcmp(t->neg.mid, o->src_mid) != 0 || t->neg.kind != o->kind || t->nsubs >= SFU_MAX_SUBS)
			continue;
		memset(o->map, 0, sizeof o->map);
		if (t->neg.ext_abs_send_time && o->ext_abs)
			o->map[t->neg.ext_abs_send_time] = o->ext_abs;
		if (t->neg.ext_audio_level && o->ext_level)
			o->map[t->neg.ext_audio_level] = o->ext_level;
		if (pub == c && t->neg.ext_mid) /* echo: the browser's own ids */
			o->map[t->neg.ext_mid] = t->neg.ext_mid;
		o->src = pub;
		o->src_track = k;
		t->subs[t->nsubs].conn = c;
		t->subs[t->nsubs].out = i;
		t->nsubs++;
		if (t->neg.nlayers && o->sel.want < 0) { /* a new viewer: by its estimate, else the lowest */
			int first = km_simulcast_choose(t->rates, t->nlayers, c->remb_bps);
			o->sel.want = (int8_t)(first >= 0 ? first : 0);
		}
		if (c->connected && o->kind == KM_SDP_VIDEO)
			sfu_request_keyframe(pub, t, sfu_out_layer(o), 0);
		return;
	}
}

/* Removes out i of c from its source track; gone: the source itself goes
 * (its layers with it), so the out starts afresh on the next one. */
static void unlink_out(sfu_wconn_t *c, uint8_t i, bool gone)
{
	sfu_out_t *o = &c->outs[i];
	if (!o->src)
		return;
	sfu_track_t *t = &o->src->tracks[o->src_track];
	for (size_t k = 0; k < t->nsubs; k++)
		if (t->subs[k].conn == c && t->subs[k].out == i) {
			t->subs[k] = t->subs[--t->nsubs];
			break;
		}
	o->src = NULL;
	if (gone) {
		km_simulcast_sel_init(&o->sel);
		o->vp8.src = -1; /* the next source's pictures follow the last one sent */
	}
}

void sfu_unlink_all(sfu_wconn_t *c)
{
	for (uint8_t i = 0; i < c->nouts; i++) /* a subscriber's outs are re-linked as they were */
		unlink_out(c, i, false);
	for (size_t k = 0; k < c->ntracks; k++) {
		sfu_track_t *t = &c->tracks[k];
		while (t->nsubs) {
			sfu_wconn_t *s = t->subs[0].conn;
			uint8_t i = t->subs[0].out;
			if (s == c) { /* an echo route: drop it directly */
				c->outs[i].src = NULL;
				t->subs[0] = t->subs[--t->nsubs];
			} else {
				unlink_out(s, i, true);
			}
		}
	}
}

/* ---- periodic reports ---- */

static uint64_t ntp_now(void)
{
	int64_t us = g_get_real_time();
	uint64_t secs = (uint64_t)(us / 1000000) + 2208988800ull;
	uint64_t frac = ((uint64_t)(us % 1000000) << 32) / 1000000;
	return secs << 32 | frac;
}

/* The receiver report block of layer l (and the interval's counters). */
static void report_block(sfu_layer_t *l, int64_t now, km_rtcp_report_t *b)
{
	uint64_t expected = (uint64_t)(l->max_seq - l->base_seq + 1);
	uint64_t exp_int = expected - l->expected_prior, rec_int = l->received - l->received_prior;
	l->expected_prior = expected;
	l->received_prior = l->received;
	int64_t lost_int = (int64_t)exp_int - (int64_t)rec_int;
	memset(b, 0, sizeof *b);
	b->ssrc = l->ssrc;
	b->fraction_lost = exp_int && lost_int > 0 ? (uint8_t)((lost_int << 8) / (int64_t)exp_int) : 0;
	b->cumulative_lost = (int32_t)((int64_t)expected - (int64_t)l->received);
	b->ext_highest_seq = (uint32_t)l->max_seq;
	if (l->sr_at_us) {
		b->lsr = l->sr_mid;
		b->dlsr = (uint32_t)(((now - l->sr_at_us) * 65536) / 1000000);
	}
}

/* RR for every stream received, and REMB for the video ones: the slowest
 * viewer's estimate under the cap, or the cap itself when a track sends
 * simulcast (each viewer then picks the layer it can carry). */
static size_t publisher_reports(sfu_wconn_t *c, int64_t now, uint8_t *buf, size_t cap)
{
	km_rtcp_report_t blocks[KM_NEG_MAX_TRACKS * KM_NEG_MAX_LAYERS];
	uint32_t video[KM_NEG_MAX_TRACKS * KM_NEG_MAX_LAYERS];
	size_t n = 0, nv = 0;
	uint64_t est = c->kind == KM_SFU_ECHO ? c->ws->echo_bitrate_bps : c->ws->max_bitrate_bps;
	uint64_t slowest = est;
	bool simulcast = false;
	for (size_t i = 0; i < c->ntracks; i++) {
		sfu_track_t *t = &c->tracks[i];
		for (size_t k = 0; k < t->nlayers; k++) {
			sfu_layer_t *l = &t->layers[k];
			if (!l->started)
				continue;
			report_block(l, now, &blocks[n++]);
			if (t->neg.kind == KM_SDP_VIDEO)
				video[nv++] = l->ssrc;
		}
		if (t->neg.kind != KM_SDP_VIDEO)
			continue;
		simulcast = simulcast || t->neg.nlayers;
		for (size_t k = 0; k < t->nsubs; k++) /* the slowest viewer sets the pace */
			if (t->subs[k].conn->remb_bps && t->subs[k].conn->remb_bps < slowest)
				slowest = t->subs[k].conn->remb_bps;
	}
	if (n == 0)
		return 0;
	int a = km_rtcp_write_rr(buf, cap, SFU_KAMER_SSRC, blocks, n);
	if (a <= 0)
		return 0;
	int b = nv ? km_rtcp_write_remb(buf + a, cap - (size_t)a, SFU_KAMER_SSRC, simulcast ? est : slowest, video, nv) : 0;
	return (size_t)a + (size_t)(b > 0 ? b : 0);
}

static size_t subscriber_reports(sfu_wconn_t *c, int64_t now, uint8_t *buf, size_t cap)
{
	size_t off = 0;
	uint64_t ntp = ntp_now();
	for (size_t i = 0; i < c->nouts; i++) {
		sfu_out_t *o = &c->outs[i];
		if (!o->accepted || !o->rw.started)
			continue;
		uint32_t clock = o->kind == KM_SDP_AUDIO ? 48000 : 90000;
		km_rtcp_sender_info_t info = {
			.ssrc = o->ssrc, .ntp = ntp,
			.rtp_ts = o->rw.last_out_ts + (uint32_t)((now - o->rw.last_out_us) * clock / 1000000),
			.packet_count = (uint32_t)o->packets, .octet_count = (uint32_t)o->octets,
		};
		int w = km_rtcp_write_sr(buf + off, cap - off, &info, NULL, 0);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	return off;
}

void sfu_send_reports(sfu_wconn_t *c, int64_t now_us)
{
	uint8_t *buf = c->ws->rtcp;
	size_t cap = sizeof c->ws->rtcp - KM_CONN_SEND_SLACK;
	size_t n = c->ntracks ? publisher_reports(c, now_us, buf, cap) : 0;
	if (c->nouts && n < cap)
		n += subscriber_reports(c, now_us, buf + n, cap - n);
	if (n > 0)
		km_conn_send_rtcp(c->conn, buf, n, sizeof c->ws->rtcp);
}

/* ---- simulcast layers ---- */

/* About one second of a stream at bps (rounded up to 32 kB, within the
 * bounds), with a quarter of slack when it grows; the ring grows when the
 * second no longer fits and shrinks only when it is twice too big. */
static void size_ring(km_ring_t *ring, uint64_t bps)
{
	size_t second = (size_t)(bps / 8), have = km_ring_bytes(ring);
	size_t want = (second + second / 4 + 32767) / 32768 * 32768;
	want = want < SFU_RING_BYTES_MIN ? SFU_RING_BYTES_MIN : want > SFU_RING_BYTES_MAX ? SFU_RING_BYTES_MAX : want;
	if (second > have || want * 2 <= have)
		(void)km_ring_resize(ring, want); /* out of memory: keeps the old size */
}

void sfu_measure(sfu_wconn_t *c, int64_t now_us)
{
	for (size_t i = 0; i < c->ntracks; i++) {
		sfu_track_t *t = &c->tracks[i];
		int64_t dt = now_us - t->rate_at_us;
		if (dt <= 0)
			continue;
		for (size_t k = 0; k < t->nlayers; k++) {
			sfu_layer_t *l = &t->layers[k];
			t->rates[k].bps = (l->octets - l->octets_prior) * 8 * 1000000 / (uint64_t)dt;
			l->octets_prior = l->octets;
			if (l->ring && l->started)
				size_ring(l->ring, t->rates[k].bps);
		}
		t->rate_at_us = now_us;
	}
}
