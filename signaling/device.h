/* device.h — the "known device" mark of a staff browser: after a complete
 * sign-in the browser gets an HttpOnly cookie binding it to that account,
 * MAC'd with the server key. Sign-in attempts that carry it draw on a budget
 * an attacker without it cannot drain, and are not stopped by a lockout that
 * strangers' failures caused. Holds no personal data beyond the account id.
 * Pure functions (no I/O, no globals): any thread. */
#ifndef KM_DEVICE_H
#define KM_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#define KM_DEVICE_COOKIE "__Host-kamer_device"
#define KM_DEVICE_LIFETIME_S (90 * 86400)
#define KM_DEVICE_MAX 96 /* the cookie value's length bound, with its NUL */

/* Writes "1.<user>.<expiry>.<mac>" (expiry = now + KM_DEVICE_LIFETIME_S)
 * into out. Returns 0, or KM_ECRYPTO/KM_EINVAL. */
int km_device_issue(const uint8_t key[32], int64_t user_id, int64_t now, char out[KM_DEVICE_MAX]);

/* 1 if value is a mark issued with key for user_id and not expired at now;
 * 0 for anything else (malformed, another account, expired, forged). */
int km_device_valid(const uint8_t key[32], const char *value, int64_t user_id, int64_t now);

#endif
