/* ratelimit.h — per-IP request rate (token bucket) and open-connection
 * counts for the signaling thread. A fixed-size table: no allocation after
 * km_ratelimit_new, bounded memory whatever the number of addresses (the
 * least recently seen idle entry is reused when the table is full).
 * Single-threaded: owned by the signaling thread. Time is passed in by the
 * caller (milliseconds, monotonic) so that tests control it. */
#ifndef KM_RATELIMIT_H
#define KM_RATELIMIT_H

#include <stdint.h>

typedef struct km_ratelimit km_ratelimit_t;

/* rate: tokens per second; burst: bucket size; max_conns_per_ip: open
 * connections allowed per address. Returns new (free with _free) or NULL. */
km_ratelimit_t *km_ratelimit_new(unsigned slots, double rate, double burst, long max_conns_per_ip);
void km_ratelimit_free(km_ratelimit_t *rl);

/* Takes one token for ip; returns 0 if allowed, or the milliseconds to wait
 * before the next token (> 0) if the request must be refused. */
long km_ratelimit_take(km_ratelimit_t *rl, const char *ip, uint64_t now_ms);

/* Like km_ratelimit_take without taking: 0 if a token is there, else the
 * milliseconds until one is. */
long km_ratelimit_peek(km_ratelimit_t *rl, const char *ip, uint64_t now_ms);

/* Counts a new open connection from ip: 0 if allowed, -1 if ip already has
 * max_conns_per_ip (nothing counted) or the table is full of busy entries. */
int km_ratelimit_conn_open(km_ratelimit_t *rl, const char *ip, uint64_t now_ms);
/* Uncounts a connection counted by _conn_open. */
void km_ratelimit_conn_close(km_ratelimit_t *rl, const char *ip);
/* Open connections counted for ip (for tests and metrics). */
long km_ratelimit_conns(const km_ratelimit_t *rl, const char *ip);

#endif
