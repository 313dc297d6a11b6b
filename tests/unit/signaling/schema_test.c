/* schema_test.c — the WSS message and API body schemas (signaling/schema.h):
 * a valid example of every message type and every body passes; missing
 * fields, wrong types, overlong strings, out-of-range numbers, bad enum
 * values, duplicate keys, non-objects and deep nesting each fail with a
 * reason that names the field; the route tables have a schema for every
 * body they take. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "signaling/api_int.h"
#include "signaling/http.h"
#include "signaling/schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char err[256];

/* Parses one WSS message; returns the result, keeps the type in *t. */
static int ws(const char *msg, const char **t)
{
	json_t *out = NULL;
	const char *type = NULL;
	err[0] = 0;
	int rc = km_schema_ws_parse(msg, strlen(msg), &out, &type, err, sizeof err);
	if (rc == KM_SCHEMA_EJSON || rc == KM_SCHEMA_EOBJECT)
		assert_null(out);
	else
		assert_non_null(out);
	if (rc != KM_SCHEMA_OK)
		assert_true(err[0] != 0);
	if (t)
		*t = type ? strdup(type) : NULL;
	json_decref(out);
	return rc;
}

static int api(int method, const char *pattern, const char *body)
{
	json_t *out = NULL;
	err[0] = 0;
	int rc = km_schema_api_body(method, pattern, body, strlen(body), &out, err, sizeof err);
	if (rc == KM_SCHEMA_EJSON || rc == KM_SCHEMA_EOBJECT)
		assert_null(out);
	else
		assert_non_null(out);
	json_decref(out);
	return rc;
}

/* Asserts a field failure whose reason starts with `field "name": ` and
 * contains what. */
static void fails(int rc, const char *name, const char *what)
{
	char want[128], got[96];
	assert_int_equal(rc, KM_SCHEMA_EFIELD);
	snprintf(want, sizeof want, "field \"%s\": ", name);
	if (strncmp(err, want, strlen(want)) != 0 || !strstr(err, what))
		fail_msg("reason \"%s\" does not name %s with \"%s\"", err, name, what);
	assert_int_equal(km_schema_err_field(err, got, sizeof got), 0);
	assert_string_equal(got, name);
}

static const char *const ws_valid[] = {
	"{\"type\":\"ping\",\"ref\":\"r1\"}",
	"{\"type\":\"join\",\"token\":\"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ\"}",
	"{\"type\":\"resume\"}",
	"{\"type\":\"consent\",\"accept\":true,\"version\":0,\"ref\":\"c1\"}",
	"{\"type\":\"name\",\"display_name\":\"Anna\",\"ref\":\"n1\"}",
	"{\"type\":\"leave\"}",
	"{\"type\":\"chat\",\"text\":\"Goedemorgen\",\"ref\":\"chat1\"}",
	"{\"type\":\"private\",\"participant\":34,\"text\":\"wie bent u?\"}",
	"{\"type\":\"watch\",\"consult\":12}",
	"{\"type\":\"admit\",\"participant\":34}",
	"{\"type\":\"refuse\",\"participant\":34}",
	"{\"type\":\"end\"}",
	"{\"type\":\"media.publish\",\"sdp\":\"v=0\\r\\n\",\"ref\":\"media:pub:1\"}",
	"{\"type\":\"media.echo\",\"sdp\":\"v=0\\r\\n\"}",
	"{\"type\":\"media.subscribe\",\"ref\":\"media:sub:2\"}",
	"{\"type\":\"media.answer\",\"conn\":\"sub\",\"version\":3,\"sdp\":\"v=0\\r\\n\"}",
	"{\"type\":\"media.candidate\",\"conn\":\"pub\",\"candidate\":\"candidate:1 1 udp 1 127.0.0.1 5000 typ host\"}",
	"{\"type\":\"media.candidate\",\"conn\":\"sub\",\"candidate\":\"\"}",
	"{\"type\":\"media.close\",\"conn\":\"echo\"}",
};

static void test_ws_every_type_has_a_valid_example(void **state)
{
	for (size_t i = 0; km_schema_ws_type(i); i++) {
		const char *type = km_schema_ws_type(i);
		int seen = 0;
		for (size_t j = 0; j < sizeof ws_valid / sizeof ws_valid[0]; j++) {
			const char *t = NULL;
			int rc = ws(ws_valid[j], &t);
			if (rc != KM_SCHEMA_OK)
				fail_msg("%s: %s", ws_valid[j], err);
			if (strcmp(t, type) == 0)
				seen = 1;
			free((char *)t);
		}
		if (!seen)
			fail_msg("no valid example of %s", type);
	}
	/* Unknown fields are ignored (browsers may add some). */
	assert_int_equal(ws("{\"type\":\"chat\",\"text\":\"hi\",\"client\":{\"v\":[1,2]}}", NULL), KM_SCHEMA_OK);
	/* The private answer of a participant has no "participant". */
	assert_int_equal(ws("{\"type\":\"private\",\"text\":\"ik ben het\"}", NULL), KM_SCHEMA_OK);
	/* A chat may have new lines, a name may not. */
	assert_int_equal(ws("{\"type\":\"chat\",\"text\":\"a\\nb\"}", NULL), KM_SCHEMA_OK);
}

static void test_ws_protocol_errors(void **state)
{
	const char *t = NULL;
	assert_int_equal(ws("{not json", NULL), KM_SCHEMA_EJSON);
	assert_int_equal(ws("", NULL), KM_SCHEMA_EJSON);
	assert_int_equal(ws("{\"type\":\"ping\",\"type\":\"chat\"}", NULL), KM_SCHEMA_EJSON);
	assert_non_null(strstr(err, "duplicate"));
	assert_int_equal(ws("{\"type\":\"chat\",\"text\":\"a\\u0000b\"}", NULL), KM_SCHEMA_EJSON);
	assert_int_equal(ws("{\"type\":\"chat\",\"text\":\"\xff\"}", NULL), KM_SCHEMA_EJSON); /* not UTF-8 */
	assert_int_equal(ws("{\"type\":\"ping\"} x", NULL), KM_SCHEMA_EJSON);
	/* jansson's reason may quote the input; the reason stays ASCII. */
	assert_int_equal(ws("{\"type\":\"name\",\"display_name\":\"Zo\\\xc3\xab\"}", NULL), KM_SCHEMA_EJSON);
	for (const char *p = err; *p; p++)
		assert_true((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
	assert_int_equal(ws("[1]", NULL), KM_SCHEMA_EOBJECT);
	assert_int_equal(ws("\"ping\"", NULL), KM_SCHEMA_EJSON); /* as before: a bare value is not a message */
	assert_int_equal(ws("{\"nope\":1}", NULL), KM_SCHEMA_ETYPE);
	assert_int_equal(ws("{\"type\":5}", NULL), KM_SCHEMA_ETYPE);
	assert_int_equal(ws("{\"type\":\"no-such-type\",\"ref\":\"r1\"}", &t), KM_SCHEMA_EUNKNOWN);
	assert_string_equal(t, "no-such-type");
	free((char *)t);
	/* The type is matched on all its bytes, not up to a NUL or a prefix. */
	assert_int_equal(ws("{\"type\":\"chatx\",\"text\":\"a\"}", NULL), KM_SCHEMA_EUNKNOWN);
	assert_int_equal(ws("{\"type\":\"cha\",\"text\":\"a\"}", NULL), KM_SCHEMA_EUNKNOWN);
	/* The wire codes stay those of docs/protocol.md. */
	assert_string_equal(km_schema_ws_code(KM_SCHEMA_EJSON), "invalid_json");
	assert_string_equal(km_schema_ws_code(KM_SCHEMA_EOBJECT), "invalid_message");
	assert_string_equal(km_schema_ws_code(KM_SCHEMA_ETYPE), "missing_type");
	assert_string_equal(km_schema_ws_code(KM_SCHEMA_EUNKNOWN), "unknown_type");
	assert_string_equal(km_schema_ws_code(KM_SCHEMA_EFIELD), "invalid_field");
	assert_null(km_schema_ws_code(KM_SCHEMA_OK));
}

static void test_ws_missing_required(void **state)
{
	fails(ws("{\"type\":\"join\"}", NULL), "token", "missing");
	fails(ws("{\"type\":\"consent\",\"version\":0}", NULL), "accept", "missing");
	fails(ws("{\"type\":\"consent\",\"accept\":false}", NULL), "version", "missing");
	fails(ws("{\"type\":\"name\"}", NULL), "display_name", "missing");
	fails(ws("{\"type\":\"chat\"}", NULL), "text", "missing");
	fails(ws("{\"type\":\"private\",\"participant\":3}", NULL), "text", "missing");
	fails(ws("{\"type\":\"watch\"}", NULL), "consult", "missing");
	fails(ws("{\"type\":\"admit\"}", NULL), "participant", "missing");
	fails(ws("{\"type\":\"refuse\"}", NULL), "participant", "missing");
	fails(ws("{\"type\":\"media.publish\"}", NULL), "sdp", "missing");
	fails(ws("{\"type\":\"media.echo\"}", NULL), "sdp", "missing");
	fails(ws("{\"type\":\"media.answer\",\"sdp\":\"v=0\"}", NULL), "version", "missing");
	fails(ws("{\"type\":\"media.answer\",\"version\":1}", NULL), "sdp", "missing");
	fails(ws("{\"type\":\"media.candidate\",\"conn\":\"pub\"}", NULL), "candidate", "missing");
	fails(ws("{\"type\":\"media.candidate\",\"candidate\":\"\"}", NULL), "conn", "missing");
	fails(ws("{\"type\":\"media.close\"}", NULL), "conn", "missing");
}

static void test_ws_wrong_types(void **state)
{
	fails(ws("{\"type\":\"chat\",\"text\":5}", NULL), "text", "expected a string, got an integer");
	fails(ws("{\"type\":\"chat\",\"text\":null}", NULL), "text", "got null");
	fails(ws("{\"type\":\"chat\",\"text\":[[[\"deep\"]]]}", NULL), "text", "got a list");
	fails(ws("{\"type\":\"consent\",\"accept\":\"yes\",\"version\":0}", NULL), "accept", "expected a boolean");
	fails(ws("{\"type\":\"consent\",\"accept\":true,\"version\":1.5}", NULL), "version", "got a fraction");
	fails(ws("{\"type\":\"watch\",\"consult\":\"12\"}", NULL), "consult", "expected an integer, got a string");
	fails(ws("{\"type\":\"admit\",\"participant\":true}", NULL), "participant", "got a boolean");
	fails(ws("{\"type\":\"join\",\"token\":{}}", NULL), "token", "got an object");
	fails(ws("{\"type\":\"ping\",\"ref\":7}", NULL), "ref", "expected a string");
}

/* {"type": type, field: "<n times x>"} */
static int ws_long(const char *type, const char *field, size_t n)
{
	char *buf = malloc(n + 128);
	int k = snprintf(buf, n + 128, "{\"type\":\"%s\",\"%s\":\"", type, field);
	memset(buf + k, 'x', n);
	snprintf(buf + k + n, 128, "\",\"version\":1,\"conn\":\"pub\"}");
	int rc = ws(buf, NULL);
	free(buf);
	return rc;
}

static void test_ws_string_limits(void **state)
{
	assert_int_equal(ws_long("chat", "text", 2000), KM_SCHEMA_OK);
	fails(ws_long("chat", "text", 2001), "text", "string longer than 2000 bytes");
	fails(ws_long("chat", "text", 0), "text", "empty string");
	fails(ws_long("private", "text", 2001), "text", "longer than 2000 bytes");
	assert_int_equal(ws_long("name", "display_name", 64), KM_SCHEMA_OK);
	fails(ws_long("name", "display_name", 65), "display_name", "longer than 64 bytes");
	fails(ws_long("name", "display_name", 0), "display_name", "empty string");
	fails(ws("{\"type\":\"name\",\"display_name\":\"An\\tna\"}", NULL), "display_name", "control character at byte 2");
	fails(ws("{\"type\":\"name\",\"display_name\":\"An\\u007fna\"}", NULL), "display_name", "control character at byte 2");
	fails(ws("{\"type\":\"name\",\"display_name\":\"   \"}", NULL), "display_name", "only blanks");
	assert_int_equal(ws("{\"type\":\"name\",\"display_name\":\" Anna \"}", NULL), KM_SCHEMA_OK);
	/* Limits count bytes, as the handlers do: 32 two-byte letters fit, 33 not. */
	char buf[256];
	int k = snprintf(buf, sizeof buf, "{\"type\":\"name\",\"display_name\":\"");
	for (int i = 0; i < 33; i++)
		k += snprintf(buf + k, sizeof buf - (size_t)k, "\xc3\xa9");
	snprintf(buf + k, sizeof buf - (size_t)k, "\"}");
	fails(ws(buf, NULL), "display_name", "longer than 64 bytes");
	assert_int_equal(ws_long("ping", "ref", 64), KM_SCHEMA_OK);
	fails(ws_long("ping", "ref", 65), "ref", "longer than 64 bytes");
	assert_int_equal(ws_long("media.candidate", "candidate", 512), KM_SCHEMA_OK);
	fails(ws_long("media.candidate", "candidate", 513), "candidate", "longer than 512 bytes");
	assert_int_equal(ws_long("media.publish", "sdp", 65536), KM_SCHEMA_OK);
	fails(ws_long("media.publish", "sdp", 65537), "sdp", "longer than 65536 bytes");
	/* Any token up to a path's length reaches the handler (link_invalid). */
	assert_int_equal(ws_long("join", "token", 0), KM_SCHEMA_OK);
	assert_int_equal(ws_long("join", "token", 512), KM_SCHEMA_OK);
	fails(ws_long("join", "token", 513), "token", "longer than 512 bytes");
}

static void test_ws_ranges_and_values(void **state)
{
	fails(ws("{\"type\":\"watch\",\"consult\":0}", NULL), "consult", "0 is out of range 1..");
	fails(ws("{\"type\":\"admit\",\"participant\":-1}", NULL), "participant", "out of range");
	fails(ws("{\"type\":\"private\",\"participant\":0,\"text\":\"x\"}", NULL), "participant", "out of range");
	fails(ws("{\"type\":\"media.answer\",\"version\":0,\"sdp\":\"\"}", NULL), "version", "out of range");
	fails(ws("{\"type\":\"consent\",\"accept\":true,\"version\":-1}", NULL), "version", "out of range");
	assert_int_equal(ws("{\"type\":\"watch\",\"consult\":9223372036854775807}", NULL), KM_SCHEMA_OK);
	assert_int_equal(ws("{\"type\":\"watch\",\"consult\":9223372036854775808}", NULL), KM_SCHEMA_EJSON);
	fails(ws("{\"type\":\"media.close\",\"conn\":\"nope\"}", NULL), "conn", "must be one of pub, sub, echo");
	fails(ws("{\"type\":\"media.candidate\",\"conn\":\"Pub\",\"candidate\":\"\"}", NULL), "conn", "must be one of");
	fails(ws("{\"type\":\"media.answer\",\"conn\":\"subx\",\"version\":1,\"sdp\":\"\"}", NULL), "conn", "one of");
}

/* {"type":"ping", name: <depth nested lists>} */
static int ws_nested(const char *name, int depth)
{
	size_t cap = (size_t)depth * 2 + 256;
	char *buf = malloc(cap);
	int k = snprintf(buf, cap, "{\"type\":\"ping\",\"%s\":", name);
	for (int i = 0; i < depth; i++)
		buf[k++] = '[';
	for (int i = 0; i < depth; i++)
		buf[k++] = ']';
	snprintf(buf + k, cap - (size_t)k, "}");
	int rc = ws(buf, NULL);
	free(buf);
	return rc;
}

static void test_ws_deep_nesting(void **state)
{
	assert_int_equal(ws_nested("x", KM_SCHEMA_MAX_DEPTH - 1), KM_SCHEMA_OK);
	fails(ws_nested("x", KM_SCHEMA_MAX_DEPTH), "x", "nested deeper than 16 levels");
	fails(ws_nested("client", 1000), "client", "nested deeper");
	assert_int_equal(ws_nested("x", 5000), KM_SCHEMA_EJSON); /* past jansson's own limit */
	/* A long multi-byte name is cut on a character boundary: the reason
	 * stays valid UTF-8 (it goes back on the wire as JSON). */
	char name[200] = "";
	for (int i = 0; i < 40; i++)
		strcat(name, "\xc3\xa9");
	assert_int_equal(ws_nested(name, 40), KM_SCHEMA_EFIELD);
	json_t *s = json_string(err);
	assert_non_null(s);
	json_decref(s);
}

static void test_ws_ref(void **state)
{
	json_t *m = json_pack("{s:s,s:s}", "type", "ping", "ref", "r1");
	assert_string_equal(km_schema_ws_ref(m), "r1");
	json_object_set_new(m, "ref", json_integer(3));
	assert_null(km_schema_ws_ref(m));
	json_decref(m);
	/* The ref is still readable when a field fails, for the error's ref. */
	json_t *out = NULL;
	const char *msg = "{\"type\":\"chat\",\"text\":\"\",\"ref\":\"r9\"}";
	assert_int_equal(km_schema_ws_parse(msg, strlen(msg), &out, NULL, NULL, 0), KM_SCHEMA_EFIELD);
	assert_string_equal(km_schema_ws_ref(out), "r9");
	json_decref(out);
	/* A message need not be NUL-terminated: len bounds it. */
	msg = "{\"type\":\"ping\"}garbage";
	assert_int_equal(km_schema_ws_parse(msg, 15, &out, NULL, err, sizeof err), KM_SCHEMA_OK);
	json_decref(out);
}

/* ---- API bodies ---- */

static const struct {
	int method;
	const char *pattern, *body;
} api_valid[] = {
	{ KM_POST, "/api/v1/auth/signin", "{\"email\":\"a@b.example\",\"password\":\"secret\"}" },
	{ KM_POST, "/api/v1/auth/totp", "{\"code\":\"123456\"}" },
	{ KM_POST, "/api/v1/auth/totp", "{\"recovery_code\":\"abcd-efgh-ijkl\"}" },
	{ KM_POST, "/api/v1/auth/enrol/start", "{}" },
	{ KM_POST, "/api/v1/auth/enrol/start", "{\"password\":\"secret\"}" },
	{ KM_POST, "/api/v1/auth/enrol/confirm", "{\"code\":\"123456\"}" },
	{ KM_POST, "/api/v1/auth/setup/check", "{\"token\":\"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ\"}" },
	{ KM_POST, "/api/v1/auth/setup", "{\"token\":\"abc\",\"password\":\"a long new password\"}" },
	{ KM_POST, "/api/v1/auth/signout", "{}" },
	{ KM_POST, "/api/v1/auth/password", "{\"current\":\"old one\",\"new\":\"new one\"}" },
	{ KM_PUT, "/api/v1/admin/consent", "{\"nl\":\"Ik stem in.\",\"en\":\"I agree.\\nReally.\"}" },
	{ KM_POST, "/api/v1/admin/users", "{\"email\":\"c@d.example\",\"role\":\"clinician\"}" },
	{ KM_PATCH, "/api/v1/admin/users/{id}", "{\"role\":\"admin\"}" },
	{ KM_POST, "/api/v1/admin/users/{id}/disable", "{}" },
	{ KM_POST, "/api/v1/admin/users/{id}/enable", "{}" },
	{ KM_POST, "/api/v1/admin/users/{id}/reset-2fa", "{}" },
	{ KM_POST, "/api/v1/admin/users/{id}/setup-link", "{}" },
	{ KM_PUT, "/api/v1/admin/policy", "{\"idle_timeout_min\":20,\"require_2fa\":false,\"colleagues_wait\":1}" },
	{ KM_POST, "/api/v1/participant/cookie", "{\"resume\":\"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ\"}" },
	{ KM_POST, "/api/v1/consults",
	  "{\"label\":\"controle\",\"starts_at\":1795000000,\"expires_at\":1795003600,"
	  "\"invitees\":[{\"email\":\"p@mail.example\",\"kind\":\"patient\"},{\"email\":\"c@zkh.example\",\"kind\":\"colleague\"}]}" },
	{ KM_POST, "/api/v1/consults/{id}/end", "{}" },
	{ KM_POST, "/api/v1/invitations/{id}/resend", "{}" },
	{ KM_POST, "/api/v1/invitations/{id}/revoke", "{}" },
	{ KM_POST, "/api/v1/test/probe", "{\"key\":\"k1\",\"value\":\"v1\"}" },
	{ KM_POST, "/api/v1/test/clock", "{\"advance\":3600}" },
	{ KM_POST, "/api/v1/test/retention", "{}" },
	{ KM_POST, "/api/v1/test/expire", "{}" },
};

static void test_api_every_route_has_a_valid_example(void **state)
{
	int method;
	const char *p;
	for (size_t i = 0; (p = km_schema_api_route(i, &method)); i++) {
		int seen = 0;
		for (size_t j = 0; j < sizeof api_valid / sizeof api_valid[0]; j++) {
			if (api_valid[j].method != method || strcmp(api_valid[j].pattern, p) != 0)
				continue;
			if (api(method, p, api_valid[j].body) != KM_SCHEMA_OK)
				fail_msg("%s: %s", api_valid[j].body, err);
			seen = 1;
		}
		if (!seen)
			fail_msg("no valid example for %s", p);
	}
	/* Unknown fields are the handlers' to refuse (unknown_field). */
	assert_int_equal(api(KM_POST, "/api/v1/auth/signin", "{\"email\":\"a\",\"password\":\"b\",\"x\":1}"), KM_SCHEMA_OK);
}

/* Every route that takes a body has a schema. */
static void test_api_routes_have_schemas(void **state)
{
	const km_route_t *tables[] = { km_api_auth_routes, km_api_admin_routes, km_api_consult_routes };
	int n = 0;
	for (size_t t = 0; t < 3; t++) {
		for (const km_route_t *r = tables[t]; r->pattern; r++) {
			if (r->method != KM_POST && r->method != KM_PUT && r->method != KM_PATCH)
				continue;
			n++;
			if (api(r->method, r->pattern, "{}") == KM_SCHEMA_ENOSCHEMA)
				fail_msg("no body schema for %s", r->pattern);
		}
	}
	assert_true(n >= 20);
	assert_int_equal(api(KM_GET, "/api/v1/consults", "{}"), KM_SCHEMA_ENOSCHEMA);
	assert_int_equal(api(KM_POST, "/api/v1/no/such", "{}"), KM_SCHEMA_ENOSCHEMA);
}

static void test_api_failures(void **state)
{
	const char *signin = "/api/v1/auth/signin", *consults = "/api/v1/consults", *policy = "/api/v1/admin/policy";
	assert_int_equal(api(KM_POST, signin, ""), KM_SCHEMA_EJSON);
	assert_int_equal(api(KM_POST, signin, "{\"email\":\"a\",\"email\":\"b\"}"), KM_SCHEMA_EJSON);
	assert_int_equal(api(KM_POST, signin, "[1,2]"), KM_SCHEMA_EOBJECT);
	assert_string_equal(km_schema_api_code(KM_SCHEMA_EJSON), "invalid_json");
	assert_string_equal(km_schema_api_code(KM_SCHEMA_EOBJECT), "invalid_body");
	assert_string_equal(km_schema_api_code(KM_SCHEMA_EFIELD), "invalid_field");
	assert_null(km_schema_api_code(KM_SCHEMA_ENOSCHEMA));

	fails(api(KM_POST, signin, "{\"email\":\"a@b.example\"}"), "password", "missing");
	fails(api(KM_POST, signin, "{\"email\":7,\"password\":\"x\"}"), "email", "expected a string");
	fails(api(KM_POST, signin, "{\"email\":\"\",\"password\":\"x\"}"), "email", "empty string");
	fails(api(KM_POST, "/api/v1/auth/totp", "{\"code\":123456}"), "code", "expected a string");
	fails(api(KM_POST, "/api/v1/auth/enrol/confirm", "{\"code\":\"12345678901234567\"}"), "code", "longer than 16");
	fails(api(KM_POST, "/api/v1/admin/users", "{\"email\":\"a@b.example\",\"role\":\"root\"}"), "role",
	      "must be one of admin, clinician");
	fails(api(KM_PATCH, "/api/v1/admin/users/{id}", "{}"), "role", "missing");
	fails(api(KM_POST, "/api/v1/participant/cookie", "{\"resume\":null}"), "resume", "got null");
	fails(api(KM_POST, "/api/v1/test/clock", "{\"advance\":-1}"), "advance", "out of range");

	fails(api(KM_POST, consults, "{\"starts_at\":1,\"expires_at\":2}"), "invitees", "missing");
	fails(api(KM_POST, consults, "{\"starts_at\":\"now\",\"expires_at\":2,\"invitees\":[]}"), "starts_at", "integer");
	fails(api(KM_POST, consults, "{\"label\":5,\"starts_at\":1,\"expires_at\":2,\"invitees\":[]}"), "label", "string");
	fails(api(KM_POST, consults, "{\"starts_at\":1,\"expires_at\":2,\"invitees\":[]}"), "invitees",
	      "list of 1 to 8 items expected, got 0");
	fails(api(KM_POST, consults, "{\"starts_at\":1,\"expires_at\":2,\"invitees\":[1,2,3,4,5,6,7,8,9]}"), "invitees",
	      "got 9");
	fails(api(KM_POST, consults, "{\"starts_at\":1,\"expires_at\":2,\"invitees\":[\"p@mail.example\"]}"),
	      "invitees[0]", "expected an object, got a string");
	fails(api(KM_POST, consults, "{\"starts_at\":1,\"expires_at\":2,\"invitees\":[{\"email\":\"p@m.example\","
				     "\"kind\":\"patient\"},{\"email\":\"q@m.example\",\"kind\":\"doctor\"}]}"),
	      "invitees[1].kind", "must be one of patient, colleague");
	fails(api(KM_POST, consults, "{\"starts_at\":1,\"expires_at\":2,\"invitees\":[{\"kind\":\"patient\"}]}"),
	      "invitees[0].email", "missing");
	char label[200];
	snprintf(label, sizeof label, "{\"label\":\"%081d\",\"starts_at\":1,\"expires_at\":2,\"invitees\":[]}", 0);
	fails(api(KM_POST, consults, label), "label", "longer than 80 bytes");

	/* The policy: known settings in their ranges (a boolean as 0/1). */
	fails(api(KM_PUT, policy, "{\"idle_timeout_min\":0}"), "idle_timeout_min", "0 is out of range 1..240");
	fails(api(KM_PUT, policy, "{\"min_password_len\":true}"), "min_password_len", "out of range 8..128");
	fails(api(KM_PUT, policy, "{\"require_2fa\":2}"), "require_2fa", "out of range 0..1");
	fails(api(KM_PUT, policy, "{\"require_2fa\":\"yes\"}"), "require_2fa", "expected a number, got a string");
	fails(api(KM_PUT, policy, "{\"idle_timeout_min\":20,\"no_such\":1}"), "no_such", "not a known setting");
	assert_int_equal(api(KM_PUT, policy, "{}"), KM_SCHEMA_OK);

	/* Deep nesting in a body. */
	fails(api(KM_POST, "/api/v1/auth/signout", "{\"x\":[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]}"), "x",
	      "nested deeper");
}

static void test_err_field(void **state)
{
	char name[8];
	assert_int_equal(km_schema_err_field("no field here", name, sizeof name), -1);
	assert_int_equal(km_schema_err_field("field \"unterminated", name, sizeof name), -1);
	assert_int_equal(km_schema_err_field("field \"much_too_long\": x", name, sizeof name), -1);
	assert_int_equal(km_schema_err_field("field \"text\": x", name, sizeof name), 0);
	assert_string_equal(name, "text");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ws_every_type_has_a_valid_example),
		cmocka_unit_test(test_ws_protocol_errors),
		cmocka_unit_test(test_ws_missing_required),
		cmocka_unit_test(test_ws_wrong_types),
		cmocka_unit_test(test_ws_string_limits),
		cmocka_unit_test(test_ws_ranges_and_values),
		cmocka_unit_test(test_ws_deep_nesting),
		cmocka_unit_test(test_ws_ref),
		cmocka_unit_test(test_api_every_route_has_a_valid_example),
		cmocka_unit_test(test_api_routes_have_schemas),
		cmocka_unit_test(test_api_failures),
		cmocka_unit_test(test_err_field),
	};
	return cmocka_run_group_tests_name("schema", tests, NULL, NULL);
}
