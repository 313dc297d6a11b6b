/* schema.h — the shapes of the JSON clients send: every WSS message type of
 * docs/protocol.md and every JSON API request body of docs/api.md, as const
 * tables of fields (name, JSON type, required or optional, string length in
 * bytes, integer range, allowed values), and two pure checks over byte
 * buffers that parse (duplicate keys refused) and check one message or body
 * against its table, naming the field in the reason.
 *
 * What it is not: the handlers' state checks (who may send what when) stay
 * in consult.c, media_ws.c and api_*.c. Unknown fields are ignored, since
 * browsers may add some (the API handlers refuse theirs with unknown_field).
 * No I/O, no logging, no globals beyond const tables: any thread. */
#ifndef KM_SCHEMA_H
#define KM_SCHEMA_H

#include <jansson.h>
#include <stddef.h>

/* Results. Each failure maps to one wire code (km_schema_ws_code,
 * km_schema_api_code); the reason is in the caller's err buffer. */
enum {
	KM_SCHEMA_OK = 0,
	KM_SCHEMA_EJSON = -1,     /* not JSON, not UTF-8, or a duplicate key: invalid_json */
	KM_SCHEMA_EOBJECT = -2,   /* JSON, but not an object: invalid_message (API: invalid_body) */
	KM_SCHEMA_ETYPE = -3,     /* WSS: no string "type": missing_type */
	KM_SCHEMA_EUNKNOWN = -4,  /* WSS: a type kamer does not know: unknown_type */
	KM_SCHEMA_EFIELD = -5,    /* a field breaks its table: invalid_field */
	KM_SCHEMA_ENOSCHEMA = -6, /* API: no table for (method, pattern); the body is parsed, not checked */
};

/* Nesting deeper than this (the message or body itself is level 1) is
 * refused as invalid_field, in known and unknown fields alike. */
#define KM_SCHEMA_MAX_DEPTH 16
/* The longest "ref" a WSS message may carry (bytes). */
#define KM_SCHEMA_REF_MAX 64

/* Parses one WSS message (buf need not be NUL-terminated) and checks it.
 * *out: on OK, ETYPE, EUNKNOWN and EFIELD the parsed object (returns new,
 * caller decrefs), so that the error can carry the message's ref; NULL on
 * EJSON and EOBJECT. *type: on OK, EUNKNOWN and EFIELD the "type" string
 * (borrowed from *out), else NULL. err (may be NULL) gets the reason on any
 * failure, e.g. `field "text": string longer than 2000 bytes`. */
int km_schema_ws_parse(const char *buf, size_t len, json_t **out, const char **type, char *err, size_t errlen);

/* The message's "ref" if it is a string of at most KM_SCHEMA_REF_MAX bytes,
 * else NULL (borrowed from msg). */
const char *km_schema_ws_ref(const json_t *msg);

/* Parses one API request body and checks it against the table of
 * (method, pattern); method is an enum km_method (signaling/http.h) and
 * pattern spelled as in the route tables ("/api/v1/admin/users/{id}").
 * *out: on OK, EFIELD and ENOSCHEMA the parsed object (returns new, caller
 * decrefs); NULL on EJSON and EOBJECT (an empty body is EJSON). err as
 * above. */
int km_schema_api_body(int method, const char *pattern, const char *buf, size_t len, json_t **out, char *err,
		       size_t errlen);

/* The wire error code of a result ("invalid_json", ...); NULL for OK and
 * ENOSCHEMA. The API answers EOBJECT with invalid_body, the WSS protocol
 * with invalid_message. */
const char *km_schema_ws_code(int rc);
const char *km_schema_api_code(int rc);

/* Copies the field named by a reason of EFIELD (`field "NAME": ...`, a
 * nested one as "invitees[2].kind") into name; 0, or -1 if err names none. */
int km_schema_err_field(const char *err, char *name, size_t len);

/* The tables, for tests and fuzzers: the i-th WSS type (NULL past the end)
 * and the i-th API route with a body table (NULL past the end; *method set). */
const char *km_schema_ws_type(size_t i);
const char *km_schema_api_route(size_t i, int *method);

#endif
