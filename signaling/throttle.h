/* throttle.h — growing delays after failed sign-in attempts, keyed by a
 * string (an IP address, or a hash of an account's email so that unknown
 * and known accounts are treated alike). After `free_failures` failures a
 * key must wait 1 s, then 2 s, 4 s, ... up to max_delay_ms between attempts.
 * A key's count starts over after an hour without failures.
 * A fixed-size table: bounded memory; the oldest entry is reused when full.
 * Single-threaded (the signaling thread). Time in ms is passed in. */
#ifndef KM_THROTTLE_H
#define KM_THROTTLE_H

#include <stdint.h>

typedef struct km_throttle km_throttle_t;

km_throttle_t *km_throttle_new(unsigned slots, unsigned free_failures, int64_t max_delay_ms);
void km_throttle_free(km_throttle_t *t);

/* 0 if key may try now, else the ms it must still wait. */
int64_t km_throttle_wait(km_throttle_t *t, const char *key, int64_t now_ms);
/* Records a failure of key at now_ms. */
void km_throttle_fail(km_throttle_t *t, const char *key, int64_t now_ms);
/* 1 the first time it is called for key since key's last failure (or ever),
 * else 0: so that a run of refusals is reported once, not once per try. */
int km_throttle_note(km_throttle_t *t, const char *key, int64_t now_ms);
/* Forgets key (after a success). */
void km_throttle_reset(km_throttle_t *t, const char *key);

#endif
