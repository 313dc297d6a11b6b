/* base32_fuzz.c — libFuzzer harness for km_base32_decode (TOTP secrets are
 * typed or pasted by people). Any string must give 0, KM_EINVAL or
 * KM_ETOOBIG, never a crash or a write past cap; what decodes must
 * re-encode to the input's canonical spelling (uppercase, no blanks, no
 * padding) and decode again to the same bytes; a smaller buffer must give
 * KM_ETOOBIG exactly when the result does not fit.
 *
 * Input: byte 0 chooses the small buffer's size (0..63), the rest is the
 * string (up to its first NUL). */
#include "core/err.h"
#include "rooms/totp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXIN 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char s[MAXIN + 1], canon[MAXIN + 1], enc[MAXIN * 2];
	static uint8_t out[MAXIN], out2[MAXIN];
	if (size < 1 || size - 1 > MAXIN)
		return 0;
	size_t cap = data[0] % 64, n = 0, n2 = 0, m = 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';

	int rc = km_base32_decode(s, out, sizeof out, &n);
	if (rc != 0 && rc != KM_EINVAL && rc != KM_ETOOBIG)
		abort();
	if (rc != 0 && n != 0)
		abort();
	/* the small buffer: exactly cap bytes, so ASan sees any overrun */
	uint8_t *small = malloc(cap ? cap : 1);
	int rcs = km_base32_decode(s, cap ? small : NULL, cap, &n2);
	if (rc == 0) {
		if (n <= cap ? (rcs != 0 || n2 != n || memcmp(small, out, n) != 0) : rcs != KM_ETOOBIG)
			abort();
	} else if (rcs != KM_EINVAL && rcs != KM_ETOOBIG) {
		abort();
	}
	free(small);
	if (rc != 0)
		return 0;

	for (const char *q = s; *q; q++)
		if (*q != ' ' && *q != '\t' && *q != '=')
			canon[m++] = (*q >= 'a' && *q <= 'z') ? (char)(*q - 32) : *q;
	canon[m] = '\0';
	if (km_base32_encode(out, n, enc, sizeof enc) != 0 || strcmp(enc, canon) != 0)
		abort();
	if (km_base32_decode(enc, out2, sizeof out2, &n2) != 0 || n2 != n || memcmp(out, out2, n) != 0)
		abort();
	return 0;
}
