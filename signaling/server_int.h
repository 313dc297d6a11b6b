/* server_int.h — the server's state, shared by the files of signaling/. */
#ifndef KM_SERVER_INT_H
#define KM_SERVER_INT_H

#include "signaling/http.h"
#include "signaling/mailer.h"
#include "signaling/ratelimit.h"
#include "signaling/server.h"
#include "signaling/throttle.h"
#include "signaling/ws.h"

#include <signal.h>
#include <stdint.h>

struct km_server {
	const km_config_t *cfg;
	km_store_t *store;
	km_audit_t *audit;
	uint8_t server_key[32];
	uint8_t log_key[32];       /* random per run: the address tags in the log (km__log_ip) */
	km_throttle_t *throttle;   /* failed sign-in attempts per address and per account+address */
	km_ratelimit_t *pw_budget;       /* password checks per account, browsers without the device mark */
	km_ratelimit_t *pw_budget_known; /* ... and with it (api_auth.c: at most 100 per hour in all) */
	char dummy_hash[192];      /* verified against for unknown accounts (same timing) */
	char origins[3][300];      /* accepted Origin values */
	struct lws_context *ctx;
	lws_sorted_usec_list_t sul_checkpoint; /* audit checkpoint every 10 minutes */
	lws_sorted_usec_list_t sul_retention;  /* retention purge, at start and daily */
	struct lws_vhost *vh;
	km_ratelimit_t *rl;
	volatile sig_atomic_t stopping;
	long open_conns;
	int16_t *fd_counted;   /* fd -> 1 if counted against its IP */
	char (*fd_ip)[48];     /* fd -> peer address, for uncounting */
	int fd_max;
	uint64_t ws_msgs_in, http_reqs;
	km_ws_conn_t *ws_list;       /* open WSS connections */
	km_mailer_t *mailer;         /* SMTP thread, NULL: outbox */
	km_ratelimit_t *bad_tokens;  /* failed join attempts per address */
	lws_sorted_usec_list_t sul_expiry; /* ends expired consults */
	struct km_sfu *sfu;          /* media (media/sfu.h), NULL if it could not start */
	uint64_t next_media_id;      /* SFU member ids for WSS connections */
};

/* Per-connection session data (lws allocates it, zeroed). */
typedef struct km_conn {
	int is_ws;
	km_http_req_t http;
	km_ws_conn_t ws;
} km_conn_t;

uint64_t km__now_ms(void);
/* Applies every organisation's retention to the audit log now. */
void km__server_retention(km_server_t *srv);

/* An address as the operator's log shows it: its /24 (IPv4) or /48 (IPv6)
 * and a short tag keyed per run, so that lines of one address can be told
 * apart and followed within a run without the log holding the address
 * itself ("203.0.113.0/24~4f0a9c"). Returns out. */
#define KM_LOG_IP_MAX 72
const char *km__log_ip(const km_server_t *srv, const char *ip, char out[KM_LOG_IP_MAX]);
#define KM_LOG_IP(srv, ip) km__log_ip((srv), (ip), (char[KM_LOG_IP_MAX]){ 0 })

#endif
