/* password_fuzz.c — libFuzzer harness for the stored password hash parser
 * (km_password_verify reads "$scrypt$ln=..,r=..,p=..$salt$hash" strings
 * from the database) and for the hash/verify round trip.
 *
 * Input: byte 0 chooses the mode, the rest (up to its first NUL) is
 *   even: a stored string, verified against a fixed password: the result
 *         must be 0, KM_EPERM or KM_EINVAL, never a crash; needs_rehash is
 *         only set on a match.
 *   odd:  a password, hashed with the cheapest parameters (ln=1, r=1, p=1):
 *         it must verify (needs_rehash = 1, the parameters are weak), and
 *         the password with one more byte must not.
 * Strings whose parameters would be accepted but cost more than 1 MiB of
 * scrypt work are skipped: the parser is what is fuzzed here, not scrypt's
 * speed (the parser's own limits are checked by the unit tests). */
#include "core/err.h"
#include "rooms/password.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXIN 2048

/* Reads "<key>=<digits>" at *p like the real parser but more leniently
 * (leading zeros allowed), saturating at 1e9. */
static int loose_num(const char **p, const char *key, uint64_t *v)
{
	size_t k = strlen(key);
	if (strncmp(*p, key, k) != 0 || (*p)[k] != '=')
		return -1;
	const char *s = *p + k + 1;
	if (*s < '0' || *s > '9')
		return -1;
	for (*v = 0; *s >= '0' && *s <= '9'; s++)
		*v = *v >= 1000000000 ? *v : *v * 10 + (uint64_t)(*s - '0');
	*p = s;
	return 0;
}

/* 0 when the real parser could accept s with parameters that cost more
 * than 1 MiB of scrypt memory*p; else 1. */
static int cheap(const char *s)
{
	const char *p = s;
	uint64_t ln, r, pp;
	if (strncmp(p, "$scrypt$", 8) != 0)
		return 1;
	p += 8;
	if (loose_num(&p, "ln", &ln) || *p++ != ',' || loose_num(&p, "r", &r) || *p++ != ',' ||
	    loose_num(&p, "p", &pp))
		return 1;
	if (ln > 20 || r > 32 || pp > 16)
		return 1; /* refused by the parser before any hashing */
	return (128ull * r << ln) * pp <= (1ull << 20);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char s[MAXIN + 2], stored[KM_PASSWORD_HASH_MAX];
	if (size < 1 || size - 1 > MAXIN)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	int rehash = -1;

	if ((data[0] & 1) == 0) {
		if (!cheap(s))
			return 0;
		int rc = km_password_verify("correct horse", s, &rehash);
		if (rc != 0 && rc != KM_EPERM && rc != KM_EINVAL)
			abort();
		if (rc != 0 && rehash != 0)
			abort();
		return 0;
	}

	size_t n = strlen(s);
	int rc = km_password_hash_params(s, 1, 1, 1, stored, sizeof stored);
	if (n > KM_PASSWORD_INPUT_MAX)
		return rc == KM_ETOOBIG ? 0 : (abort(), 0);
	if (rc != 0)
		abort();
	if (km_password_verify(s, stored, &rehash) != 0 || rehash != 1)
		abort();
	s[n] = 'x';
	s[n + 1] = '\0';
	if (km_password_verify(s, stored, &rehash) != KM_EPERM || rehash != 0)
		abort();
	return 0;
}
