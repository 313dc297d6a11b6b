/* rtcp.c — RTCP compound iterator, parsers and writers (RFC 3550, 4585,
 * 5104, draft-alvestrand-rmcat-remb, draft-holmer-rmcat-transport-wide-cc).
 * Pure leaf: no I/O, no allocation, no globals; safe from any thread. */
#include "media/rtcp.h"

#include <string.h>

#include "media/wire.h"

#define REPORT_LEN 24
#define SENDER_INFO_LEN 20

/* ---- iterator ---- */

void km_rtcp_iter_init(km_rtcp_iter_t *it, const uint8_t *p, size_t len)
{
	it->p = p;
	it->len = p ? len : 0;
	it->off = 0;
}

static int iter_fail(km_rtcp_iter_t *it, int code)
{
	it->off = it->len;
	return code;
}

int km_rtcp_next(km_rtcp_iter_t *it, km_rtcp_pkt_t *out)
{
	if (it->off >= it->len)
		return 0;
	size_t rem = it->len - it->off;
	const uint8_t *h = it->p + it->off;
	if (rem < 4)
		return iter_fail(it, KM_RTCP_ETRUNC);
	if (h[0] >> 6 != 2)
		return iter_fail(it, KM_RTCP_EVERSION);
	size_t plen = ((size_t)km_wire_ld16(h + 2) + 1) * 4;
	if (plen > rem)
		return iter_fail(it, KM_RTCP_ETRUNC);
	*out = (km_rtcp_pkt_t){
		.p = h, .len = plen, .count = h[0] & 0x1f, .pt = h[1],
		.padding = h[0] & 0x20, .body = h + 4, .body_len = plen - 4,
	};
	if (out->padding) {
		uint8_t pad = h[plen - 1];
		if (plen != rem || pad == 0 || pad > out->body_len)
			return iter_fail(it, KM_RTCP_EPADDING);
		out->body_len -= pad;
	}
	it->off += plen;
	return 1;
}

int km_rtcp_validate(const uint8_t *p, size_t len)
{
	if (!p || len == 0)
		return KM_RTCP_ETRUNC;
	km_rtcp_iter_t it;
	km_rtcp_pkt_t pkt;
	int n = 0, rc;
	km_rtcp_iter_init(&it, p, len);
	while ((rc = km_rtcp_next(&it, &pkt)) > 0)
		n++;
	return rc < 0 ? rc : n;
}

const char *km_rtcp_strerror(int code)
{
	switch (code) {
	case KM_RTCP_OK: return "ok";
	case KM_RTCP_ETRUNC: return "rtcp: truncated header or length field past the end";
	case KM_RTCP_EVERSION: return "rtcp: version is not 2";
	case KM_RTCP_EPADDING: return "rtcp: padding not on the last packet, or bad count";
	case KM_RTCP_ETYPE: return "rtcp: packet type or format not expected here";
	case KM_RTCP_EFORMAT: return "rtcp: body inconsistent with its counts";
	case KM_RTCP_ENOSPACE: return "rtcp: buffer too small";
	case KM_RTCP_EINVAL: return "rtcp: invalid argument";
	case KM_RTCP_ENOTREMB: return "rtcp: application feedback is not REMB";
	default: return "rtcp: unknown error";
	}
}

/* ---- report blocks, SR, RR ---- */

int km_rtcp_report_at(const km_rtcp_blocks_t *b, size_t i, km_rtcp_report_t *out)
{
	if (!b || !out || i >= b->count)
		return KM_RTCP_EINVAL;
	const uint8_t *p = b->p + i * REPORT_LEN;
	uint32_t cum = km_wire_ld24(p + 5);
	out->ssrc = km_wire_ld32(p);
	out->fraction_lost = p[4];
	out->cumulative_lost = (int32_t)(cum & 0x7fffff) - (int32_t)(cum & 0x800000);
	out->ext_highest_seq = km_wire_ld32(p + 8);
	out->jitter = km_wire_ld32(p + 12);
	out->lsr = km_wire_ld32(p + 16);
	out->dlsr = km_wire_ld32(p + 20);
	return 0;
}

int km_rtcp_parse_sr(const km_rtcp_pkt_t *pkt, km_rtcp_sr_t *out)
{
	if (pkt->pt != KM_RTCP_SR)
		return KM_RTCP_ETYPE;
	const uint8_t *b = pkt->body;
	size_t need = 4 + SENDER_INFO_LEN + (size_t)pkt->count * REPORT_LEN;
	if (pkt->body_len < need)
		return KM_RTCP_EFORMAT;
	out->info.ssrc = km_wire_ld32(b);
	out->info.ntp = km_wire_ld64(b + 4);
	out->info.rtp_ts = km_wire_ld32(b + 12);
	out->info.packet_count = km_wire_ld32(b + 16);
	out->info.octet_count = km_wire_ld32(b + 20);
	out->blocks.p = b + 24;
	out->blocks.count = pkt->count;
	return 0; /* bytes after the blocks: profile-specific extensions, ignored */
}

int km_rtcp_parse_rr(const km_rtcp_pkt_t *pkt, km_rtcp_rr_t *out)
{
	if (pkt->pt != KM_RTCP_RR)
		return KM_RTCP_ETYPE;
	if (pkt->body_len < 4 + (size_t)pkt->count * REPORT_LEN)
		return KM_RTCP_EFORMAT;
	out->ssrc = km_wire_ld32(pkt->body);
	out->blocks.p = pkt->body + 4;
	out->blocks.count = pkt->count;
	return 0;
}

/* ---- SDES, BYE ---- */

/* One SDES chunk at b[*off..n): SSRC, items, a null item, padding to 32 bits. */
static int sdes_chunk(const uint8_t *b, size_t n, size_t *off)
{
	size_t o = *off;
	if (n - o < 4)
		return KM_RTCP_EFORMAT;
	o += 4;
	for (;;) {
		if (o >= n)
			return KM_RTCP_EFORMAT;
		if (b[o] == 0) { /* end of items: null octets up to the next word */
			o = (o + 4) & ~(size_t)3;
			if (o > n)
				return KM_RTCP_EFORMAT;
			*off = o;
			return 0;
		}
		if (n - o < 2 || (size_t)b[o + 1] > n - o - 2)
			return KM_RTCP_EFORMAT;
		o += 2 + (size_t)b[o + 1];
	}
}

int km_rtcp_parse_sdes(const km_rtcp_pkt_t *pkt)
{
	if (pkt->pt != KM_RTCP_SDES)
		return KM_RTCP_ETYPE;
	size_t off = 0;
	for (int i = 0; i < pkt->count; i++) {
		int rc = sdes_chunk(pkt->body, pkt->body_len, &off);
		if (rc < 0)
			return rc;
	}
	return pkt->count;
}

int km_rtcp_parse_bye(const km_rtcp_pkt_t *pkt, km_rtcp_bye_t *out)
{
	if (pkt->pt != KM_RTCP_BYE)
		return KM_RTCP_ETYPE;
	size_t n = (size_t)pkt->count * 4;
	if (pkt->body_len < n)
		return KM_RTCP_EFORMAT;
	out->count = pkt->count;
	for (size_t i = 0; i < pkt->count; i++)
		out->ssrcs[i] = km_wire_ld32(pkt->body + i * 4);
	out->reason = NULL;
	out->reason_len = 0;
	if (pkt->body_len > n) {
		uint8_t rl = pkt->body[n];
		if ((size_t)rl > pkt->body_len - n - 1)
			return KM_RTCP_EFORMAT;
		out->reason = pkt->body + n + 1;
		out->reason_len = rl;
	}
	return 0;
}

/* ---- feedback ---- */

int km_rtcp_parse_fb(const km_rtcp_pkt_t *pkt, km_rtcp_fb_t *out)
{
	if (pkt->pt != KM_RTCP_RTPFB && pkt->pt != KM_RTCP_PSFB)
		return KM_RTCP_ETYPE;
	if (pkt->body_len < 8)
		return KM_RTCP_EFORMAT;
	out->pt = pkt->pt;
	out->fmt = pkt->count;
	out->sender_ssrc = km_wire_ld32(pkt->body);
	out->media_ssrc = km_wire_ld32(pkt->body + 4);
	out->fci = pkt->body + 8;
	out->fci_len = pkt->body_len - 8;
	return 0;
}

int km_rtcp_nack_items(const km_rtcp_fb_t *fb)
{
	if (fb->pt != KM_RTCP_RTPFB || fb->fmt != KM_RTCP_FMT_NACK)
		return KM_RTCP_ETYPE;
	if (fb->fci_len == 0 || fb->fci_len % 4 != 0)
		return KM_RTCP_EFORMAT;
	return (int)(fb->fci_len / 4); /* fci_len < 2^18 */
}

int km_rtcp_nack_foreach(const km_rtcp_fb_t *fb, int (*cb)(uint16_t seq, void *ud), void *ud)
{
	int items = km_rtcp_nack_items(fb);
	if (items < 0)
		return items;
	for (int i = 0; i < items; i++) {
		uint16_t pid = km_wire_ld16(fb->fci + (size_t)i * 4);
		uint16_t blp = km_wire_ld16(fb->fci + (size_t)i * 4 + 2);
		int rc = cb(pid, ud);
		if (rc)
			return rc;
		for (unsigned bit = 0; bit < 16; bit++) {
			if (!(blp & (1u << bit)))
				continue;
			rc = cb((uint16_t)(pid + bit + 1), ud);
			if (rc)
				return rc;
		}
	}
	return 0;
}

typedef struct {
	uint16_t *seqs;
	size_t cap, n;
} expand_ctx_t;

static int expand_one(uint16_t seq, void *ud)
{
	expand_ctx_t *c = ud;
	if (c->n >= c->cap)
		return KM_RTCP_ENOSPACE;
	c->seqs[c->n++] = seq;
	return 0;
}

int km_rtcp_nack_expand(const km_rtcp_fb_t *fb, uint16_t *seqs, size_t cap, size_t *n)
{
	expand_ctx_t c = { .seqs = seqs, .cap = seqs ? cap : 0, .n = 0 };
	int rc = km_rtcp_nack_foreach(fb, expand_one, &c);
	if (n)
		*n = c.n;
	return rc;
}

/* Receive-delta bytes for a packet status symbol: 0 not received, 1 small
 * (1 byte), 2 large (2 bytes); 3 is reserved and refused. */
static int twcc_symbol(unsigned sym, km_rtcp_twcc_t *t, size_t *delta_bytes)
{
	if (sym == 3)
		return KM_RTCP_EFORMAT;
	if (sym)
		t->recv_count++;
	*delta_bytes += sym;
	return 0;
}

int km_rtcp_parse_twcc(const km_rtcp_fb_t *fb, km_rtcp_twcc_t *out)
{
	if (fb->pt != KM_RTCP_RTPFB || fb->fmt != KM_RTCP_FMT_TWCC)
		return KM_RTCP_ETYPE;
	if (fb->fci_len < 8)
		return KM_RTCP_EFORMAT;
	const uint8_t *f = fb->fci;
	*out = (km_rtcp_twcc_t){
		.base_seq = km_wire_ld16(f), .status_count = km_wire_ld16(f + 2),
		.ref_time = km_wire_ld24(f + 4), .fb_count = f[7],
	};
	size_t off = 8, left = out->status_count, deltas = 0;
	while (left > 0) {
		if (fb->fci_len - off < 2)
			return KM_RTCP_EFORMAT;
		uint16_t c = km_wire_ld16(f + off);
		off += 2;
		out->chunk_count++;
		if (!(c & 0x8000)) { /* run length: 2-bit symbol, 13-bit run */
			size_t run = c & 0x1fff;
			size_t k = run < left ? run : left;
			unsigned sym = (c >> 13) & 3;
			if (k && sym == 3)
				return KM_RTCP_EFORMAT;
			if (sym)
				out->recv_count += k;
			deltas += k * sym;
			left -= k;
			continue;
		}
		bool two = c & 0x4000; /* status vector: 7 two-bit or 14 one-bit */
		unsigned nsym = two ? 7 : 14, bits = two ? 2 : 1;
		for (unsigned s = 0; s < nsym && left > 0; s++, left--) {
			unsigned shift = 14 - bits * (s + 1);
			if (twcc_symbol((c >> shift) & (two ? 3u : 1u), out, &deltas) < 0)
				return KM_RTCP_EFORMAT;
		}
	}
	if (deltas > fb->fci_len - off)
		return KM_RTCP_EFORMAT;
	return 0;
}

int km_rtcp_parse_pli(const km_rtcp_fb_t *fb)
{
	if (fb->pt != KM_RTCP_PSFB || fb->fmt != KM_RTCP_FMT_PLI)
		return KM_RTCP_ETYPE;
	return 0;
}

int km_rtcp_fir_count(const km_rtcp_fb_t *fb)
{
	if (fb->pt != KM_RTCP_PSFB || fb->fmt != KM_RTCP_FMT_FIR)
		return KM_RTCP_ETYPE;
	if (fb->fci_len == 0 || fb->fci_len % 8 != 0)
		return KM_RTCP_EFORMAT;
	return (int)(fb->fci_len / 8);
}

int km_rtcp_fir_at(const km_rtcp_fb_t *fb, size_t i, km_rtcp_fir_entry_t *out)
{
	int n = km_rtcp_fir_count(fb);
	if (n < 0)
		return n;
	if (i >= (size_t)n)
		return KM_RTCP_EINVAL;
	out->ssrc = km_wire_ld32(fb->fci + i * 8);
	out->seq = fb->fci[i * 8 + 4];
	return 0;
}

int km_rtcp_parse_remb(const km_rtcp_fb_t *fb, km_rtcp_remb_t *out)
{
	if (fb->pt != KM_RTCP_PSFB || fb->fmt != KM_RTCP_FMT_AFB)
		return KM_RTCP_ETYPE;
	const uint8_t *f = fb->fci;
	if (fb->fci_len < 8)
		return KM_RTCP_EFORMAT;
	if (memcmp(f, "REMB", 4) != 0)
		return KM_RTCP_ENOTREMB;
	out->num_ssrc = f[4];
	if (fb->fci_len - 8 < (size_t)out->num_ssrc * 4)
		return KM_RTCP_EFORMAT;
	unsigned exp = f[5] >> 2;
	uint64_t mant = (uint64_t)(f[5] & 3) << 16 | km_wire_ld16(f + 6);
	if (exp > 0 && (mant >> (64 - exp)) != 0)
		out->bitrate = UINT64_MAX;
	else
		out->bitrate = mant << exp;
	out->ssrc_count = out->num_ssrc < KM_RTCP_REMB_MAX_SSRC ? out->num_ssrc
								: KM_RTCP_REMB_MAX_SSRC;
	for (size_t i = 0; i < out->ssrc_count; i++)
		out->ssrcs[i] = km_wire_ld32(f + 8 + i * 4);
	return 0;
}

/* ---- writers ---- */

/* Checks that a packet of len bytes fits cap and its length field, and
 * writes the 4-byte header. Returns len or a code. */
static int put_header(uint8_t *buf, size_t cap, uint8_t count, uint8_t pt, size_t len)
{
	if (len / 4 - 1 > 0xffff)
		return KM_RTCP_EINVAL;
	if (!buf || cap < len)
		return KM_RTCP_ENOSPACE;
	buf[0] = (uint8_t)(0x80 | count);
	buf[1] = pt;
	km_wire_st16(buf + 2, (uint16_t)(len / 4 - 1));
	return (int)len;
}

static void put_report(uint8_t *p, const km_rtcp_report_t *r)
{
	int32_t cum = r->cumulative_lost;
	if (cum > 0x7fffff)
		cum = 0x7fffff;
	if (cum < -0x800000)
		cum = -0x800000;
	km_wire_st32(p, r->ssrc);
	p[4] = r->fraction_lost;
	km_wire_st24(p + 5, (uint32_t)cum & 0xffffff);
	km_wire_st32(p + 8, r->ext_highest_seq);
	km_wire_st32(p + 12, r->jitter);
	km_wire_st32(p + 16, r->lsr);
	km_wire_st32(p + 20, r->dlsr);
}

int km_rtcp_write_rr(uint8_t *buf, size_t cap, uint32_t ssrc, const km_rtcp_report_t *blocks,
	size_t n)
{
	if (n > KM_RTCP_MAX_BLOCKS || (n && !blocks))
		return KM_RTCP_EINVAL;
	int len = put_header(buf, cap, (uint8_t)n, KM_RTCP_RR, 8 + n * REPORT_LEN);
	if (len < 0)
		return len;
	km_wire_st32(buf + 4, ssrc);
	for (size_t i = 0; i < n; i++)
		put_report(buf + 8 + i * REPORT_LEN, &blocks[i]);
	return len;
}

int km_rtcp_write_sr(uint8_t *buf, size_t cap, const km_rtcp_sender_info_t *info,
	const km_rtcp_report_t *blocks, size_t n)
{
	if (!info || n > KM_RTCP_MAX_BLOCKS || (n && !blocks))
		return KM_RTCP_EINVAL;
	int len = put_header(buf, cap, (uint8_t)n, KM_RTCP_SR, 28 + n * REPORT_LEN);
	if (len < 0)
		return len;
	km_wire_st32(buf + 4, info->ssrc);
	km_wire_st64(buf + 8, info->ntp);
	km_wire_st32(buf + 16, info->rtp_ts);
	km_wire_st32(buf + 20, info->packet_count);
	km_wire_st32(buf + 24, info->octet_count);
	for (size_t i = 0; i < n; i++)
		put_report(buf + 28 + i * REPORT_LEN, &blocks[i]);
	return len;
}

static int put_fb(uint8_t *buf, size_t cap, uint8_t fmt, uint8_t pt, size_t len,
	uint32_t sender, uint32_t media)
{
	int rc = put_header(buf, cap, fmt, pt, len);
	if (rc < 0)
		return rc;
	km_wire_st32(buf + 4, sender);
	km_wire_st32(buf + 8, media);
	return rc;
}

int km_rtcp_write_pli(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc)
{
	return put_fb(buf, cap, KM_RTCP_FMT_PLI, KM_RTCP_PSFB, 12, sender_ssrc, media_ssrc);
}

int km_rtcp_write_fir(uint8_t *buf, size_t cap, uint32_t sender_ssrc,
	const km_rtcp_fir_entry_t *entries, size_t n)
{
	if (n == 0 || !entries || n > 0x4000)
		return KM_RTCP_EINVAL;
	/* RFC 5104 4.3.1.2: media source SSRC is 0; targets are in the FCI. */
	int len = put_fb(buf, cap, KM_RTCP_FMT_FIR, KM_RTCP_PSFB, 12 + n * 8, sender_ssrc, 0);
	if (len < 0)
		return len;
	for (size_t i = 0; i < n; i++) {
		uint8_t *e = buf + 12 + i * 8;
		km_wire_st32(e, entries[i].ssrc);
		e[4] = entries[i].seq;
		e[5] = e[6] = e[7] = 0;
	}
	return len;
}

/* Packs seqs into PID/BLP items; writes them to out when non-NULL.
 * Returns the number of items. */
static size_t nack_pack(const uint16_t *seqs, size_t n, uint8_t *out)
{
	size_t items = 0, i = 0;
	while (i < n) {
		uint16_t pid = seqs[i++], blp = 0;
		while (i < n) {
			uint16_t d = (uint16_t)(seqs[i] - pid);
			if (d > 16)
				break;
			if (d > 0)
				blp |= (uint16_t)(1u << (d - 1));
			i++;
		}
		if (out) {
			km_wire_st16(out + items * 4, pid);
			km_wire_st16(out + items * 4 + 2, blp);
		}
		items++;
	}
	return items;
}

int km_rtcp_write_nack(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
	const uint16_t *seqs, size_t n)
{
	if (n == 0 || !seqs || n > 0x4000)
		return KM_RTCP_EINVAL;
	size_t items = nack_pack(seqs, n, NULL);
	int len = put_fb(buf, cap, KM_RTCP_FMT_NACK, KM_RTCP_RTPFB, 12 + items * 4, sender_ssrc,
		media_ssrc);
	if (len < 0)
		return len;
	nack_pack(seqs, n, buf + 12);
	return len;
}

int km_rtcp_write_remb(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint64_t bitrate,
	const uint32_t *ssrcs, size_t n)
{
	if (n > 255 || (n && !ssrcs))
		return KM_RTCP_EINVAL;
	int len = put_fb(buf, cap, KM_RTCP_FMT_AFB, KM_RTCP_PSFB, 20 + n * 4, sender_ssrc, 0);
	if (len < 0)
		return len;
	unsigned exp = 0;
	uint64_t mant = bitrate;
	while (mant > 0x3ffff) {
		mant >>= 1;
		exp++;
	}
	memcpy(buf + 12, "REMB", 4);
	buf[16] = (uint8_t)n;
	buf[17] = (uint8_t)(exp << 2 | (unsigned)(mant >> 16));
	km_wire_st16(buf + 18, (uint16_t)mant);
	for (size_t i = 0; i < n; i++)
		km_wire_st32(buf + 20 + i * 4, ssrcs[i]);
	return len;
}
