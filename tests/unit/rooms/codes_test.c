/* codes_test.c — random tokens, SHA-256 hex, recovery codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/err.h"
#include "rooms/codes.h"

static int is_b64url(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

static void test_token(void **state)
{
	char a[64], b[64];
	assert_int_equal(km_codes_token(a, sizeof a), 0);
	assert_int_equal(km_codes_token(b, sizeof b), 0);
	assert_int_equal(strlen(a), KM_CODES_TOKEN_LEN);
	assert_int_equal(strlen(b), 43);
	for (int i = 0; i < 43; i++) {
		assert_true(is_b64url(a[i]));
		assert_true(is_b64url(b[i]));
	}
	assert_string_not_equal(a, b);
	/* the last char carries 4 bits: 256 = 42 * 6 + 4, so its low 2 bits are 0 */
	const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	assert_int_equal((strchr(alpha, a[42]) - alpha) & 3, 0);
}

static void test_token_small_buffer(void **state)
{
	char a[43];
	memset(a, 'x', sizeof a);
	assert_int_equal(km_codes_token(a, sizeof a), KM_ETOOBIG);
	assert_string_equal(a, "");
	assert_int_equal(km_codes_token(NULL, 0), KM_ETOOBIG);
}

static void test_tokens_differ_many(void **state)
{
	char t[64][44];
	for (int i = 0; i < 64; i++) {
		assert_int_equal(km_codes_token(t[i], sizeof t[i]), 0);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(t[i], t[j]);
	}
}

static void test_sha256_hex(void **state)
{
	char h[65];
	assert_int_equal(km_codes_sha256_hex("abc", h), 0);
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(km_codes_sha256_hex("", h), 0);
	assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_int_equal(km_codes_sha256_hex(NULL, h), KM_EINVAL);
}

static void test_recovery_codes(void **state)
{
	char codes[KM_CODES_RECOVERY_COUNT][KM_CODES_RECOVERY_SIZE];
	const char *alphabet = "23456789abcdefghjkmnpqrstuvwxyz";
	assert_int_equal(km_codes_recovery(codes), 0);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(strlen(codes[i]), 14);
		for (int k = 0; k < 14; k++) {
			if (k == 4 || k == 9)
				assert_int_equal(codes[i][k], '-');
			else
				assert_non_null(strchr(alphabet, codes[i][k]));
		}
		for (int j = 0; j < i; j++)
			assert_string_not_equal(codes[i], codes[j]);
	}
}

/* Over many codes every alphabet character shows up and no look-alike does. */
static void test_recovery_alphabet_coverage(void **state)
{
	char codes[KM_CODES_RECOVERY_COUNT][KM_CODES_RECOVERY_SIZE];
	int seen[256] = {0};
	for (int round = 0; round < 200; round++) {
		assert_int_equal(km_codes_recovery(codes), 0);
		for (int i = 0; i < 10; i++)
			for (const char *p = codes[i]; *p; p++)
				seen[(unsigned char)*p]++;
	}
	for (const char *p = "23456789abcdefghjkmnpqrstuvwxyz"; *p; p++)
		assert_true(seen[(unsigned char)*p] > 0);
	for (const char *p = "01ilo"; *p; p++)
		assert_int_equal(seen[(unsigned char)*p], 0);
}

static void test_recovery_normalize(void **state)
{
	char codes[KM_CODES_RECOVERY_COUNT][KM_CODES_RECOVERY_SIZE];
	char a[32], b[32], ha[65], hb[65];

	assert_int_equal(km_codes_recovery_normalize("K7M2 9XQ4-HP3W", a, sizeof a), 0);
	assert_string_equal(a, "k7m29xq4hp3w");
	assert_int_equal(km_codes_recovery_normalize(" k7m2-9xq4-hp3w\t", b, sizeof b), 0);
	assert_string_equal(a, b);

	/* an issued code and its typed variant hash the same */
	assert_int_equal(km_codes_recovery(codes), 0);
	char typed[32];
	size_t k = 0;
	for (const char *p = codes[3]; *p; p++) {
		if (*p == '-') {
			typed[k++] = ' ';
			continue;
		}
		typed[k++] = (*p >= 'a' && *p <= 'z') ? (char)(*p - 32) : *p;
	}
	typed[k] = '\0';
	assert_int_equal(km_codes_recovery_normalize(codes[3], a, sizeof a), 0);
	assert_int_equal(km_codes_recovery_normalize(typed, b, sizeof b), 0);
	assert_int_equal(km_codes_sha256_hex(a, ha), 0);
	assert_int_equal(km_codes_sha256_hex(b, hb), 0);
	assert_string_equal(ha, hb);

	assert_int_equal(km_codes_recovery_normalize("k7m2_9xq4", a, sizeof a), KM_EINVAL);
	assert_string_equal(a, "");
	assert_int_equal(km_codes_recovery_normalize("k7m2\xc3\xa9", a, sizeof a), KM_EINVAL);
	assert_int_equal(km_codes_recovery_normalize("k7m2-9xq4-hp3w", a, 12), KM_ETOOBIG);
	assert_int_equal(km_codes_recovery_normalize("k7m2-9xq4-hp3w", a, 13), 0);
	assert_int_equal(km_codes_recovery_normalize(NULL, a, sizeof a), KM_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token),
		cmocka_unit_test(test_token_small_buffer),
		cmocka_unit_test(test_tokens_differ_many),
		cmocka_unit_test(test_sha256_hex),
		cmocka_unit_test(test_recovery_codes),
		cmocka_unit_test(test_recovery_alphabet_coverage),
		cmocka_unit_test(test_recovery_normalize),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
