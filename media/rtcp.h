/* rtcp.h — RTCP compound-packet iterator, parsers (SR, RR, SDES, BYE,
 * RTPFB generic NACK and transport-cc header, PSFB PLI, FIR, REMB) and
 * writers (SR, RR, PLI, FIR, NACK, REMB) into caller buffers.
 * A pure leaf: includes nothing of the project, no I/O, no allocation, no
 * logging, no globals; safe from any thread. It does not decrypt (SRTCP
 * happens before) and keeps no session state (that is the router's job). */
#ifndef KM_RTCP_H
#define KM_RTCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	KM_RTCP_OK = 0,
	KM_RTCP_ETRUNC = -1,    /* shorter than a header, or length field past the end */
	KM_RTCP_EVERSION = -2,  /* version field is not 2 */
	KM_RTCP_EPADDING = -3,  /* padding on a non-last packet, or a bad count */
	KM_RTCP_ETYPE = -4,     /* packet type / FMT not what this parser reads */
	KM_RTCP_EFORMAT = -5,   /* body inconsistent with its counts (RC, SC, FCI) */
	KM_RTCP_ENOSPACE = -6,  /* writer: buffer too small; expand: array too small */
	KM_RTCP_EINVAL = -7,    /* bad argument (too many blocks, NULL, ...) */
	KM_RTCP_ENOTREMB = -8,  /* PSFB FMT 15 whose identifier is not "REMB" */
};

enum {
	KM_RTCP_SR = 200,
	KM_RTCP_RR = 201,
	KM_RTCP_SDES = 202,
	KM_RTCP_BYE = 203,
	KM_RTCP_APP = 204,
	KM_RTCP_RTPFB = 205,
	KM_RTCP_PSFB = 206,
};
enum {
	KM_RTCP_FMT_NACK = 1,  /* RTPFB */
	KM_RTCP_FMT_TWCC = 15, /* RTPFB */
	KM_RTCP_FMT_PLI = 1,   /* PSFB */
	KM_RTCP_FMT_FIR = 4,   /* PSFB */
	KM_RTCP_FMT_AFB = 15,  /* PSFB: application layer feedback (REMB) */
};

#define KM_RTCP_MAX_BLOCKS 31
#define KM_RTCP_REMB_MAX_SSRC 16

/* One packet of a compound: a view into the compound buffer. */
typedef struct {
	const uint8_t *p;  /* borrowed: start of the packet (its 4-byte header) */
	size_t len;        /* whole packet, from the length field, with padding */
	uint8_t count;     /* RC / SC / FMT: the low 5 bits of the first byte */
	uint8_t pt;        /* packet type */
	bool padding;
	const uint8_t *body; /* after the 4-byte header */
	size_t body_len;     /* without padding */
} km_rtcp_pkt_t;

typedef struct {
	const uint8_t *p;
	size_t len, off;
} km_rtcp_iter_t;

/* Starts iterating the compound packet p[0..len) (borrowed). */
void km_rtcp_iter_init(km_rtcp_iter_t *it, const uint8_t *p, size_t len);

/* Next packet into *out: returns 1, 0 at the end, or a KM_RTCP_E* code
 * (version, length, padding) after which iteration must stop. */
int km_rtcp_next(km_rtcp_iter_t *it, km_rtcp_pkt_t *out);

/* Walks the whole compound: returns the number of packets (>= 1) or a code;
 * an empty buffer is KM_RTCP_ETRUNC. */
int km_rtcp_validate(const uint8_t *p, size_t len);

/* Static English text for a KM_RTCP_* code. */
const char *km_rtcp_strerror(int code);

/* A reception report block (RFC 3550 6.4.1). */
typedef struct {
	uint32_t ssrc;
	uint8_t fraction_lost;
	int32_t cumulative_lost;  /* signed 24-bit on the wire */
	uint32_t ext_highest_seq;
	uint32_t jitter;
	uint32_t lsr, dlsr;
} km_rtcp_report_t;

/* Report blocks as a view: count blocks of 24 bytes at p. */
typedef struct {
	const uint8_t *p;
	uint8_t count;
} km_rtcp_blocks_t;

/* Block i (< b->count) into *out; returns 0 or KM_RTCP_EINVAL. */
int km_rtcp_report_at(const km_rtcp_blocks_t *b, size_t i, km_rtcp_report_t *out);

typedef struct {
	uint32_t ssrc;
	uint64_t ntp;        /* NTP timestamp, 32.32 fixed point */
	uint32_t rtp_ts;
	uint32_t packet_count, octet_count;
} km_rtcp_sender_info_t;

typedef struct {
	km_rtcp_sender_info_t info;
	km_rtcp_blocks_t blocks; /* borrows the packet */
} km_rtcp_sr_t;

typedef struct {
	uint32_t ssrc;
	km_rtcp_blocks_t blocks; /* borrows the packet */
} km_rtcp_rr_t;

typedef struct {
	uint8_t count;             /* SC */
	uint32_t ssrcs[KM_RTCP_MAX_BLOCKS];
	const uint8_t *reason;     /* borrowed, NULL if none; not NUL-terminated */
	uint8_t reason_len;
} km_rtcp_bye_t;

/* Feedback header (RFC 4585 6.1) shared by RTPFB and PSFB. */
typedef struct {
	uint8_t pt, fmt;
	uint32_t sender_ssrc, media_ssrc;
	const uint8_t *fci;  /* borrowed: feedback control information */
	size_t fci_len;
} km_rtcp_fb_t;

typedef struct {
	uint16_t base_seq, status_count;
	uint32_t ref_time;   /* raw 24-bit value, units of 64 ms */
	uint8_t fb_count;
	size_t chunk_count;  /* packet status chunks covering status_count */
	size_t recv_count;   /* packets with a receive delta */
} km_rtcp_twcc_t;

typedef struct {
	uint32_t ssrc;
	uint8_t seq;
} km_rtcp_fir_entry_t;

typedef struct {
	uint64_t bitrate;    /* bits per second, saturated at UINT64_MAX */
	uint8_t num_ssrc;    /* as on the wire */
	uint8_t ssrc_count;  /* stored: min(num_ssrc, KM_RTCP_REMB_MAX_SSRC) */
	uint32_t ssrcs[KM_RTCP_REMB_MAX_SSRC];
} km_rtcp_remb_t;

/* Parsers over one packet from km_rtcp_next. Each returns 0, KM_RTCP_ETYPE
 * if pkt is of another type/FMT, or KM_RTCP_EFORMAT/ETRUNC. Views borrow pkt. */
int km_rtcp_parse_sr(const km_rtcp_pkt_t *pkt, km_rtcp_sr_t *out);
int km_rtcp_parse_rr(const km_rtcp_pkt_t *pkt, km_rtcp_rr_t *out);
/* Validates SDES chunk and item bounds; returns the chunk count (>= 0). */
int km_rtcp_parse_sdes(const km_rtcp_pkt_t *pkt);
int km_rtcp_parse_bye(const km_rtcp_pkt_t *pkt, km_rtcp_bye_t *out);
/* Any RTPFB or PSFB: the common header and the FCI view. */
int km_rtcp_parse_fb(const km_rtcp_pkt_t *pkt, km_rtcp_fb_t *out);

/* Generic NACK (RTPFB FMT 1): number of PID/BLP items, or a code. */
int km_rtcp_nack_items(const km_rtcp_fb_t *fb);
/* Expands every lost sequence number into seqs[0..cap). *n gets the number
 * written. Returns 0, or KM_RTCP_ENOSPACE when more were listed than cap
 * (the first cap are written). */
int km_rtcp_nack_expand(const km_rtcp_fb_t *fb, uint16_t *seqs, size_t cap, size_t *n);
/* Calls cb for each lost sequence number in order; stops early and returns
 * cb's value if cb returns non-zero. */
int km_rtcp_nack_foreach(const km_rtcp_fb_t *fb, int (*cb)(uint16_t seq, void *ud), void *ud);

/* transport-cc (RTPFB FMT 15): header fields; chunks and deltas bounds-checked. */
int km_rtcp_parse_twcc(const km_rtcp_fb_t *fb, km_rtcp_twcc_t *out);
/* PLI (PSFB FMT 1): returns 0 if fb is a PLI. */
int km_rtcp_parse_pli(const km_rtcp_fb_t *fb);
/* FIR (PSFB FMT 4): number of entries (>= 1), or a code. */
int km_rtcp_fir_count(const km_rtcp_fb_t *fb);
int km_rtcp_fir_at(const km_rtcp_fb_t *fb, size_t i, km_rtcp_fir_entry_t *out);
/* REMB (PSFB FMT 15 with "REMB"). */
int km_rtcp_parse_remb(const km_rtcp_fb_t *fb, km_rtcp_remb_t *out);

/* Writers: each writes one packet into buf[0..cap) and returns its length
 * in bytes (> 0), or KM_RTCP_ENOSPACE / KM_RTCP_EINVAL. Concatenate for a
 * compound. Cumulative lost is clamped to the signed 24-bit range. */
int km_rtcp_write_rr(uint8_t *buf, size_t cap, uint32_t ssrc, const km_rtcp_report_t *blocks,
	size_t n);
int km_rtcp_write_sr(uint8_t *buf, size_t cap, const km_rtcp_sender_info_t *info,
	const km_rtcp_report_t *blocks, size_t n);
int km_rtcp_write_pli(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc);
int km_rtcp_write_fir(uint8_t *buf, size_t cap, uint32_t sender_ssrc,
	const km_rtcp_fir_entry_t *entries, size_t n);
/* seqs in sending order (ascending, modulo 2^16) pack best; any order works. */
int km_rtcp_write_nack(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
	const uint16_t *seqs, size_t n);
int km_rtcp_write_remb(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint64_t bitrate,
	const uint32_t *ssrcs, size_t n);

#endif
