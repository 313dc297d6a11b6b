/* totp.c — RFC 6238 one-time passwords, base32, otpauth:// URIs and their QR
 * code as SVG (see totp.h). Not secret storage, not rate limiting. No state;
 * safe from any thread. */
#include "rooms/totp.h"

#include "core/err.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <qrencode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET_MAX 1024 /* bytes; RFC 4226 asks for >= 16, apps use 10-64 */

static const char b32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

int km_totp_code(const uint8_t *secret, size_t len, uint64_t counter)
{
	uint8_t msg[8];
	uint8_t mac[EVP_MAX_MD_SIZE];
	size_t maclen = 0;

	if (secret == NULL || len == 0 || len > SECRET_MAX)
		return KM_EINVAL;
	for (int i = 7; i >= 0; i--, counter >>= 8)
		msg[i] = (uint8_t)(counter & 0xff);
	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA1", NULL, secret, len, msg, sizeof msg, mac,
		      sizeof mac, &maclen) == NULL || maclen != 20)
		return KM_ECRYPTO;
	unsigned off = mac[19] & 0x0f; /* RFC 4226 §5.3 dynamic truncation */
	uint32_t bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
		       ((uint32_t)mac[off + 2] << 8) | (uint32_t)mac[off + 3];
	OPENSSL_cleanse(mac, sizeof mac);
	return (int)(bin % 1000000u);
}

int km_totp_generate_secret(uint8_t out[KM_TOTP_SECRET_LEN])
{
	if (RAND_bytes(out, KM_TOTP_SECRET_LEN) != 1) {
		OPENSSL_cleanse(out, KM_TOTP_SECRET_LEN);
		return KM_ECRYPTO;
	}
	return 0;
}

int km_base32_encode(const uint8_t *p, size_t len, char *out, size_t outlen)
{
	if (out == NULL || outlen == 0)
		return KM_ETOOBIG;
	out[0] = '\0';
	if (p == NULL && len > 0)
		return KM_EINVAL;
	if (len > (SIZE_MAX - 5) / 8 || (len * 8 + 4) / 5 + 1 > outlen)
		return KM_ETOOBIG;
	size_t k = 0;
	uint32_t acc = 0;
	unsigned bits = 0;
	for (size_t i = 0; i < len; i++) {
		acc = (acc << 8) | p[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[k++] = b32_alphabet[(acc >> bits) & 31];
		}
	}
	if (bits > 0)
		out[k++] = b32_alphabet[(acc << (5 - bits)) & 31];
	out[k] = '\0';
	return 0;
}

/* Value of one base32 character (either case), or -1. */
static int b32_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	if (c >= '2' && c <= '7')
		return c - '2' + 26;
	return -1;
}

int km_base32_decode(const char *s, uint8_t *out, size_t cap, size_t *outlen)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t k = 0, nchars = 0;
	int padding = 0;

	if (outlen != NULL)
		*outlen = 0;
	if (s == NULL || outlen == NULL || (out == NULL && cap > 0))
		return KM_EINVAL;
	for (const char *q = s; *q; q++) {
		if (*q == ' ' || *q == '\t')
			continue;
		if (*q == '=') {
			padding = 1;
			continue;
		}
		int v = b32_value(*q);
		if (v < 0 || padding)
			return KM_EINVAL; /* foreign character, or data after '=' */
		acc = (acc << 5) | (uint32_t)v;
		bits += 5;
		nchars++;
		if (bits >= 8) {
			bits -= 8;
			if (k >= cap)
				return KM_ETOOBIG;
			out[k++] = (uint8_t)(acc >> bits);
		}
		acc &= (1u << bits) - 1;
	}
	switch (nchars % 8) {
	case 1: case 3: case 6:
		return KM_EINVAL; /* no encoder ends a group like this */
	}
	if (acc != 0)
		return KM_EINVAL; /* non-zero unused trailing bits */
	*outlen = k;
	return 0;
}

/* Parses exactly six ASCII digits into text (NUL-terminated); -1 if not. */
static int code_text(const char *code, char text[KM_TOTP_DIGITS + 1])
{
	for (int i = 0; i < KM_TOTP_DIGITS; i++) {
		if (code[i] < '0' || code[i] > '9')
			return -1;
		text[i] = code[i];
	}
	if (code[KM_TOTP_DIGITS] != '\0')
		return -1;
	text[KM_TOTP_DIGITS] = '\0';
	return 0;
}

int km_totp_verify(const uint8_t *secret, size_t len, const char *code, time_t now,
		   int64_t last_used_step, int64_t *matched_step)
{
	char typed[KM_TOTP_DIGITS + 1];
	int64_t found = -1;

	if (matched_step != NULL)
		*matched_step = -1;
	if (secret == NULL || len == 0 || len > SECRET_MAX || now < 0 || matched_step == NULL)
		return KM_EINVAL;
	if (code == NULL || code_text(code, typed) != 0)
		return KM_EPERM;
	int64_t step = (int64_t)now / KM_TOTP_STEP;
	for (int64_t s = step - 1; s <= step + 1; s++) {
		if (s < 0)
			continue;
		int c = km_totp_code(secret, len, (uint64_t)s);
		if (c < 0)
			return c;
		char want[KM_TOTP_DIGITS + 1];
		for (int i = KM_TOTP_DIGITS - 1; i >= 0; i--, c /= 10)
			want[i] = (char)('0' + c % 10);
		want[KM_TOTP_DIGITS] = '\0';
		int same = CRYPTO_memcmp(want, typed, KM_TOTP_DIGITS) == 0;
		OPENSSL_cleanse(want, sizeof want);
		/* the latest matching step wins, so that a later replay of any
		 * code of this window is refused */
		if (same && s > last_used_step)
			found = s;
	}
	OPENSSL_cleanse(typed, sizeof typed);
	if (found < 0)
		return KM_EPERM;
	*matched_step = found;
	return 0;
}

/* Appends s percent-encoded (RFC 3986: all but unreserved) at out[*k]. */
static int pct_append(char *out, size_t len, size_t *k, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		unsigned char c = *p;
		int plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
		size_t need = plain ? 1 : 3;
		if (*k + need >= len)
			return KM_ETOOBIG;
		if (plain) {
			out[(*k)++] = (char)c;
		} else {
			out[(*k)++] = '%';
			out[(*k)++] = hex[c >> 4];
			out[(*k)++] = hex[c & 15];
		}
	}
	out[*k] = '\0';
	return 0;
}

static int raw_append(char *out, size_t len, size_t *k, const char *s)
{
	size_t n = strlen(s);
	if (*k + n >= len)
		return KM_ETOOBIG;
	memcpy(out + *k, s, n + 1);
	*k += n;
	return 0;
}

int km_totp_uri(const char *issuer, const char *account_label, const char *secret_b32,
		char *out, size_t len)
{
	size_t k = 0;
	int rc;

	if (out == NULL || len == 0)
		return KM_ETOOBIG;
	out[0] = '\0';
	if (issuer == NULL || account_label == NULL || secret_b32 == NULL || !issuer[0] ||
	    !account_label[0] || !secret_b32[0])
		return KM_EINVAL;
	for (const char *p = secret_b32; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= '2' && *p <= '7')))
			return KM_EINVAL;
	if ((rc = raw_append(out, len, &k, "otpauth://totp/")) != 0 ||
	    (rc = pct_append(out, len, &k, issuer)) != 0 ||
	    (rc = raw_append(out, len, &k, ":")) != 0 ||
	    (rc = pct_append(out, len, &k, account_label)) != 0 ||
	    (rc = raw_append(out, len, &k, "?secret=")) != 0 ||
	    (rc = raw_append(out, len, &k, secret_b32)) != 0 ||
	    (rc = raw_append(out, len, &k, "&issuer=")) != 0 ||
	    (rc = pct_append(out, len, &k, issuer)) != 0 ||
	    (rc = raw_append(out, len, &k, "&algorithm=SHA1&digits=6&period=30")) != 0) {
		out[0] = '\0';
		return rc;
	}
	return 0;
}

/* Appends the path data of row y: one "M x y h n v1 h-n z" rectangle per run
 * of dark modules, offset by the quiet zone. Returns the new length. */
static size_t svg_row(const QRcode *qr, int y, char *buf, size_t k, size_t cap)
{
	const int quiet = 4;
	int w = qr->width;
	for (int x = 0; x < w;) {
		if (!(qr->data[(size_t)y * (size_t)w + (size_t)x] & 1)) {
			x++;
			continue;
		}
		int run = 0;
		while (x + run < w && (qr->data[(size_t)y * (size_t)w + (size_t)(x + run)] & 1))
			run++;
		int n = snprintf(buf + k, cap - k, "M%d %dh%dv1h-%dz", x + quiet, y + quiet, run, run);
		if (n > 0 && (size_t)n < cap - k)
			k += (size_t)n;
		x += run;
	}
	return k;
}

int km_totp_qr_svg(const char *uri, char **svg_out)
{
	if (svg_out == NULL)
		return KM_EINVAL;
	*svg_out = NULL;
	if (uri == NULL || uri[0] == '\0')
		return KM_EINVAL;
	if (strlen(uri) > KM_TOTP_URI_MAX)
		return KM_ETOOBIG;
	QRcode *qr = QRcode_encodeString(uri, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	if (qr == NULL)
		return errno == ENOMEM ? KM_ENOMEM : errno == ERANGE ? KM_ETOOBIG : KM_EINVAL;
	int w = qr->width, size = w + 8;
	/* runs per row <= (w + 1) / 2, each at most "M999 999h999v1h-999z" */
	size_t cap = 512 + (size_t)w * (size_t)((w + 1) / 2) * 24;
	char *buf = malloc(cap);
	if (buf == NULL) {
		QRcode_free(qr);
		return KM_ENOMEM;
	}
	int n = snprintf(buf, cap,
			 "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
			 "shape-rendering=\"crispEdges\"><rect width=\"%d\" height=\"%d\" "
			 "fill=\"#fff\"/><path fill=\"#000\" d=\"",
			 size, size, size, size);
	size_t k = (size_t)n;
	for (int y = 0; y < w; y++)
		k = svg_row(qr, y, buf, k, cap);
	QRcode_free(qr);
	n = snprintf(buf + k, cap - k, "\"/></svg>\n");
	if (n < 0 || (size_t)n >= cap - k) {
		free(buf);
		return KM_ENOMEM; /* the bound above was wrong: never */
	}
	*svg_out = buf;
	return 0;
}
