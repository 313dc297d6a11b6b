/* ratelimit.c — per-IP token buckets and connection counts (ratelimit.h). */
#include "signaling/ratelimit.h"

#include <stdlib.h>
#include <string.h>

#define PROBES 16

struct slot {
	char ip[72]; /* an address, or another key up to 71 characters */
	double tokens;
	uint64_t last_ms;
	long conns;
	int used;
};

struct km_ratelimit {
	unsigned n;
	double rate, burst;
	long max_conns;
	struct slot slots[];
};

km_ratelimit_t *km_ratelimit_new(unsigned slots, double rate, double burst, long max_conns_per_ip)
{
	if (slots < PROBES)
		slots = PROBES;
	km_ratelimit_t *rl = calloc(1, sizeof *rl + slots * sizeof(struct slot));
	if (!rl)
		return NULL;
	rl->n = slots;
	rl->rate = rate;
	rl->burst = burst;
	rl->max_conns = max_conns_per_ip;
	return rl;
}

void km_ratelimit_free(km_ratelimit_t *rl)
{
	free(rl);
}

static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

/* Finds ip's slot, or claims a free or reusable one; NULL if all probed
 * slots hold open connections. */
static struct slot *lookup(km_ratelimit_t *rl, const char *ip, uint64_t now_ms, int create)
{
	uint32_t h = hash(ip);
	struct slot *victim = NULL;
	for (unsigned i = 0; i < PROBES; i++) {
		struct slot *s = &rl->slots[(h + i) % rl->n];
		if (s->used && strcmp(s->ip, ip) == 0)
			return s;
		if (!create)
			continue;
		if (!s->used) {
			if (!victim || victim->used)
				victim = s;
		} else if (s->conns == 0 && (!victim || (victim->used && s->last_ms < victim->last_ms))) {
			victim = s;
		}
	}
	if (!victim)
		return NULL;
	memset(victim, 0, sizeof *victim);
	victim->used = 1;
	size_t len = strlen(ip);
	if (len >= sizeof victim->ip)
		len = sizeof victim->ip - 1;
	memcpy(victim->ip, ip, len);
	victim->tokens = rl->burst;
	victim->last_ms = now_ms;
	return victim;
}

/* Refills s up to now; returns 0 if a token is there, else the ms to wait. */
static long refill(km_ratelimit_t *rl, struct slot *s, uint64_t now_ms)
{
	if (now_ms > s->last_ms) {
		s->tokens += (double)(now_ms - s->last_ms) * rl->rate / 1000.0;
		if (s->tokens > rl->burst)
			s->tokens = rl->burst;
	}
	s->last_ms = now_ms;
	if (s->tokens >= 1.0)
		return 0;
	long wait = (long)((1.0 - s->tokens) * 1000.0 / rl->rate) + 1;
	return wait > 0 ? wait : 1;
}

long km_ratelimit_take(km_ratelimit_t *rl, const char *ip, uint64_t now_ms)
{
	struct slot *s = lookup(rl, ip, now_ms, 1);
	if (!s)
		return 1000; /* table saturated by busy addresses: refuse politely */
	long wait = refill(rl, s, now_ms);
	if (wait == 0)
		s->tokens -= 1.0;
	return wait;
}

long km_ratelimit_peek(km_ratelimit_t *rl, const char *ip, uint64_t now_ms)
{
	struct slot *s = lookup(rl, ip, now_ms, 0);
	return s ? refill(rl, s, now_ms) : 0;
}

int km_ratelimit_conn_open(km_ratelimit_t *rl, const char *ip, uint64_t now_ms)
{
	struct slot *s = lookup(rl, ip, now_ms, 1);
	if (!s || s->conns >= rl->max_conns)
		return -1;
	s->conns++;
	refill(rl, s, now_ms); /* credit what was earned so far (was: reset the clock and lose it) */
	return 0;
}

void km_ratelimit_conn_close(km_ratelimit_t *rl, const char *ip)
{
	struct slot *s = lookup(rl, ip, 0, 0);
	if (s && s->conns > 0)
		s->conns--;
}

long km_ratelimit_conns(const km_ratelimit_t *rl, const char *ip)
{
	struct slot *s = lookup((km_ratelimit_t *)rl, ip, 0, 0);
	return s ? s->conns : 0;
}
