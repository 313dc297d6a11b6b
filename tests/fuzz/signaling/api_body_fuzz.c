/* api_body_fuzz.c — libFuzzer harness for the JSON API body schemas
 * (signaling/schema.h). The first byte picks a route of the schema table
 * (modulo their number; one more value picks a route without a schema), the
 * rest is the body. Any body gives one of the schema's results, never a
 * crash; every refusal has an API error code (but "no schema") and a reason
 * that is valid UTF-8, a field failure names its field (as api.c puts it in "field"); an
 * accepted body, written back and parsed again, is accepted again as the
 * same object. */
#include "signaling/http.h"
#include "signaling/schema.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t n_routes(void)
{
	size_t n = 0;
	while (km_schema_api_route(n, NULL))
		n++;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static size_t n;
	if (!n)
		n = n_routes();
	if (size < 1)
		return 0;
	int method = KM_GET;
	size_t pick = data[0] % (n + 1);
	const char *pattern = pick < n ? km_schema_api_route(pick, &method) : "/api/v1/consults";
	json_t *b = NULL;
	char err[256] = "", name[96];
	int rc = km_schema_api_body(method, pattern, (const char *)data + 1, size - 1, &b, err, sizeof err);
	CHECK(rc <= KM_SCHEMA_OK && rc >= KM_SCHEMA_ENOSCHEMA && rc != KM_SCHEMA_ETYPE && rc != KM_SCHEMA_EUNKNOWN);
	CHECK(rc != KM_SCHEMA_ENOSCHEMA || pick == n);
	CHECK((km_schema_api_code(rc) == NULL) == (rc == KM_SCHEMA_OK || rc == KM_SCHEMA_ENOSCHEMA));
	if (rc != KM_SCHEMA_OK) { /* every reason is valid UTF-8 */
		CHECK(err[0] != 0);
		json_t *s = json_string(err);
		CHECK(s != NULL);
		json_decref(s);
	}
	if (rc == KM_SCHEMA_EJSON || rc == KM_SCHEMA_EOBJECT) {
		CHECK(b == NULL);
		return 0;
	}
	CHECK(json_is_object(b));
	if (rc == KM_SCHEMA_EFIELD) {
		CHECK(err[0] != 0);
		CHECK(km_schema_err_field(err, name, sizeof name) == 0); /* "" is a valid member name */
		json_t *e = json_pack("{s:{s:s,s:s,s:s}}", "error", "code", "invalid_field", "message", err, "field", name);
		CHECK(e != NULL);
		json_decref(e);
	} else if (rc == KM_SCHEMA_OK) {
		char *s = json_dumps(b, JSON_COMPACT);
		CHECK(s != NULL);
		json_t *b2 = NULL;
		CHECK(km_schema_api_body(method, pattern, s, strlen(s), &b2, err, sizeof err) == KM_SCHEMA_OK);
		CHECK(json_equal(b, b2));
		json_decref(b2);
		free(s);
	}
	json_decref(b);
	return 0;
}
