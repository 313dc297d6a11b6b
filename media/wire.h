/* wire.h — big-endian load/store helpers for the media wire parsers.
 * A leaf: includes nothing of the project, no state, safe from any thread.
 * Callers check lengths before calling; these helpers never bounds-check. */
#ifndef KM_WIRE_H
#define KM_WIRE_H

#include <stddef.h>
#include <stdint.h>

static inline uint16_t km_wire_ld16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t km_wire_ld24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static inline uint32_t km_wire_ld32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t km_wire_ld48(const uint8_t *p)
{
	return (uint64_t)km_wire_ld16(p) << 32 | km_wire_ld32(p + 2);
}

static inline uint64_t km_wire_ld64(const uint8_t *p)
{
	return (uint64_t)km_wire_ld32(p) << 32 | km_wire_ld32(p + 4);
}

static inline void km_wire_st16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void km_wire_st24(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 16);
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)v;
}

static inline void km_wire_st32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void km_wire_st64(uint8_t *p, uint64_t v)
{
	km_wire_st32(p, (uint32_t)(v >> 32));
	km_wire_st32(p + 4, (uint32_t)v);
}

#endif
