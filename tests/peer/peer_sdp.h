/* peer_sdp.h — the test peer's SDP glue over media/sdp.h: builds the
 * offers a browser would send for `pub` and `echo` (Opus pt 111 and VP8 pt
 * 96, BUNDLE, rtcp-mux, trickle, a=ssrc with cname and msid), the answers a
 * browser gives to kamer's `sub` offers (recvonly, the offered Opus/VP8
 * payload types), and reads the transport values (ICE credentials, DTLS
 * fingerprint and role) and the ssrc -> stream map of a remote description.
 * It negotiates nothing beyond that, does no I/O and keeps no state.
 *
 * Threads: pure functions; any thread. km_sdp_t is large (see sdp.h):
 * callers allocate it. */
#ifndef KM_PEER_SDP_H
#define KM_PEER_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/dtls.h"
#include "media/ice.h"
#include "media/sdp.h"

#define KM_PEER_OPUS_PT 111
#define KM_PEER_VP8_PT 96
#define KM_PEER_EXT_ABS_SEND_TIME 3
#define KM_PEER_SDP_MAX_TEXT (64 * 1024)

/* Our side of the transport, written into every active m-section. */
typedef struct {
	char ufrag[KM_ICE_CRED_MAX], pwd[KM_ICE_CRED_MAX];
	char fingerprint[KM_DTLS_FP_LEN]; /* "AB:CD:..." (sha-256) */
	km_sdp_setup_t setup;
} km_peer_sdp_local_t;

/* What an offer sends. */
typedef struct {
	bool audio, video;
	uint32_t audio_ssrc, video_ssrc;
	char cname[17];     /* a=ssrc cname */
	char stream[17];    /* msid stream id */
	km_sdp_dir_t dir;   /* KM_SDP_SENDONLY (pub) or KM_SDP_SENDRECV (echo) */
	uint64_t sess_id;
} km_peer_sdp_send_t;

/* The remote transport, as km_conn_set_remote wants it. */
typedef struct {
	char ufrag[KM_SDP_MAX_UFRAG + 1], pwd[KM_SDP_MAX_PWD + 1];
	char fingerprint[KM_DTLS_FP_LEN];
	km_sdp_setup_t setup;
} km_peer_sdp_remote_t;

/* One remote ssrc announced in a description (a=ssrc lines). */
typedef struct {
	uint32_t ssrc;
	bool video;
	char stream[KM_SDP_MAX_TOKEN + 1]; /* msid stream id ("k12"), "" if none */
} km_peer_sdp_track_t;

/* Fills *s (caller's, zeroed here) with an offer. Returns 0 or KM_EINVAL
 * with the reason in err. */
int km_peer_sdp_offer(km_sdp_t *s, const km_peer_sdp_local_t *l, const km_peer_sdp_send_t *snd,
		      char *err, size_t errlen);

/* Fills *ans with an answer to *offer (both caller's; borrowed): every
 * active audio/video section with a payload type of Opus/48000 or
 * VP8/90000 is answered with that payload type only, its feedback and
 * fmtp, the offer's known header extensions, and the mirrored direction
 * (recvonly unless send_back, for a sendrecv offer); every other section
 * is rejected (port 0). Returns 0 or KM_EINVAL (no section left). */
int km_peer_sdp_answer(km_sdp_t *ans, const km_sdp_t *offer, const km_peer_sdp_local_t *l,
		       bool send_back, char *err, size_t errlen);

/* The transport of the first active section of *s (borrowed). Returns 0 or
 * KM_EINVAL (no active section). */
int km_peer_sdp_remote(const km_sdp_t *s, km_peer_sdp_remote_t *out, char *err, size_t errlen);

/* The ssrcs *s announces in active sections, at most cap, into out.
 * Returns how many. */
size_t km_peer_sdp_tracks(const km_sdp_t *s, km_peer_sdp_track_t *out, size_t cap);

/* Parses "AB:CD:..." (32 pairs, any case) into out. Returns 0 or KM_EINVAL. */
int km_peer_sdp_fp_parse(const char *hex, uint8_t out[KM_SDP_FP_LEN]);

/* Writes *s as text: returns a new NUL-terminated string (caller frees
 * with free) or NULL with the reason in err. */
char *km_peer_sdp_text(const km_sdp_t *s, char *err, size_t errlen);

/* Parses text[0..len) into a new km_sdp_t (caller frees with free), or
 * NULL with the reason in err. */
km_sdp_t *km_peer_sdp_parse(const char *text, size_t len, char *err, size_t errlen);

/* A random token of n-1 characters [a-z0-9] with its NUL into out[n]. */
void km_peer_sdp_token(char *out, size_t n);

/* A random non-zero 32-bit value. */
uint32_t km_peer_random32(void);

#endif
