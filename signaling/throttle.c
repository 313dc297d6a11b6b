/* throttle.c — growing delays after failures (throttle.h). */
#include "signaling/throttle.h"

#include <stdlib.h>
#include <string.h>

#define PROBES 16
#define FORGET_MS (3600 * 1000)

struct entry {
	char key[72];
	unsigned failures;
	int64_t next_ms, last_ms;
	int used;
	int noted; /* a refusal was reported since the last failure */
};

struct km_throttle {
	unsigned n, free_failures;
	int64_t max_delay_ms;
	struct entry e[];
};

km_throttle_t *km_throttle_new(unsigned slots, unsigned free_failures, int64_t max_delay_ms)
{
	if (slots < PROBES)
		slots = PROBES;
	km_throttle_t *t = calloc(1, sizeof *t + slots * sizeof(struct entry));
	if (!t)
		return NULL;
	t->n = slots;
	t->free_failures = free_failures;
	t->max_delay_ms = max_delay_ms;
	return t;
}

void km_throttle_free(km_throttle_t *t)
{
	free(t);
}

static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static struct entry *find(km_throttle_t *t, const char *key, int create)
{
	uint32_t h = hash(key);
	struct entry *victim = NULL;
	for (unsigned i = 0; i < PROBES; i++) {
		struct entry *e = &t->e[(h + i) % t->n];
		if (e->used && strncmp(e->key, key, sizeof e->key - 1) == 0)
			return e;
		if (!e->used) {
			if (!victim || victim->used)
				victim = e;
		} else if (!victim || (victim->used && e->last_ms < victim->last_ms)) {
			victim = e;
		}
	}
	if (!create || !victim)
		return NULL;
	memset(victim, 0, sizeof *victim);
	victim->used = 1;
	strncpy(victim->key, key, sizeof victim->key - 1);
	return victim;
}

int64_t km_throttle_wait(km_throttle_t *t, const char *key, int64_t now_ms)
{
	struct entry *e = find(t, key, 0);
	if (!e || now_ms >= e->next_ms)
		return 0;
	return e->next_ms - now_ms;
}

void km_throttle_fail(km_throttle_t *t, const char *key, int64_t now_ms)
{
	struct entry *e = find(t, key, 1);
	if (!e)
		return;
	if (e->failures && now_ms - e->last_ms > FORGET_MS)
		e->failures = 0; /* an hour without failures: start over */
	e->failures++;
	e->last_ms = now_ms;
	e->noted = 0;
	if (e->failures <= t->free_failures) {
		e->next_ms = now_ms;
		return;
	}
	unsigned k = e->failures - t->free_failures - 1;
	int64_t delay = k >= 30 ? t->max_delay_ms : (int64_t)1000 << k;
	if (delay > t->max_delay_ms)
		delay = t->max_delay_ms;
	e->next_ms = now_ms + delay;
}

int km_throttle_note(km_throttle_t *t, const char *key, int64_t now_ms)
{
	struct entry *e = find(t, key, 1);
	if (!e)
		return 0;
	if (!e->last_ms)
		e->last_ms = now_ms;
	if (e->noted)
		return 0;
	e->noted = 1;
	return 1;
}

void km_throttle_reset(km_throttle_t *t, const char *key)
{
	struct entry *e = find(t, key, 0);
	if (e)
		memset(e, 0, sizeof *e);
}
