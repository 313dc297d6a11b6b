/* api_int.h — the JSON API's request context, route table types and the
 * helpers shared by api*.c and auth.c. Signaling thread only. */
#ifndef KM_API_INT_H
#define KM_API_INT_H

#include "rooms/accounts.h"
#include "rooms/audit.h"
#include "signaling/http.h"
#include "signaling/kdf_pool.h"
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
	json_t *body;      /* parsed body for POST/PUT/PATCH (borrowed); NULL in a continuation */
	struct km_api_job *job; /* in a continuation: the job it runs for (api.c) */
	int n_keys;             /* serialisation keys taken (km_api_serial) */
	char keys[2][72];
} km_api_ctx_t;

#define KM_API_KEY_MAX 72

/* Deferred answers: a handler that needs a password hashed or verified
 * (scrypt, ~150 ms) hands it to the KDF pool (kdf_pool.h) with
 * km_api_defer and returns without an answer; cont(c, r, state) runs later
 * on the signaling thread with r, and answers through c->resp like a
 * handler (it may defer again). c there is a copy of the handler's context
 * (km_api_ctx_t lives on run_route's stack) whose req is a copy of the
 * request's fields, without body (c->body is NULL): copy what the
 * continuation needs into state. The continuation always runs, also when
 * the connection closed meanwhile (throttles, budgets and audit rows are
 * recorded all the same); only its answer is then dropped. */
typedef void (*km_api_cont_fn)(km_api_ctx_t *c, const km_kdf_result_t *r, void *state);

/* Queues km_password_verify(password, stored) (kind KM_KDF_VERIFY; stored
 * NULL for KM_KDF_HASH: km_password_hash(password)). Borrows password,
 * stored and state (state_len bytes, copied; the copy is wiped and freed
 * after cont). Returns 0: deferred, the caller returns at once. Otherwise
 * c->resp holds the answer (503 busy with Retry-After 1 when the pool is
 * full, logged at most once a second) and it returns a negative code. */
int km_api_defer(km_api_ctx_t *c, int kind, const char *password, const char *stored, km_api_cont_fn cont,
		 const void *state, size_t state_len);

/* Serialises requests on key (at most 2 per request, before
 * km_api_defer): while a deferred job of another request holds key, this
 * request is parked and dispatched again from the start once the key is
 * free, as if it had arrived then; returns 1 and the handler returns at
 * once (also when the park is full, 64 requests in all or 8 of one
 * caller address: then c->resp holds 503 busy).
 * Returns 0 when key is free: the next km_api_defer holds it until its
 * continuation (and any job it defers) is done. So checks made before a
 * deferral (throttles, budgets) see every earlier request's outcome, as
 * when each request was answered in one go. */
int km_api_serial(km_api_ctx_t *c, const char *key);

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
/* Runs write(c, arg) and, when it succeeds, its "success" audit row
 * (action, object, detail) in one transaction: both are stored or neither.
 * Returns write's result, or the store's. */
typedef int (*km_api_write_fn)(km_api_ctx_t *c, void *arg);
int km_api_audited(km_api_ctx_t *c, km_api_write_fn write, void *arg, const char *action, const char *object_type,
		   int64_t object_id, const char *detail);

/* Reads field name of the body as a string of 1..max bytes; on failure
 * writes a 400 naming the field and returns NULL. */
const char *km_api_str(km_api_ctx_t *c, const char *name, size_t max);
/* 400 unless the body has only the listed fields (NULL-terminated). */
int km_api_only(km_api_ctx_t *c, const char *const *fields);

/* The store failed: logs and answers 503. */
void km_api_store_failed(km_api_ctx_t *c, const char *op, int rc);

#endif
