/* demux.c — first-byte classification (RFC 7983 / RFC 5761), STUN header and
 * attribute iterator, DTLS record headers. Pure leaf: no I/O, no allocation,
 * no globals; safe from any thread. See demux.h for the contract. */
#include "media/demux.h"

#include <string.h>

#include "media/wire.h"

km_demux_kind_t km_demux_classify(const uint8_t *p, size_t len)
{
	if (!p || len == 0)
		return KM_DEMUX_DROP;
	uint8_t b = p[0];
	if (b <= 3)
		return KM_DEMUX_STUN;
	if (b >= 16 && b <= 19)
		return KM_DEMUX_ZRTP;
	if (b >= 20 && b <= 63)
		return KM_DEMUX_DTLS;
	if (b >= 64 && b <= 79)
		return KM_DEMUX_TURN;
	if (b >= 128 && b <= 191) {
		if (len < 2)
			return KM_DEMUX_DROP;
		return p[1] >= 192 && p[1] <= 223 ? KM_DEMUX_RTCP : KM_DEMUX_RTP;
	}
	return KM_DEMUX_DROP;
}

const char *km_demux_kind_name(km_demux_kind_t k)
{
	switch (k) {
	case KM_DEMUX_STUN: return "stun";
	case KM_DEMUX_ZRTP: return "zrtp";
	case KM_DEMUX_DTLS: return "dtls";
	case KM_DEMUX_TURN: return "turn";
	case KM_DEMUX_RTP: return "rtp";
	case KM_DEMUX_RTCP: return "rtcp";
	case KM_DEMUX_DROP: break;
	}
	return "drop";
}

const char *km_demux_strerror(int code)
{
	switch (code) {
	case KM_DEMUX_OK: return "ok";
	case KM_DEMUX_ETRUNC: return "demux: truncated header or length past the end";
	case KM_DEMUX_ESTUN: return "demux: not a STUN message (top bits, cookie or length)";
	case KM_DEMUX_EATTR: return "demux: STUN attribute with a wrong length or after FINGERPRINT";
	case KM_DEMUX_EDTLS: return "demux: DTLS record with unknown type, version or length";
	case KM_DEMUX_EINVAL: return "demux: invalid argument";
	default: return "demux: unknown error";
	}
}

/* ---- STUN ---- */

int km_demux_stun_parse(const uint8_t *p, size_t len, km_demux_stun_t *out)
{
	if (!p || !out)
		return KM_DEMUX_EINVAL;
	if (len < KM_STUN_HEADER_LEN)
		return KM_DEMUX_ETRUNC;
	uint16_t t = km_wire_ld16(p);
	uint16_t mlen = km_wire_ld16(p + 2);
	if (t & 0xc000 || mlen % 4 != 0 || km_wire_ld32(p + 4) != KM_STUN_MAGIC)
		return KM_DEMUX_ESTUN;
	if (mlen > len - KM_STUN_HEADER_LEN)
		return KM_DEMUX_ETRUNC;
	out->p = p;
	out->type = t;
	/* RFC 5389 6: M11..M7 C1 M6..M4 C0 M3..M0 */
	out->method = (uint16_t)((t & 0x000f) | (t & 0x00e0) >> 1 | (t & 0x3e00) >> 2);
	out->cls = (uint8_t)((t >> 4 & 1) | (t >> 7 & 2));
	out->length = mlen;
	memcpy(out->txid, p + 8, sizeof out->txid);
	return 0;
}

void km_demux_stun_iter_init(km_demux_stun_iter_t *it, const km_demux_stun_t *msg)
{
	it->msg = msg;
	it->off = KM_STUN_HEADER_LEN;
	it->seen_integrity = false;
	it->seen_fingerprint = false;
}

/* Expected value length of the ICE-relevant attributes, -1 if unchecked. */
static int attr_fixed_len(uint16_t type)
{
	switch (type) {
	case KM_STUN_ATTR_MESSAGE_INTEGRITY: return 20;
	case KM_STUN_ATTR_FINGERPRINT: return 4;
	case KM_STUN_ATTR_PRIORITY: return 4;
	case KM_STUN_ATTR_USE_CANDIDATE: return 0;
	case KM_STUN_ATTR_ICE_CONTROLLED: return 8;
	case KM_STUN_ATTR_ICE_CONTROLLING: return 8;
	default: return -1;
	}
}

int km_demux_stun_next(km_demux_stun_iter_t *it, km_demux_stun_attr_t *out)
{
	size_t end = KM_STUN_HEADER_LEN + (size_t)it->msg->length;
	if (it->off >= end)
		return 0;
	const uint8_t *a = it->msg->p + it->off;
	if (end - it->off < 4)
		return KM_DEMUX_ETRUNC;
	uint16_t type = km_wire_ld16(a);
	uint16_t vlen = km_wire_ld16(a + 2);
	size_t padded = ((size_t)vlen + 3) & ~(size_t)3;
	if (padded > end - it->off - 4)
		return KM_DEMUX_ETRUNC;
	if (it->seen_fingerprint)
		return KM_DEMUX_EATTR;
	int want = attr_fixed_len(type);
	if (want >= 0 && vlen != want)
		return KM_DEMUX_EATTR;
	if (type == KM_STUN_ATTR_USERNAME && vlen > KM_STUN_USERNAME_MAX)
		return KM_DEMUX_EATTR;
	out->type = type;
	out->len = vlen;
	out->value = a + 4;
	out->offset = it->off;
	out->after_integrity = it->seen_integrity;
	if (type == KM_STUN_ATTR_MESSAGE_INTEGRITY)
		it->seen_integrity = true;
	if (type == KM_STUN_ATTR_FINGERPRINT)
		it->seen_fingerprint = true;
	it->off += 4 + padded;
	return 1;
}

/* ---- DTLS ---- */

int km_demux_dtls_next(const uint8_t *p, size_t len, size_t *off, km_demux_dtls_record_t *out)
{
	if (!p || !off || !out)
		return KM_DEMUX_EINVAL;
	if (*off >= len)
		return 0;
	size_t rem = len - *off;
	const uint8_t *h = p + *off;
	if (rem < KM_DTLS_RECORD_HEADER_LEN)
		return KM_DEMUX_ETRUNC;
	out->content_type = h[0];
	out->version = km_wire_ld16(h + 1);
	out->epoch = km_wire_ld16(h + 3);
	out->seq = km_wire_ld48(h + 5);
	out->length = km_wire_ld16(h + 11);
	if (out->content_type < KM_DTLS_CHANGE_CIPHER_SPEC || out->content_type > KM_DTLS_TLS12_CID)
		return KM_DEMUX_EDTLS;
	if (out->version >> 8 != 0xfe || out->length > KM_DTLS_MAX_FRAGMENT)
		return KM_DEMUX_EDTLS;
	if (out->length > rem - KM_DTLS_RECORD_HEADER_LEN)
		return KM_DEMUX_ETRUNC;
	out->fragment = h + KM_DTLS_RECORD_HEADER_LEN;
	*off += KM_DTLS_RECORD_HEADER_LEN + out->length;
	return 1;
}

int km_demux_dtls_validate(const uint8_t *p, size_t len)
{
	if (!p || len == 0)
		return KM_DEMUX_ETRUNC;
	size_t off = 0;
	km_demux_dtls_record_t r;
	int n = 0, rc;
	while ((rc = km_demux_dtls_next(p, len, &off, &r)) > 0)
		n++;
	return rc < 0 ? rc : n;
}
