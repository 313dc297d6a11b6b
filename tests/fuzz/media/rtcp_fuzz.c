/* rtcp_fuzz.c — libFuzzer harness for media/rtcp: walks the input as a
 * compound packet and runs every parser on every packet; expands NACKs into
 * a bounded array and through a callback and checks they agree; re-writes
 * what it parsed (RR, SR, NACK, FIR, REMB) with the writers and checks the
 * re-parse. Traps on any broken invariant. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "media/rtcp.h"

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t out[2048];

static int first_fb(const uint8_t *p, size_t n, km_rtcp_fb_t *fb)
{
	km_rtcp_iter_t it;
	km_rtcp_pkt_t pkt;
	km_rtcp_iter_init(&it, p, n);
	CHECK(km_rtcp_next(&it, &pkt) == 1);
	CHECK(pkt.len == n);
	return km_rtcp_parse_fb(&pkt, fb);
}

static void blocks_round_trip(const km_rtcp_blocks_t *b, const km_rtcp_sender_info_t *si,
	uint32_t ssrc)
{
	km_rtcp_report_t in[KM_RTCP_MAX_BLOCKS], rb;
	for (size_t i = 0; i < b->count; i++)
		CHECK(km_rtcp_report_at(b, i, &in[i]) == 0);
	int len = si ? km_rtcp_write_sr(out, sizeof out, si, in, b->count)
		     : km_rtcp_write_rr(out, sizeof out, ssrc, in, b->count);
	CHECK(len > 0);
	km_rtcp_iter_t it;
	km_rtcp_pkt_t pkt;
	km_rtcp_iter_init(&it, out, (size_t)len);
	CHECK(km_rtcp_next(&it, &pkt) == 1);
	km_rtcp_sr_t sr;
	km_rtcp_rr_t rr;
	const km_rtcp_blocks_t *nb;
	if (si) {
		CHECK(km_rtcp_parse_sr(&pkt, &sr) == 0);
		CHECK(sr.info.ntp == si->ntp && sr.info.octet_count == si->octet_count);
		nb = &sr.blocks;
	} else {
		CHECK(km_rtcp_parse_rr(&pkt, &rr) == 0 && rr.ssrc == ssrc);
		nb = &rr.blocks;
	}
	CHECK(nb->count == b->count);
	for (size_t i = 0; i < b->count; i++) {
		CHECK(km_rtcp_report_at(nb, i, &rb) == 0);
		CHECK(rb.cumulative_lost == in[i].cumulative_lost && rb.ssrc == in[i].ssrc);
		CHECK(rb.cumulative_lost >= -0x800000 && rb.cumulative_lost <= 0x7fffff);
		CHECK(rb.dlsr == in[i].dlsr && rb.fraction_lost == in[i].fraction_lost);
	}
}

static int count_cb(uint16_t seq, void *ud)
{
	(*(size_t *)ud)++;
	return 0;
}

static bool contains(const uint16_t *v, size_t n, uint16_t x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

static void nack(const km_rtcp_fb_t *fb)
{
	uint16_t seqs[64], again[64 * 17];
	size_t n = 0, total = 0, m = 0;
	int items = km_rtcp_nack_items(fb);
	int rc = km_rtcp_nack_expand(fb, seqs, 64, &n);
	CHECK(km_rtcp_nack_foreach(fb, count_cb, &total) == (items < 0 ? items : 0));
	if (items < 0) {
		CHECK(rc == items);
		return;
	}
	CHECK(total >= (size_t)items && total <= (size_t)items * 17);
	CHECK(rc == (total > 64 ? KM_RTCP_ENOSPACE : 0) && n == (total > 64 ? 64 : total));
	int len = km_rtcp_write_nack(out, sizeof out, fb->sender_ssrc, fb->media_ssrc, seqs, n);
	CHECK(len > 0);
	km_rtcp_fb_t fb2;
	CHECK(first_fb(out, (size_t)len, &fb2) == 0);
	CHECK(km_rtcp_nack_expand(&fb2, again, sizeof again / sizeof *again, &m) == 0);
	for (size_t i = 0; i < m; i++)
		CHECK(contains(seqs, n, again[i]));
	for (size_t i = 0; i < n; i++)
		CHECK(contains(again, m, seqs[i]));
}

static void psfb(const km_rtcp_fb_t *fb)
{
	km_rtcp_remb_t remb, r2;
	km_rtcp_fb_t fb2;
	(void)km_rtcp_parse_pli(fb);
	int n = km_rtcp_fir_count(fb);
	if (n > 0) {
		km_rtcp_fir_entry_t e[64];
		size_t k = (size_t)n < 64 ? (size_t)n : 64;
		for (size_t i = 0; i < k; i++)
			CHECK(km_rtcp_fir_at(fb, i, &e[i]) == 0);
		CHECK(km_rtcp_fir_at(fb, (size_t)n, &e[0]) == KM_RTCP_EINVAL);
		int len = km_rtcp_write_fir(out, sizeof out, fb->sender_ssrc, e, k);
		CHECK(len == (int)(12 + 8 * k));
		CHECK(first_fb(out, (size_t)len, &fb2) == 0 && km_rtcp_fir_count(&fb2) == (int)k);
	}
	if (km_rtcp_parse_remb(fb, &remb) == 0) {
		CHECK(remb.ssrc_count <= KM_RTCP_REMB_MAX_SSRC && remb.ssrc_count <= remb.num_ssrc);
		int len = km_rtcp_write_remb(out, sizeof out, fb->sender_ssrc, remb.bitrate, remb.ssrcs,
			remb.ssrc_count);
		CHECK(len > 0);
		CHECK(first_fb(out, (size_t)len, &fb2) == 0 && km_rtcp_parse_remb(&fb2, &r2) == 0);
		CHECK(r2.bitrate <= remb.bitrate && remb.bitrate - r2.bitrate <= remb.bitrate >> 17);
		CHECK(r2.ssrc_count == remb.ssrc_count);
	}
}

static void one(const km_rtcp_pkt_t *pkt)
{
	km_rtcp_sr_t sr;
	km_rtcp_rr_t rr;
	km_rtcp_bye_t bye;
	km_rtcp_fb_t fb;
	km_rtcp_twcc_t tw;
	CHECK(pkt->body_len + 4 <= pkt->len);
	if (km_rtcp_parse_sr(pkt, &sr) == 0)
		blocks_round_trip(&sr.blocks, &sr.info, 0);
	if (km_rtcp_parse_rr(pkt, &rr) == 0)
		blocks_round_trip(&rr.blocks, NULL, rr.ssrc);
	(void)km_rtcp_parse_sdes(pkt);
	if (km_rtcp_parse_bye(pkt, &bye) == 0 && bye.reason)
		CHECK(bye.reason + bye.reason_len <= pkt->body + pkt->body_len);
	if (km_rtcp_parse_fb(pkt, &fb) != 0)
		return;
	CHECK(fb.fci + fb.fci_len <= pkt->body + pkt->body_len);
	nack(&fb);
	if (km_rtcp_parse_twcc(&fb, &tw) == 0)
		CHECK(tw.recv_count <= tw.status_count);
	psfb(&fb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	km_rtcp_iter_t it;
	km_rtcp_pkt_t pkt;
	int rc, n = 0;
	km_rtcp_iter_init(&it, data, size);
	while ((rc = km_rtcp_next(&it, &pkt)) > 0) {
		CHECK(pkt.p >= data && pkt.p + pkt.len <= data + size);
		one(&pkt);
		n++;
	}
	CHECK(km_rtcp_strerror(rc) != NULL);
	int v = km_rtcp_validate(data, size);
	CHECK(rc < 0 ? v == rc : (size == 0 ? v < 0 : v == n));
	return 0;
}
