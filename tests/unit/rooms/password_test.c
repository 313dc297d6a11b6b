/* password_test.c — scrypt hashes, the stored format, and the policy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <crack.h>

#include "core/err.h"
#include "rooms/password.h"

/* RFC 7914 §12: scrypt("pleaseletmein", "SodiumChloride", N=16384, r=8, p=1,
 * dkLen=64) = 7023bdcb...45575887, written in kamer's stored format. */
static const char rfc7914_stored[] =
	"$scrypt$ln=14,r=8,p=1$U29kaXVtQ2hsb3JpZGU=$"
	"cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofLVQylVYT8Pz2LUlwUkKpr55h6F3A1lHkDfzwF7RVdYhw==";

static void test_round_trip(void **state)
{
	char h1[KM_PASSWORD_HASH_MAX], h2[KM_PASSWORD_HASH_MAX];
	int rehash = -1;
	assert_int_equal(km_password_hash("correct horse battery staple", h1, sizeof h1), 0);
	assert_int_equal(strncmp(h1, "$scrypt$ln=15,r=8,p=1$", 22), 0);
	assert_int_equal(strlen(h1), 22 + 24 + 1 + 44);
	assert_int_equal(km_password_verify("correct horse battery staple", h1, &rehash), 0);
	assert_int_equal(rehash, 0);
	/* a fresh salt each time */
	assert_int_equal(km_password_hash("correct horse battery staple", h2, sizeof h2), 0);
	assert_string_not_equal(h1, h2);
	assert_int_equal(km_password_verify("correct horse battery staple", h2, NULL), 0);
}

static void test_wrong_password(void **state)
{
	char h[KM_PASSWORD_HASH_MAX];
	int rehash = -1;
	assert_int_equal(km_password_hash("Vlinder-Tulp-73", h, sizeof h), 0);
	assert_int_equal(km_password_verify("Vlinder-Tulp-74", h, &rehash), KM_EPERM);
	assert_int_equal(rehash, 0);
	assert_int_equal(km_password_verify("vlinder-Tulp-73", h, NULL), KM_EPERM);
	assert_int_equal(km_password_verify("", h, NULL), KM_EPERM);
	assert_int_equal(km_password_verify(NULL, h, NULL), KM_EPERM);
}

static void test_rfc7914_vector(void **state)
{
	int rehash = -1;
	assert_int_equal(km_password_verify("pleaseletmein", rfc7914_stored, &rehash), 0);
	assert_int_equal(rehash, 1); /* ln 14 and a 14-byte salt: below the defaults */
	assert_int_equal(km_password_verify("pleaseletmeim", rfc7914_stored, &rehash), KM_EPERM);
}

static void test_empty_and_long_passwords(void **state)
{
	char h[KM_PASSWORD_HASH_MAX];
	assert_int_equal(km_password_hash_params("", 4, 8, 1, h, sizeof h), 0);
	assert_int_equal(km_password_verify("", h, NULL), 0);
	assert_int_equal(km_password_verify("x", h, NULL), KM_EPERM);

	char *big = malloc(KM_PASSWORD_INPUT_MAX + 2);
	assert_non_null(big);
	memset(big, 'a', KM_PASSWORD_INPUT_MAX + 1);
	big[KM_PASSWORD_INPUT_MAX + 1] = '\0';
	assert_int_equal(km_password_hash(big, h, sizeof h), KM_ETOOBIG);
	big[KM_PASSWORD_INPUT_MAX] = '\0';
	assert_int_equal(km_password_hash_params(big, 4, 8, 1, h, sizeof h), 0);
	assert_int_equal(km_password_verify(big, h, NULL), 0);
	big[KM_PASSWORD_INPUT_MAX] = 'a';
	assert_int_equal(km_password_verify(big, h, NULL), KM_EPERM);
	free(big);
}

static void test_needs_rehash(void **state)
{
	char h[KM_PASSWORD_HASH_MAX];
	int rehash = -1;
	assert_int_equal(km_password_hash_params("Vlinder-Tulp-73", 10, 8, 1, h, sizeof h), 0);
	assert_int_equal(strncmp(h, "$scrypt$ln=10,r=8,p=1$", 22), 0);
	assert_int_equal(km_password_verify("Vlinder-Tulp-73", h, &rehash), 0);
	assert_int_equal(rehash, 1);
	assert_int_equal(km_password_hash_params("Vlinder-Tulp-73", 15, 4, 1, h, sizeof h), 0);
	assert_int_equal(km_password_verify("Vlinder-Tulp-73", h, &rehash), 0);
	assert_int_equal(rehash, 1);
	/* stronger than the defaults: no rehash */
	assert_int_equal(km_password_hash_params("Vlinder-Tulp-73", 15, 8, 2, h, sizeof h), 0);
	assert_int_equal(km_password_verify("Vlinder-Tulp-73", h, &rehash), 0);
	assert_int_equal(rehash, 0);
	/* a wrong password never asks for a rehash */
	assert_int_equal(km_password_hash_params("Vlinder-Tulp-73", 10, 8, 1, h, sizeof h), 0);
	assert_int_equal(km_password_verify("nope", h, &rehash), KM_EPERM);
	assert_int_equal(rehash, 0);
	/* parameters outside the limits are refused when hashing */
	assert_int_equal(km_password_hash_params("x", 0, 8, 1, h, sizeof h), KM_EINVAL);
	assert_int_equal(km_password_hash_params("x", 21, 8, 1, h, sizeof h), KM_EINVAL);
	assert_int_equal(km_password_hash_params("x", 15, 0, 1, h, sizeof h), KM_EINVAL);
	assert_int_equal(km_password_hash_params("x", 15, 8, 0, h, sizeof h), KM_EINVAL);
	assert_int_equal(km_password_hash_params("x", 20, 8, 1, h, sizeof h), KM_EINVAL); /* 1 GiB */
	assert_int_equal(km_password_hash_params("x", 4, 8, 1, h, 40), KM_ETOOBIG);
}

static void test_malformed(void **state)
{
	static const char *bad[] = {
		"",
		"$",
		"$scrypt$",
		"$scrypt",
		"scrypt$ln=15,r=8,p=1$U29kaXVtQ2hsb3JpZGU=$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofI=",
		"$bcrypt$ln=15,r=8,p=1$U29kaXVtQ2hsb3JpZGU=$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofI=",
		"$2b$12$abcdefghijklmnopqrstuuAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"$SCRYPT$ln=15,r=8,p=1$U29kaXVtQ2hsb3JpZGU=$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofI=",
		/* bad base64 */
		"$scrypt$ln=15,r=8,p=1$U29kaXVtQ2hsb3J!ZGU=$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofI=",
		"$scrypt$ln=15,r=8,p=1$U29kaXVtQ2hsb3JpZGU=$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofI",
		"$scrypt$ln=15,r=8,p=1$U29kaXVtQ2hsb3JpZGU=$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRd=ofI",
		"$scrypt$ln=15,r=8,p=1$U29kaXVtQ2hsb3JpZGU=$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdo===",
		"$scrypt$ln=15,r=8,p=1$U29kaXVt Q2hsb3JpZGU$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofI=",
		"$scrypt$ln=15,r=8,p=1$U29kaXVtQ2hsb3JpZGU=$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofI=\n",
		"$scrypt$ln=15,r=8,p=1$U29kaXVtQ2hsb3JpZGU=$cCO9yzr9c0hGHAbN-f046_2o+7qQT44+qbVD9lRdofI=",
		/* huge or odd parameters */
		"$scrypt$ln=99,r=8,p=1$U29kaXVtQ2hsb3JpZGU=$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofI=",
		"$scrypt$ln=21,r=8,p=1$U29kaXVtQ2hsb3JpZGU=$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofI=",
		"$scrypt$ln=4294967311,r=8,p=1$U29kaXVtQ2hsb3JpZGU=$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofI=",
		"$scrypt$ln=18,r=32,p=1$U29kaXVtQ2hsb3JpZGU=$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofI=",
		"$scrypt$ln=17,r=8,p=16$U29kaXVtQ2hsb3JpZGU=$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofI=",
		"$scrypt$ln=0,r=8,p=1$U29kaXVtQ2hsb3JpZGU=$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofI=",
		"$scrypt$ln=15,r=0,p=1$U29kaXVtQ2hsb3JpZGU=$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofI=",
		"$scrypt$ln=15,r=8,p=0$U29kaXVtQ2hsb3JpZGU=$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofI=",
		"$scrypt$ln=15,r=8,p=99$U29kaXVtQ2hsb3JpZGU=$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofI=",
		"$scrypt$ln=015,r=8,p=1$U29kaXVtQ2hsb3JpZGU=$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofI=",
		"$scrypt$ln=-1,r=8,p=1$U29kaXVtQ2hsb3JpZGU=$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofI=",
		"$scrypt$ln=+15,r=8,p=1$U29kaXVtQ2hsb3JpZGU=$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofI=",
		"$scrypt$ln= 15,r=8,p=1$U29kaXVtQ2hsb3JpZGU=$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofI=",
		/* missing or extra fields */
		"$scrypt$ln=15,r=8$U29kaXVtQ2hsb3JpZGU=$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofI=",
		"$scrypt$r=8,p=1$U29kaXVtQ2hsb3JpZGU=$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofI=",
		"$scrypt$p=1,r=8,ln=15$U29kaXVtQ2hsb3JpZGU=$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofI=",
		"$scrypt$ln=15,r=8,p=1,x=2$U29kaXVtQ2hsb3JpZGU=$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofI=",
		"$scrypt$ln=,r=8,p=1$U29kaXVtQ2hsb3JpZGU=$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofI=",
		"$scrypt$ln=15,r=8,p=1$U29kaXVtQ2hsb3JpZGU=",
		"$scrypt$ln=15,r=8,p=1$U29kaXVtQ2hsb3JpZGU=$",
		"$scrypt$ln=15,r=8,p=1$$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofI=",
		"$scrypt$ln=15,r=8,p=1$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofI=",
		"$scrypt$ln=15,r=8,p=1$U29kaXVtQ2hsb3JpZGU=$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofI=$",
		"$scrypt$ln=15,r=8,p=1$U29kaXVtQ2hsb3JpZGU=$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofI=$x",
		/* salt or hash too short or too long */
		"$scrypt$ln=15,r=8,p=1$c2FsdA==$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofI=",
		"$scrypt$ln=15,r=8,p=1$U29kaXVtQ2hsb3JpZGU=$cCO9yzr9c0hGHAbN",
		"$scrypt$ln=15,r=8,p=1$U29kaXVtQ2hsb3JpZGU=$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofLVQylVYT8Pz2LUlwUkKpr55h6F3A1lHkDfzwF7RVdYhw==AAAA",
	};
	/* the string the cases below are made from is well-formed */
	assert_int_equal(km_password_verify("pleaseletmein", "$scrypt$ln=4,r=8,p=1$U29kaXVtQ2hsb3JpZGU=$"
			 "cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofI=", NULL), KM_EPERM);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rehash = -1;
		int rc = km_password_verify("pleaseletmein", bad[i], &rehash);
		if (rc != KM_EINVAL)
			fail_msg("case %zu: %s gave %d", i, bad[i], rc);
		assert_int_equal(rehash, 0);
	}
	assert_int_equal(km_password_verify("x", NULL, NULL), KM_EINVAL);
	/* a very long string is refused without reading it all as base64 */
	char *big = malloc(100000);
	assert_non_null(big);
	memset(big, 'A', 99999);
	big[99999] = '\0';
	memcpy(big, "$scrypt$ln=4,r=8,p=1$", 21);
	assert_int_equal(km_password_verify("x", big, NULL), KM_EINVAL);
	free(big);
}

/* Every prefix and every one-byte change of a valid string gives a defined
 * answer and never crashes (ASan watches). */
static void test_mutations(void **state)
{
	char h[KM_PASSWORD_HASH_MAX], m[KM_PASSWORD_HASH_MAX];
	static const char subst[] = {'\0', '$', '=', ',', 'A', '9', '/', '\xff', ' '};
	assert_int_equal(km_password_hash_params("pw", 1, 1, 1, h, sizeof h), 0);
	size_t n = strlen(h);
	for (size_t cut = 0; cut < n; cut++) {
		memcpy(m, h, cut);
		m[cut] = '\0';
		int rc = km_password_verify("pw", m, NULL);
		if (rc != KM_EINVAL && rc != KM_EPERM)
			fail_msg("%s gave %d", m, rc);
	}
	for (size_t i = 0; i < n; i++)
		for (size_t s = 0; s < sizeof subst; s++) {
			memcpy(m, h, n + 1);
			if (m[i] == subst[s])
				continue;
			m[i] = subst[s];
			int rc = km_password_verify("pw", m, NULL);
			if (rc != KM_EINVAL && rc != KM_EPERM)
				fail_msg("%s gave %d", m, rc);
		}
	assert_int_equal(km_password_verify("pw", h, NULL), 0);
}

static void test_timing(void **state)
{
	char h[KM_PASSWORD_HASH_MAX];
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < 5; i++)
		assert_int_equal(km_password_hash("Vlinder-Tulp-73", h, sizeof h), 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double ms = ((double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6) / 5;
	print_message("one scrypt hash (ln=15,r=8,p=1): %.1f ms\n", ms); /* informative only */
}

/* ---- policy ---------------------------------------------------------- */

static const char *policy(const char *pw, const char *email, int min_len, int *rc)
{
	static char reason[32];
	*rc = km_password_policy_check(pw, email, min_len, reason, sizeof reason);
	return reason;
}

static void expect(const char *pw, const char *email, int min_len, const char *code)
{
	int rc;
	const char *r = policy(pw, email, min_len, &rc);
	if (code == NULL) {
		if (rc != 0)
			fail_msg("'%s' refused: %s", pw, r);
		assert_string_equal(r, "");
	} else {
		if (rc != KM_EINVAL || strcmp(r, code) != 0)
			fail_msg("'%s': want %s, got %d %s", pw, code, rc, r);
	}
}

static void test_policy_length(void **state)
{
	expect("Vl1nder!", NULL, 12, KM_PW_TOO_SHORT);
	expect("Vl1nd3r!", NULL, 0, NULL);   /* 8 chars at the floor */
	expect("Vl1nd3!", NULL, 0, KM_PW_TOO_SHORT); /* floor of 8 even when min_len is 0 */
	/* code points, not bytes: 9 code points in 18 bytes is short of 10 */
	expect("\xc3\xa9\xc3\xa0\xc3\xbc\xc3\xb6\xc3\xa7\xc3\xab\xc3\xaf\xc3\xa2\xc3\xb1", NULL, 10,
	       KM_PW_TOO_SHORT);
	/* 256 bytes pass the length check, 257 do not */
	char buf[300];
	const char *chars = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789-!";
	uint32_t x = 12345;
	for (size_t i = 0; i < 256; i++) {
		x = x * 1103515245u + 12345u; /* any non-repeating filler */
		buf[i] = chars[(x >> 16) % strlen(chars)];
	}
	buf[256] = '\0';
	expect(buf, NULL, 12, NULL);
	buf[256] = 'x';
	buf[257] = '\0';
	expect(buf, NULL, 12, KM_PW_TOO_LONG);
}

static void test_policy_control_and_utf8(void **state)
{
	expect("Gracht Molen\x01 Fiets", NULL, 12, KM_PW_CONTROL_CHARS);
	expect("Gracht Molen\t Fiets", NULL, 12, KM_PW_CONTROL_CHARS);
	expect("Gracht Molen\x7f Fiets", NULL, 12, KM_PW_CONTROL_CHARS);
	expect("Gracht Molen\xc2\x85 Fiets", NULL, 12, KM_PW_CONTROL_CHARS); /* U+0085 */
	expect("Gracht Molen\xff Fiets", NULL, 12, KM_PW_INVALID_UTF8);
	expect("Gracht Molen\xc0\xaf Fiets", NULL, 12, KM_PW_INVALID_UTF8); /* overlong */
	expect("Gracht Molen\xed\xa0\x80 Fiets", NULL, 12, KM_PW_INVALID_UTF8); /* surrogate */
	expect("Gracht Molen \xc3", NULL, 12, KM_PW_INVALID_UTF8); /* truncated */
	expect("Gracht Molen \xe2\x82\xac Fiets \xf0\x9f\x9a\xb2", NULL, 12, NULL); /* € and a bike */
}

static void test_policy_email(void **state)
{
	expect("Zonnig-JANSEN-73!", "jansen@kliniek.nl", 12, KM_PW_CONTAINS_EMAIL);
	expect("Zonnig-jAnSeN-73!", "Jansen@Kliniek.nl", 12, KM_PW_CONTAINS_EMAIL);
	expect("Zonnig-Jansen-73!", "jan@kliniek.nl", 12, KM_PW_CONTAINS_EMAIL);
	/* a local part under 3 characters is not checked */
	expect("Zonnig-Jo-Gracht-73!", "jo@kliniek.nl", 12, NULL);
	/* the domain is not the local part */
	expect("Zonnig-kliniek-73!", "pietersen@kliniek.nl", 12, NULL);
	expect("Zonnig-Gracht-73!", NULL, 12, NULL);
}

static void test_policy_dictionary(void **state)
{
	char reason[32], debug[128];
	int rc = km_password_policy_check_debug("password", NULL, 8, reason, sizeof reason, debug,
						sizeof debug);
	assert_int_equal(rc, KM_EINVAL);
	assert_string_equal(reason, KM_PW_DICTIONARY);
	assert_true(strlen(debug) > 0); /* libcrack's message, for the owner only */
	expect("qwertyuiop", NULL, 8, KM_PW_DICTIONARY);
	expect("abcdefghij", NULL, 8, KM_PW_DICTIONARY);
	expect("aaaaaaaaaaaa", NULL, 8, KM_PW_DICTIONARY);
	/* "Summer2024!"-style: whatever libcrack itself decides */
	static const char *maybe[] = {"Summer2024!", "Welkom2024!", "Password1!", "Amsterdam123"};
	for (size_t i = 0; i < sizeof maybe / sizeof maybe[0]; i++) {
		const char *m = FascistCheckUser(maybe[i], GetDefaultCracklibDict(), "", "");
		expect(maybe[i], NULL, 8, m ? KM_PW_DICTIONARY : NULL);
	}
	/* a long random passphrase passes */
	expect("violet tractor pumpkin elbow gravel", "jansen@kliniek.nl", 12, NULL);
	expect("kx9-Vq2m!Lp7-Rt4z", "jansen@kliniek.nl", 12, NULL);
}

static void test_policy_null(void **state)
{
	char reason[32];
	assert_int_equal(km_password_policy_check(NULL, NULL, 8, reason, sizeof reason), KM_EINVAL);
	assert_int_equal(km_password_policy_check("violet tractor pumpkin", NULL, 8, NULL, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_wrong_password),
		cmocka_unit_test(test_rfc7914_vector),
		cmocka_unit_test(test_empty_and_long_passwords),
		cmocka_unit_test(test_needs_rehash),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_timing),
		cmocka_unit_test(test_policy_length),
		cmocka_unit_test(test_policy_control_and_utf8),
		cmocka_unit_test(test_policy_email),
		cmocka_unit_test(test_policy_dictionary),
		cmocka_unit_test(test_policy_null),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
