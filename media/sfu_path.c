/* sfu_path.c — the SFU's packet path on a media worker: RTP from a
 * publisher is parsed, stored for retransmission and copied to each
 * subscriber of its track in the same room (extensions renumbered, SSRC,
 * payload type, sequence and timestamp rewritten), protected and sent.
 * RTCP is terminated here: NACKs are answered from the ring (or passed on
 * to the publisher when the ring misses), PLI/FIR become at most one
 * keyframe request per publisher track per 500 ms, subscribers' REMB
 * estimates are kept, and kamer sends its own RR + REMB to publishers and
 * SR to subscribers once a second.
 * No allocation, no lock, no SQLite, no logging: buffers are the worker's.
 * Threads: the worker's thread only. */
#include "media/sfu_int.h"

#include "media/rtcp.h"

#include <string.h>

static sfu_track_t *track_for(sfu_wconn_t *c, const km_rtp_t *r)
{
	for (size_t i = 0; i < c->ntracks; i++)
		if (c->tracks[i].neg.ssrc == r->ssrc)
			return &c->tracks[i];
	/* an SSRC not in the SDP: learn it from the mid extension */
	for (size_t i = 0; i < c->ntracks; i++) {
		sfu_track_t *t = &c->tracks[i];
		const km_rtp_ext_t *e = t->neg.ext_mid ? km_rtp_ext_find(r, t->neg.ext_mid) : NULL;
		size_t n = e ? e->len : 0;
		if (e && t->neg.ssrc == 0 && r->pt == t->neg.pt && n == strlen(t->neg.mid) &&
		    memcmp(km_rtp_ext_data(r, e), t->neg.mid, n) == 0) {
			t->neg.ssrc = r->ssrc;
			return t;
		}
	}
	return NULL;
}

static void note_received(sfu_track_t *t, uint16_t seq)
{
	int64_t v = km_rtp_unwrap(&t->unwrap, seq);
	if (!t->started) {
		t->started = true;
		t->base_seq = t->max_seq = v;
	} else if (v > t->max_seq) {
		t->max_seq = v;
	}
	t->received++;
}

/* Copies src (parsed as r) for out o of subscriber s, rewrites and sends. */
static void send_copy(sfu_wconn_t *s, sfu_out_t *o, const km_rtp_t *r, int64_t now)
{
	sfu_wstate_t *ws = s->ws;
	int n = km_rtp_copy_ext_map(r, o->map, ws->buf, sizeof ws->buf - KM_CONN_SEND_SLACK);
	if (n <= 0)
		return;
	km_rtp_t view = *r;
	view.len = (size_t)n;
	if (km_rewrite_apply(&o->rw, ws->buf, (size_t)n, &view, now) != 0)
		return;
	if (km_conn_send_rtp(s->conn, ws->buf, (size_t)n, sizeof ws->buf) == 0) {
		o->packets++;
		o->octets += r->payload_len;
	}
}

void sfu_on_rtp(void *ud, uint8_t *p, size_t len)
{
	sfu_wconn_t *c = ud;
	km_rtp_t r;
	if (km_rtp_parse(p, len, &r) != 0) {
		c->drop_parse++;
		return;
	}
	sfu_track_t *t = track_for(c, &r);
	if (!t || r.pt != t->neg.pt) {
		c->drop_unknown_ssrc++;
		return;
	}
	note_received(t, r.seq);
	if (t->ring)
		km_ring_put(t->ring, r.seq, p, len);
	if (t->nsubs == 0)
		return;
	int64_t now = g_get_monotonic_time();
	if (t->pli_pending && now - t->last_pli_us >= SFU_PLI_INTERVAL_US)
		sfu_request_keyframe(c, t, now);
	for (size_t i = 0; i < t->nsubs; i++) {
		sfu_wconn_t *s = t->subs[i].conn;
		if (s->connected)
			send_copy(s, &s->outs[t->subs[i].out], &r, now);
	}
}

void sfu_request_keyframe(sfu_wconn_t *c, sfu_track_t *t, int64_t now_us)
{
	int64_t now = g_get_monotonic_time();
	if (!c->connected || t->neg.kind != KM_SDP_VIDEO || !t->neg.ssrc)
		return;
	if (now_us != 0 && t->last_pli_us && now - t->last_pli_us < SFU_PLI_INTERVAL_US) {
		t->pli_pending = true; /* not dropped: sent once the 500 ms are up */
		return;
	}
	int n = km_rtcp_write_pli(c->ws->rtcp, sizeof c->ws->rtcp - KM_CONN_SEND_SLACK, SFU_KAMER_SSRC, t->neg.ssrc);
	if (n > 0 && km_conn_send_rtcp(c->conn, c->ws->rtcp, (size_t)n, sizeof c->ws->rtcp) == 0) {
		t->last_pli_us = now;
		t->pli_pending = false;
	}
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
	uint16_t miss[64];
	size_t nmiss;
} nack_ctx_t;

static int answer_nack(uint16_t out_seq, void *ud)
{
	nack_ctx_t *x = ud;
	sfu_track_t *t = &x->o->src->tracks[x->o->src_track];
	uint16_t in_seq;
	const uint8_t *pkt;
	size_t len;
	km_rtp_t r;
	if (km_rewrite_map_nack(&x->o->rw, out_seq, &in_seq) != 0)
		return 0;
	if (t->ring && km_ring_get(t->ring, in_seq, &pkt, &len) == 0 && km_rtp_parse(pkt, len, &r) == 0)
		send_copy(x->s, x->o, &r, g_get_monotonic_time());
	else if (x->nmiss < sizeof x->miss / sizeof x->miss[0])
		x->miss[x->nmiss++] = in_seq;
	return 0;
}

static void on_nack(sfu_wconn_t *s, const km_rtcp_fb_t *fb)
{
	nack_ctx_t x = { .s = s, .o = out_by_ssrc(s, fb->media_ssrc) };
	if (!x.o || !x.o->src)
		return;
	km_rtcp_nack_foreach(fb, answer_nack, &x);
	sfu_wconn_t *pub = x.o->src;
	sfu_track_t *t = &pub->tracks[x.o->src_track];
	if (x.nmiss && t->neg.nack && pub->connected) { /* the publisher may still have them */
		int n = km_rtcp_write_nack(s->ws->rtcp, sizeof s->ws->rtcp - KM_CONN_SEND_SLACK, SFU_KAMER_SSRC,
					   t->neg.ssrc, x.miss, x.nmiss);
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
	if (o && o->src)
		sfu_request_keyframe(o->src, &o->src->tracks[o->src_track], g_get_monotonic_time());
}

static void on_sender_report(sfu_wconn_t *c, const km_rtcp_pkt_t *pkt)
{
	km_rtcp_sr_t sr;
	if (km_rtcp_parse_sr(pkt, &sr) != 0)
		return;
	for (size_t i = 0; i < c->ntracks; i++)
		if (c->tracks[i].neg.ssrc == sr.info.ssrc) {
			c->tracks[i].sr_mid = (uint32_t)(sr.info.ntp >> 16);
			c->tracks[i].sr_at_us = g_get_monotonic_time();
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
		if (c->connected && o->kind == KM_SDP_VIDEO)
			sfu_request_keyframe(pub, t, 0);
		return;
	}
}

static void unlink_out(sfu_wconn_t *c, uint8_t i)
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
}

void sfu_unlink_all(sfu_wconn_t *c)
{
	for (uint8_t i = 0; i < c->nouts; i++)
		unlink_out(c, i);
	for (size_t k = 0; k < c->ntracks; k++) {
		sfu_track_t *t = &c->tracks[k];
		while (t->nsubs) {
			sfu_wconn_t *s = t->subs[0].conn;
			uint8_t i = t->subs[0].out;
			if (s == c) { /* an echo route: drop it directly */
				c->outs[i].src = NULL;
				t->subs[0] = t->subs[--t->nsubs];
			} else {
				unlink_out(s, i);
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

static size_t publisher_reports(sfu_wconn_t *c, int64_t now, uint8_t *buf, size_t cap)
{
	km_rtcp_report_t blocks[KM_NEG_MAX_TRACKS];
	uint32_t video[KM_NEG_MAX_TRACKS];
	size_t n = 0, nv = 0;
	uint64_t est = c->kind == KM_SFU_ECHO ? c->ws->echo_bitrate_bps : c->ws->max_bitrate_bps;
	for (size_t i = 0; i < c->ntracks; i++) {
		sfu_track_t *t = &c->tracks[i];
		if (!t->started)
			continue;
		uint64_t expected = (uint64_t)(t->max_seq - t->base_seq + 1);
		uint64_t exp_int = expected - t->expected_prior, rec_int = t->received - t->received_prior;
		t->expected_prior = expected;
		t->received_prior = t->received;
		int64_t lost_int = (int64_t)exp_int - (int64_t)rec_int;
		km_rtcp_report_t *b = &blocks[n++];
		memset(b, 0, sizeof *b);
		b->ssrc = t->neg.ssrc;
		b->fraction_lost = exp_int && lost_int > 0 ? (uint8_t)((lost_int << 8) / (int64_t)exp_int) : 0;
		b->cumulative_lost = (int32_t)((int64_t)expected - (int64_t)t->received);
		b->ext_highest_seq = (uint32_t)t->max_seq;
		if (t->sr_at_us) {
			b->lsr = t->sr_mid;
			b->dlsr = (uint32_t)(((now - t->sr_at_us) * 65536) / 1000000);
		}
		if (t->neg.kind == KM_SDP_VIDEO) {
			video[nv++] = t->neg.ssrc;
			for (size_t k = 0; k < t->nsubs; k++) /* the slowest viewer sets the pace */
				if (t->subs[k].conn->remb_bps && t->subs[k].conn->remb_bps < est)
					est = t->subs[k].conn->remb_bps;
		}
	}
	if (n == 0)
		return 0;
	int a = km_rtcp_write_rr(buf, cap, SFU_KAMER_SSRC, blocks, n);
	if (a <= 0)
		return 0;
	int b = nv ? km_rtcp_write_remb(buf + a, cap - (size_t)a, SFU_KAMER_SSRC, est, video, nv) : 0;
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
