/* server.c — the libwebsockets context and vhost, the one protocol
 * callback (HTTP and WSS), connection limits, and the service loop. All of it
 * runs on the thread that calls km_server_run, except km_server_stop. */
#include "signaling/server.h"

#include "core/err.h"
#include "core/log.h"
#include "core/clock.h"
#include "rooms/accounts.h"
#include "rooms/consults.h"
#include "rooms/retention.h"
#include "rooms/password.h"
#include "signaling/consult_int.h"
#include "signaling/server_int.h"
#include "signaling/media_int.h"
#include "media/sfu.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* TLS 1.2: ECDHE with AEAD only. TLS 1.3 suites are all AEAD. */
static const char tls12_ciphers[] =
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256:"
	"ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256";
/* An idle connection is pinged after 10 s and dropped after 25 s without an
 * answer: someone whose page or network went away leaves the waiting list
 * within 30 s. */
static const lws_retry_bo_t idle_policy = { .secs_since_valid_ping = 10, .secs_since_valid_hangup = 25 };

static const char tls13_ciphers[] = "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256";

uint64_t km__now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static km_server_t *server_of(struct lws *wsi)
{
	return lws_context_user(lws_get_context(wsi));
}

/* Accept-time limits: total connections and connections per address. The
 * fd is remembered so that WSI_DESTROY of the connection can uncount it. */
static void fd_closed(km_server_t *srv, int fd);

const char *km__log_ip(const km_server_t *srv, const char *ip, char out[KM_LOG_IP_MAX])
{
	char net[64];
	uint8_t mac[32];
	size_t mlen = 0;
	km_audit_ip_truncate(ip, 0, net, sizeof net);
	if (!net[0])
		snprintf(net, sizeof net, "unknown");
	if (!ip || !EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, srv->log_key, sizeof srv->log_key,
			      (const uint8_t *)ip, strlen(ip), mac, sizeof mac, &mlen)) {
		snprintf(out, KM_LOG_IP_MAX, "%s", net);
		return out;
	}
	snprintf(out, KM_LOG_IP_MAX, "%s~%02x%02x%02x", net, mac[0], mac[1], mac[2]);
	return out;
}

static int filter_network(km_server_t *srv, int fd)
{
	char ip[48];
	if (fd < 0 || fd >= srv->fd_max)
		return -1;
	fd_closed(srv, fd); /* a count left on a reused fd is released first */
	if (lws_get_peer_simple_fd(fd, ip, sizeof ip) == NULL)
		snprintf(ip, sizeof ip, "unknown");
	if (srv->stopping || srv->open_conns >= srv->cfg->max_connections) {
		km_warn("net", "refused", "ip=%s reason=%s", KM_LOG_IP(srv, ip),
			srv->stopping ? "stopping" : "max_connections");
		return -1;
	}
	if (km_ratelimit_conn_open(srv->rl, ip, km__now_ms()) != 0) {
		km_warn("net", "refused", "ip=%s reason=max_connections_per_ip", KM_LOG_IP(srv, ip));
		return -1;
	}
	srv->open_conns++;
	srv->fd_counted[fd] = 1;
	memcpy(srv->fd_ip[fd], ip, sizeof ip);
	return 0;
}

static void fd_closed(km_server_t *srv, int fd)
{
	if (fd < 0 || fd >= srv->fd_max || !srv->fd_counted[fd])
		return;
	srv->fd_counted[fd] = 0;
	km_ratelimit_conn_close(srv->rl, srv->fd_ip[fd]);
	srv->open_conns--;
}

/* WSS upgrades are only for /ws, and only from kamer's own pages (the
 * browser sends cookies with a cross-site WebSocket too). */
static int filter_ws(km_server_t *srv, struct lws *wsi)
{
	char origin[300];
	int ok = 0;
	if (lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) > 0)
		for (int i = 0; i < 3; i++)
			if (srv->origins[i][0] && strcmp(origin, srv->origins[i]) == 0)
				ok = 1;
	if (!ok) {
		km_warn("ws", "origin_refused", "");
		return -1;
	}
	char uri[64];
	/* HTTP/1.1 upgrades carry the path in GET_URI; WebSockets over HTTP/2
	 * (RFC 8441, which Chromium uses when the page came over h2) in :path. */
	if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0 &&
	    lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_HTTP_COLON_PATH) <= 0)
		return -1;
	char *q = strchr(uri, '?');
	if (q)
		*q = 0;
	return strcmp(uri, "/ws") == 0 ? 0 : -1;
}

/* Records what the SMTP thread reports (the clinician's view shows it). */
static void mail_results(km_server_t *srv)
{
	km_mailer_result_t r[32];
	size_t n;
	if (!srv->mailer)
		return;
	while ((n = km_mailer_poll(srv->mailer, r, 32)) > 0) {
		for (size_t i = 0; i < n; i++) {
			km_consults_invitation_sent(srv->store, r[i].invitation_id, km_clock_now(), r[i].rc ? r[i].error : NULL);
			if (r[i].rc) {
				char q[200];
				km_warn("mail", "send_failed", "invitation=%lld reason=%s", (long long)r[i].invitation_id,
					km_log_quote(q, sizeof q, r[i].error));
			}
		}
		if (n < 32)
			break;
	}
}

static void mail_wake(void *ud)
{
	km_server_t *srv = ud;
	if (srv->ctx)
		lws_cancel_service(srv->ctx);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	km_server_t *srv = server_of(wsi);
	km_conn_t *c = user;

	switch (reason) {
	case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
		return filter_network(srv, (int)(intptr_t)in);
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		mail_results(srv);
		km__media_events(srv);
		km__api_jobs_done(srv); /* password checks done in the KDF pool */
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		/* The network connection's wsi still has its fd here; h2
		 * streams (children) have none. */
		fd_closed(srv, (int)lws_get_socket_fd(wsi));
		return 0;

	case LWS_CALLBACK_HTTP:
		return km_http_on_request(srv, wsi, &c->http, in, len);
	case LWS_CALLBACK_HTTP_BODY:
		return km_http_on_body(srv, wsi, &c->http, in, len);
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		return km_http_on_body_done(srv, wsi, &c->http);
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return km_http_on_writeable(srv, wsi, &c->http);
	case LWS_CALLBACK_CLOSED_HTTP:
		if (c)
			km_http_on_close(srv, &c->http);
		return 0;

	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return filter_ws(srv, wsi);
	case LWS_CALLBACK_ESTABLISHED:
		c->is_ws = 1;
		if (lws_get_peer_simple(wsi, c->ws.ip, sizeof c->ws.ip) == NULL)
			snprintf(c->ws.ip, sizeof c->ws.ip, "unknown");
		return km_ws_on_open(srv, wsi, &c->ws);
	case LWS_CALLBACK_RECEIVE:
		return km_ws_on_receive(srv, wsi, &c->ws, in, len);
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return km_ws_on_writeable(srv, wsi, &c->ws);
	case LWS_CALLBACK_CLOSED:
		km_ws_on_close(srv, &c->ws);
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols protocols[] = {
	{ "kamer", callback, sizeof(km_conn_t), 16384, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

static void lws_log_bridge(int level, const char *line)
{
	char q[512];
	size_t n = strlen(line);
	char copy[480];
	if (n >= sizeof copy)
		n = sizeof copy - 1;
	memcpy(copy, line, n);
	copy[n] = 0;
	while (n && (copy[n - 1] == '\n' || copy[n - 1] == ' '))
		copy[--n] = 0;
	km_log_write(level == LLL_ERR ? KM_LOG_ERROR : KM_LOG_WARN, "lws", "message", "text=%s",
		     km_log_quote(q, sizeof q, copy));
}

/* Is the TCP port free? lws only logs when it cannot listen, so check
 * first to give a clear error. */
static int port_free(const km_config_t *cfg, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	memset(&ss, 0, sizeof ss);
	int fam = strchr(cfg->listen_host, ':') ? AF_INET6 : AF_INET;
	if (fam == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)cfg->listen_port);
		inet_pton(AF_INET, cfg->listen_host, &a->sin_addr);
		sl = sizeof *a;
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)cfg->listen_port);
		inet_pton(AF_INET6, cfg->listen_host, &a->sin6_addr);
		sl = sizeof *a;
	}
	int fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return km_errf(KM_EIO, err, errlen, "cannot create a socket: %s", strerror(errno));
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	int rc = bind(fd, (struct sockaddr *)&ss, sl);
	int e = errno;
	close(fd);
	if (rc != 0)
		return km_errf(e == EADDRINUSE ? KM_EBUSY : KM_EIO, err, errlen, "cannot listen on %s:%d: %s",
			       cfg->listen_host, cfg->listen_port,
			       e == EADDRINUSE ? "the port is already in use" : strerror(e));
	return 0;
}

/* The origins a browser page of this kamer sends. */
static void set_origins(km_server_t *srv)
{
	const km_config_t *cfg = srv->cfg;
	snprintf(srv->origins[0], sizeof srv->origins[0], "https://localhost:%d", cfg->listen_port);
	snprintf(srv->origins[1], sizeof srv->origins[1], "https://127.0.0.1:%d", cfg->listen_port);
	snprintf(srv->origins[2], sizeof srv->origins[2], "%s", cfg->public_url);
	if (cfg->listen_port == 443) {
		snprintf(srv->origins[0], sizeof srv->origins[0], "https://localhost");
		snprintf(srv->origins[1], sizeof srv->origins[1], "https://127.0.0.1");
	}
}

int km_server_new(const km_server_opts_t *opts, km_server_t **out, char *err, size_t errlen)
{
	const km_config_t *cfg = opts->cfg;
	const char *cert_path = opts->cert_path, *key_path = opts->key_path;
	*out = NULL;
	int rc = port_free(cfg, err, errlen);
	if (rc)
		return rc;
	km_server_t *srv = calloc(1, sizeof *srv);
	if (!srv)
		return KM_ENOMEM;
	srv->cfg = cfg;
	srv->store = opts->store;
	srv->audit = opts->audit;
	memcpy(srv->server_key, opts->server_key, sizeof srv->server_key);
	if (RAND_bytes(srv->log_key, sizeof srv->log_key) != 1) {
		rc = KM_ECRYPTO;
		goto fail;
	}
	set_origins(srv);
	srv->throttle = km_throttle_new(8192, 3, 60000);
	/* Failed join tokens: 20 per 10 minutes per address, then refused unchecked. */
	srv->bad_tokens = km_ratelimit_new(8192, 20.0 / 600.0, 20.0, 1);
	/* Failed password checks per account in any hour: at most 20 + 60 from
	 * strangers and 10 + 10 from the account's known devices (100). */
	srv->pw_budget = km_ratelimit_new(8192, 60.0 / 3600.0, 20.0, 1);
	srv->pw_budget_known = km_ratelimit_new(8192, 10.0 / 3600.0, 10.0, 1);
	if (!srv->bad_tokens || !srv->pw_budget || !srv->pw_budget_known) {
		rc = KM_ENOMEM;
		goto fail;
	}
	if (!srv->throttle || km_password_hash("kamer-timing-equaliser", srv->dummy_hash, sizeof srv->dummy_hash)) {
		rc = KM_ENOMEM;
		goto fail;
	}
	struct rlimit rl;
	srv->fd_max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 1048576 ? (int)rl.rlim_cur : 65536;
	srv->fd_counted = calloc((size_t)srv->fd_max, sizeof *srv->fd_counted);
	srv->fd_ip = calloc((size_t)srv->fd_max, sizeof *srv->fd_ip);
	srv->rl = km_ratelimit_new(8192, (double)cfg->http_rate_per_sec, (double)cfg->http_rate_burst,
				   cfg->max_connections_per_ip);
	if (!srv->fd_counted || !srv->fd_ip || !srv->rl) {
		rc = KM_ENOMEM;
		goto fail;
	}

	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_bridge);

	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.uid = info.gid = -1; /* privileges are dropped by kamer serve itself (cli/priv.c) */
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
		       LWS_SERVER_OPTION_DISABLE_IPV6 * !strchr(cfg->listen_host, ':');
	info.user = srv;
	info.fd_limit_per_thread = (unsigned)(cfg->max_connections + 64);
	info.timeout_secs = 10;
	info.keepalive_timeout = 30;
	srv->ctx = lws_create_context(&info);
	if (!srv->ctx) {
		rc = km_errf(KM_EIO, err, errlen, "cannot create the libwebsockets context");
		goto fail;
	}

	memset(&info, 0, sizeof info);
	info.vhost_name = "kamer";
	info.port = cfg->listen_port;
	info.iface = cfg->listen_host;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
		       LWS_SERVER_OPTION_DISABLE_IPV6 * !strchr(cfg->listen_host, ':');
	info.ssl_cert_filepath = cert_path;
	info.ssl_private_key_filepath = key_path;
	info.ssl_cipher_list = tls12_ciphers;
	info.tls1_3_plus_cipher_list = tls13_ciphers;
	info.ssl_options_set = SSL_OP_NO_SSLv2 | SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 |
			       SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE;
	info.alpn = "h2,http/1.1";
	info.max_http_header_data = (unsigned short)cfg->http_max_header;
	info.retry_and_idle_policy = &idle_policy;
	info.max_http_header_pool = 64;
	info.timeout_secs = 10;
	info.keepalive_timeout = 30;
	srv->vh = lws_create_vhost(srv->ctx, &info);
	if (!srv->vh) {
		rc = km_errf(KM_EIO, err, errlen, "cannot listen on %s:%d with certificate %s (see the log above)",
			     cfg->listen_host, cfg->listen_port, cert_path);
		goto fail;
	}
	if (opts->smtp && !(srv->mailer = km_mailer_new(opts->smtp, mail_wake, srv))) {
		rc = km_errf(KM_ENOMEM, err, errlen, "cannot start the mail thread");
		goto fail;
	}
	if ((rc = km__media_start(srv, err, errlen)) != 0)
		goto fail;
	*out = srv;
	return 0;
fail:
	km_server_free(srv);
	return rc;
}

#define CHECKPOINT_US (600 * (lws_usec_t)LWS_US_PER_SEC)

static void checkpoint_timer(lws_sorted_usec_list_t *sul)
{
	km_server_t *srv = lws_container_of(sul, km_server_t, sul_checkpoint);
	if (srv->audit && km_audit_checkpoint(srv->audit, (time_t)km_clock_now()) != 0)
		km_error("audit", "checkpoint_failed", "");
	lws_sul_schedule(srv->ctx, 0, &srv->sul_checkpoint, checkpoint_timer, CHECKPOINT_US);
}

#define RETENTION_US (86400 * (lws_usec_t)LWS_US_PER_SEC)

/* Deletes each organisation's audit rows older than its retention
 * (the purge records itself in the chain). */
void km__server_retention(km_server_t *srv)
{
	km_retention_report_t rep;
	if (srv->audit)
		km_retention_run(srv->store, srv->audit, km_clock_now(), "system", &rep);
}

static void retention_timer(lws_sorted_usec_list_t *sul)
{
	km_server_t *srv = lws_container_of(sul, km_server_t, sul_retention);
	km__server_retention(srv);
	lws_sul_schedule(srv->ctx, 0, &srv->sul_retention, retention_timer, RETENTION_US);
}

#define EXPIRY_US (30 * (lws_usec_t)LWS_US_PER_SEC)

static void expiry_timer(lws_sorted_usec_list_t *sul)
{
	km_server_t *srv = lws_container_of(sul, km_server_t, sul_expiry);
	km__consult_expire(srv);
	lws_sul_schedule(srv->ctx, 0, &srv->sul_expiry, expiry_timer, EXPIRY_US);
}

int km_server_run(km_server_t *srv)
{
	lws_sul_schedule(srv->ctx, 0, &srv->sul_expiry, expiry_timer, EXPIRY_US);
	lws_sul_schedule(srv->ctx, 0, &srv->sul_checkpoint, checkpoint_timer, CHECKPOINT_US);
	lws_sul_schedule(srv->ctx, 0, &srv->sul_retention, retention_timer, 5 * (lws_usec_t)LWS_US_PER_SEC);
	while (!srv->stopping)
		if (lws_service(srv->ctx, 0) < 0)
			break;
	return 0;
}

void km_server_stop(km_server_t *srv)
{
	srv->stopping = 1;
	if (srv->ctx)
		lws_cancel_service(srv->ctx);
}

void km_server_free(km_server_t *srv)
{
	if (!srv)
		return;
	km_mailer_free(srv->mailer);
	srv->mailer = NULL;
	km_sfu_free(srv->sfu); /* its workers wake the context: before it goes */
	srv->sfu = NULL;
	km__api_jobs_free(srv); /* so do the KDF pool's */
	if (srv->ctx)
		lws_context_destroy(srv->ctx);
	km_ratelimit_free(srv->rl);
	km_throttle_free(srv->throttle);
	km_ratelimit_free(srv->bad_tokens);
	km_ratelimit_free(srv->pw_budget);
	km_ratelimit_free(srv->pw_budget_known);
	OPENSSL_cleanse(srv->server_key, sizeof srv->server_key);
	free(srv->fd_counted);
	free(srv->fd_ip);
	free(srv);
}
