/* device_test.c — the known-device mark: issued marks are valid for their
 * account only, until they expire; forged, altered and malformed ones are not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "signaling/device.h"

#include <stdio.h>
#include <string.h>

static const uint8_t KEY[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
static const uint8_t OTHER_KEY[32] = { 9, 8, 7 };
#define NOW 1800000000

static void test_roundtrip(void **state)
{
	char v[KM_DEVICE_MAX];
	assert_int_equal(km_device_issue(KEY, 42, NOW, v), 0);
	assert_true(km_device_valid(KEY, v, 42, NOW));
	assert_true(km_device_valid(KEY, v, 42, NOW + KM_DEVICE_LIFETIME_S - 1));
	assert_false(km_device_valid(KEY, v, 42, NOW + KM_DEVICE_LIFETIME_S)); /* expired */
	assert_false(km_device_valid(KEY, v, 43, NOW));                       /* another account */
	assert_false(km_device_valid(OTHER_KEY, v, 42, NOW));                 /* another server */
	/* Issued "in the future" (clock moved back): not beyond the lifetime. */
	assert_false(km_device_valid(KEY, v, 42, NOW - 10));
	assert_int_equal(km_device_issue(KEY, 0, NOW, v), -1);
}

static void test_tampered(void **state)
{
	char v[KM_DEVICE_MAX], w[KM_DEVICE_MAX + 8];
	assert_int_equal(km_device_issue(KEY, 42, NOW, v), 0);
	/* Every single-character change is refused. */
	for (size_t i = 0; i < strlen(v); i++) {
		snprintf(w, sizeof w, "%s", v);
		w[i] = w[i] == '1' ? '2' : '1';
		assert_false(km_device_valid(KEY, w, 42, NOW));
	}
	/* A later expiry with the old MAC. */
	long long exp = NOW + KM_DEVICE_LIFETIME_S;
	const char *mac = strrchr(v, '.') + 1;
	snprintf(w, sizeof w, "1.42.%lld.%s", exp + 1, mac);
	assert_false(km_device_valid(KEY, w, 42, NOW));
	const char *bad[] = { "", "1.", "1.42.", "1.42.1.", "2.42.1900000000.00000000000000000000000000000000",
			      "1.-42.1900000000.00000000000000000000000000000000",
			      "1.42.1900000000.000000000000000000000000000000000", "1.42.99999999999999999999.00",
			      "1.42.1900000000.0000000000000000000000000000000" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_false(km_device_valid(KEY, bad[i], 42, NOW));
	assert_false(km_device_valid(KEY, NULL, 42, NOW));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_tampered),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
