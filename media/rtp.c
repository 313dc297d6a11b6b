/* rtp.c — RTP header and RFC 8285 extension parser, in-place writers,
 * sequence unwrapping. Pure leaf: no I/O, no allocation, no globals; safe
 * from any thread. See rtp.h for the contract. */
#include "media/rtp.h"

#include "media/wire.h"
#include <stdint.h>
#include <string.h>

static void ext_store(km_rtp_t *r, uint8_t id, size_t off, size_t len)
{
	if (r->ext_count >= KM_RTP_MAX_EXT) {
		r->ext_overflow = true;
		return;
	}
	km_rtp_ext_t *e = &r->ext[r->ext_count++];
	e->id = id;
	e->off = (uint16_t)off; /* off, len < KM_RTP_MAX_PACKET */
	e->len = (uint16_t)len;
}

/* RFC 8285 4.2: one byte of (id << 4 | len - 1), then len bytes. Id 0 is a
 * padding byte; id 15 ends the processing of the whole block. */
static int parse_one_byte(km_rtp_t *r)
{
	const uint8_t *d = r->data + r->ext_off;
	size_t n = r->ext_len, i = 0;
	while (i < n) {
		uint8_t id = d[i] >> 4;
		size_t l = (size_t)(d[i] & 0x0f) + 1;
		if (id == 0) {
			i++;
			continue;
		}
		if (id == 15)
			break;
		if (l > n - i - 1)
			return KM_RTP_EEXT;
		ext_store(r, id, r->ext_off + i + 1, l);
		i += 1 + l;
	}
	return 0;
}

/* RFC 8285 4.3: id byte, length byte, then length bytes. Id 0 is padding. */
static int parse_two_byte(km_rtp_t *r)
{
	const uint8_t *d = r->data + r->ext_off;
	size_t n = r->ext_len, i = 0;
	while (i < n) {
		uint8_t id = d[i];
		if (id == 0) {
			i++;
			continue;
		}
		if (n - i < 2)
			return KM_RTP_EEXT;
		size_t l = d[i + 1];
		if (l > n - i - 2)
			return KM_RTP_EEXT;
		ext_store(r, id, r->ext_off + i + 2, l);
		i += 2 + l;
	}
	return 0;
}

static int parse_ext_block(km_rtp_t *r, size_t off)
{
	const uint8_t *p = r->data;
	if (r->len - off < 4)
		return KM_RTP_ETRUNC;
	r->ext_profile = km_wire_ld16(p + off);
	size_t words = km_wire_ld16(p + off + 2);
	if (words * 4 > r->len - off - 4)
		return KM_RTP_ETRUNC;
	r->ext_off = off + 4;
	r->ext_len = words * 4;
	if (r->ext_profile == KM_RTP_EXT_ONE_BYTE) {
		r->ext_form = 1;
		return parse_one_byte(r);
	}
	if ((r->ext_profile & 0xfff0) == KM_RTP_EXT_TWO_BYTE) {
		r->ext_form = 2;
		return parse_two_byte(r);
	}
	return 0; /* another profile: the block is skipped, not interpreted */
}

int km_rtp_parse(const uint8_t *p, size_t len, km_rtp_t *out)
{
	if (!p || !out)
		return KM_RTP_EINVAL;
	if (len > KM_RTP_MAX_PACKET)
		return KM_RTP_ETOOBIG;
	if (len < KM_RTP_HEADER_LEN)
		return KM_RTP_ETRUNC;
	if (p[0] >> 6 != 2)
		return KM_RTP_EVERSION;
	*out = (km_rtp_t){ .data = p, .len = len };
	out->padding = p[0] & 0x20;
	out->extension = p[0] & 0x10;
	out->cc = p[0] & 0x0f;
	out->marker = p[1] & 0x80;
	out->pt = p[1] & 0x7f;
	out->seq = km_wire_ld16(p + 2);
	out->ts = km_wire_ld32(p + 4);
	out->ssrc = km_wire_ld32(p + 8);

	size_t off = KM_RTP_HEADER_LEN + (size_t)out->cc * 4;
	if (off > len)
		return KM_RTP_ETRUNC;
	if (out->extension) {
		int rc = parse_ext_block(out, off);
		if (rc < 0)
			return rc;
		off = out->ext_off + out->ext_len;
	}
	out->header_len = off;
	size_t rest = len - off;
	if (out->padding) {
		uint8_t pad = p[len - 1];
		if (pad == 0 || pad > rest)
			return KM_RTP_EPADDING;
		out->pad_len = pad;
		rest -= pad;
	}
	out->payload_len = rest;
	return 0;
}

const char *km_rtp_strerror(int code)
{
	switch (code) {
	case KM_RTP_OK: return "ok";
	case KM_RTP_ETRUNC: return "rtp: truncated header, CSRC list or extension block";
	case KM_RTP_EVERSION: return "rtp: version is not 2";
	case KM_RTP_ETOOBIG: return "rtp: packet longer than 1500 bytes";
	case KM_RTP_EPADDING: return "rtp: padding count zero or beyond the payload";
	case KM_RTP_EEXT: return "rtp: header extension element runs past its block";
	case KM_RTP_EEXTID: return "rtp: extension id not valid for this form";
	case KM_RTP_ENOTFOUND: return "rtp: no extension with that id";
	case KM_RTP_EINVAL: return "rtp: invalid argument";
	default: return "rtp: unknown error";
	}
}

uint32_t km_rtp_csrc(const km_rtp_t *r, size_t i)
{
	if (i >= r->cc)
		return 0;
	return km_wire_ld32(r->data + KM_RTP_HEADER_LEN + i * 4);
}

const km_rtp_ext_t *km_rtp_ext_find(const km_rtp_t *r, uint8_t id)
{
	for (size_t i = 0; i < r->ext_count; i++)
		if (r->ext[i].id == id)
			return &r->ext[i];
	return NULL;
}

int km_rtp_set_ssrc(uint8_t *p, size_t len, uint32_t ssrc)
{
	if (!p || len < KM_RTP_HEADER_LEN)
		return KM_RTP_ETRUNC;
	km_wire_st32(p + 8, ssrc);
	return 0;
}

int km_rtp_set_seq(uint8_t *p, size_t len, uint16_t seq)
{
	if (!p || len < KM_RTP_HEADER_LEN)
		return KM_RTP_ETRUNC;
	km_wire_st16(p + 2, seq);
	return 0;
}

int km_rtp_set_ts(uint8_t *p, size_t len, uint32_t ts)
{
	if (!p || len < KM_RTP_HEADER_LEN)
		return KM_RTP_ETRUNC;
	km_wire_st32(p + 4, ts);
	return 0;
}

int km_rtp_set_pt(uint8_t *p, size_t len, uint8_t pt)
{
	if (!p || len < KM_RTP_HEADER_LEN)
		return KM_RTP_ETRUNC;
	if (pt > 127)
		return KM_RTP_EINVAL;
	p[1] = (uint8_t)((p[1] & 0x80) | pt);
	return 0;
}

int km_rtp_ext_rewrite_id(uint8_t *p, size_t len, const km_rtp_t *r, uint8_t old_id,
	uint8_t new_id)
{
	if (!p || !r || len != r->len)
		return KM_RTP_EINVAL;
	if (new_id == 0 || (r->ext_form == 1 && new_id > 14))
		return KM_RTP_EEXTID;
	int found = 0;
	for (size_t i = 0; i < r->ext_count; i++) {
		const km_rtp_ext_t *e = &r->ext[i];
		if (e->id != old_id)
			continue;
		size_t hdr = r->ext_form == 1 ? 1 : 2;
		if (e->off < r->ext_off + hdr || (size_t)e->off + e->len > len)
			return KM_RTP_EINVAL; /* not from this parse */
		uint8_t *h = p + e->off - hdr;
		if (r->ext_form == 1)
			*h = (uint8_t)(new_id << 4 | (*h & 0x0f));
		else
			*h = new_id;
		found = 1;
	}
	return found ? 0 : KM_RTP_ENOTFOUND;
}

/* Writes the kept elements of r into dst (room: cap); returns bytes written. */
static size_t put_elements(const km_rtp_t *r, const uint8_t map[256], uint8_t *dst, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < r->ext_count; i++) {
		const km_rtp_ext_t *e = &r->ext[i];
		uint8_t id = map[e->id];
		if (id == 0 || (r->ext_form == 1 && (id > 14 || e->len == 0 || e->len > 16)))
			continue;
		size_t need = (r->ext_form == 1 ? 1u : 2u) + e->len;
		if (n + need > cap)
			return SIZE_MAX;
		if (r->ext_form == 1) {
			dst[n++] = (uint8_t)(id << 4 | (e->len - 1));
		} else {
			dst[n++] = id;
			dst[n++] = (uint8_t)e->len;
		}
		memcpy(dst + n, r->data + e->off, e->len);
		n += e->len;
	}
	return n;
}

int km_rtp_copy_ext_map(const km_rtp_t *r, const uint8_t map[256], uint8_t *dst, size_t cap)
{
	if (!r || !map || !dst || !r->data || r->len < KM_RTP_HEADER_LEN || r->header_len > r->len)
		return KM_RTP_EINVAL;
	size_t fixed = KM_RTP_HEADER_LEN + 4u * r->cc;
	size_t tail = r->len - r->header_len;
	if (cap < fixed + tail)
		return KM_RTP_ETOOBIG;
	memcpy(dst, r->data, fixed);
	size_t n = 0;
	if (r->ext_form == 1 || r->ext_form == 2) {
		size_t room = cap - fixed - tail;
		n = room >= 4 ? put_elements(r, map, dst + fixed + 4, room - 4) : (r->ext_count ? SIZE_MAX : 0);
		if (n == SIZE_MAX)
			return KM_RTP_ETOOBIG;
	}
	size_t block = 0;
	if (n > 0) {
		size_t words = (n + 3) / 4;
		if (fixed + 4 + words * 4 + tail > cap)
			return KM_RTP_ETOOBIG;
		memset(dst + fixed + 4 + n, 0, words * 4 - n);
		dst[fixed] = (uint8_t)(r->ext_profile >> 8);
		dst[fixed + 1] = (uint8_t)r->ext_profile;
		dst[fixed + 2] = (uint8_t)(words >> 8);
		dst[fixed + 3] = (uint8_t)words;
		block = 4 + words * 4;
		dst[0] |= 0x10;
	} else {
		dst[0] &= (uint8_t)~0x10;
	}
	memcpy(dst + fixed + block, r->data + r->header_len, tail);
	return (int)(fixed + block + tail);
}

int64_t km_rtp_unwrap(km_rtp_unwrap_t *u, uint16_t seq)
{
	if (!u->started) {
		u->started = true;
		u->last = seq;
		return seq;
	}
	uint16_t d = (uint16_t)(seq - (uint16_t)u->last);
	int64_t v;
	if (km_rtp_seq_newer(seq, (uint16_t)u->last))
		v = u->last + d;
	else
		v = u->last - (int64_t)(uint16_t)((uint16_t)u->last - seq);
	if (v > u->last)
		u->last = v;
	return v;
}
