/* pc_tx.c — the sending half of the test peer's connection (see pc.h):
 * paces the synthetic Opus (20 ms) and VP8 (1/fps) frames, keeps every
 * packet in a per-stream history, retransmits on NACK with the same SSRC
 * and sequence number, asks the source for a keyframe on PLI/FIR, reads
 * receiver reports and REMB, and sends sender reports.
 * Threads: the thread iterating the pc's context. */
#include "tests/peer/pc_int.h"

#include "core/err.h"
#include "media/wire.h"

#include <stdlib.h>
#include <string.h>

#define NTP_UNIX_OFFSET 2208988800ULL

static void default_video(km_peer_src_config_t *v)
{
	if (v->width <= 0 || v->height <= 0) {
		v->width = 320;
		v->height = 240;
	}
	if (v->fps <= 0)
		v->fps = 30;
	if (v->video_kbps <= 0)
		v->video_kbps = 600;
	if (v->seconds <= 0)
		v->seconds = 4;
	if (v->keyframe_interval <= 0)
		v->keyframe_interval = 60;
}

int km__pc_tx_init(km_peer_pc_t *pc)
{
	if (!pc->cfg.send_audio && !pc->cfg.send_video)
		return 0;
	default_video(&pc->cfg.video);
	int rc = km_peer_src_new(&pc->cfg.video, &pc->src);
	if (rc)
		return rc < 0 ? rc : KM_EINVAL;
	km_peer_sdp_send_t *s = &pc->send;
	s->audio = pc->cfg.send_audio;
	s->video = pc->cfg.send_video;
	km_peer_sdp_token(s->cname, sizeof s->cname);
	km_peer_sdp_token(s->stream, sizeof s->stream);
	s->sess_id = km_peer_random32() & 0x7fffffff;
	for (int i = 0; i < 2; i++) {
		km__pc_tx_t *t = &pc->tx[i];
		t->pc = pc;
		t->video = i == 1;
		t->on = t->video ? s->video : s->audio;
		if (!t->on)
			continue;
		t->hist = calloc(PC_HIST, sizeof *t->hist);
		if (!t->hist)
			return KM_ENOMEM;
		t->st.ssrc = km_peer_random32();
		t->st.pt = t->video ? KM_PEER_VP8_PT : KM_PEER_OPUS_PT;
		t->st.seq = (uint16_t)km_peer_random32();
		t->st.ts = km_peer_random32();
		t->st.stamp = true;
	}
	s->audio_ssrc = pc->tx[0].st.ssrc;
	s->video_ssrc = pc->tx[1].st.ssrc;
	return 0;
}

void km__pc_tx_free(km_peer_pc_t *pc)
{
	for (int i = 0; i < 2; i++) {
		free(pc->tx[i].hist);
		pc->tx[i].hist = NULL;
	}
	km_peer_src_free(pc->src);
	pc->src = NULL;
}

uint32_t km__pc_rtcp_ssrc(const km_peer_pc_t *pc)
{
	if (pc->tx[0].on)
		return pc->tx[0].st.ssrc;
	if (pc->tx[1].on)
		return pc->tx[1].st.ssrc;
	return pc->rtcp_ssrc;
}

/* Protects a copy (the history keeps the plaintext) and sends it. */
static int send_copy(km_peer_pc_t *pc, const uint8_t *p, size_t len)
{
	if (len > KM_CONN_MAX_PACKET)
		return KM_EINVAL;
	memcpy(pc->buf, p, len);
	return km_conn_send_rtp(pc->conn, pc->buf, len, sizeof pc->buf);
}

/* xorshift32 over the tx loss state: the same seed drops the same packets. */
static bool tx_lose(km_peer_pc_t *pc)
{
	if (pc->cfg.tx_loss_pct <= 0)
		return false;
	uint32_t x = pc->tx_loss_state;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	pc->tx_loss_state = x;
	return x % 100u < (uint32_t)pc->cfg.tx_loss_pct;
}

static void emit(void *ud, const uint8_t *p, size_t len)
{
	km__pc_tx_t *t = ud;
	if (len < KM_RTP_HEADER_LEN || len > KM_PEER_MAX_RTP) {
		t->errors++;
		return;
	}
	uint16_t seq = km_wire_ld16(p + 2);
	km__pc_slot_t *slot = &t->hist[seq % PC_HIST];
	slot->seq = seq;
	slot->len = (uint16_t)len;
	memcpy(slot->data, p, len);
	if (tx_lose(t->pc)) {
		t->dropped_loss++; /* kept in the history: a NACK repairs it */
		return;
	}
	if (send_copy(t->pc, p, len) == 0) {
		t->packets++;
		t->bytes += len;
	} else {
		t->errors++;
	}
}

void km__pc_tx_tick(km_peer_pc_t *pc, int64_t now_us)
{
	for (int i = 0; i < 2; i++) {
		km__pc_tx_t *t = &pc->tx[i];
		if (!t->on || !pc->src)
			continue;
		int64_t period = t->video ? 1000000 / pc->cfg.video.fps : 20000;
		if (now_us - t->next_us > 500000)
			t->next_us = now_us; /* the loop stalled: do not burst */
		while (now_us >= t->next_us) {
			int n = t->video ? km_peer_src_video_frame(pc->src, &t->st, now_us, emit, t)
					 : km_peer_src_audio_frame(pc->src, &t->st, now_us, emit, t);
			if (n < 0)
				t->errors++;
			else
				t->frames++;
			t->next_us += period;
		}
	}
}

static uint64_t ntp_now(void)
{
	int64_t us = g_get_real_time();
	uint64_t sec = (uint64_t)(us / 1000000) + NTP_UNIX_OFFSET;
	uint64_t frac = ((uint64_t)(us % 1000000) << 32) / 1000000;
	return sec << 32 | frac;
}

void km__pc_tx_send_sr(km_peer_pc_t *pc)
{
	uint8_t buf[256];
	size_t len = 0;
	uint64_t ntp = ntp_now();
	for (int i = 0; i < 2; i++) {
		const km__pc_tx_t *t = &pc->tx[i];
		if (!t->on || t->packets == 0)
			continue;
		km_rtcp_sender_info_t info = {
			.ssrc = t->st.ssrc,
			.ntp = ntp,
			.rtp_ts = t->st.ts,
			.packet_count = (uint32_t)t->packets,
			.octet_count = (uint32_t)t->bytes,
		};
		int n = km_rtcp_write_sr(buf + len, sizeof buf - len, &info, NULL, 0);
		if (n > 0)
			len += (size_t)n;
	}
	if (len == 0)
		return;
	memcpy(pc->buf, buf, len);
	km_conn_send_rtcp(pc->conn, pc->buf, len, sizeof pc->buf);
}

static km__pc_tx_t *find_tx(km_peer_pc_t *pc, uint32_t ssrc, bool video_if_zero)
{
	for (int i = 0; i < 2; i++)
		if (pc->tx[i].on && pc->tx[i].st.ssrc == ssrc)
			return &pc->tx[i];
	if (ssrc == 0 && video_if_zero && pc->tx[1].on)
		return &pc->tx[1];
	return NULL;
}

static int resend(uint16_t seq, void *ud)
{
	km__pc_tx_t *t = ud;
	t->nacked++;
	const km__pc_slot_t *slot = &t->hist[seq % PC_HIST];
	if (slot->len == 0 || slot->seq != seq) {
		t->nack_miss++;
		return 0;
	}
	if (send_copy(t->pc, slot->data, slot->len) == 0)
		t->retransmits++;
	return 0;
}

static void keyframe(km_peer_pc_t *pc, km__pc_tx_t *t, bool fir)
{
	if (!t || !t->video || !pc->src)
		return;
	if (fir)
		t->firs++;
	else
		t->plis++;
	km_peer_src_request_keyframe(pc->src);
}

static void on_psfb(km_peer_pc_t *pc, const km_rtcp_fb_t *fb, uint8_t fmt)
{
	if (fmt == KM_RTCP_FMT_PLI && km_rtcp_parse_pli(fb) == 0) {
		keyframe(pc, find_tx(pc, fb->media_ssrc, true), false);
	} else if (fmt == KM_RTCP_FMT_FIR) {
		int n = km_rtcp_fir_count(fb);
		for (int i = 0; i < n; i++) {
			km_rtcp_fir_entry_t e;
			if (km_rtcp_fir_at(fb, (size_t)i, &e) == 0)
				keyframe(pc, find_tx(pc, e.ssrc, false), true);
		}
	} else if (fmt == KM_RTCP_FMT_AFB) {
		km_rtcp_remb_t r;
		if (km_rtcp_parse_remb(fb, &r) == 0)
			pc->remb_bps = r.bitrate;
	}
}

static void on_blocks(km_peer_pc_t *pc, const km_rtcp_blocks_t *b)
{
	for (size_t i = 0; i < b->count; i++) {
		km_rtcp_report_t r;
		if (km_rtcp_report_at(b, i, &r) != 0)
			continue;
		km__pc_tx_t *t = find_tx(pc, r.ssrc, false);
		if (!t)
			continue;
		t->rr_seen = true;
		t->rr_fraction = r.fraction_lost;
		t->rr_lost = r.cumulative_lost;
		t->rr_jitter = r.jitter;
	}
}

void km__pc_tx_rtcp(km_peer_pc_t *pc, const km_rtcp_pkt_t *pkt)
{
	km_rtcp_fb_t fb;
	if (pkt->pt == KM_RTCP_RTPFB && pkt->count == KM_RTCP_FMT_NACK) {
		km__pc_tx_t *t;
		if (km_rtcp_parse_fb(pkt, &fb) == 0 && (t = find_tx(pc, fb.media_ssrc, false)))
			km_rtcp_nack_foreach(&fb, resend, t);
	} else if (pkt->pt == KM_RTCP_PSFB) {
		if (km_rtcp_parse_fb(pkt, &fb) == 0)
			on_psfb(pc, &fb, pkt->count);
	} else if (pkt->pt == KM_RTCP_RR) {
		km_rtcp_rr_t rr;
		if (km_rtcp_parse_rr(pkt, &rr) == 0)
			on_blocks(pc, &rr.blocks);
	} else if (pkt->pt == KM_RTCP_SR) {
		km_rtcp_sr_t sr;
		if (km_rtcp_parse_sr(pkt, &sr) == 0)
			on_blocks(pc, &sr.blocks);
	}
}

static json_t *stream_report(const km__pc_tx_t *t)
{
	json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "ssrc",
			      (json_int_t)t->st.ssrc, "packets", (json_int_t)t->packets, "bytes",
			      (json_int_t)t->bytes, "frames", (json_int_t)t->frames, "errors",
			      (json_int_t)t->errors, "retransmits", (json_int_t)t->retransmits,
			      "nacked", (json_int_t)t->nacked, "nack_miss", (json_int_t)t->nack_miss,
			      "plis", (json_int_t)t->plis, "firs", (json_int_t)t->firs);
	if (o)
		json_object_set_new(o, "dropped_by_loss", json_integer((json_int_t)t->dropped_loss));
	if (o && t->rr_seen) {
		json_object_set_new(o, "rr_fraction_lost", json_integer(t->rr_fraction));
		json_object_set_new(o, "rr_cumulative_lost", json_integer(t->rr_lost));
		json_object_set_new(o, "rr_jitter", json_integer(t->rr_jitter));
	}
	return o;
}

json_t *km__pc_tx_report(const km_peer_pc_t *pc)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	if (pc->tx[0].on)
		json_object_set_new(o, "audio", stream_report(&pc->tx[0]));
	if (pc->tx[1].on)
		json_object_set_new(o, "video", stream_report(&pc->tx[1]));
	return o;
}
