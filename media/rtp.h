/* rtp.h — RTP header parser (RFC 3550) with header extensions (RFC 8285),
 * in-place header writers for the forwarder, and sequence-number helpers.
 * A pure leaf: includes nothing of the project, does no I/O, no allocation,
 * no logging and keeps no globals; every function is safe from any thread
 * (the unwrapper is per-object state owned by its caller).
 * It does not decrypt (SRTP happens before) and does not look at payloads. */
#ifndef KM_RTP_H
#define KM_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	KM_RTP_OK = 0,
	KM_RTP_ETRUNC = -1,   /* shorter than the fixed header + CSRCs + extension */
	KM_RTP_EVERSION = -2, /* version field is not 2 */
	KM_RTP_ETOOBIG = -3,  /* packet longer than KM_RTP_MAX_PACKET */
	KM_RTP_EPADDING = -4, /* padding count 0 or larger than the payload */
	KM_RTP_EEXT = -5,     /* an extension element runs past its block */
	KM_RTP_EEXTID = -6,   /* extension id not valid for the block's form */
	KM_RTP_ENOTFOUND = -7,/* no extension with that id */
	KM_RTP_EINVAL = -8,   /* bad argument (payload type > 127, NULL, ...) */
};

#define KM_RTP_MAX_PACKET 1500
#define KM_RTP_HEADER_LEN 12
#define KM_RTP_MAX_EXT 16
#define KM_RTP_EXT_ONE_BYTE 0xBEDE   /* RFC 8285 4.2 profile */
#define KM_RTP_EXT_TWO_BYTE 0x1000   /* RFC 8285 4.3 profile, low 4 bits: appbits */

/* One header extension element: a view, as offsets into the parsed packet. */
typedef struct {
	uint8_t id;   /* 1..14 (one-byte form) or 1..255 (two-byte form) */
	uint16_t off; /* offset of the element's data from the packet start */
	uint16_t len; /* data length in bytes (0 possible in the two-byte form) */
} km_rtp_ext_t;

typedef struct {
	const uint8_t *data; /* borrowed: the packet given to km_rtp_parse */
	size_t len;          /* its total length */
	bool padding, extension, marker;
	uint8_t cc;          /* CSRC count; CSRCs at offset 12, 4 bytes each */
	uint8_t pt;          /* payload type, 0..127 */
	uint16_t seq;
	uint32_t ts, ssrc;
	size_t header_len;   /* = payload offset: 12 + 4*cc + extension block */
	size_t payload_len;  /* without padding */
	uint8_t pad_len;     /* padding bytes at the end (0 if no P bit) */
	uint16_t ext_profile;/* 0xBEDE, 0x100X, another profile, or 0 if no X bit */
	size_t ext_off, ext_len; /* extension data after the 4-byte block header */
	uint8_t ext_form;    /* 1 or 2 for RFC 8285 forms, 0 otherwise */
	uint8_t ext_count;   /* elements stored in ext[] */
	bool ext_overflow;   /* more than KM_RTP_MAX_EXT elements; the rest unstored */
	km_rtp_ext_t ext[KM_RTP_MAX_EXT];
} km_rtp_t;

/* Parses the RTP packet p[0..len) into *out (which borrows p). Checks
 * version 2, length <= KM_RTP_MAX_PACKET, CSRCs, extension block and element
 * bounds, padding. Returns 0 or a KM_RTP_E* code; *out is undefined on error. */
int km_rtp_parse(const uint8_t *p, size_t len, km_rtp_t *out);

/* Static English text for a KM_RTP_* code. */
const char *km_rtp_strerror(int code);

/* CSRC i (< r->cc) of a parsed packet. */
uint32_t km_rtp_csrc(const km_rtp_t *r, size_t i);

/* First extension with this id, or NULL. The returned view borrows r. */
const km_rtp_ext_t *km_rtp_ext_find(const km_rtp_t *r, uint8_t id);

/* Pointer to the data of extension e in r's packet (borrows r->data). */
static inline const uint8_t *km_rtp_ext_data(const km_rtp_t *r, const km_rtp_ext_t *e)
{
	return r->data + e->off;
}

/* In-place writers on a packet of len bytes (typically a per-subscriber copy
 * of a packet already parsed). Each returns 0, or KM_RTP_ETRUNC if len < 12,
 * KM_RTP_EINVAL for a payload type > 127. set_pt keeps the marker bit. */
int km_rtp_set_ssrc(uint8_t *p, size_t len, uint32_t ssrc);
int km_rtp_set_seq(uint8_t *p, size_t len, uint16_t seq);
int km_rtp_set_ts(uint8_t *p, size_t len, uint32_t ts);
int km_rtp_set_pt(uint8_t *p, size_t len, uint8_t pt);

/* Rewrites, in p (a byte-identical copy of the packet r was parsed from,
 * len == r->len), the id of every stored extension whose id in r is old_id
 * to new_id. Uses r's offsets, so several rewrites (even swaps) compose.
 * Returns 0, KM_RTP_ENOTFOUND, KM_RTP_EEXTID (new_id 0, or > 14 in the
 * one-byte form) or KM_RTP_EINVAL (len mismatch). */
int km_rtp_ext_rewrite_id(uint8_t *p, size_t len, const km_rtp_t *r, uint8_t old_id,
	uint8_t new_id);

/* Copies the packet r was parsed from into dst[0..cap), keeping only the
 * RFC 8285 extension elements whose id maps to a non-zero id in map
 * (map[old id] = new id; one-byte form: new ids above 14 are dropped) in
 * the same form, renumbered and in the same order. With nothing left the
 * block goes and the X bit is cleared; a block of another profile is
 * dropped too. CSRCs, payload and padding are copied as they are. The
 * forwarder's per-subscriber copy. Returns the new length (> 0),
 * KM_RTP_ETOOBIG when cap is too small, or KM_RTP_EINVAL. */
int km_rtp_copy_ext_map(const km_rtp_t *r, const uint8_t map[256], uint8_t *dst, size_t cap);

/* True if sequence number a is newer than b, modulo 2^16. A distance of
 * exactly 0x8000 counts as newer when a > b, so that exactly one of
 * newer(a,b) and newer(b,a) holds for a != b. */
static inline bool km_rtp_seq_newer(uint16_t a, uint16_t b)
{
	uint16_t d = (uint16_t)(a - b);
	if (d == 0x8000)
		return a > b;
	return d != 0 && d < 0x8000;
}

/* Unwraps 16-bit sequence numbers to a monotone-ish 64-bit count. The first
 * value maps to itself; later values map to the nearest 64-bit number with
 * the same low 16 bits as the newest value seen so far. */
typedef struct {
	int64_t last; /* newest unwrapped value */
	bool started;
} km_rtp_unwrap_t;

static inline void km_rtp_unwrap_init(km_rtp_unwrap_t *u)
{
	u->last = 0;
	u->started = false;
}

/* Returns the 64-bit value of seq and advances u when seq is newer. */
int64_t km_rtp_unwrap(km_rtp_unwrap_t *u, uint16_t seq);

#endif
