/* http.h — HTTP requests and responses of the signaling thread: one
 * request per km_conn at a time, a response built in memory and written in
 * chunks from the WRITEABLE callback, security headers on every response,
 * one JSON error format. Single-threaded (the lws service thread). */
#ifndef KM_HTTP_H
#define KM_HTTP_H

#include <jansson.h>
#include <libwebsockets.h>
#include <stddef.h>

typedef struct km_server km_server_t;

enum km_method { KM_GET = 1, KM_POST, KM_PUT, KM_PATCH, KM_DELETE, KM_OTHER };

typedef struct km_http_resp {
	int status;
	const char *content_type; /* static string */
	char *body;               /* owned */
	size_t len, sent;
	int headers_sent;
	int close_after;          /* close the connection once sent */
	int no_store;             /* Cache-Control: no-store */
	long retry_after;         /* seconds, 0 = none */
	char set_cookie[256];     /* one Set-Cookie value, "" = none */
	char set_cookie2[256];    /* a second one (the device mark), "" = none */
	char disposition[128];    /* Content-Disposition value, "" = none */
} km_http_resp_t;

/* One HTTP request being read or answered (lives in the lws session data). */
typedef struct km_http_req {
	int method;
	char path[512];    /* without query string; may hold a token: never log it raw */
	char ip[48];
	char query[512];   /* URI arguments, '&'-joined, url-decoded by lws */
	char session[64];  /* the session cookie's value, "" if none */
	char device[96];   /* the known-device cookie's value, "" if none */
	char origin[256];  /* the Origin header, "" if none */
	char user_agent[128];
	char *body;        /* owned, NUL-terminated */
	size_t body_len;
	int body_too_big;
	int active;        /* a request is being handled on this wsi */
	struct lws *wsi;   /* the connection (or h2 stream) this request came on */
	struct km_api_job *api_job; /* the deferred API answer being computed
				     * (api.c), NULL if none: no response yet */
	km_http_resp_t resp;
} km_http_req_t;

/* Called from the lws callback (server.c). Each returns what the lws
 * callback must return (0 to go on, -1 to close). */
int km_http_on_request(km_server_t *srv, struct lws *wsi, km_http_req_t *req, const char *uri, size_t urilen);
int km_http_on_body(km_server_t *srv, struct lws *wsi, km_http_req_t *req, const void *in, size_t len);
int km_http_on_body_done(km_server_t *srv, struct lws *wsi, km_http_req_t *req);
int km_http_on_writeable(km_server_t *srv, struct lws *wsi, km_http_req_t *req);
void km_http_on_close(km_server_t *srv, km_http_req_t *req);

/* Response builders for handlers. The json is taken (decref'd here). */
void km_http_json(km_http_resp_t *r, int status, json_t *json);
/* A response of another type; body is taken (freed by the response). */
void km_http_raw(km_http_resp_t *r, int status, const char *content_type, char *body, size_t len);
/* {"error": {"code": code, "message": message}} */
void km_http_error(km_http_resp_t *r, int status, const char *code, const char *message);

/* The JSON API (api.c): fills req->resp for a request under /api/ or
 * /healthz, or leaves it empty with req->api_job set when the answer is
 * deferred (api_int.h, km_api_defer). Returns 1 if the path was an API path,
 * 0 if not. */
int km_api_dispatch(km_server_t *srv, km_http_req_t *req);

/* Logs the request and asks lws to write its response (req->resp, now
 * filled). dispatch does this for synchronous answers; api.c for a
 * deferred one, once it is ready. */
void km_http_answer(km_server_t *srv, km_http_req_t *req);

/* Deferred API answers (api.c), called from server.c and http.c:
 * km__api_jobs_done runs the continuations of finished password jobs (on
 * LWS_CALLBACK_EVENT_WAIT_CANCELLED); km__api_jobs_free stops the password
 * pool and forgets every pending answer (before the lws context goes);
 * km__api_req_closed detaches req's pending answer, if any (its
 * connection closed: the job still completes, its answer is dropped). */
void km__api_jobs_done(km_server_t *srv);
void km__api_jobs_free(km_server_t *srv);
void km__api_req_closed(km_http_req_t *req);

/* Copies the value of URI argument name into buf; 0 or -1 if absent. */
int km_http_query_get(const km_http_req_t *req, const char *name, char *buf, size_t len);

/* The session cookie's name (with the __Host- prefix). */
#define KM_SESSION_COOKIE "__Host-kamer_session"
/* The cookie of a patient's or colleague's browser after redeeming a link. */
#define KM_PARTICIPANT_COOKIE "__Host-kamer_participant"

/* Parses the request body as a JSON object, with a 400 error in resp if it
 * is not one. Returns new (caller decrefs) or NULL. */
json_t *km_api_body_object(km_http_req_t *req);

#endif
