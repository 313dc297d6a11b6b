/* totp_test.c — RFC 6238 codes, skew and replay, base32, otpauth URI, QR SVG. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <qrencode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "rooms/totp.h"

static const uint8_t rfc_secret[] = "12345678901234567890"; /* RFC 6238 App. B, SHA-1 */

static void code_str(int code, char out[7])
{
	assert_true(code >= 0 && code <= 999999);
	for (int i = 5; i >= 0; i--, code /= 10)
		out[i] = (char)('0' + code % 10);
	out[6] = '\0';
}

static void test_rfc6238_vectors(void **state)
{
	static const struct { int64_t t; int code; } v[] = {
		{59, 287082},         {1111111109, 81804}, {1111111111, 50471},
		{1234567890, 5924},   {2000000000, 279037}, {20000000000LL, 353130},
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		int c = km_totp_code(rfc_secret, 20, (uint64_t)(v[i].t / 30));
		assert_int_equal(c, v[i].code);
		/* and verify accepts its zero-padded text at that time */
		char txt[7];
		int64_t step = -1;
		code_str(v[i].code, txt);
		assert_int_equal(km_totp_verify(rfc_secret, 20, txt, (time_t)v[i].t, -1, &step), 0);
		assert_int_equal(step, v[i].t / 30);
	}
	/* RFC 4226 App. D, counters 0 and 9 */
	assert_int_equal(km_totp_code(rfc_secret, 20, 0), 755224);
	assert_int_equal(km_totp_code(rfc_secret, 20, 9), 520489);
	assert_int_equal(km_totp_code(rfc_secret, 0, 0), KM_EINVAL);
	assert_int_equal(km_totp_code(NULL, 20, 0), KM_EINVAL);
}

static void test_skew(void **state)
{
	const time_t now = 1111111111; /* step 37037037 */
	const int64_t step = now / 30;
	char txt[7];
	int64_t m;
	for (int d = -2; d <= 2; d++) {
		code_str(km_totp_code(rfc_secret, 20, (uint64_t)(step + d)), txt);
		int rc = km_totp_verify(rfc_secret, 20, txt, now, -1, &m);
		if (d >= -1 && d <= 1) {
			assert_int_equal(rc, 0);
			assert_int_equal(m, step + d);
		} else {
			assert_int_equal(rc, KM_EPERM);
			assert_int_equal(m, -1);
		}
	}
	/* near the epoch, step -1 does not exist */
	code_str(km_totp_code(rfc_secret, 20, 0), txt);
	assert_int_equal(km_totp_verify(rfc_secret, 20, txt, 5, -1, &m), 0);
	assert_int_equal(m, 0);
	assert_int_equal(km_totp_verify(rfc_secret, 20, txt, -1, -1, &m), KM_EINVAL);
}

static void test_replay_refused(void **state)
{
	const time_t now = 1234567890;
	const int64_t step = now / 30;
	char cur[7], prev[7], next[7];
	int64_t m = -1, m2 = -1;
	code_str(km_totp_code(rfc_secret, 20, (uint64_t)step), cur);
	code_str(km_totp_code(rfc_secret, 20, (uint64_t)(step - 1)), prev);
	code_str(km_totp_code(rfc_secret, 20, (uint64_t)(step + 1)), next);

	assert_int_equal(km_totp_verify(rfc_secret, 20, cur, now, -1, &m), 0);
	assert_int_equal(m, step);
	/* the same code again, even a few seconds later: refused */
	assert_int_equal(km_totp_verify(rfc_secret, 20, cur, now, m, &m2), KM_EPERM);
	assert_int_equal(km_totp_verify(rfc_secret, 20, cur, now + 20, m, &m2), KM_EPERM);
	/* an earlier code after a later one: refused */
	assert_int_equal(km_totp_verify(rfc_secret, 20, prev, now, m, &m2), KM_EPERM);
	/* the next step's code is still fine, once */
	assert_int_equal(km_totp_verify(rfc_secret, 20, next, now, m, &m2), 0);
	assert_int_equal(m2, step + 1);
	assert_int_equal(km_totp_verify(rfc_secret, 20, next, now + 30, m2, &m), KM_EPERM);
}

static void test_non_digit_refused(void **state)
{
	const time_t now = 59; /* code 287082 */
	int64_t m;
	static const char *bad[] = {
		"28708a", "28708", "2870820", " 287082", "287082 ", "-28708", "+28708", "",
		"287 082", "\xef\xbc\x92""87082", "28708\n", "0x1234",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(km_totp_verify(rfc_secret, 20, bad[i], now, -1, &m), KM_EPERM);
	assert_int_equal(km_totp_verify(rfc_secret, 20, NULL, now, -1, &m), KM_EPERM);
	assert_int_equal(km_totp_verify(rfc_secret, 20, "287082", now, -1, &m), 0);
	assert_int_equal(km_totp_verify(rfc_secret, 20, "287083", now, -1, &m), KM_EPERM);
}

static void test_generate_secret(void **state)
{
	uint8_t a[20], b[20];
	assert_int_equal(km_totp_generate_secret(a), 0);
	assert_int_equal(km_totp_generate_secret(b), 0);
	assert_memory_not_equal(a, b, 20);
}

static void test_base32_rfc4648(void **state)
{
	static const struct { const char *in, *out, *padded; } v[] = {
		{"", "", ""},
		{"f", "MY", "MY======"},
		{"fo", "MZXQ", "MZXQ===="},
		{"foo", "MZXW6", "MZXW6==="},
		{"foob", "MZXW6YQ", "MZXW6YQ="},
		{"fooba", "MZXW6YTB", "MZXW6YTB"},
		{"foobar", "MZXW6YTBOI", "MZXW6YTBOI======"},
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		char enc[32];
		uint8_t dec[32];
		size_t n = 99;
		size_t len = strlen(v[i].in);
		assert_int_equal(km_base32_encode((const uint8_t *)v[i].in, len, enc, sizeof enc), 0);
		assert_string_equal(enc, v[i].out);
		assert_int_equal(km_base32_decode(v[i].out, dec, sizeof dec, &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(dec, v[i].in, len);
		assert_int_equal(km_base32_decode(v[i].padded, dec, sizeof dec, &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(dec, v[i].in, len);
	}
}

static void test_base32_tolerant_and_strict(void **state)
{
	uint8_t dec[32];
	size_t n;
	assert_int_equal(km_base32_decode("mzxw 6ytb oi", dec, sizeof dec, &n), 0);
	assert_int_equal(n, 6);
	assert_memory_equal(dec, "foobar", 6);
	assert_int_equal(km_base32_decode("MzXw6YtBoI======", dec, sizeof dec, &n), 0);
	assert_memory_equal(dec, "foobar", 6);
	static const char *bad[] = {
		"MZXW6YTB!", "MZ1W", "MZ0W", "MZ8W", "M", "MZX", "MZXW6Y", /* 1, 3, 6 chars */
		"MZ=XW6", "MY==MY", "MZ", /* non-zero trailing bits */ "MZXW6YTB\n", "MZ-XW",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		n = 99;
		assert_int_equal(km_base32_decode(bad[i], dec, sizeof dec, &n), KM_EINVAL);
		assert_int_equal(n, 0);
	}
	assert_int_equal(km_base32_decode("MZXW6YTBOI", dec, 5, &n), KM_ETOOBIG);
	char enc[11];
	assert_int_equal(km_base32_encode((const uint8_t *)"foobar", 6, enc, 10), KM_ETOOBIG);
	assert_int_equal(km_base32_encode((const uint8_t *)"foobar", 6, enc, 11), 0);
}

static void test_base32_round_trip_random(void **state)
{
	for (int i = 0; i < 50; i++) {
		uint8_t s[20], d[20];
		char b32[40];
		size_t n;
		assert_int_equal(km_totp_generate_secret(s), 0);
		size_t len = (size_t)(i % 20) + 1;
		assert_int_equal(km_base32_encode(s, len, b32, sizeof b32), 0);
		assert_int_equal(km_base32_decode(b32, d, sizeof d, &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(s, d, len);
	}
}

static void test_uri(void **state)
{
	char uri[512];
	assert_int_equal(km_totp_uri("Kamer Zorg", "jan@example.nl", "JBSWY3DPEHPK3PXP", uri,
				     sizeof uri), 0);
	assert_string_equal(uri, "otpauth://totp/Kamer%20Zorg:jan%40example.nl?secret=JBSWY3DPEHPK3PXP"
				 "&issuer=Kamer%20Zorg&algorithm=SHA1&digits=6&period=30");
	assert_int_equal(km_totp_uri("A:B&c=d", "\xc3\xa9?#/", "MZXW6", uri, sizeof uri), 0);
	assert_string_equal(uri, "otpauth://totp/A%3AB%26c%3Dd:%C3%A9%3F%23%2F?secret=MZXW6"
				 "&issuer=A%3AB%26c%3Dd&algorithm=SHA1&digits=6&period=30");
	size_t full = strlen(uri);
	assert_int_equal(km_totp_uri("A:B&c=d", "\xc3\xa9?#/", "MZXW6", uri, full), KM_ETOOBIG);
	assert_string_equal(uri, "");
	assert_int_equal(km_totp_uri("A:B&c=d", "\xc3\xa9?#/", "MZXW6", uri, full + 1), 0);
	assert_int_equal(km_totp_uri("", "x", "MZXW6", uri, sizeof uri), KM_EINVAL);
	assert_int_equal(km_totp_uri("i", "", "MZXW6", uri, sizeof uri), KM_EINVAL);
	assert_int_equal(km_totp_uri("i", "x", "mzxw6", uri, sizeof uri), KM_EINVAL);
	assert_int_equal(km_totp_uri("i", "x", "MZXW6=", uri, sizeof uri), KM_EINVAL);
	assert_int_equal(km_totp_uri("i", "x", "MZ&x=1", uri, sizeof uri), KM_EINVAL);
}

/* Rebuilds the module grid from the SVG path and compares it with
 * libqrencode's own output for the same URI. */
static void check_svg_matches_qr(const char *svg, const char *uri)
{
	QRcode *qr = QRcode_encodeString(uri, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	assert_non_null(qr);
	int w = qr->width, size = w + 8;
	char vb[64];
	snprintf(vb, sizeof vb, "viewBox=\"0 0 %d %d\"", size, size);
	assert_non_null(strstr(svg, vb));
	unsigned char *grid = calloc((size_t)size * (size_t)size, 1);
	assert_non_null(grid);
	const char *d = strstr(svg, " d=\"");
	assert_non_null(d);
	d += 4;
	while (*d == 'M') {
		int x, y, h, h2, used = 0;
		assert_int_equal(sscanf(d, "M%d %dh%dv1h-%dz%n", &x, &y, &h, &h2, &used), 4);
		assert_int_equal(h, h2);
		assert_true(x >= 4 && y >= 4 && x + h <= size - 4 && y < size - 4 && h > 0);
		for (int i = 0; i < h; i++)
			grid[(size_t)y * (size_t)size + (size_t)(x + i)]++;
		d += used;
	}
	assert_int_equal(*d, '"');
	for (int y = 0; y < size; y++)
		for (int x = 0; x < size; x++) {
			int inside = x >= 4 && y >= 4 && x < size - 4 && y < size - 4;
			int dark = inside && (qr->data[(y - 4) * w + (x - 4)] & 1);
			assert_int_equal(grid[(size_t)y * (size_t)size + (size_t)x], dark);
		}
	free(grid);
	QRcode_free(qr);
}

static void test_qr_svg(void **state)
{
	char uri[512];
	char *a = NULL, *b = NULL, *c = NULL;
	assert_int_equal(km_totp_uri("Kamer", "jan@example.nl", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
				     uri, sizeof uri), 0);
	assert_int_equal(km_totp_qr_svg(uri, &a), 0);
	assert_int_equal(km_totp_qr_svg(uri, &b), 0);
	assert_non_null(a);
	assert_non_null(strstr(a, "<svg"));
	assert_non_null(strstr(a, "<path"));
	assert_null(strstr(strstr(a, "<path") + 1, "<path")); /* exactly one path */
	assert_null(strstr(a, "<script"));
	assert_null(strstr(a, "href"));
	assert_null(strstr(a, "url("));
	assert_string_equal(a, b); /* deterministic */
	check_svg_matches_qr(a, uri);
	uri[strlen(uri) - 1] = '1'; /* period=31: another URI, another picture */
	assert_int_equal(km_totp_qr_svg(uri, &c), 0);
	assert_string_not_equal(a, c);
	check_svg_matches_qr(c, uri);
	free(a);
	free(b);
	free(c);
}

static void test_qr_svg_limits(void **state)
{
	char *svg = (char *)1;
	assert_int_equal(km_totp_qr_svg("", &svg), KM_EINVAL);
	assert_null(svg);
	assert_int_equal(km_totp_qr_svg(NULL, &svg), KM_EINVAL);
	char *big = malloc(KM_TOTP_URI_MAX + 2);
	assert_non_null(big);
	memset(big, 'a', KM_TOTP_URI_MAX + 1);
	big[KM_TOTP_URI_MAX + 1] = '\0';
	assert_int_equal(km_totp_qr_svg(big, &svg), KM_ETOOBIG);
	/* the longest accepted URI still fits in a QR code at level M */
	big[KM_TOTP_URI_MAX] = '\0';
	assert_int_equal(km_totp_qr_svg(big, &svg), 0);
	check_svg_matches_qr(svg, big);
	free(svg);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc6238_vectors),
		cmocka_unit_test(test_skew),
		cmocka_unit_test(test_replay_refused),
		cmocka_unit_test(test_non_digit_refused),
		cmocka_unit_test(test_generate_secret),
		cmocka_unit_test(test_base32_rfc4648),
		cmocka_unit_test(test_base32_tolerant_and_strict),
		cmocka_unit_test(test_base32_round_trip_random),
		cmocka_unit_test(test_uri),
		cmocka_unit_test(test_qr_svg),
		cmocka_unit_test(test_qr_svg_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
