/* probe.c — the test peer's DTLS-SRTP handshake probe (see probe.h): ICE
 * from media/ice.h, an OpenSSL DTLS 1.2 client over memory BIOs with a
 * chosen use_srtp list, a throwaway P-256 certificate (and, to be refused,
 * optionally the fingerprint of another one in its SDP), the server's
 * certificate checked against its SDP fingerprint. Outgoing records are
 * packed into datagrams of at most 1200 bytes at record boundaries.
 * Threads: the thread iterating cfg.ctx. */
#include "tests/peer/probe.h"

#include "core/err.h"
#include "media/demux.h"
#include "media/ice.h"
#include "tests/peer/peer_sdp.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MTU 1200
#define MAX_CANDS 16
#define TIMEOUT_US (20 * G_USEC_PER_SEC)

struct km_peer_probe {
	km_peer_probe_config_t cfg;
	char *profiles;
	km_ice_t *ice;
	EVP_PKEY *key;
	X509 *x509;
	SSL_CTX *sctx;
	SSL *ssl;
	BIO *rbio, *wbio;
	km_peer_sdp_local_t local;
	char remote_fp[KM_DTLS_FP_LEN];
	bool remote_set, dtls_started, local_sent;
	km_peer_probe_result_t result;
	const char *profile;
	char reason[200];
	GSource *timer;
	int64_t started_us;
	char cands[MAX_CANDS][KM_ICE_CANDIDATE_MAX];
	size_t ncands;
};

static void finish(km_peer_probe_t *p, km_peer_probe_result_t r, const char *fmt, const char *arg)
{
	if (p->result != KM_PEER_PROBE_PENDING)
		return;
	p->result = r;
	snprintf(p->reason, sizeof p->reason, fmt, arg ? arg : "");
	if (p->cfg.on_done)
		p->cfg.on_done(p->cfg.ud, p);
}

/* Sends what OpenSSL wrote, datagrams of whole records up to MTU bytes. */
static void flush(km_peer_probe_t *p)
{
	char *data = NULL;
	long n = BIO_get_mem_data(p->wbio, &data);
	if (n <= 0 || !data)
		return;
	const uint8_t *d = (const uint8_t *)data;
	size_t len = (size_t)n, start = 0, off = 0;
	while (off < len) {
		size_t next = off;
		km_demux_dtls_record_t rec;
		if (km_demux_dtls_next(d, len, &next, &rec) != 1)
			break;
		if (next - start > MTU && off > start) {
			km_ice_send(p->ice, d + start, off - start);
			start = off;
		}
		off = next;
	}
	if (off > start)
		km_ice_send(p->ice, d + start, off - start);
	(void)BIO_reset(p->wbio);
}

static bool fingerprint_ok(km_peer_probe_t *p)
{
	X509 *peer = SSL_get1_peer_certificate(p->ssl);
	uint8_t md[32], want[32];
	unsigned int n = 0;
	bool ok = peer && X509_digest(peer, EVP_sha256(), md, &n) == 1 && n == 32 &&
		  km_peer_sdp_fp_parse(p->remote_fp, want) == 0 && CRYPTO_memcmp(md, want, 32) == 0;
	X509_free(peer);
	return ok;
}

static void connected(km_peer_probe_t *p)
{
	SRTP_PROTECTION_PROFILE *pp = SSL_get_selected_srtp_profile(p->ssl);
	if (!fingerprint_ok(p)) {
		finish(p, KM_PEER_PROBE_FAILED, "dtls: fingerprint mismatch%s", NULL);
		return;
	}
	if (!pp) {
		finish(p, KM_PEER_PROBE_FAILED, "dtls: no SRTP profile negotiated%s", NULL);
		return;
	}
	p->profile = pp->name;
	finish(p, KM_PEER_PROBE_CONNECTED, "%s", NULL);
}

static void step(km_peer_probe_t *p)
{
	if (p->result != KM_PEER_PROBE_PENDING)
		return;
	ERR_clear_error();
	int r = SSL_do_handshake(p->ssl);
	flush(p);
	if (r == 1) {
		connected(p);
		return;
	}
	int e = SSL_get_error(p->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return;
	unsigned long code = ERR_peek_last_error();
	const char *why = code ? ERR_reason_error_string(code) : NULL;
	bool alert = code && ERR_GET_REASON(code) >= SSL_AD_REASON_OFFSET;
	finish(p, alert ? KM_PEER_PROBE_REFUSED : KM_PEER_PROBE_FAILED, "dtls: %s",
	       why ? why : "handshake failed");
}

static gboolean on_timer(gpointer ud)
{
	km_peer_probe_t *p = ud;
	if (p->result != KM_PEER_PROBE_PENDING)
		return G_SOURCE_CONTINUE;
	if (g_get_monotonic_time() - p->started_us > TIMEOUT_US) {
		finish(p, KM_PEER_PROBE_FAILED, "%s", p->dtls_started ? "dtls: timed out" : "ice: timed out");
		return G_SOURCE_CONTINUE;
	}
	if (p->dtls_started && DTLSv1_handle_timeout(p->ssl) > 0)
		flush(p);
	return G_SOURCE_CONTINUE;
}

static void on_ice_state(void *ud, km_ice_state_t st)
{
	km_peer_probe_t *p = ud;
	if ((st == KM_ICE_CONNECTED || st == KM_ICE_READY) && !p->dtls_started) {
		p->dtls_started = true;
		step(p);
	} else if (st == KM_ICE_FAILED) {
		finish(p, KM_PEER_PROBE_FAILED, "%s", "ice: failed");
	}
}

static void on_ice_recv(void *ud, const uint8_t *d, size_t len)
{
	km_peer_probe_t *p = ud;
	if (p->result != KM_PEER_PROBE_PENDING || km_demux_classify(d, len) != KM_DEMUX_DTLS)
		return;
	if (BIO_write(p->rbio, d, (int)len) != (int)len)
		return;
	step(p);
}

static void on_ice_candidate(void *ud, const char *cand)
{
	km_peer_probe_t *p = ud;
	if (!cand)
		cand = "";
	if (p->local_sent) {
		if (p->cfg.on_candidate)
			p->cfg.on_candidate(p->cfg.ud, p, cand);
	} else if (p->ncands < MAX_CANDS && strlen(cand) < KM_ICE_CANDIDATE_MAX) {
		snprintf(p->cands[p->ncands++], KM_ICE_CANDIDATE_MAX, "%s", cand);
	}
}

void km_peer_probe_flush_candidates(km_peer_probe_t *p)
{
	if (!p || p->local_sent)
		return;
	p->local_sent = true;
	for (size_t i = 0; i < p->ncands && p->cfg.on_candidate; i++)
		p->cfg.on_candidate(p->cfg.ud, p, p->cands[i]);
	p->ncands = 0;
}

static int accept_any(int ok, X509_STORE_CTX *x)
{
	return 1; /* self-signed by design; the fingerprint is checked after */
}

/* A new P-256 key and self-signed certificate; fp gets its SHA-256
 * fingerprint as SDP writes it. *key and *x509 are new (caller frees, also
 * on failure). Returns 0 or KM_ECRYPTO. */
static int self_signed(EVP_PKEY **key, X509 **x509, char fp[KM_DTLS_FP_LEN])
{
	*key = EVP_EC_gen("P-256");
	*x509 = X509_new();
	if (!*key || !*x509)
		return KM_ECRYPTO;
	X509 *x = *x509;
	X509_NAME *n = X509_get_subject_name(x);
	uint8_t md[32];
	unsigned int mdlen = 0;
	if (X509_set_version(x, 2) != 1 ||
	    ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(km_peer_random32() >> 1)) != 1 ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), 86400) ||
	    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"kamer-peer",
				       -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, n) != 1 || X509_set_pubkey(x, *key) != 1 ||
	    X509_sign(x, *key, EVP_sha256()) <= 0 ||
	    X509_digest(x, EVP_sha256(), md, &mdlen) != 1 || mdlen != 32)
		return KM_ECRYPTO;
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < 32; i++) {
		fp[i * 3] = hex[md[i] >> 4];
		fp[i * 3 + 1] = hex[md[i] & 15];
		fp[i * 3 + 2] = i + 1 < 32 ? ':' : '\0';
	}
	return 0;
}

/* The handshake's certificate, and the fingerprint the SDP will carry: its
 * own, or with wrong_fingerprint that of a decoy certificate thrown away. */
static int make_cert(km_peer_probe_t *p)
{
	int rc = self_signed(&p->key, &p->x509, p->local.fingerprint);
	if (rc || !p->cfg.wrong_fingerprint)
		return rc;
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	rc = self_signed(&key, &x, p->local.fingerprint);
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}

static int make_ssl(km_peer_probe_t *p, char *err, size_t errlen)
{
	if (make_cert(p) != 0)
		return km_errf(KM_ECRYPTO, err, errlen, "probe: could not make a certificate");
	p->sctx = SSL_CTX_new(DTLS_client_method());
	if (!p->sctx || SSL_CTX_set_min_proto_version(p->sctx, DTLS1_2_VERSION) != 1 ||
	    SSL_CTX_use_certificate(p->sctx, p->x509) != 1 ||
	    SSL_CTX_use_PrivateKey(p->sctx, p->key) != 1)
		return km_errf(KM_ECRYPTO, err, errlen, "probe: no DTLS context");
	if (SSL_CTX_set_tlsext_use_srtp(p->sctx, p->profiles) != 0)
		return km_errf(KM_EINVAL, err, errlen, "probe: OpenSSL does not know '%s'",
			       p->profiles);
	SSL_CTX_set_verify(p->sctx, SSL_VERIFY_PEER, accept_any);
	SSL_CTX_set_options(p->sctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET);
	p->ssl = SSL_new(p->sctx);
	p->rbio = BIO_new(BIO_s_mem());
	p->wbio = BIO_new(BIO_s_mem());
	if (!p->ssl || !p->rbio || !p->wbio)
		return km_errf(KM_ENOMEM, err, errlen, "probe: out of memory");
	BIO_set_mem_eof_return(p->rbio, -1);
	SSL_set_bio(p->ssl, p->rbio, p->wbio); /* the SSL owns them now */
	SSL_set_connect_state(p->ssl);
	SSL_set_mtu(p->ssl, MTU);
	return 0;
}

static int make_ice(km_peer_probe_t *p, char *err, size_t errlen)
{
	const char *addrs[1] = { p->cfg.address ? p->cfg.address : "127.0.0.1" };
	km_ice_config_t ic = {
		.addresses = addrs,
		.n_addresses = 1,
		.on_local_candidate = on_ice_candidate,
		.on_state = on_ice_state,
		.on_recv = on_ice_recv,
		.ud = p,
	};
	int rc = km_ice_new(p->cfg.ctx, &ic, p->cfg.offerer, &p->ice, err, errlen);
	if (rc == 0)
		rc = km_ice_local_credentials(p->ice, p->local.ufrag, p->local.pwd);
	if (rc == 0)
		rc = km_ice_gather(p->ice, err, errlen);
	return rc;
}

int km_peer_probe_new(const km_peer_probe_config_t *cfg, km_peer_probe_t **out, char *err,
		      size_t errlen)
{
	*out = NULL;
	km_peer_probe_t *p = calloc(1, sizeof *p);
	if (!p)
		return km_errf(KM_ENOMEM, err, errlen, "out of memory");
	p->cfg = *cfg;
	p->profile = "none";
	p->started_us = g_get_monotonic_time();
	p->profiles = strdup(cfg->srtp_profiles ? cfg->srtp_profiles : "");
	int rc = p->profiles ? make_ssl(p, err, errlen) : KM_ENOMEM;
	if (rc == 0)
		rc = make_ice(p, err, errlen);
	if (rc) {
		km_peer_probe_free(p);
		return rc;
	}
	p->timer = g_timeout_source_new(50);
	g_source_set_callback(p->timer, on_timer, p, NULL);
	g_source_attach(p->timer, cfg->ctx);
	*out = p;
	return 0;
}

void km_peer_probe_free(km_peer_probe_t *p)
{
	if (!p)
		return;
	if (p->timer) {
		g_source_destroy(p->timer);
		g_source_unref(p->timer);
	}
	if (p->ssl && p->ice && p->result == KM_PEER_PROBE_CONNECTED) {
		SSL_shutdown(p->ssl); /* close_notify, so that the server sees the end */
		flush(p);
	}
	km_ice_free(p->ice);
	SSL_free(p->ssl);
	SSL_CTX_free(p->sctx);
	X509_free(p->x509);
	EVP_PKEY_free(p->key);
	free(p->profiles);
	free(p);
}

static km_sdp_t *remote_of(km_peer_probe_t *p, const char *sdp, size_t len, char *err,
			   size_t errlen)
{
	km_sdp_t *s = km_peer_sdp_parse(sdp, len, err, errlen);
	km_peer_sdp_remote_t r;
	if (!s || p->remote_set)
		return s;
	if (km_peer_sdp_remote(s, &r, err, errlen) != 0 ||
	    km_ice_set_remote_credentials(p->ice, r.ufrag, r.pwd, err, errlen) != 0) {
		free(s);
		return NULL;
	}
	memcpy(p->remote_fp, r.fingerprint, sizeof p->remote_fp);
	p->remote_set = true;
	return s;
}

char *km_peer_probe_offer(km_peer_probe_t *p, bool sendrecv, char *err, size_t errlen)
{
	km_sdp_t *s = malloc(sizeof *s);
	if (!s) {
		km_errf(KM_ENOMEM, err, errlen, "out of memory");
		return NULL;
	}
	km_peer_sdp_send_t snd = {
		.audio = true,
		.video = true,
		.audio_ssrc = km_peer_random32(),
		.video_ssrc = km_peer_random32(),
		.dir = sendrecv ? KM_SDP_SENDRECV : KM_SDP_SENDONLY,
		.sess_id = km_peer_random32(),
	};
	km_peer_sdp_token(snd.cname, sizeof snd.cname);
	km_peer_sdp_token(snd.stream, sizeof snd.stream);
	p->local.setup = KM_SDP_SETUP_ACTPASS;
	char *text = NULL;
	if (km_peer_sdp_offer(s, &p->local, &snd, err, errlen) == 0)
		text = km_peer_sdp_text(s, err, errlen);
	free(s);
	return text;
}

int km_peer_probe_set_answer(km_peer_probe_t *p, const char *sdp, size_t len, char *err,
			     size_t errlen)
{
	if (p->remote_set)
		return km_errf(KM_EINVAL, err, errlen, "%s: a second answer", p->cfg.name);
	km_sdp_t *s = remote_of(p, sdp, len, err, errlen);
	if (!s)
		return KM_EINVAL;
	km_peer_sdp_remote_t r;
	int rc = km_peer_sdp_remote(s, &r, err, errlen);
	if (rc == 0 && r.setup != KM_SDP_SETUP_PASSIVE)
		rc = km_errf(KM_EINVAL, err, errlen, "probe: the answer must say a=setup:passive");
	free(s);
	return rc;
}

char *km_peer_probe_take_offer(km_peer_probe_t *p, const char *sdp, size_t len, char *err,
			       size_t errlen)
{
	km_sdp_t *offer = remote_of(p, sdp, len, err, errlen);
	km_sdp_t *ans = offer ? malloc(sizeof *ans) : NULL;
	char *text = NULL;
	p->local.setup = KM_SDP_SETUP_ACTIVE;
	if (ans && km_peer_sdp_answer(ans, offer, &p->local, false, err, errlen) == 0)
		text = km_peer_sdp_text(ans, err, errlen);
	else if (offer && !ans)
		km_errf(KM_ENOMEM, err, errlen, "out of memory");
	free(offer);
	free(ans);
	return text;
}

int km_peer_probe_add_candidate(km_peer_probe_t *p, const char *candidate, char *err,
				size_t errlen)
{
	if (!candidate || !candidate[0])
		return km_ice_remote_candidates_done(p->ice);
	return km_ice_add_remote_candidate(p->ice, candidate, err, errlen);
}

km_peer_probe_result_t km_peer_probe_result(const km_peer_probe_t *p)
{
	return p->result;
}

const char *km_peer_probe_profile(const km_peer_probe_t *p)
{
	return p->profile;
}

const char *km_peer_probe_reason(const km_peer_probe_t *p)
{
	return p->reason;
}
