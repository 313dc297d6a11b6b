/* clock.h — kamer's wall clock: UTC seconds and milliseconds, plus an offset
 * that only the test hooks set (`test_hooks = true`), so that integration
 * tests can move time forward (lockouts, idle timeouts, expiry) without
 * sleeping. Thread-safe (the offset is atomic). */
#ifndef KM_CLOCK_H
#define KM_CLOCK_H

#include <stdint.h>

int64_t km_clock_now(void);    /* UTC seconds + offset */
int64_t km_clock_now_ms(void); /* UTC milliseconds + offset */
void km_clock_advance(int64_t seconds);
int64_t km_clock_offset(void);

#endif
