/* api_int.h — the JSON API's request context, route table types and the
 * helpers shared by api*.c and auth.c. Signaling thread only. */
#ifndef KM_API_INT_H
#define KM_API_INT_H

#include "rooms/accounts.h"
#include "rooms/audit.h"
#include "signaling/http.h"
#include "signaling/server_int.h"

#include <stdint.h>

/* Who may call a route. */
enum km_api_auth {
	KM_AUTH_NONE = 0, /* anyone */
	KM_AUTH_STAGE,    /* a session in one of route->stages */
	KM_AUTH_FULL,     /* a session that passed every factor */
	KM_AUTH_ADMIN,    /* KM_AUTH_FULL and role admin */
};

typedef struct km_api_ctx {
	km_server_t *srv;
	km_http_req_t *req;
	km_http_resp_t *resp;
	int64_t now;
	int has_session;
	km_session_t sess;
	km_user_t user;
	km_org_t org;
	km_policy_t policy;
	int64_t id;        /* the {id} of the path, if the route has one */
	json_t *body;      /* parsed body for POST/PUT/PATCH (borrowed) */
} km_api_ctx_t;

typedef void (*km_api_fn)(km_api_ctx_t *c);

typedef struct km_route {
	int method;
	const char *pattern; /* "/api/v1/admin/users/{id}/disable" */
	int auth;
	const char *stages;  /* for KM_AUTH_STAGE: "password,enrol,full" */
	km_api_fn fn;
} km_route_t;

extern const km_route_t km_api_auth_routes[];
extern const km_route_t km_api_admin_routes[];
extern const km_route_t km_api_consult_routes[];

/* auth.c: loads the session named by the request's cookie into c, applying
 * the idle timeout, the absolute lifetime and the user's state; 0 if there
 * is a valid session, -1 if not (an expired one is ended and audited). */
int km_auth_load(km_api_ctx_t *c);
/* Sets the session cookie (token) or clears it (token NULL). */
void km_auth_set_cookie(km_api_ctx_t *c, const char *token);

/* Writes an audit row for the current caller (user or unknown). object_type
 * and object_id may be NULL; detail may be NULL; org_id < 0 means the
 * caller's org. */
void km_api_audit(km_api_ctx_t *c, int64_t org_id, const char *action, const char *outcome,
		  const char *object_type, int64_t object_id, const char *detail);

/* As km_api_audit, inside a transaction opened with km_accounts_tx_begin;
 * returns the append's result. km_api_tx_end commits (rc 0) or rolls back,
 * then writes or drops the audit head line. */
int km_api_audit_in_tx(km_api_ctx_t *c, int64_t org_id, const char *action, const char *outcome,
		       const char *object_type, int64_t object_id, const char *detail);
int km_api_tx_end(km_server_t *srv, int rc);

/* Reads field name of the body as a string of 1..max bytes; on failure
 * writes a 400 naming the field and returns NULL. */
const char *km_api_str(km_api_ctx_t *c, const char *name, size_t max);
/* 400 unless the body has only the listed fields (NULL-terminated). */
int km_api_only(km_api_ctx_t *c, const char *const *fields);

/* The store failed: logs and answers 503. */
void km_api_store_failed(km_api_ctx_t *c, const char *op, int rc);

#endif
