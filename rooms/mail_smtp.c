/* mail_smtp.c — sends a composed invitation over SMTP with libcurl: TLS
 * mandatory (smtps:// or STARTTLS on smtp://), certificate and host name
 * verified, bounded retries with backoff, errors mapped to short reasons a
 * clinician can act on. Not composing (mail.c) and not queueing (the caller).
 *
 * Threading: BLOCKS for up to attempts * timeout + backoff. Call only from a
 * worker thread, never the signaling thread. No shared state besides
 * libcurl's global init, done once under pthread_once. */
#include "rooms/mail.h"

#include "core/err.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define ATTEMPTS_DEFAULT 3
#define ATTEMPTS_MAX 5
#define TIMEOUT_DEFAULT 30
#define TIMEOUT_MAX 120
#define BACKOFF_MAX_S 8

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

struct upload {
	const char *p;
	size_t left;
};

static size_t read_cb(char *dst, size_t size, size_t nitems, void *ud)
{
	struct upload *u = ud;
	size_t n = size * nitems;
	if (n > u->left)
		n = u->left;
	memcpy(dst, u->p, n);
	u->p += n;
	u->left -= n;
	return n;
}

/* How one attempt ended. */
struct outcome {
	CURLcode code;
	long smtp;   /* last SMTP reply code, 0 if none */
};

static bool retryable(struct outcome o)
{
	if (o.smtp >= 500)
		return false;
	switch (o.code) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_PARTIAL_FILE:
		return true;
	default:
		return false;
	}
}

/* A short reason for the clinician's view; never an address or secret. */
static int describe(struct outcome o, int attempts, char *err, size_t errlen)
{
	const char *what;
	int rc = KM_EIO;
	switch (o.code) {
	case CURLE_USE_SSL_FAILED:
		what = "SMTP server does not offer STARTTLS", rc = KM_EPERM;
		break;
	case CURLE_LOGIN_DENIED:
		what = "authentication failed", rc = KM_EPERM;
		break;
	case CURLE_COULDNT_CONNECT:
		what = "connection refused";
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
		what = "SMTP server name not found";
		break;
	case CURLE_OPERATION_TIMEDOUT:
		what = "SMTP server did not answer in time";
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
		what = "SMTP server certificate not trusted", rc = KM_EPERM;
		break;
	case CURLE_SSL_CACERT_BADFILE:
		what = "CA file for SMTP cannot be read", rc = KM_EINVAL;
		break;
	case CURLE_SSL_CONNECT_ERROR:
		what = "TLS handshake with SMTP server failed";
		break;
	default:
		if (o.smtp >= 500)
			return km_errf(KM_EPERM, err, errlen, "SMTP server refused the message (reply %ld)",
				       o.smtp);
		if (o.smtp >= 400)
			return km_errf(KM_EIO, err, errlen,
				       "SMTP server temporarily refused the message (reply %ld, %d attempt%s)",
				       o.smtp, attempts, attempts == 1 ? "" : "s");
		return km_errf(KM_EIO, err, errlen, "sending failed: %s (%d attempt%s)",
			       curl_easy_strerror(o.code), attempts, attempts == 1 ? "" : "s");
	}
	if (rc == KM_EIO)
		return km_errf(rc, err, errlen, "%s (%d attempt%s)", what, attempts, attempts == 1 ? "" : "s");
	return km_errf(rc, err, errlen, "%s", what);
}

static int check_url(const char *url, char *err, size_t errlen)
{
	if (url == NULL)
		return km_errf(KM_EINVAL, err, errlen, "no SMTP url");
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return km_errf(KM_EINVAL, err, errlen, "SMTP url contains a space or control character");
	if (strncasecmp(url, "smtp://", 7) != 0 && strncasecmp(url, "smtps://", 8) != 0)
		return km_errf(KM_EINVAL, err, errlen, "SMTP url must start with smtp:// or smtps://");
	if (strlen(url) > 1024)
		return km_errf(KM_ETOOBIG, err, errlen, "SMTP url too long");
	return 0;
}

static bool set_all(CURL *h, const km_smtp_config_t *c, const char *from, struct curl_slist *rcpt,
		    struct upload *u, int timeout, char *curl_err)
{
	bool ok = true;
#define SET(opt, val) ok = ok && curl_easy_setopt(h, opt, val) == CURLE_OK
	SET(CURLOPT_URL, c->url);
	SET(CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	SET(CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (c->ca_file != NULL && c->ca_file[0] != '\0')
		SET(CURLOPT_CAINFO, c->ca_file);
	if (c->username != NULL && c->username[0] != '\0') {
		SET(CURLOPT_USERNAME, c->username);
		SET(CURLOPT_PASSWORD, c->password ? c->password : "");
	}
	SET(CURLOPT_MAIL_FROM, from);
	SET(CURLOPT_MAIL_RCPT, rcpt);
	SET(CURLOPT_UPLOAD, 1L);
	SET(CURLOPT_READFUNCTION, read_cb);
	SET(CURLOPT_READDATA, u);
	SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t)u->left);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_TIMEOUT, (long)timeout);
	SET(CURLOPT_CONNECTTIMEOUT, (long)(timeout < 10 ? timeout : 10));
	SET(CURLOPT_ERRORBUFFER, curl_err);
#undef SET
	return ok;
}

/* One try. */
static struct outcome attempt(const km_smtp_config_t *c, const char *from, struct curl_slist *rcpt,
			      const char *msg, size_t len, int timeout)
{
	struct outcome o = {CURLE_FAILED_INIT, 0};
	char curl_err[CURL_ERROR_SIZE] = "";
	struct upload u = {msg, len};
	CURL *h = curl_easy_init();
	if (h == NULL)
		return o;
	if (!set_all(h, c, from, rcpt, &u, timeout, curl_err)) {
		o.code = CURLE_BAD_FUNCTION_ARGUMENT;
	} else {
		o.code = curl_easy_perform(h);
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &o.smtp);
	}
	curl_easy_cleanup(h);
	return o;
}

static void sleep_s(int s)
{
	struct timespec ts = {s, 0};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int km_mail_smtp_send(const km_smtp_config_t *c, const char *from, const char *to, const char *msg,
		      size_t len, char *err, size_t errlen)
{
	char path_from[KM_MAIL_ADDR_MAX + 3], path_to[KM_MAIL_ADDR_MAX + 3];
	int rc;
	if (c == NULL || msg == NULL || len == 0)
		return km_errf(KM_EINVAL, err, errlen, "no SMTP config or message");
	if ((rc = check_url(c->url, err, errlen)) != 0)
		return rc;
	if (km_mail_address_check(from, err, errlen) != 0)
		return km_errf(KM_EINVAL, err, errlen, "sender address is not valid");
	if (km_mail_address_check(to, err, errlen) != 0)
		return km_errf(KM_EINVAL, err, errlen, "recipient address is not valid");
	if (len > KM_MAIL_MSG_MAX)
		return km_errf(KM_ETOOBIG, err, errlen, "mail over %d bytes", KM_MAIL_MSG_MAX);
	int attempts = c->attempts == 0 ? ATTEMPTS_DEFAULT : c->attempts;
	attempts = attempts < 1 ? 1 : attempts > ATTEMPTS_MAX ? ATTEMPTS_MAX : attempts;
	int timeout = c->timeout_s == 0 ? TIMEOUT_DEFAULT : c->timeout_s;
	timeout = timeout < 1 ? 1 : timeout > TIMEOUT_MAX ? TIMEOUT_MAX : timeout;

	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return km_errf(KM_EIO, err, errlen, "libcurl could not be initialised");
	snprintf(path_from, sizeof path_from, "<%s>", from);
	snprintf(path_to, sizeof path_to, "<%s>", to);
	struct curl_slist *rcpt = curl_slist_append(NULL, path_to);
	if (rcpt == NULL)
		return km_errf(KM_ENOMEM, err, errlen, "out of memory");

	struct outcome o = {CURLE_OK, 0};
	int tried = 0;
	for (int backoff = 1; tried < attempts; backoff *= 2) {
		if (tried > 0)
			sleep_s(backoff / 2 < BACKOFF_MAX_S ? backoff / 2 : BACKOFF_MAX_S);
		o = attempt(c, path_from, rcpt, msg, len, timeout);
		tried++;
		if (o.code == CURLE_OK || !retryable(o))
			break;
	}
	curl_slist_free_all(rcpt);
	if (o.code == CURLE_OK)
		return 0;
	return describe(o, tried, err, errlen);
}
