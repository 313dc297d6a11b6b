/* device.c — the known-device mark (device.h): HMAC-SHA256 over the
 * version, account id and expiry, with a key derived from the server key
 * for this use only. */
#include "signaling/device.h"

#include "core/err.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define MAC_HEX 32 /* 128 bits of the MAC, as hex */

static int mac_hex(const uint8_t key[32], int64_t user_id, int64_t expiry, char out[MAC_HEX + 1])
{
	static const char label[] = "kamer device mark v1";
	uint8_t k[32], mac[32];
	size_t klen = 0, mlen = 0;
	char msg[64];
	int n = snprintf(msg, sizeof msg, "1.%" PRId64 ".%" PRId64, user_id, expiry);
	int rc = 0;
	if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, 32, (const uint8_t *)label, sizeof label - 1, k,
		       sizeof k, &klen) ||
	    !EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, k, klen, (const uint8_t *)msg, (size_t)n, mac, sizeof mac,
		       &mlen))
		rc = KM_ECRYPTO;
	for (size_t i = 0; rc == 0 && i < MAC_HEX / 2; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
	OPENSSL_cleanse(k, sizeof k);
	return rc;
}

int km_device_issue(const uint8_t key[32], int64_t user_id, int64_t now, char out[KM_DEVICE_MAX])
{
	if (user_id <= 0 || now < 0)
		return KM_EINVAL;
	int64_t expiry = now + KM_DEVICE_LIFETIME_S;
	char mac[MAC_HEX + 1];
	int rc = mac_hex(key, user_id, expiry, mac);
	if (rc == 0)
		snprintf(out, KM_DEVICE_MAX, "1.%" PRId64 ".%" PRId64 ".%s", user_id, expiry, mac);
	return rc;
}

/* Reads a decimal int64 up to the next '.', advancing *p past it. */
static int field(const char **p, int64_t *v)
{
	const char *s = *p;
	int64_t x = 0;
	size_t n = 0;
	while (s[n] >= '0' && s[n] <= '9') {
		if (n >= 18)
			return -1;
		x = x * 10 + (s[n] - '0');
		n++;
	}
	if (n == 0 || s[n] != '.')
		return -1;
	*v = x;
	*p = s + n + 1;
	return 0;
}

int km_device_valid(const uint8_t key[32], const char *value, int64_t user_id, int64_t now)
{
	if (!value || strncmp(value, "1.", 2) != 0 || strnlen(value, KM_DEVICE_MAX) >= KM_DEVICE_MAX)
		return 0;
	const char *p = value + 2;
	int64_t uid, expiry;
	if (field(&p, &uid) || field(&p, &expiry) || strlen(p) != MAC_HEX)
		return 0;
	if (uid != user_id || expiry <= now || expiry > now + KM_DEVICE_LIFETIME_S)
		return 0;
	char want[MAC_HEX + 1];
	if (mac_hex(key, uid, expiry, want))
		return 0;
	return CRYPTO_memcmp(want, p, MAC_HEX) == 0;
}
