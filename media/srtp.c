/* srtp.c — SRTP/SRTCP sessions over libsrtp2 with the AEAD AES-GCM profiles
 * only. No I/O, no logging. Threads: see media/srtp.h (a session belongs to
 * one worker thread; km_srtp_init once per process). */
#include "media/srtp.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <srtp2/srtp.h>

#include "core/err.h"
#include "media/srtp_gcm.h"

struct km_srtp {
	srtp_t ctx;
};

static const char *backend = "none";
static pthread_once_t install_once = PTHREAD_ONCE_INIT;

static void install(void)
{
	/* A refused replacement keeps libsrtp2's own AES-GCM: slower, not wrong. */
	backend = km_srtp_gcm_install() == 0 ? "OpenSSL" : "libsrtp2 (NSS)";
}

int km_srtp_init(void)
{
	if (srtp_init() != srtp_err_status_ok)
		return KM_ECRYPTO;
	pthread_once(&install_once, install);
	return 0;
}

const char *km_srtp_backend(void)
{
	return backend;
}

const char *km_srtp_profile_name(km_srtp_profile_t p)
{
	switch (p) {
	case KM_SRTP_AES256GCM: return "SRTP_AEAD_AES_256_GCM";
	case KM_SRTP_AES128GCM: return "SRTP_AEAD_AES_128_GCM";
	}
	return "none";
}

const char *km_srtp_strerror(int code)
{
	switch (code) {
	case 0: return "ok";
	case KM_SRTP_EINVAL: return "bad argument or malformed packet";
	case KM_SRTP_EAUTH: return "authentication failed";
	case KM_SRTP_EREPLAY: return "replayed or too old packet";
	case KM_SRTP_ETOOBIG: return "packet too big for its buffer";
	case KM_SRTP_EFAIL: return "SRTP failure";
	}
	return "unknown SRTP error";
}

void km_srtp_keys_wipe(km_srtp_keys_t *k)
{
	if (k)
		explicit_bzero(k, sizeof *k);
}

int km_srtp_session_new(const km_srtp_keys_t *keys, int inbound, km_srtp_t **out)
{
	if (!keys || !out || keys->salt_len != KM_SRTP_SALT)
		return KM_EINVAL;
	*out = NULL;
	srtp_policy_t pol;
	memset(&pol, 0, sizeof pol);
	if (keys->profile == KM_SRTP_AES256GCM && keys->key_len == 32) {
		srtp_crypto_policy_set_aes_gcm_256_16_auth(&pol.rtp);
		srtp_crypto_policy_set_aes_gcm_256_16_auth(&pol.rtcp);
	} else if (keys->profile == KM_SRTP_AES128GCM && keys->key_len == 16) {
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtp);
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtcp);
	} else {
		return KM_EINVAL;
	}
	/* Outbound uses our own write key, inbound the peer's. */
	int use_client = inbound ? !keys->local_is_client : keys->local_is_client;
	uint8_t master[KM_SRTP_MAX_KEY + KM_SRTP_SALT];
	memcpy(master, use_client ? keys->client_key : keys->server_key, keys->key_len);
	memcpy(master + keys->key_len, use_client ? keys->client_salt : keys->server_salt,
	       KM_SRTP_SALT);

	pol.ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound;
	pol.key = master;
	pol.window_size = 1024;
	pol.allow_repeat_tx = 1;
	pol.next = NULL;

	int rc = 0;
	km_srtp_t *s = calloc(1, sizeof *s);
	if (!s) {
		rc = KM_ENOMEM;
		goto out;
	}
	srtp_err_status_t st = srtp_create(&s->ctx, &pol);
	if (st != srtp_err_status_ok) {
		free(s);
		rc = st == srtp_err_status_alloc_fail ? KM_ENOMEM : KM_ECRYPTO;
		goto out;
	}
	*out = s;
out:
	explicit_bzero(master, sizeof master);
	return rc;
}

void km_srtp_free(km_srtp_t *s)
{
	if (!s)
		return;
	srtp_dealloc(s->ctx);
	free(s);
}

static int map_status(srtp_err_status_t st)
{
	switch (st) {
	case srtp_err_status_ok: return 0;
	case srtp_err_status_auth_fail: return KM_SRTP_EAUTH;
	case srtp_err_status_replay_fail:
	case srtp_err_status_replay_old: return KM_SRTP_EREPLAY;
	case srtp_err_status_bad_param:
	case srtp_err_status_parse_err:
	case srtp_err_status_no_ctx: return KM_SRTP_EINVAL;
	default: return KM_SRTP_EFAIL;
	}
}

typedef srtp_err_status_t (*srtp_fn)(srtp_t, void *, int *);

/* Shared body: checks lengths (min header, cap for protect), calls fn. */
static int run(km_srtp_t *s, srtp_fn fn, uint8_t *buf, size_t *len, size_t min,
	       size_t grow, size_t cap)
{
	if (!s || !buf || !len)
		return KM_SRTP_EINVAL;
	if (*len < min)
		return KM_SRTP_EINVAL;
	if (*len > INT_MAX - 256 || (grow && (cap < *len || cap - *len < grow)))
		return KM_SRTP_ETOOBIG;
	int n = (int)*len;
	int rc = map_status(fn(s->ctx, buf, &n));
	if (rc == 0) {
		if (n < 0 || (size_t)n > *len + grow)
			return KM_SRTP_EFAIL; /* cannot happen; never trust it blindly */
		*len = (size_t)n;
	}
	return rc;
}

/* An RTP header is 12 bytes; an SRTP packet also carries its 16-byte tag.
 * RTCP: 8-byte header (+ tag and index word when protected). */
int km_srtp_protect(km_srtp_t *s, uint8_t *buf, size_t *len, size_t cap)
{
	return run(s, srtp_protect, buf, len, 12, KM_SRTP_RTP_OVERHEAD, cap);
}

int km_srtp_unprotect(km_srtp_t *s, uint8_t *buf, size_t *len)
{
	return run(s, srtp_unprotect, buf, len, 12 + KM_SRTP_RTP_OVERHEAD, 0, 0);
}

int km_srtp_protect_rtcp(km_srtp_t *s, uint8_t *buf, size_t *len, size_t cap)
{
	return run(s, srtp_protect_rtcp, buf, len, 8, KM_SRTP_RTCP_OVERHEAD, cap);
}

int km_srtp_unprotect_rtcp(km_srtp_t *s, uint8_t *buf, size_t *len)
{
	return run(s, srtp_unprotect_rtcp, buf, len, 8 + KM_SRTP_RTCP_OVERHEAD, 0, 0);
}
