/* load_src.c — the load client's media (see load.h): the test peer's
 * synthetic VP8 loop and Opus tone (tests/peer/codec.h), encoded once and
 * recorded as RTP packets with room for a stamp, then replayed by every
 * publisher under its own SSRC, sequence numbers, timestamps and VP8
 * PictureIDs, with a fresh stamp (send time, stamp sequence) in each. A
 * keyframe request makes the publisher go back to the last keyframe of the
 * loop, so the decoder always sees a valid chain.
 * Threads: the load client's. */
#include "tests/bench/load.h"

#include "core/err.h"
#include "media/wire.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
	ld_src_t *s;
	int err;
} rec_t;

static void record(void *ud, const uint8_t *p, size_t len)
{
	rec_t *r = ud;
	ld_src_t *s = r->s;
	ld_pkt_t *np = realloc(s->pkts, (size_t)(s->npkts + 1) * sizeof *np);
	uint8_t *nb = realloc(s->bytes, s->nbytes + len);
	if (np)
		s->pkts = np;
	if (nb)
		s->bytes = nb;
	if (!np || !nb) {
		r->err = KM_ENOMEM;
		return;
	}
	memcpy(s->bytes + s->nbytes, p, len);
	s->pkts[s->npkts++] = (ld_pkt_t){ .off = (uint32_t)s->nbytes, .len = (uint32_t)len };
	s->nbytes += len;
}

/* VP8 payload header after our 4-byte descriptor: P bit 0 = keyframe. */
static bool is_key(const ld_src_t *s, int pkt)
{
	const uint8_t *p = s->bytes + s->pkts[pkt].off;
	return s->pkts[pkt].len > 17 && (p[16] & 1) == 0;
}

int ld_src_record(ld_src_t *s, int width, int height, int fps, int kbps, int seconds, int kf)
{
	memset(s, 0, sizeof *s);
	km_peer_src_config_t cfg = { .width = width, .height = height, .fps = fps,
		.video_kbps = kbps, .seconds = seconds, .keyframe_interval = kf };
	km_peer_src_t *src = NULL;
	int rc = km_peer_src_new(&cfg, &src);
	if (rc)
		return rc;
	rec_t r = { .s = s };
	km_peer_stream_t st = { .ssrc = 1, .pt = KM_PEER_VP8_PT, .stamp = true };
	s->nframes = fps * seconds;
	s->kf = kf;
	s->fps = fps;
	s->frames = calloc((size_t)s->nframes, sizeof *s->frames);
	if (!s->frames)
		rc = KM_ENOMEM;
	for (int i = 0; rc == 0 && i < s->nframes; i++) {
		s->frames[i].first = s->npkts;
		int n = km_peer_src_video_frame(src, &st, 0, record, &r);
		if (n <= 0 || r.err) {
			rc = r.err ? r.err : KM_EIO;
			break;
		}
		s->frames[i].n = n;
		s->frames[i].key = is_key(s, s->frames[i].first);
	}
	km_peer_stream_t au = { .ssrc = 2, .pt = KM_PEER_OPUS_PT, .stamp = true };
	s->audio_first = s->npkts;
	for (int i = 0; rc == 0 && i < 50; i++)
		if (km_peer_src_audio_frame(src, &au, 0, record, &r) != 1 || r.err)
			rc = r.err ? r.err : KM_EIO;
	s->naudio = s->npkts - s->audio_first;
	km_peer_src_free(src);
	if (rc == 0 && (!s->frames[0].key || s->naudio != 50))
		rc = KM_EIO;
	if (rc) {
		ld_src_free(s);
		return rc;
	}
	size_t vbytes = 0;
	for (int i = 0; i < s->audio_first; i++)
		vbytes += s->pkts[i].len + 16 + 28; /* SRTP tag, IP and UDP */
	s->video_kbps = (double)vbytes * 8.0 / 1000.0 / seconds;
	return 0;
}

void ld_src_free(ld_src_t *s)
{
	free(s->bytes);
	free(s->pkts);
	free(s->frames);
	memset(s, 0, sizeof *s);
}

/* Copies recorded packet i with the stream's header values and a stamp. */
static size_t make(const ld_src_t *s, int i, ld_tx_t *t, int64_t now_us, uint8_t *out)
{
	const ld_pkt_t *k = &s->pkts[i];
	memcpy(out, s->bytes + k->off, k->len);
	out[1] = (uint8_t)((out[1] & 0x80) | (t->pt & 0x7f));
	km_wire_st16(out + 2, t->seq++);
	km_wire_st32(out + 4, t->ts);
	km_wire_st32(out + 8, t->ssrc);
	uint8_t *stamp = out + k->len - KM_PEER_STAMP_LEN;
	km_wire_st64(stamp, (uint64_t)now_us);
	km_wire_st32(stamp + 8, t->stamp_seq++);
	t->packets++;
	t->bytes += k->len;
	t->sr_packets++;
	t->sr_octets += k->len - 12;
	return k->len;
}

int ld_src_audio(const ld_src_t *s, ld_tx_t *t, int64_t now_us, ld_send_fn send, void *ud)
{
	uint8_t buf[KM_CONN_MAX_PACKET + KM_CONN_SEND_SLACK];
	size_t len = make(s, s->audio_first + t->pos, t, now_us, buf);
	t->pos = (t->pos + 1) % s->naudio;
	t->ts += 960;
	send(ud, buf, len, sizeof buf);
	return 1;
}

int ld_src_video(const ld_src_t *s, ld_tx_t *t, int64_t now_us, ld_send_fn send, void *ud)
{
	if (t->want_key) {
		t->want_key = false;
		if (!s->frames[t->pos].key)
			t->pos = t->pos / s->kf * s->kf; /* back to the last keyframe */
	}
	const ld_frame_t *f = &s->frames[t->pos];
	if (f->key)
		t->keyframes++;
	uint16_t pic = (uint16_t)(0x8000 | (t->pic++ & 0x7fff));
	uint8_t buf[KM_CONN_MAX_PACKET + KM_CONN_SEND_SLACK];
	for (int i = 0; i < f->n; i++) {
		size_t len = make(s, f->first + i, t, now_us, buf);
		km_wire_st16(buf + 14, pic); /* VP8 descriptor: X, I, then M + PictureID */
		send(ud, buf, len, sizeof buf);
	}
	t->ts += (uint32_t)(90000 / s->fps);
	t->pos = (t->pos + 1) % s->nframes;
	return f->n;
}
