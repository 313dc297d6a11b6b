/* ring.h — per-track retransmission ring: the plaintext RTP packets a
 * publisher sent most recently, stored once by sequence number, so that the
 * SFU can answer a subscriber's NACK itself (RFC 4585 generic NACK).
 * It is not a jitter buffer and does not rewrite anything: subscribers map
 * their NACKed sequence numbers back with km_rewrite_map_nack (rewrite.h)
 * and copy the stored packet into their own send buffer.
 * Storage: the packets share one circular byte buffer at their exact
 * lengths (a small table maps each of the `slots` sequence numbers to its
 * bytes); when the bytes run out the oldest packets are forgotten, so a
 * ring holds at most `slots` packets and at most `bytes` bytes of them.
 * The owner sizes the bytes by the stream's bitrate (km_ring_resize, from
 * a timer, never per packet): 1024 slots of 1500 bytes each were 1.5 MB
 * per video stream, where one second of a 1 Mbit/s stream is 125 kB.
 * Pure: no I/O, no locks, no logging; allocates only in km_ring_new* and
 * km_ring_resize.
 * Threading: single-threaded, owned by the media worker of the track's room. */
#ifndef KM_RING_H
#define KM_RING_H

#include <stddef.h>
#include <stdint.h>

typedef struct km_ring km_ring_t;

/* Returns a new empty ring with `slots` slots (a power of two, 1..32768) of
 * up to max_packet bytes each (1..65535), or NULL on bad arguments or
 * allocation failure. Caller frees with km_ring_free. */
km_ring_t *km_ring_new(unsigned slots, size_t max_packet);

/* The same with `bytes` bytes of packet storage (max_packet..64 MiB)
 * instead of slots * max_packet. */
km_ring_t *km_ring_new_sized(unsigned slots, size_t max_packet, size_t bytes);

/* Gives r `bytes` bytes of storage (max_packet..64 MiB), keeping the
 * newest stored packets that fit. Not for the packet path (it allocates
 * and copies). Returns 0, or -1 (bad size, or out of memory: r unchanged).
 * Views returned by km_ring_get die. */
int km_ring_resize(km_ring_t *r, size_t bytes);

/* The bytes of packet storage r has. */
size_t km_ring_bytes(const km_ring_t *r);

/* Frees r; accepts NULL. Views returned by km_ring_get die with it. */
void km_ring_free(km_ring_t *r);

/* Forgets every stored packet (e.g. when the publisher's SSRC changes). */
void km_ring_reset(km_ring_t *r);

/* Copies pkt[0..len) (borrowed) into the slot of seq (seq mod slots),
 * overwriting whatever was there (and, in the byte storage, the oldest
 * packets it needs the room of). Returns 0 when stored; 1 when ignored
 * because seq is `slots` or more older than the newest seq stored (storing
 * it would evict a newer packet); -1 if len is 0 or larger than max_packet. */
int km_ring_put(km_ring_t *r, uint16_t seq, const uint8_t *pkt, size_t len);

/* If the packet with exactly this seq is still stored, sets *pkt (a view
 * borrowed from r, valid until the next put/reset/free) and *len and returns
 * 0. Returns -1 if it was never stored, has been overwritten, or lies outside
 * the window of the `slots` sequence numbers up to the newest one stored
 * (so that a slot last written 65536 numbers ago is not mistaken for it). */
int km_ring_get(const km_ring_t *r, uint16_t seq, const uint8_t **pkt, size_t *len);

#endif
