/* codes.c — random tokens, recovery codes and their SHA-256 (see codes.h).
 * Not password hashing. No state; safe from any thread. */
#include "rooms/codes.h"

#include "core/err.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

static const char recovery_alphabet[] = "23456789abcdefghjkmnpqrstuvwxyz";
#define RECOVERY_ALPHABET_LEN (sizeof recovery_alphabet - 1) /* 31 */

int km_codes_token(char *out, size_t len)
{
	unsigned char raw[32];
	unsigned char b64[48];

	if (out == NULL || len < KM_CODES_TOKEN_LEN + 1) {
		if (out != NULL && len > 0)
			out[0] = '\0';
		return KM_ETOOBIG;
	}
	out[0] = '\0';
	if (RAND_bytes(raw, sizeof raw) != 1)
		return KM_ECRYPTO;
	int n = EVP_EncodeBlock(b64, raw, sizeof raw); /* 44 chars, one '=' */
	OPENSSL_cleanse(raw, sizeof raw);
	if (n != 44)
		return KM_ECRYPTO;
	for (int i = 0; i < KM_CODES_TOKEN_LEN; i++) {
		unsigned char c = b64[i];
		out[i] = c == '+' ? '-' : c == '/' ? '_' : (char)c;
	}
	out[KM_CODES_TOKEN_LEN] = '\0';
	OPENSSL_cleanse(b64, sizeof b64);
	return 0;
}

int km_codes_sha256_hex(const char *s, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[32];
	unsigned int mdlen = 0;

	out[0] = '\0';
	if (s == NULL)
		return KM_EINVAL;
	if (EVP_Digest(s, strlen(s), md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		return KM_ECRYPTO;
	for (unsigned i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
	return 0;
}

/* One code: 12 alphabet characters by rejection sampling (bytes >= 248 are
 * dropped so that 248 = 8 * 31 maps evenly), dashes after 4 and 8. */
static int recovery_one(char code[KM_CODES_RECOVERY_SIZE])
{
	unsigned char buf[32];
	size_t used = sizeof buf, k = 0;
	int got = 0;

	while (got < KM_CODES_RECOVERY_CHARS) {
		if (used == sizeof buf) {
			if (RAND_bytes(buf, sizeof buf) != 1)
				return KM_ECRYPTO;
			used = 0;
		}
		unsigned char b = buf[used++];
		if (b >= 8 * RECOVERY_ALPHABET_LEN)
			continue;
		if (got == 4 || got == 8)
			code[k++] = '-';
		code[k++] = recovery_alphabet[b % RECOVERY_ALPHABET_LEN];
		got++;
	}
	code[k] = '\0';
	OPENSSL_cleanse(buf, sizeof buf);
	return 0;
}

int km_codes_recovery(char out[KM_CODES_RECOVERY_COUNT][KM_CODES_RECOVERY_SIZE])
{
	for (int i = 0; i < KM_CODES_RECOVERY_COUNT; i++)
		out[i][0] = '\0';
	for (int i = 0; i < KM_CODES_RECOVERY_COUNT; i++) {
		int dup;
		do {
			if (recovery_one(out[i]) != 0)
				goto fail;
			dup = 0;
			for (int j = 0; j < i; j++)
				dup |= strcmp(out[i], out[j]) == 0;
		} while (dup); /* 2^-59 per pair; kept so "distinct" is a promise */
	}
	return 0;
fail:
	for (int i = 0; i < KM_CODES_RECOVERY_COUNT; i++)
		OPENSSL_cleanse(out[i], KM_CODES_RECOVERY_SIZE), out[i][0] = '\0';
	return KM_ECRYPTO;
}

int km_codes_recovery_normalize(const char *in, char *out, size_t len)
{
	size_t k = 0;

	if (out == NULL || len == 0)
		return KM_ETOOBIG;
	out[0] = '\0';
	if (in == NULL)
		return KM_EINVAL;
	for (const char *p = in; *p; p++) {
		char c = *p;
		if (c == ' ' || c == '\t' || c == '-')
			continue;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
			out[0] = '\0';
			return KM_EINVAL;
		}
		if (k + 1 >= len) {
			out[0] = '\0';
			return KM_ETOOBIG;
		}
		out[k++] = c;
	}
	out[k] = '\0';
	return 0;
}
