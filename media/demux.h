/* demux.h — classifies a received datagram by its first byte (RFC 7983,
 * RTP/RTCP split per RFC 5761), and parses the STUN message header with a
 * bounds-checked attribute iterator (RFC 5389, RFC 8445 attributes) and
 * DTLS record headers (RFC 6347).
 * A pure leaf: includes nothing of the project, no I/O, no allocation, no
 * logging, no globals; safe from any thread. It verifies no integrity or
 * fingerprint (libnice and OpenSSL do), it only bounds what they will read. */
#ifndef KM_DEMUX_H
#define KM_DEMUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	KM_DEMUX_OK = 0,
	KM_DEMUX_ETRUNC = -1,   /* shorter than a header, or a length past the end */
	KM_DEMUX_ESTUN = -2,    /* not a STUN message: top bits, cookie, length % 4 */
	KM_DEMUX_EATTR = -3,    /* a STUN attribute of a known type has a wrong length,
	                           or an attribute follows FINGERPRINT */
	KM_DEMUX_EDTLS = -4,    /* DTLS record: unknown content type or version */
	KM_DEMUX_EINVAL = -5,   /* bad argument */
};

typedef enum {
	KM_DEMUX_DROP = 0, /* empty, or a first byte no range claims */
	KM_DEMUX_STUN,     /* 0..3 */
	KM_DEMUX_ZRTP,     /* 16..19: not used by WebRTC, the caller drops it */
	KM_DEMUX_DTLS,     /* 20..63 */
	KM_DEMUX_TURN,     /* 64..79 TURN channel data: no relay here, dropped */
	KM_DEMUX_RTP,      /* 128..191 with a second byte outside 192..223 */
	KM_DEMUX_RTCP,     /* 128..191 with a second byte (packet type) in 192..223 */
} km_demux_kind_t;

/* Kind of p[0..len). RTP/RTCP needs len >= 2 (else DROP). Never reads past len. */
km_demux_kind_t km_demux_classify(const uint8_t *p, size_t len);

/* Static name of a kind ("stun", "rtp", ...). */
const char *km_demux_kind_name(km_demux_kind_t k);

/* Static English text for a KM_DEMUX_* code. */
const char *km_demux_strerror(int code);

/* ---- STUN (RFC 5389) ---- */

#define KM_STUN_HEADER_LEN 20
#define KM_STUN_MAGIC 0x2112A442u

enum {
	KM_STUN_BINDING = 0x001,   /* method */
	KM_STUN_CLASS_REQUEST = 0,
	KM_STUN_CLASS_INDICATION = 1,
	KM_STUN_CLASS_SUCCESS = 2,
	KM_STUN_CLASS_ERROR = 3,
};

enum {
	KM_STUN_ATTR_MAPPED_ADDRESS = 0x0001,
	KM_STUN_ATTR_USERNAME = 0x0006,
	KM_STUN_ATTR_MESSAGE_INTEGRITY = 0x0008,
	KM_STUN_ATTR_ERROR_CODE = 0x0009,
	KM_STUN_ATTR_XOR_MAPPED_ADDRESS = 0x0020,
	KM_STUN_ATTR_PRIORITY = 0x0024,
	KM_STUN_ATTR_USE_CANDIDATE = 0x0025,
	KM_STUN_ATTR_FINGERPRINT = 0x8028,
	KM_STUN_ATTR_ICE_CONTROLLED = 0x8029,
	KM_STUN_ATTR_ICE_CONTROLLING = 0x802A,
};

#define KM_STUN_USERNAME_MAX 513

typedef struct {
	const uint8_t *p;   /* borrowed: the message start */
	uint16_t type;      /* 14-bit message type */
	uint16_t method;    /* e.g. KM_STUN_BINDING */
	uint8_t cls;        /* KM_STUN_CLASS_* */
	uint16_t length;    /* attribute bytes after the header */
	uint8_t txid[12];   /* copied */
} km_demux_stun_t;

/* Parses the header of p[0..len): len >= 20, the two top bits 0, length a
 * multiple of 4 and <= len - 20, magic cookie. Bytes past 20 + length are
 * ignored. Returns 0 or a KM_DEMUX_E* code. *out borrows p. */
int km_demux_stun_parse(const uint8_t *p, size_t len, km_demux_stun_t *out);

typedef struct {
	uint16_t type;
	uint16_t len;            /* value length, without padding */
	const uint8_t *value;    /* borrowed */
	size_t offset;           /* of the attribute header from the message start
	                            (for MESSAGE-INTEGRITY / FINGERPRINT input) */
	bool after_integrity;    /* follows MESSAGE-INTEGRITY: to be ignored unless
	                            FINGERPRINT (RFC 5389 15.4) */
} km_demux_stun_attr_t;

typedef struct {
	const km_demux_stun_t *msg;
	size_t off;
	bool seen_integrity, seen_fingerprint;
} km_demux_stun_iter_t;

/* Starts iterating msg's attributes (borrows msg, which borrows the packet). */
void km_demux_stun_iter_init(km_demux_stun_iter_t *it, const km_demux_stun_t *msg);

/* Next attribute: 1, 0 at the end, or KM_DEMUX_ETRUNC / KM_DEMUX_EATTR. Each
 * TLV with its padding must fit the message length; USERNAME <= 513 bytes,
 * MESSAGE-INTEGRITY 20, FINGERPRINT 4 (and last), PRIORITY 4,
 * USE-CANDIDATE 0, ICE-CONTROLLING/CONTROLLED 8. Other types pass unchecked. */
int km_demux_stun_next(km_demux_stun_iter_t *it, km_demux_stun_attr_t *out);

/* ---- DTLS records (RFC 6347 4.1) ---- */

#define KM_DTLS_RECORD_HEADER_LEN 13
#define KM_DTLS_MAX_FRAGMENT (16384 + 2048)

enum {
	KM_DTLS_CHANGE_CIPHER_SPEC = 20,
	KM_DTLS_ALERT = 21,
	KM_DTLS_HANDSHAKE = 22,
	KM_DTLS_APPLICATION_DATA = 23,
	KM_DTLS_HEARTBEAT = 24,
	KM_DTLS_TLS12_CID = 25,
};

typedef struct {
	uint8_t content_type;
	uint16_t version;         /* 0xFEFF DTLS 1.0, 0xFEFD DTLS 1.2 */
	uint16_t epoch;
	uint64_t seq;             /* 48 bits */
	uint16_t length;
	const uint8_t *fragment;  /* borrowed */
} km_demux_dtls_record_t;

/* Next record of the datagram p[0..len) at *off (start at 0; advanced past
 * the record). Returns 1, 0 at the end, or KM_DEMUX_ETRUNC / KM_DEMUX_EDTLS
 * (content type 20..25, version major 0xFE, length <= KM_DTLS_MAX_FRAGMENT
 * and within len). */
int km_demux_dtls_next(const uint8_t *p, size_t len, size_t *off, km_demux_dtls_record_t *out);

/* Walks every record: returns the record count (>= 1) or a code. */
int km_demux_dtls_validate(const uint8_t *p, size_t len);

#endif
