/* pc_rx.c — the receiving half of the test peer's connection (see pc.h):
 * a km_peer_rx_t per incoming SSRC (kind from the remote description's
 * a=ssrc lines, else from the payload type), a deterministic simulated loss
 * in front of them, NACK and PLI every 20 ms, receiver reports (loss,
 * jitter, LSR/DLSR) once a second, and the receivers' part of the report.
 * Threads: the thread iterating the pc's context. */
#include "tests/peer/pc_int.h"

#include <stdlib.h>
#include <string.h>

#define NACK_MAX 64

/* xorshift32: the same seed drops the same packets. */
static bool lose(km_peer_pc_t *pc)
{
	if (pc->cfg.loss_pct <= 0)
		return false;
	uint32_t x = pc->loss_state;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	pc->loss_state = x;
	return x % 100u < (uint32_t)pc->cfg.loss_pct;
}

static const km_peer_sdp_track_t *find_track(const km_peer_pc_t *pc, uint32_t ssrc)
{
	for (size_t i = 0; i < pc->ntracks; i++)
		if (pc->tracks[i].ssrc == ssrc)
			return &pc->tracks[i];
	return NULL;
}

static km__pc_rx_t *find_rx(km_peer_pc_t *pc, uint32_t ssrc)
{
	for (size_t i = 0; i < pc->nrx; i++)
		if (pc->rxs[i].ssrc == ssrc)
			return &pc->rxs[i];
	return NULL;
}

/* The receiver for r's SSRC, made on its first packet; NULL if the SSRC
 * is neither announced nor of a known payload type, or no room is left. */
static km__pc_rx_t *rx_for(km_peer_pc_t *pc, const km_rtp_t *r)
{
	km__pc_rx_t *x = find_rx(pc, r->ssrc);
	if (x)
		return x;
	const km_peer_sdp_track_t *tr = find_track(pc, r->ssrc);
	bool video;
	if (tr)
		video = tr->video;
	else if (pc->audio_pt >= 0 && r->pt == pc->audio_pt)
		video = false;
	else if (pc->video_pt >= 0 && r->pt == pc->video_pt)
		video = true;
	else
		return NULL;
	if (pc->nrx >= PC_MAX_RX)
		return NULL;
	x = &pc->rxs[pc->nrx];
	memset(x, 0, sizeof *x);
	if (km_peer_rx_new(video ? KM_PEER_VIDEO : KM_PEER_AUDIO, &x->rx) != 0)
		return NULL;
	x->ssrc = r->ssrc;
	x->video = video;
	x->active = true;
	x->from_track = tr != NULL;
	if (tr)
		memcpy(x->stream, tr->stream, sizeof x->stream);
	km_rtp_unwrap_init(&x->uw);
	pc->nrx++;
	return x;
}

/* Highest sequence number and RFC 3550 interarrival jitter. */
static void seq_stats(km__pc_rx_t *x, const km_rtp_t *r, int64_t now_us)
{
	bool first = !x->uw.started;
	int64_t ext = km_rtp_unwrap(&x->uw, r->seq);
	if (first) {
		x->base = x->max = ext;
	} else if (ext > x->max) {
		x->max = ext;
	}
	double clock = x->video ? 90000.0 : 48000.0;
	uint32_t arrival = (uint32_t)(int64_t)((double)now_us * clock / 1e6);
	int64_t transit = (int64_t)(uint32_t)(arrival - r->ts);
	if (x->have_transit) {
		int32_t d = (int32_t)(uint32_t)(transit - x->last_transit);
		double ad = d < 0 ? -(double)d : (double)d;
		x->jitter += (ad - x->jitter) / 16.0;
	}
	x->last_transit = transit;
	x->have_transit = true;
}

/* km_conn's drop_rx hook: simulated loss of received SRTP, before it is
 * unprotected, so that kamer's retransmission is a new packet to libsrtp. */
int km__pc_drop_rx(void *ud, const uint8_t *p, size_t len, int rtcp)
{
	km_peer_pc_t *pc = ud;
	if (rtcp || !lose(pc))
		return 0;
	km_rtp_t r;
	km__pc_rx_t *x = km_rtp_parse(p, len, &r) == 0 ? rx_for(pc, &r) : NULL;
	if (x)
		x->dropped_loss++;
	return 1;
}

void km__pc_on_rtp(void *ud, uint8_t *p, size_t len)
{
	km_peer_pc_t *pc = ud;
	km_rtp_t r;
	if (km_rtp_parse(p, len, &r) != 0) {
		pc->rx_bad++;
		return;
	}
	km__pc_rx_t *x = rx_for(pc, &r);
	if (!x) {
		pc->rx_unknown++;
		return;
	}
	int64_t now = g_get_monotonic_time();
	if (!pc->first_rx_us)
		pc->first_rx_us = now;
	pc->rx_packets++;
	seq_stats(x, &r, now);
	km_peer_rx_packet(x->rx, p, len, now);
}

void km__pc_on_rtcp(void *ud, uint8_t *p, size_t len)
{
	km_peer_pc_t *pc = ud;
	km_rtcp_iter_t it;
	km_rtcp_pkt_t pkt;
	km_rtcp_iter_init(&it, p, len);
	while (km_rtcp_next(&it, &pkt) == 1) {
		km_rtcp_sr_t sr;
		if (pkt.pt == KM_RTCP_SR && km_rtcp_parse_sr(&pkt, &sr) == 0) {
			km__pc_rx_t *x = find_rx(pc, sr.info.ssrc);
			if (x) {
				x->lsr = (uint32_t)(sr.info.ntp >> 16);
				x->lsr_at_us = g_get_monotonic_time();
			}
		}
		km__pc_tx_rtcp(pc, &pkt);
	}
}

void km__pc_rx_update_tracks(km_peer_pc_t *pc)
{
	for (size_t i = 0; i < pc->nrx; i++) {
		km__pc_rx_t *x = &pc->rxs[i];
		const km_peer_sdp_track_t *tr = find_track(pc, x->ssrc);
		if (tr) {
			x->active = true;
			x->from_track = true;
			memcpy(x->stream, tr->stream, sizeof x->stream);
		} else if (x->from_track) {
			x->active = false; /* no longer offered: no more feedback */
		}
	}
}

void km__pc_rx_tick(km_peer_pc_t *pc, int64_t now_us)
{
	for (size_t i = 0; i < pc->nrx; i++)
		km_peer_rx_tick(pc->rxs[i].rx, now_us);
}

static void fill_block(km__pc_rx_t *x, int64_t now_us, km_rtcp_report_t *b)
{
	km_peer_rx_stats_t st;
	km_peer_rx_stats(x->rx, &st);
	uint64_t expected = (uint64_t)(x->max - x->base + 1);
	uint64_t received = st.packets;
	uint64_t exp_i = expected - x->expected_prior;
	uint64_t rec_i = received - x->received_prior;
	x->expected_prior = expected;
	x->received_prior = received;
	int64_t lost_i = (int64_t)exp_i - (int64_t)rec_i;
	int64_t frac = exp_i == 0 || lost_i <= 0 ? 0 : (lost_i << 8) / (int64_t)exp_i;
	int64_t lost = (int64_t)expected - (int64_t)received;
	memset(b, 0, sizeof *b);
	b->ssrc = x->ssrc;
	b->fraction_lost = (uint8_t)(frac > 255 ? 255 : frac);
	b->cumulative_lost = (int32_t)(lost > 0x7fffff ? 0x7fffff : lost < -0x800000 ? -0x800000 : lost);
	b->ext_highest_seq = (uint32_t)x->max;
	b->jitter = (uint32_t)x->jitter;
	if (x->lsr_at_us) {
		b->lsr = x->lsr;
		b->dlsr = (uint32_t)((now_us - x->lsr_at_us) * 65536 / 1000000);
	}
}

/* NACK (if negotiated) and PLI of one receiver appended to buf; returns
 * bytes added. */
static size_t rx_fb(km__pc_rx_t *x, bool nack, uint32_t me, int64_t now_us, uint8_t *buf,
		    size_t cap)
{
	size_t len = 0;
	uint16_t seqs[NACK_MAX];
	size_t n = nack ? km_peer_rx_nack_list(x->rx, now_us, seqs, NACK_MAX) : 0;
	if (n > 0) {
		int w = km_rtcp_write_nack(buf, cap, me, x->ssrc, seqs, n);
		if (w > 0) {
			len += (size_t)w;
			x->nacks_sent++;
			x->nack_seqs_sent += n;
		}
	}
	if (km_peer_rx_need_keyframe(x->rx) && x->video) {
		int w = km_rtcp_write_pli(buf + len, cap - len, me, x->ssrc);
		if (w > 0) {
			len += (size_t)w;
			x->plis_sent++;
		}
	}
	return len;
}

void km__pc_rx_feedback(km_peer_pc_t *pc, int64_t now_us, bool with_reports)
{
	uint8_t buf[1200];
	km_rtcp_report_t blocks[PC_MAX_RX];
	size_t nb = 0;
	uint32_t me = km__pc_rtcp_ssrc(pc);
	for (size_t i = 0; with_reports && i < pc->nrx; i++)
		if (pc->rxs[i].active && pc->rxs[i].uw.started)
			fill_block(&pc->rxs[i], now_us, &blocks[nb++]);
	int w = km_rtcp_write_rr(buf, sizeof buf, me, blocks, nb);
	if (w <= 0)
		return;
	size_t len = (size_t)w;
	bool any = nb > 0;
	for (size_t i = 0; i < pc->nrx; i++) {
		if (!pc->rxs[i].active || sizeof buf - len < 200)
			continue;
		bool nack = pc->rxs[i].video ? pc->nack_video : pc->nack_audio;
		size_t add = rx_fb(&pc->rxs[i], nack, me, now_us, buf + len, sizeof buf - len);
		len += add;
		any = any || add > 0;
	}
	if (!any)
		return;
	memcpy(pc->buf, buf, len);
	km_conn_send_rtcp(pc->conn, pc->buf, len, sizeof pc->buf);
}

void km__pc_rx_free(km_peer_pc_t *pc)
{
	for (size_t i = 0; i < pc->nrx; i++)
		km_peer_rx_free(pc->rxs[i].rx);
	pc->nrx = 0;
}

static json_t *rx_json(const km_peer_pc_t *pc, const km__pc_rx_t *x)
{
	km_peer_rx_stats_t st;
	km_peer_rx_stats(x->rx, &st);
	json_t *o = json_pack("{s:s,s:I,s:s,s:s,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:i,s:i,s:I,s:f}",
			      "conn", pc->cfg.name, "ssrc", (json_int_t)x->ssrc, "kind",
			      x->video ? "video" : "audio", "stream", x->stream, "active", x->active,
			      "packets", (json_int_t)st.packets, "duplicates",
			      (json_int_t)st.duplicates, "lost", (json_int_t)st.lost,
			      "frames_decoded", (json_int_t)st.frames_decoded, "frames_corrupt",
			      (json_int_t)st.frames_corrupt, "frames_dropped",
			      (json_int_t)st.frames_dropped, "width", st.width, "height", st.height,
			      "max_freeze_ms", (json_int_t)st.max_freeze_ms, "audio_level",
			      st.audio_level);
	if (!o)
		return NULL;
	json_t *more = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "stamped",
				 (json_int_t)st.stamped, "delay_p50_us", (json_int_t)st.delay_us_p50,
				 "delay_p99_us", (json_int_t)st.delay_us_p99, "delay_max_us",
				 (json_int_t)st.delay_us_max, "dropped_by_loss",
				 (json_int_t)x->dropped_loss, "nacks_sent", (json_int_t)x->nacks_sent,
				 "nack_seqs_sent", (json_int_t)x->nack_seqs_sent, "plis_sent",
				 (json_int_t)x->plis_sent, "jitter", (json_int_t)x->jitter);
	if (more)
		json_object_update(o, more);
	json_decref(more);
	return o;
}

void km__pc_rx_report(const km_peer_pc_t *pc, json_t *rx)
{
	for (size_t i = 0; i < pc->nrx; i++) {
		json_t *o = rx_json(pc, &pc->rxs[i]);
		if (o)
			json_array_append_new(rx, o);
	}
}
