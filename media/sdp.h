/* sdp.h — SDP codec for kamer's WebRTC SFU (RFC 8866 syntax, unified plan as
 * Chrome, Firefox and Safari send it; ICE RFC 8839, BUNDLE RFC 9143, RTP
 * header extensions RFC 8285, rid RFC 8851, simulcast RFC 8853).
 * A pure leaf: includes nothing of the project, does no I/O, no allocation,
 * no logging and keeps no globals; every function is safe from any thread.
 * It parses and writes; it does not negotiate (that lives elsewhere).
 *
 * Everything is stored in fixed-capacity arrays and NUL-terminated char
 * arrays inside km_sdp_t; input beyond a documented KM_SDP_MAX_* limit is
 * refused with a reason naming the limit. sizeof(km_sdp_t) is a few hundred
 * KiB: allocate it (or keep one per connection), do not put it on a small
 * worker stack. */
#ifndef KM_SDP_H
#define KM_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	KM_SDP_OK = 0,
	KM_SDP_ESYNTAX = -1,      /* malformed line or value */
	KM_SDP_ELIMIT = -2,       /* over a KM_SDP_MAX_* limit */
	KM_SDP_EUNSUPPORTED = -3, /* valid SDP kamer refuses (hash, proto, no rtcp-mux, codecs) */
	KM_SDP_EMISSING = -4,     /* a required line or attribute is missing */
	KM_SDP_ESPACE = -5,       /* writer: output buffer too small */
	KM_SDP_EINVAL = -6,       /* bad argument, or a struct the writer cannot write */
};

#define KM_SDP_MAX_LEN (64 * 1024)  /* whole description */
#define KM_SDP_MAX_LINE 4096        /* one line, without its line ending */
#define KM_SDP_MAX_MEDIA 16         /* m-sections */
#define KM_SDP_MAX_CODECS 64        /* payload types per m-section (Chrome video offers ~35) */
#define KM_SDP_MAX_CANDIDATES 16    /* a=candidate per m-section */
#define KM_SDP_MAX_EXTMAPS 32       /* a=extmap per m-section (Chrome video offers ~15) */
#define KM_SDP_MAX_RIDS 8           /* a=rid per m-section; also simulcast streams per direction */
#define KM_SDP_MAX_SIM_ALTS 4       /* ','-alternatives per simulcast stream */
#define KM_SDP_MAX_RID_PTS 8        /* pt= entries of one a=rid */
#define KM_SDP_MAX_SSRCS 8          /* distinct a=ssrc ids with cname/msid per m-section */
#define KM_SDP_MAX_SSRC_GROUPS 8    /* a=ssrc-group (FID, SIM) per m-section */
#define KM_SDP_MAX_GROUP_SSRCS 8    /* ssrcs in one a=ssrc-group */
#define KM_SDP_MAX_UFRAG 256        /* RFC 8839: ufrag 4..256 ice-chars */
#define KM_SDP_MIN_UFRAG 4
#define KM_SDP_MAX_PWD 256          /* RFC 8839: pwd 22..256 ice-chars */
#define KM_SDP_MIN_PWD 22
#define KM_SDP_MAX_MID 32
#define KM_SDP_MAX_RID_LEN 32
#define KM_SDP_MAX_TOKEN 64         /* msid ids, cname, o= user, s= name, foundation is 32 */
#define KM_SDP_MAX_FOUNDATION 32
#define KM_SDP_MAX_ADDR 63          /* IPv4, IPv6 (45) or an mDNS "<uuid>.local" (42) */
#define KM_SDP_MAX_CODEC_NAME 23
#define KM_SDP_MAX_FMTP_EXTRA 127   /* fmtp parameters kamer does not model, ';'-joined */
#define KM_SDP_MAX_EXT_URI 127
#define KM_SDP_MAX_PROTO 31
#define KM_SDP_MAX_MSID_SEMANTIC 127
#define KM_SDP_FP_LEN 32            /* sha-256 only */

typedef enum { KM_SDP_AUDIO, KM_SDP_VIDEO, KM_SDP_APPLICATION } km_sdp_kind_t;
typedef enum { KM_SDP_SENDRECV, KM_SDP_SENDONLY, KM_SDP_RECVONLY, KM_SDP_INACTIVE } km_sdp_dir_t;
typedef enum {
	KM_SDP_SETUP_NONE, KM_SDP_SETUP_ACTPASS, KM_SDP_SETUP_ACTIVE, KM_SDP_SETUP_PASSIVE
} km_sdp_setup_t;
typedef enum {
	KM_SDP_CAND_HOST, KM_SDP_CAND_SRFLX, KM_SDP_CAND_PRFLX, KM_SDP_CAND_RELAY
} km_sdp_cand_type_t;
typedef enum {
	KM_SDP_TCP_NONE, KM_SDP_TCP_ACTIVE, KM_SDP_TCP_PASSIVE, KM_SDP_TCP_SO
} km_sdp_tcptype_t;

/* a=rtcp-fb bits of one payload type (others are skipped when parsing). */
enum {
	KM_SDP_FB_NACK = 1 << 0,         /* nack */
	KM_SDP_FB_NACK_PLI = 1 << 1,     /* nack pli */
	KM_SDP_FB_CCM_FIR = 1 << 2,      /* ccm fir */
	KM_SDP_FB_GOOG_REMB = 1 << 3,    /* goog-remb */
	KM_SDP_FB_TRANSPORT_CC = 1 << 4, /* transport-cc */
};

/* The header extensions kamer knows by URI; anything else is KM_SDP_EXT_OTHER. */
typedef enum {
	KM_SDP_EXT_OTHER, KM_SDP_EXT_MID, KM_SDP_EXT_ABS_SEND_TIME, KM_SDP_EXT_TWCC,
	KM_SDP_EXT_AUDIO_LEVEL, KM_SDP_EXT_RID, KM_SDP_EXT_REPAIRED_RID
} km_sdp_ext_kind_t;

#define KM_SDP_URI_MID "urn:ietf:params:rtp-hdrext:sdes:mid"
#define KM_SDP_URI_ABS_SEND_TIME "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
#define KM_SDP_URI_TWCC "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
#define KM_SDP_URI_AUDIO_LEVEL "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
#define KM_SDP_URI_RID "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
#define KM_SDP_URI_REPAIRED_RID "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"

/* One payload type. Integer fmtp values are -1 when absent. */
typedef struct {
	uint8_t pt;                                /* 0..127 */
	char name[KM_SDP_MAX_CODEC_NAME + 1];      /* a=rtpmap name as sent; "" = no rtpmap */
	uint32_t clock;                            /* rtpmap clock rate */
	uint8_t channels;                          /* rtpmap channels; 0 = not given */
	uint8_t fb;                                /* KM_SDP_FB_* bits */
	bool usable;                               /* derived by the parser: kamer can forward it */
	int32_t minptime, useinbandfec, usedtx, stereo; /* opus */
	int32_t apt;                               /* rtx: associated payload type */
	int32_t profile_id;                        /* VP9 */
	char profile_level_id[7];                  /* H264: 6 hex digits, "" = absent */
	int32_t packetization_mode, level_asymmetry_allowed; /* H264 */
	char fmtp_extra[KM_SDP_MAX_FMTP_EXTRA + 1]; /* other fmtp parameters, ';'-joined */
} km_sdp_codec_t;

typedef struct {
	uint16_t id;                       /* 1..14 one-byte, 1..255 two-byte form */
	bool has_dir;
	km_sdp_dir_t dir;                  /* only if has_dir */
	km_sdp_ext_kind_t kind;            /* derived from uri */
	char uri[KM_SDP_MAX_EXT_URI + 1];  /* extension attributes after the URI are dropped */
} km_sdp_extmap_t;

typedef struct {
	char foundation[KM_SDP_MAX_FOUNDATION + 1];
	uint16_t component;                /* 1..256; 1 = RTP */
	bool tcp;                          /* transport: false = udp */
	uint32_t priority;
	char addr[KM_SDP_MAX_ADDR + 1];    /* IPv4, IPv6 or a ".local" mDNS name */
	uint16_t port;
	km_sdp_cand_type_t type;
	bool has_raddr;                    /* raddr/rport given */
	char raddr[KM_SDP_MAX_ADDR + 1];
	uint16_t rport;
	km_sdp_tcptype_t tcptype;          /* tcp only */
	/* generation, ufrag, network-id, network-cost, ...: tolerated, dropped */
} km_sdp_candidate_t;

typedef struct {
	uint32_t ssrc;
	char cname[KM_SDP_MAX_TOKEN + 1];        /* "" = none */
	char msid_stream[KM_SDP_MAX_TOKEN + 1];  /* "" = no msid */
	char msid_track[KM_SDP_MAX_TOKEN + 1];
} km_sdp_ssrc_t;

typedef enum { KM_SDP_GROUP_FID, KM_SDP_GROUP_SIM } km_sdp_group_sem_t;

typedef struct {
	km_sdp_group_sem_t sem;   /* FID: {media, rtx}; SIM: lowest to highest layer */
	uint8_t n;
	uint32_t ssrcs[KM_SDP_MAX_GROUP_SSRCS];
} km_sdp_ssrc_group_t;

typedef struct {
	char id[KM_SDP_MAX_RID_LEN + 1];
	bool send;                        /* a=rid:<id> send (true) or recv (false) */
	uint8_t npts;                     /* pt= list; 0 = none given */
	uint8_t pts[KM_SDP_MAX_RID_PTS];
	/* other restrictions (max-width, ...) are dropped */
} km_sdp_rid_t;

typedef struct {
	char rid[KM_SDP_MAX_RID_LEN + 1];
	bool paused;                      /* written with a '~' prefix */
} km_sdp_sim_alt_t;

typedef struct {
	uint8_t nalts;                    /* ','-separated alternatives */
	km_sdp_sim_alt_t alts[KM_SDP_MAX_SIM_ALTS];
} km_sdp_sim_stream_t;

typedef struct {
	uint8_t nstreams;                 /* ';'-separated streams; 0 = direction absent */
	km_sdp_sim_stream_t streams[KM_SDP_MAX_RIDS];
} km_sdp_sim_list_t;

typedef struct {
	char ufrag[KM_SDP_MAX_UFRAG + 1]; /* "" = not given */
	char pwd[KM_SDP_MAX_PWD + 1];
	bool trickle;                     /* a=ice-options contains "trickle" */
} km_sdp_ice_t;

typedef struct {
	bool set;                         /* a sha-256 fingerprint was given */
	uint8_t sha256[KM_SDP_FP_LEN];
} km_sdp_fingerprint_t;

/* One m-section. After parsing, ICE, fingerprint, setup, c= and direction
 * given at session level are copied into sections that did not give their own. */
typedef struct {
	km_sdp_kind_t kind;
	uint16_t port;                     /* 0 = rejected section */
	char proto[KM_SDP_MAX_PROTO + 1];  /* "UDP/TLS/RTP/SAVPF", "UDP/DTLS/SCTP" */
	bool usable;                       /* derived: active audio/video with a usable codec */
	bool c_ip6;
	char c_addr[KM_SDP_MAX_ADDR + 1];  /* "" = no c= line */
	char mid[KM_SDP_MAX_MID + 1];      /* "" = none (allowed only when rejected) */
	km_sdp_dir_t dir;
	km_sdp_ice_t ice;
	km_sdp_fingerprint_t fp;
	km_sdp_setup_t setup;
	char msid_stream[KM_SDP_MAX_TOKEN + 1]; /* a=msid; "" = none; "-" = no stream */
	char msid_track[KM_SDP_MAX_TOKEN + 1];
	bool rtcp_mux, rtcp_rsize, end_of_candidates;
	uint8_t ncodecs;                   /* in m= line order (preference) */
	km_sdp_codec_t codecs[KM_SDP_MAX_CODECS];
	uint8_t nextmaps;
	km_sdp_extmap_t extmaps[KM_SDP_MAX_EXTMAPS];
	uint8_t ncands;
	km_sdp_candidate_t cands[KM_SDP_MAX_CANDIDATES];
	uint8_t nssrcs;
	km_sdp_ssrc_t ssrcs[KM_SDP_MAX_SSRCS];
	uint8_t ngroups;
	km_sdp_ssrc_group_t groups[KM_SDP_MAX_SSRC_GROUPS];
	uint8_t nrids;
	km_sdp_rid_t rids[KM_SDP_MAX_RIDS];
	km_sdp_sim_list_t sim_send, sim_recv;
	char app_fmt[KM_SDP_MAX_PROTO + 1]; /* application: "webrtc-datachannel" */
	uint16_t sctp_port;                 /* application: 0 = absent */
	uint32_t max_message_size;          /* application: 0 = absent */
} km_sdp_media_t;

typedef struct {
	char o_user[KM_SDP_MAX_TOKEN + 1];
	uint64_t sess_id, sess_version;
	bool o_ip6;
	char o_addr[KM_SDP_MAX_ADDR + 1];
	char name[KM_SDP_MAX_TOKEN + 1];   /* s= (may contain spaces) */
	uint64_t t_start, t_stop;
	bool c_ip6;
	char c_addr[KM_SDP_MAX_ADDR + 1];  /* session c=; "" = none */
	bool ice_lite;
	km_sdp_ice_t ice;                  /* session-level values as given */
	km_sdp_fingerprint_t fp;
	km_sdp_setup_t setup;
	char msid_semantic[KM_SDP_MAX_MSID_SEMANTIC + 1]; /* "WMS *"; "" = none */
	uint8_t nbundle;                   /* a=group:BUNDLE mids (one group) */
	char bundle[KM_SDP_MAX_MEDIA][KM_SDP_MAX_MID + 1];
	uint8_t nmedia;
	km_sdp_media_t media[KM_SDP_MAX_MEDIA];
} km_sdp_t;

/* Parses the SDP text p[0..len) (no NUL needed; a NUL byte is refused) into
 * *out, which it zeroes first and which borrows nothing from p. CRLF and LF
 * line endings are both accepted; unknown line types and attributes are
 * skipped. Refuses: malformed syntax, anything over the KM_SDP_MAX_*
 * limits, a non-rejected section without ICE credentials, sha-256
 * fingerprint or mid, audio/video without rtcp-mux or without a codec kamer
 * can use. Returns 0 or a KM_SDP_E* code with a reason in err (may be NULL),
 * such as "line 14: a=fingerprint: unsupported hash 'md5'". *out is
 * unspecified on error. */
int km_sdp_parse(const char *p, size_t len, km_sdp_t *out, char *err, size_t errlen);

/* Parses one candidate attribute value as trickled over signaling, with or
 * without the "candidate:" prefix (and without "a="). */
int km_sdp_parse_candidate(const char *p, size_t len, km_sdp_candidate_t *out,
	char *err, size_t errlen);

/* Writes a complete SDP (CRLF endings) for *s into buf[0..cap), NUL-terminated,
 * and sets *outlen to its length without the NUL. Borrows s. Refuses values
 * that would not parse back (empty mid of an active section, spaces or control
 * bytes in tokens, an audio/video section without payload types) with
 * KM_SDP_EINVAL, and a too small buffer with KM_SDP_ESPACE; err names why.
 * For anything km_sdp_parse returned, km_sdp_parse(write(x)) == x. */
int km_sdp_write(const km_sdp_t *s, char *buf, size_t cap, size_t *outlen,
	char *err, size_t errlen);

/* Writes "candidate:..." (no "a=", no line ending) for trickling. Same return
 * and buffer rules as km_sdp_write. */
int km_sdp_write_candidate(const km_sdp_candidate_t *c, char *buf, size_t cap, size_t *outlen,
	char *err, size_t errlen);

/* Helpers to build a description to write. */
/* Zeroes *s and sets o=- <sess_id> 2 IN IP4 127.0.0.1, s=-, t=0 0. */
void km_sdp_init(km_sdp_t *s, uint64_t sess_id);
/* Zeroes *m and sets kind, port 9, the proto for the kind, c=IN IP4 0.0.0.0,
 * sendrecv and (audio/video) rtcp-mux. */
void km_sdp_media_init(km_sdp_media_t *m, km_sdp_kind_t kind);
/* Zeroes *c, sets pt, name (truncated to KM_SDP_MAX_CODEC_NAME), clock,
 * channels and every integer fmtp value to -1 (absent). */
void km_sdp_codec_init(km_sdp_codec_t *c, uint8_t pt, const char *name, uint32_t clock,
	uint8_t channels);

/* Payload type of the first codec in m (preference order) whose rtpmap name
 * matches name (case-insensitive) and clock, or -1. */
int km_sdp_find_codec(const km_sdp_media_t *m, const char *name, uint32_t clock);

/* Payload type of the rtx codec in m whose apt= is pt, or -1. */
int km_sdp_find_rtx(const km_sdp_media_t *m, int pt);

/* Codec with payload type pt in m, or NULL. Borrows m. */
const km_sdp_codec_t *km_sdp_codec(const km_sdp_media_t *m, int pt);

/* Static English name of a KM_SDP_* code. */
const char *km_sdp_strerror(int code);

#endif
