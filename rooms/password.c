/* password.c — scrypt password hashes in a self-describing string, and the
 * password policy with libcrack2 (see password.h for the format and limits).
 * Not sessions, not TOTP. Hashing is stateless and thread-safe; the libcrack2
 * call is serialised by a mutex. */
#include "rooms/password.h"

#include "core/err.h"
#include "core/log.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <stddef.h> /* crack.h uses size_t without including it */
#include <crack.h>

#define SALT_LEN 16
#define HASH_LEN 32
#define SALT_MIN 8
#define SALT_MAX 64
#define HASH_MIN 32 /* shorter would let a truncated stored hash verify */
#define HASH_MAX 64
#define LN_MAX 20
#define R_MAX 32
#define P_MAX 16
#define MEM_MAX (256ull << 20)   /* 128 * r * N */
#define WORK_MAX (1ull << 30)    /* p * 128 * r * N */
#define STORED_MAX 512

typedef struct {
	unsigned ln, r, p;
	uint8_t salt[SALT_MAX];
	size_t saltlen;
	uint8_t hash[HASH_MAX];
	size_t hashlen;
} parsed_t;

static int params_ok(unsigned ln, unsigned r, unsigned p)
{
	if (ln < 1 || ln > LN_MAX || r < 1 || r > R_MAX || p < 1 || p > P_MAX)
		return 0;
	uint64_t mem = 128ull * r << ln;
	return mem <= MEM_MAX && mem * p <= WORK_MAX;
}

/* scrypt(password, salt) into out. */
static int derive(const char *password, size_t pwlen, const uint8_t *salt, size_t saltlen,
		  unsigned ln, unsigned r, unsigned p, uint8_t *out, size_t outlen)
{
	uint64_t n = 1ull << ln;
	uint32_t r32 = r, p32 = p;
	/* OpenSSL needs 128*r*(N+2) + 128*r*p bytes; leave some room */
	uint64_t maxmem = 128ull * r * (n + 2) + 128ull * r * p + (1u << 20);
	char empty[1] = "";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD,
						  pwlen ? (void *)password : empty, pwlen),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, saltlen),
		OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
		OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r32),
		OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p32),
		OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
		OSSL_PARAM_construct_end(),
	};
	int rc = KM_ECRYPTO;
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
	EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	if (ctx != NULL && EVP_KDF_derive(ctx, out, outlen, params) == 1)
		rc = 0;
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return rc;
}

/* Strict standard base64 with padding of exactly n chars (no whitespace). */
static int b64_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *outlen)
{
	uint8_t tmp[(HASH_MAX > SALT_MAX ? HASH_MAX : SALT_MAX) + 3];
	size_t pad = 0;

	if (n == 0 || n % 4 != 0 || n / 4 * 3 > sizeof tmp)
		return KM_EINVAL;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			 c == '+' || c == '/';
		if (c == '=' && i >= n - 2) {
			pad++;
			continue;
		}
		if (!ok || pad > 0)
			return KM_EINVAL;
	}
	int got = EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)n);
	if (got < 0 || (size_t)got != n / 4 * 3 || (size_t)got - pad > cap)
		return KM_EINVAL;
	*outlen = (size_t)got - pad;
	/* canonical only: unused bits of the last character must be zero, so
	 * that one hash has one spelling */
	char again[sizeof tmp / 3 * 4 + 5];
	EVP_EncodeBlock((unsigned char *)again, tmp, (int)*outlen);
	if (memcmp(again, s, n) != 0)
		return KM_EINVAL;
	memcpy(out, tmp, *outlen);
	return 0;
}

/* Parses "<key>=<decimal>" at *p, advancing it; no sign, no leading zero. */
static int parse_num(const char **p, const char *key, unsigned *v)
{
	size_t klen = strlen(key);
	const char *s = *p;
	unsigned x = 0;
	int digits = 0;

	if (strncmp(s, key, klen) != 0 || s[klen] != '=')
		return KM_EINVAL;
	s += klen + 1;
	if (s[0] == '0')
		return KM_EINVAL;
	while (*s >= '0' && *s <= '9') {
		if (++digits > 6)
			return KM_EINVAL;
		x = x * 10 + (unsigned)(*s++ - '0');
	}
	if (digits == 0)
		return KM_EINVAL;
	*v = x;
	*p = s;
	return 0;
}

/* Parses a stored string into out; KM_EINVAL if malformed in any way. */
static int parse_stored(const char *stored, parsed_t *out)
{
	static const char prefix[] = "$scrypt$";
	const char *p = stored;

	if (strnlen(stored, STORED_MAX + 1) > STORED_MAX ||
	    strncmp(p, prefix, sizeof prefix - 1) != 0)
		return KM_EINVAL;
	p += sizeof prefix - 1;
	if (parse_num(&p, "ln", &out->ln) != 0 || *p++ != ',' ||
	    parse_num(&p, "r", &out->r) != 0 || *p++ != ',' ||
	    parse_num(&p, "p", &out->p) != 0 || *p++ != '$')
		return KM_EINVAL;
	if (!params_ok(out->ln, out->r, out->p))
		return KM_EINVAL;
	const char *dollar = strchr(p, '$');
	if (dollar == NULL || strchr(dollar + 1, '$') != NULL)
		return KM_EINVAL;
	if (b64_decode(p, (size_t)(dollar - p), out->salt, sizeof out->salt, &out->saltlen) != 0 ||
	    b64_decode(dollar + 1, strlen(dollar + 1), out->hash, sizeof out->hash, &out->hashlen) != 0)
		return KM_EINVAL;
	if (out->saltlen < SALT_MIN || out->hashlen < HASH_MIN)
		return KM_EINVAL;
	return 0;
}

int km_password_hash_params(const char *password, unsigned ln, unsigned r, unsigned p,
			    char *out, size_t outlen)
{
	uint8_t salt[SALT_LEN], hash[HASH_LEN];
	char salt64[4 * ((SALT_LEN + 2) / 3) + 1], hash64[4 * ((HASH_LEN + 2) / 3) + 1];
	int rc;

	if (out != NULL && outlen > 0)
		out[0] = '\0';
	if (password == NULL || out == NULL)
		return KM_EINVAL;
	if (!params_ok(ln, r, p))
		return KM_EINVAL;
	size_t pwlen = strlen(password);
	if (pwlen > KM_PASSWORD_INPUT_MAX)
		return KM_ETOOBIG;
	if (RAND_bytes(salt, sizeof salt) != 1)
		return KM_ECRYPTO;
	rc = derive(password, pwlen, salt, sizeof salt, ln, r, p, hash, sizeof hash);
	if (rc != 0)
		goto out;
	EVP_EncodeBlock((unsigned char *)salt64, salt, sizeof salt);
	EVP_EncodeBlock((unsigned char *)hash64, hash, sizeof hash);
	int n = snprintf(out, outlen, "$scrypt$ln=%u,r=%u,p=%u$%s$%s", ln, r, p, salt64, hash64);
	if (n < 0 || (size_t)n >= outlen) {
		if (outlen > 0)
			out[0] = '\0';
		rc = KM_ETOOBIG;
	}
out:
	OPENSSL_cleanse(hash, sizeof hash);
	OPENSSL_cleanse(hash64, sizeof hash64);
	return rc;
}

int km_password_hash(const char *password, char *out, size_t outlen)
{
	return km_password_hash_params(password, KM_PASSWORD_DEFAULT_LN, KM_PASSWORD_DEFAULT_R,
				       KM_PASSWORD_DEFAULT_P, out, outlen);
}

int km_password_verify(const char *password, const char *stored, int *needs_rehash)
{
	parsed_t ps;
	uint8_t got[HASH_MAX];
	int rc;

	if (needs_rehash != NULL)
		*needs_rehash = 0;
	if (stored == NULL || parse_stored(stored, &ps) != 0)
		return KM_EINVAL;
	if (password == NULL)
		return KM_EPERM;
	size_t pwlen = strlen(password);
	if (pwlen > KM_PASSWORD_INPUT_MAX)
		return KM_EPERM; /* never hashed: cannot match */
	rc = derive(password, pwlen, ps.salt, ps.saltlen, ps.ln, ps.r, ps.p, got, ps.hashlen);
	if (rc != 0)
		goto out;
	rc = CRYPTO_memcmp(got, ps.hash, ps.hashlen) == 0 ? 0 : KM_EPERM;
	if (rc == 0 && needs_rehash != NULL)
		*needs_rehash = ps.ln < KM_PASSWORD_DEFAULT_LN || ps.r < KM_PASSWORD_DEFAULT_R ||
				ps.p < KM_PASSWORD_DEFAULT_P || ps.saltlen < SALT_LEN ||
				ps.hashlen < HASH_LEN;
out:
	OPENSSL_cleanse(got, sizeof got);
	OPENSSL_cleanse(&ps, sizeof ps);
	return rc;
}

/* ---- policy ---------------------------------------------------------- */

/* Decodes one UTF-8 sequence at s (n bytes left) into *cp; returns its
 * length or 0 if ill-formed (overlong, surrogate, > U+10FFFF, truncated). */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t v, min;

	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xc2 && c <= 0xdf) {
		len = 2, v = c & 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3, v = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4, v = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

/* Counts code points; sets *ctrl if a C0/C1 control or DEL is present.
 * Returns -1 for ill-formed UTF-8. */
static long utf8_scan(const char *s, size_t n, int *ctrl)
{
	const unsigned char *p = (const unsigned char *)s;
	long count = 0;
	*ctrl = 0;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t l = utf8_next(p + i, n - i, &cp);
		if (l == 0)
			return -1;
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			*ctrl = 1;
		i += l;
		count++;
	}
	return count;
}

static char ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* 1 if hay contains needle (nlen bytes), ASCII letters compared caselessly. */
static int contains_caseless(const char *hay, const char *needle, size_t nlen)
{
	size_t hlen = strlen(hay);
	for (size_t i = 0; nlen <= hlen && i <= hlen - nlen; i++) {
		size_t j = 0;
		while (j < nlen && ascii_lower(hay[i + j]) == ascii_lower(needle[j]))
			j++;
		if (j == nlen)
			return 1;
	}
	return 0;
}

static pthread_mutex_t crack_lock = PTHREAD_MUTEX_INITIALIZER;

/* Runs libcrack2. Returns 0 (accepted), KM_EINVAL (refused, message in
 * debug) or KM_EIO (dictionary missing). user is the email's local part. */
static int crack_check(const char *password, const char *user, char *debug, size_t debuglen)
{
	char pwd[4096];
	int rc = 0;

	pthread_mutex_lock(&crack_lock);
	const char *dict = GetDefaultCracklibDict();
	int n = snprintf(pwd, sizeof pwd, "%s.pwd", dict ? dict : "");
	if (dict == NULL || n < 0 || (size_t)n >= sizeof pwd || access(pwd, R_OK) != 0) {
		rc = KM_EIO;
		goto out;
	}
	/* FascistCheckUser rather than FascistCheck: compare with the account,
	 * not with the user the server runs as */
	const char *msg = FascistCheckUser(password, dict, user, "");
	if (msg != NULL) {
		rc = KM_EINVAL;
		if (debug != NULL && debuglen > 0)
			snprintf(debug, debuglen, "%s", msg);
	}
out:
	pthread_mutex_unlock(&crack_lock);
	return rc;
}

static int refuse(int rc, const char *code, char *reason, size_t len)
{
	if (reason != NULL && len > 0)
		snprintf(reason, len, "%s", code);
	return rc;
}

int km_password_policy_check_debug(const char *password, const char *email, int min_len,
				   char *reason, size_t len, char *debug, size_t debuglen)
{
	char local[KM_PASSWORD_MAX_BYTES + 1] = "";
	int ctrl = 0;

	if (reason != NULL && len > 0)
		reason[0] = '\0';
	if (debug != NULL && debuglen > 0)
		debug[0] = '\0';
	if (password == NULL)
		return refuse(KM_EINVAL, KM_PW_TOO_SHORT, reason, len);
	size_t n = strnlen(password, KM_PASSWORD_MAX_BYTES + 1);
	if (n > KM_PASSWORD_MAX_BYTES)
		return refuse(KM_EINVAL, KM_PW_TOO_LONG, reason, len);
	long cps = utf8_scan(password, n, &ctrl);
	if (cps < 0)
		return refuse(KM_EINVAL, KM_PW_INVALID_UTF8, reason, len);
	if (ctrl)
		return refuse(KM_EINVAL, KM_PW_CONTROL_CHARS, reason, len);
	if (min_len < KM_PASSWORD_MIN_FLOOR)
		min_len = KM_PASSWORD_MIN_FLOOR;
	if (cps < min_len)
		return refuse(KM_EINVAL, KM_PW_TOO_SHORT, reason, len);
	if (email != NULL) {
		const char *at = strrchr(email, '@');
		size_t llen = at ? (size_t)(at - email) : strlen(email);
		if (llen < sizeof local) {
			memcpy(local, email, llen);
			local[llen] = '\0';
		}
		if (llen >= 3 && llen < sizeof local && contains_caseless(password, local, llen))
			return refuse(KM_EINVAL, KM_PW_CONTAINS_EMAIL, reason, len);
	}
	int rc = crack_check(password, local, debug, debuglen);
	if (rc == KM_EIO) {
		km_error("password", "cracklib_dict_missing", "dict=%s", GetDefaultCracklibDict());
		return refuse(KM_EIO, KM_PW_DICT_UNAVAILABLE, reason, len);
	}
	if (rc != 0)
		return refuse(KM_EINVAL, KM_PW_DICTIONARY, reason, len);
	return 0;
}

int km_password_policy_check(const char *password, const char *email, int min_len,
			     char *reason_code, size_t len)
{
	return km_password_policy_check_debug(password, email, min_len, reason_code, len, NULL, 0);
}
