/* rewrite.c — per-subscriber RTP header rewriting across source switches;
 * see rewrite.h. Pure and single-threaded; no allocation. */
#include "media/rewrite.h"

/* Wall time longer than this between two packets is clamped when a switch
 * extrapolates the timestamp (keeps the multiplication in range). */
#define MAX_GAP_US 1000000000LL /* 1000 s */

int km_rewrite_init(km_rewrite_t *rw, uint32_t out_ssrc, uint8_t out_pt, uint32_t clock_rate)
{
	if (!rw || out_pt > 127 || clock_rate == 0)
		return KM_RTP_EINVAL;
	*rw = (km_rewrite_t){ 0 };
	rw->out_ssrc = out_ssrc;
	rw->out_pt = out_pt;
	rw->clock_rate = clock_rate;
	km_rtp_unwrap_init(&rw->in);
	return 0;
}

/* Clock units elapsed since the last packet sent, at least 1. */
static uint32_t elapsed_ts(const km_rewrite_t *rw, int64_t now_us)
{
	int64_t gap = now_us - rw->last_out_us;
	if (gap < 0)
		gap = 0;
	if (gap > MAX_GAP_US)
		gap = MAX_GAP_US;
	uint64_t units = (uint64_t)gap * rw->clock_rate / 1000000u;
	return units == 0 ? 1 : (uint32_t)units;
}

/* Makes p's source the current one, continuing seq and ts. */
static void start_source(km_rewrite_t *rw, const km_rtp_t *p, int64_t now_us)
{
	if (rw->started) {
		rw->seq_off = (uint16_t)(rw->last_out_seq + 1u - p->seq);
		rw->ts_off = rw->last_out_ts + elapsed_ts(rw, now_us) - p->ts;
	} else {
		rw->seq_off = 0;
		rw->ts_off = 0;
	}
	rw->src_ssrc = p->ssrc;
	km_rtp_unwrap_init(&rw->in);
	rw->base_in = km_rtp_unwrap(&rw->in, p->seq);
	rw->max_in = rw->base_in;
}

int km_rewrite_apply(km_rewrite_t *rw, uint8_t *pkt, size_t len, const km_rtp_t *parsed,
	int64_t now_us)
{
	if (!rw || !pkt || !parsed || parsed->len != len)
		return KM_RTP_EINVAL;
	if (len < KM_RTP_HEADER_LEN)
		return KM_RTP_ETRUNC;
	bool newest;
	if (!rw->started || parsed->ssrc != rw->src_ssrc) {
		start_source(rw, parsed, now_us);
		newest = true;
	} else {
		int64_t v = km_rtp_unwrap(&rw->in, parsed->seq);
		if (v < rw->base_in)
			return 1;
		newest = v > rw->max_in;
		if (newest)
			rw->max_in = v;
	}
	uint16_t out_seq = (uint16_t)(parsed->seq + rw->seq_off);
	uint32_t out_ts = parsed->ts + rw->ts_off;
	/* len >= 12 and out_pt <= 127 (checked at init): these cannot fail. */
	km_rtp_set_ssrc(pkt, len, rw->out_ssrc);
	km_rtp_set_pt(pkt, len, rw->out_pt);
	km_rtp_set_seq(pkt, len, out_seq);
	km_rtp_set_ts(pkt, len, out_ts);
	if (newest || !rw->started) {
		rw->last_out_seq = out_seq;
		rw->last_out_ts = out_ts;
		rw->last_out_us = now_us;
	}
	rw->started = true;
	return 0;
}

int km_rewrite_map_nack(const km_rewrite_t *rw, uint16_t out_seq, uint16_t *in_seq)
{
	if (!rw || !in_seq || !rw->started)
		return -1;
	uint16_t back = (uint16_t)(rw->last_out_seq - out_seq);
	if (back >= 0x8000 || (int64_t)back > rw->max_in - rw->base_in)
		return -1;
	*in_seq = (uint16_t)(out_seq - rw->seq_off);
	return 0;
}
