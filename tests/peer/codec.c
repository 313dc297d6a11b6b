/* codec.c — the test peer's media: a synthetic VP8 + Opus source encoded
 * once at start and replayed as RTP (RFC 7741 VP8 payload descriptor with a
 * 15-bit PictureID, optional stamps in the RTP padding), and a receiver that
 * reorders, reassembles, decodes and counts. It is not a network peer: no
 * sockets, no SRTP, no RTCP; the caller turns km_peer_rx_nack_list and
 * km_peer_rx_need_keyframe into NACKs and PLIs.
 *
 * Keyframe requests on a pre-encoded loop: the main chain has a keyframe at
 * every multiple of keyframe_interval. Every `entry` positions in between a
 * branch is encoded too: a forced keyframe of that position followed by its
 * own delta frames up to the next regular keyframe, where it rejoins the main
 * chain. A request jumps forward to the nearest entry (at most entry-1
 * positions ahead) and plays that chain, so a delta frame always follows the
 * frames it was encoded after and the decoder never drifts.
 *
 * Threads: every object is single-threaded; no globals. */
#include "tests/peer/codec.h"

#include <math.h>
#include <opus.h>
#include <stdlib.h>
#include <string.h>
#include <vpx/vp8cx.h>
#include <vpx/vp8dx.h>
#include <vpx/vpx_decoder.h>
#include <vpx/vpx_encoder.h>

#include "core/err.h"
#include "media/rtp.h"
#include "media/wire.h"

/* Internal, shared with the unit test: draws loop frame pos of the pattern
 * (colour bars with grain, a moving checkered square, pos in 16x16 black or
 * white blocks along the top) into an I420 image (planes and strides borrowed). */
void km__peer_pattern(uint8_t *const planes[3], const int strides[3], int w, int h, int pos);

#define AUDIO_RATE 48000
#define AUDIO_FRAME 960 /* 20 ms */
#define AUDIO_PACKETS 50 /* 1 s */
#define AUDIO_MAX_BYTES 400
#define VP8_DESC_LEN 4 /* X=1, I=1, M=1: 15-bit PictureID */

/* ---- the synthetic pattern ---- */

static const uint8_t bars[8][3] = { /* 75 % colour bars, Y U V */
	{ 180, 128, 128 }, { 162, 44, 142 }, { 131, 156, 44 }, { 112, 72, 58 },
	{ 84, 184, 198 },  { 65, 100, 212 }, { 35, 212, 114 }, { 16, 128, 128 },
};

static int bounce(int t, int span)
{
	if (span <= 0)
		return 0;
	int m = t % (2 * span);
	return m < span ? m : 2 * span - m;
}

/* Film grain on the bars, new every frame, so that the encoder has work to
 * do and reaches the configured bitrate: -8..7. */
static int noise(int x, int y, int pos)
{
	uint32_t h = (uint32_t)x * 0x9e3779b1u ^ (uint32_t)y * 0x85ebca77u ^ (uint32_t)pos * 0xc2b2ae3du;
	h ^= h >> 15;
	h *= 0x2c1b3c6du;
	h ^= h >> 12;
	return (int)(h & 15) - 8;
}

void km__peer_pattern(uint8_t *const planes[3], const int strides[3], int w, int h, int pos)
{
	int sq = (h / 4) & ~1, sx = bounce(pos * 4, w - sq) & ~1, sy = bounce(pos * 3, h - sq) & ~1;
	int nbits = w / 16 < 16 ? w / 16 : 16;
	for (int y = 0; y < h; y++) {
		uint8_t *row = planes[0] + (size_t)y * (size_t)strides[0];
		for (int x = 0; x < w; x++) {
			int v = bars[x * 8 / w][0] + noise(x, y, pos);
			if (y < 16 && x / 16 < nbits)
				v = (pos >> (x / 16)) & 1 ? 235 : 16; /* the position, in bits */
			else if (x >= sx && x < sx + sq && y >= sy && y < sy + sq)
				v = ((x - sx) / 8 + (y - sy) / 8) & 1 ? 235 : 40;
			row[x] = (uint8_t)v;
		}
	}
	for (int c = 1; c < 3; c++) {
		for (int y = 0; y < h / 2; y++) {
			uint8_t *row = planes[c] + (size_t)y * (size_t)strides[c];
			for (int x = 0; x < w / 2; x++) {
				bool plain = (y < 8 && x / 8 < nbits) ||
					     (2 * x >= sx && 2 * x < sx + sq && 2 * y >= sy && 2 * y < sy + sq);
				row[x] = plain ? 128 : bars[x * 16 / w][c];
			}
		}
	}
}

/* ---- the source ---- */

typedef struct {
	size_t off, len;
	bool key;
} enc_frame_t;

struct km_peer_src {
	km_peer_src_config_t cfg;
	int nloop;           /* frames in the loop */
	int kf;              /* regular keyframe interval */
	int entry;           /* spacing of branch entries */
	uint8_t *bytes;      /* every encoded video frame */
	size_t nbytes, capbytes;
	enc_frame_t *frames; /* main chain at [0, nloop), then the branches */
	int nframes, capframes;
	int *branch;         /* per position: frame index of the branch keyframe, or -1 */
	int pos;             /* loop position of the next frame */
	int base, base_pos;  /* chain being played: frame index at base_pos; -1 = main */
	bool want_key;
	uint16_t picture_id;
	uint8_t audio[AUDIO_PACKETS][AUDIO_MAX_BYTES];
	int audio_len[AUDIO_PACKETS];
	int audio_pos;
};

static bool config_ok(const km_peer_src_config_t *c)
{
	return c && c->width >= 16 && c->height >= 16 && c->width <= 4096 &&
	       c->height <= 4096 && c->width % 2 == 0 && c->height % 2 == 0 && c->fps >= 1 &&
	       c->fps <= 120 && c->video_kbps >= 10 && c->video_kbps <= 50000 &&
	       c->seconds >= 1 && c->seconds <= 60 && c->keyframe_interval >= 0;
}

static int keep_frame(km_peer_src_t *s, const vpx_codec_cx_pkt_t *pkt)
{
	size_t len = pkt->data.frame.sz;
	if (s->nframes == s->capframes) {
		int cap = s->capframes ? 2 * s->capframes : 256;
		enc_frame_t *f = realloc(s->frames, (size_t)cap * sizeof(*f));
		if (!f)
			return KM_ENOMEM;
		s->frames = f;
		s->capframes = cap;
	}
	if (s->capbytes - s->nbytes < len) {
		size_t cap = s->capbytes ? 2 * s->capbytes : 1 << 20;
		while (cap - s->nbytes < len)
			cap *= 2;
		uint8_t *b = realloc(s->bytes, cap);
		if (!b)
			return KM_ENOMEM;
		s->bytes = b;
		s->capbytes = cap;
	}
	memcpy(s->bytes + s->nbytes, pkt->data.frame.buf, len);
	s->frames[s->nframes++] = (enc_frame_t){ .off = s->nbytes, .len = len,
		.key = (pkt->data.frame.flags & VPX_FRAME_IS_KEY) != 0 };
	s->nbytes += len;
	return 0;
}

/* Encodes loop position pos (a keyframe if key); exactly one frame must come out. */
static int encode_pos(km_peer_src_t *s, vpx_codec_ctx_t *enc, vpx_image_t *img, int pos,
		      vpx_codec_pts_t pts, bool key)
{
	km__peer_pattern(img->planes, img->stride, s->cfg.width, s->cfg.height, pos);
	if (vpx_codec_encode(enc, img, pts, 1, key ? VPX_EFLAG_FORCE_KF : 0, VPX_DL_REALTIME))
		return KM_EIO;
	int got = 0, rc;
	vpx_codec_iter_t it = NULL;
	const vpx_codec_cx_pkt_t *pkt;
	while ((pkt = vpx_codec_get_cx_data(enc, &it))) {
		if (pkt->kind != VPX_CODEC_CX_FRAME_PKT)
			continue;
		if (++got > 1 || (rc = keep_frame(s, pkt)) < 0)
			return got > 1 ? KM_EIO : rc;
	}
	if (got != 1 || (key && !s->frames[s->nframes - 1].key))
		return KM_EIO;
	return 0;
}

static int encoder_open(const km_peer_src_config_t *c, vpx_codec_ctx_t *enc)
{
	vpx_codec_enc_cfg_t e;
	if (vpx_codec_enc_config_default(vpx_codec_vp8_cx(), &e, 0))
		return KM_EIO;
	e.g_w = (unsigned)c->width;
	e.g_h = (unsigned)c->height;
	e.g_timebase.num = 1;
	e.g_timebase.den = c->fps;
	e.g_threads = 1; /* deterministic output */
	e.g_lag_in_frames = 0;
	e.g_pass = VPX_RC_ONE_PASS;
	e.g_error_resilient = VPX_ERROR_RESILIENT_DEFAULT;
	e.rc_end_usage = VPX_CBR;
	e.rc_target_bitrate = (unsigned)c->video_kbps;
	e.rc_dropframe_thresh = 0; /* one output frame per input frame */
	e.rc_min_quantizer = 4;
	e.rc_max_quantizer = 56;
	e.kf_mode = VPX_KF_DISABLED; /* keyframes only where forced */
	if (vpx_codec_enc_init(enc, vpx_codec_vp8_cx(), &e, 0))
		return KM_EIO;
	if (vpx_codec_control(enc, VP8E_SET_CPUUSED, 16) ||
	    vpx_codec_control(enc, VP8E_SET_TOKEN_PARTITIONS, VP8_ONE_TOKENPARTITION) ||
	    vpx_codec_control(enc, VP8E_SET_NOISE_SENSITIVITY, 0)) {
		vpx_codec_destroy(enc);
		return KM_EIO;
	}
	return 0;
}

/* The main chain, then one branch per entry position. */
static int encode_video(km_peer_src_t *s)
{
	vpx_codec_ctx_t enc;
	vpx_image_t *img = vpx_img_alloc(NULL, VPX_IMG_FMT_I420, (unsigned)s->cfg.width,
					 (unsigned)s->cfg.height, 16);
	if (!img)
		return KM_ENOMEM;
	int rc = encoder_open(&s->cfg, &enc);
	if (rc < 0) {
		vpx_img_free(img);
		return rc;
	}
	vpx_codec_pts_t pts = 0;
	for (int p = 0; p < s->nloop && rc == 0; p++)
		rc = encode_pos(s, &enc, img, p, pts++, p % s->kf == 0);
	for (int e = 0; e < s->nloop && rc == 0; e++) {
		s->branch[e] = -1;
		if (e % s->kf == 0 || (e % s->kf) % s->entry != 0)
			continue;
		s->branch[e] = s->nframes;
		for (int p = e; rc == 0 && p < s->nloop && (p == e || p % s->kf != 0); p++)
			rc = encode_pos(s, &enc, img, p, pts++, p == e);
	}
	vpx_codec_destroy(&enc);
	vpx_img_free(img);
	return rc;
}

/* 1 s of a 440 Hz tone; encoded twice so that the kept second starts from a
 * warm encoder and loops without a seam. */
static int encode_audio(km_peer_src_t *s)
{
	int err = 0;
	OpusEncoder *enc = opus_encoder_create(AUDIO_RATE, 1, OPUS_APPLICATION_AUDIO, &err);
	if (!enc || err != OPUS_OK)
		return KM_EIO;
	opus_encoder_ctl(enc, OPUS_SET_BITRATE(32000));
	float pcm[AUDIO_FRAME];
	int rc = 0;
	for (int pass = 0; pass < 2 && rc == 0; pass++) {
		for (int i = 0; i < AUDIO_PACKETS; i++) {
			for (int k = 0; k < AUDIO_FRAME; k++) {
				double t = (double)(i * AUDIO_FRAME + k) / AUDIO_RATE;
				pcm[k] = (float)(0.5 * sin(2.0 * M_PI * 440.0 * t));
			}
			int n = opus_encode_float(enc, pcm, AUDIO_FRAME, s->audio[i], AUDIO_MAX_BYTES);
			if (n <= 0) {
				rc = KM_EIO;
				break;
			}
			s->audio_len[i] = n;
		}
	}
	opus_encoder_destroy(enc);
	return rc;
}

int km_peer_src_new(const km_peer_src_config_t *cfg, km_peer_src_t **out)
{
	if (out)
		*out = NULL;
	if (!out || !config_ok(cfg))
		return KM_EINVAL;
	km_peer_src_t *s = calloc(1, sizeof(*s));
	if (!s)
		return KM_ENOMEM;
	s->cfg = *cfg;
	s->nloop = cfg->fps * cfg->seconds;
	s->kf = cfg->keyframe_interval > 0 && cfg->keyframe_interval < s->nloop ?
			cfg->keyframe_interval : s->nloop;
	s->entry = (s->kf + 3) / 4;
	s->base = -1;
	s->branch = malloc((size_t)s->nloop * sizeof(*s->branch));
	int rc = s->branch ? 0 : KM_ENOMEM;
	if (rc == 0)
		rc = encode_video(s);
	if (rc == 0)
		rc = encode_audio(s);
	if (rc < 0) {
		km_peer_src_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void km_peer_src_free(km_peer_src_t *s)
{
	if (!s)
		return;
	free(s->bytes);
	free(s->frames);
	free(s->branch);
	free(s);
}

void km_peer_src_request_keyframe(km_peer_src_t *s)
{
	if (s)
		s->want_key = true;
}

static size_t put_header(uint8_t *p, km_peer_stream_t *st, bool marker)
{
	p[0] = (uint8_t)(0x80 | (st->stamp ? 0x20 : 0));
	p[1] = (uint8_t)((marker ? 0x80 : 0) | (st->pt & 0x7f));
	km_wire_st16(p + 2, st->seq++);
	km_wire_st32(p + 4, st->ts);
	km_wire_st32(p + 8, st->ssrc);
	return KM_RTP_HEADER_LEN;
}

static size_t put_stamp(uint8_t *p, km_peer_stream_t *st, int64_t now_us)
{
	if (!st->stamp)
		return 0;
	km_wire_st64(p, (uint64_t)now_us);
	km_wire_st32(p + 8, st->stamp_seq++);
	p[12] = KM_PEER_STAMP_LEN;
	return KM_PEER_STAMP_LEN;
}

/* Jumps to the nearest chain that starts with a keyframe at or after pos. */
static void jump_to_key(km_peer_src_t *s)
{
	int p = s->pos;
	while (p < s->nloop && p % s->kf != 0 && s->branch[p] < 0)
		p++;
	if (p == s->nloop)
		p = 0;
	s->pos = p;
	s->base = p % s->kf == 0 ? -1 : s->branch[p];
	s->base_pos = p;
	s->want_key = false;
}

int km_peer_src_video_frame(km_peer_src_t *s, km_peer_stream_t *st, int64_t now_us,
			    km_peer_emit_fn emit, void *ud)
{
	if (!s || !st || !emit)
		return KM_EINVAL;
	if (s->want_key)
		jump_to_key(s);
	int idx = s->base < 0 ? s->pos : s->base + (s->pos - s->base_pos);
	const enc_frame_t *f = &s->frames[idx];
	size_t room = KM_PEER_MAX_RTP - KM_RTP_HEADER_LEN - VP8_DESC_LEN -
		      (st->stamp ? KM_PEER_STAMP_LEN : 0);
	size_t n = (f->len + room - 1) / room, done = 0;
	uint16_t pid = (uint16_t)(s->picture_id++ & 0x7fff);
	uint8_t p[KM_PEER_MAX_RTP];
	for (size_t i = 0; i < n; i++) {
		size_t chunk = (f->len - done) / (n - i); /* even sizes */
		size_t k = put_header(p, st, i + 1 == n);
		p[k++] = (uint8_t)(0x80 | (i == 0 ? 0x10 : 0)); /* X, S, partition 0 */
		p[k++] = 0x80;                                /* I: PictureID present */
		km_wire_st16(p + k, (uint16_t)(0x8000 | pid));  /* M: 15 bits */
		k += 2;
		memcpy(p + k, s->bytes + f->off + done, chunk);
		k += chunk;
		done += chunk;
		k += put_stamp(p + k, st, now_us);
		emit(ud, p, k);
	}
	st->ts += (uint32_t)(90000 / s->cfg.fps);
	if (++s->pos == s->nloop)
		s->pos = 0;
	if (s->pos % s->kf == 0)
		s->base = -1; /* a branch rejoins the main chain at its keyframe */
	return (int)n;
}

int km_peer_src_audio_frame(km_peer_src_t *s, km_peer_stream_t *st, int64_t now_us,
			    km_peer_emit_fn emit, void *ud)
{
	if (!s || !st || !emit)
		return KM_EINVAL;
	uint8_t p[KM_PEER_MAX_RTP];
	int i = s->audio_pos;
	size_t k = put_header(p, st, false);
	memcpy(p + k, s->audio[i], (size_t)s->audio_len[i]);
	k += (size_t)s->audio_len[i];
	k += put_stamp(p + k, st, now_us);
	emit(ud, p, k);
	st->ts += AUDIO_FRAME;
	s->audio_pos = (i + 1) % AUDIO_PACKETS;
	return 1;
}

/* ---- the receiver ---- */

#define WIN 1024 /* packets kept, a power of two */
#define SLOT_BYTES KM_RTP_MAX_PACKET
#define GIVE_UP_US 500000
#define NACK_GAP_US 100000
#define NACK_TRIES 3
#define REASK_US 1000000
#define DELAYS 4096
#define NONE INT64_MIN

enum { F_MARKER = 1, F_START = 2, F_KEY = 4, F_EMPTY = 8 };

typedef struct {
	int64_t ext;       /* unwrapped seq stored here (may be negative), or NONE */
	int64_t arrive_us;
	uint32_t ts;
	uint16_t len;      /* VP8 payload bytes after the descriptor */
	uint8_t flags;
	uint8_t nacks;     /* NACKs sent for nack_ext */
	int64_t nack_ext, nack_us;
} slot_t;

struct km_peer_rx {
	km_peer_kind_t kind;
	slot_t *slot;
	uint8_t *store;        /* WIN * SLOT_BYTES payloads (video only) */
	km_rtp_unwrap_t uw;
	bool started;
	uint32_t ssrc;
	int64_t first, newest; /* unwrapped */
	uint64_t unique;       /* accepted packets in [first, newest] */
	/* video */
	vpx_codec_ctx_t vpx;
	bool vpx_ok;
	int64_t next;          /* where the next frame to decode starts */
	bool progressed;       /* next moved at least once */
	int64_t stall_us;      /* since when next is stuck, or -1 */
	bool broken;           /* no valid reference: only a keyframe decodes */
	bool need_kf;
	int64_t need_us;       /* when need_kf was last set, or -1 */
	uint32_t dropped_ts;   /* ts of the last frame counted as dropped */
	bool dropped_any;
	uint8_t *frame;
	size_t frame_cap;
	/* audio */
	OpusDecoder *opus;
	float pcm[5760];
	int64_t audio_last;
	/* stats */
	km_peer_rx_stats_t st;
	int64_t last_decode_us;
	int64_t *delays;
	size_t ndelays;
	uint64_t rng;
};

int km_peer_rx_new(km_peer_kind_t kind, km_peer_rx_t **out)
{
	if (out)
		*out = NULL;
	if (!out || (kind != KM_PEER_AUDIO && kind != KM_PEER_VIDEO))
		return KM_EINVAL;
	km_peer_rx_t *r = calloc(1, sizeof(*r));
	if (!r)
		return KM_ENOMEM;
	r->kind = kind;
	r->slot = malloc(WIN * sizeof(*r->slot));
	r->delays = malloc(DELAYS * sizeof(*r->delays));
	int rc = r->slot && r->delays ? 0 : KM_ENOMEM;
	for (size_t i = 0; rc == 0 && i < WIN; i++)
		r->slot[i] = (slot_t){ .ext = NONE, .nack_ext = NONE };
	r->stall_us = r->need_us = r->last_decode_us = r->audio_last = -1;
	r->broken = true;
	r->rng = 0x9e3779b97f4a7c15u;
	km_rtp_unwrap_init(&r->uw);
	if (rc == 0 && kind == KM_PEER_VIDEO) {
		vpx_codec_dec_cfg_t dc = { .threads = 1 };
		r->store = malloc((size_t)WIN * SLOT_BYTES);
		r->frame_cap = 64 * 1024;
		r->frame = malloc(r->frame_cap);
		if (!r->store || !r->frame)
			rc = KM_ENOMEM;
		else if (vpx_codec_dec_init(&r->vpx, vpx_codec_vp8_dx(), &dc, 0))
			rc = KM_EIO;
		else
			r->vpx_ok = true;
	} else if (rc == 0) {
		int err = 0;
		r->opus = opus_decoder_create(AUDIO_RATE, 1, &err);
		if (!r->opus || err != OPUS_OK)
			rc = KM_EIO;
	}
	if (rc < 0) {
		km_peer_rx_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void km_peer_rx_free(km_peer_rx_t *r)
{
	if (!r)
		return;
	if (r->vpx_ok)
		vpx_codec_destroy(&r->vpx);
	if (r->opus)
		opus_decoder_destroy(r->opus);
	free(r->frame);
	free(r->store);
	free(r->delays);
	free(r->slot);
	free(r);
}

static slot_t *slot_of(const km_peer_rx_t *r, int64_t ext)
{
	slot_t *s = &r->slot[(uint64_t)ext & (WIN - 1)];
	return s->ext == ext ? s : NULL;
}

/* RFC 7741 4.2: the payload descriptor's length, and whether this packet
 * starts a frame (S=1, partition 0) of a keyframe (P bit 0). Pure. */
static int vp8_descriptor(const uint8_t *p, size_t len, size_t *hdr, uint8_t *flags)
{
	size_t n = 1;
	if (len < 1)
		return KM_EINVAL;
	if (p[0] & 0x80) {
		if (len < 2)
			return KM_EINVAL;
		n = 2;
		if (p[1] & 0x80) {
			if (len < 3)
				return KM_EINVAL;
			n += (p[2] & 0x80) ? 2 : 1;
		}
		n += (p[1] & 0x40) ? 1 : 0;
		n += (p[1] & 0x30) ? 1 : 0;
	}
	if (len <= n)
		return KM_EINVAL; /* no VP8 data */
	*hdr = n;
	*flags = 0;
	if ((p[0] & 0x10) && (p[0] & 0x07) == 0)
		*flags = F_START | ((p[n] & 0x01) ? 0 : F_KEY);
	return 0;
}

static void ask_key(km_peer_rx_t *r, int64_t now_us, bool force)
{
	if (force || r->need_us < 0 || now_us - r->need_us >= REASK_US) {
		r->need_kf = true;
		r->need_us = now_us;
	}
}

/* Counts a frame given up once, however many of its pieces are dropped
 * (known: its timestamp is known). */
static void count_dropped(km_peer_rx_t *r, uint32_t ts, bool known)
{
	if (known && r->dropped_any && r->dropped_ts == ts)
		return;
	r->dropped_any = known;
	r->dropped_ts = ts;
	r->st.frames_dropped++;
}

static void advance(km_peer_rx_t *r, int64_t to)
{
	r->next = to;
	r->progressed = true;
	r->stall_us = -1;
}

static void decoded(km_peer_rx_t *r, int64_t now_us)
{
	r->st.frames_decoded++;
	if (r->last_decode_us >= 0 && now_us - r->last_decode_us > r->st.max_freeze_ms * 1000)
		r->st.max_freeze_ms = (now_us - r->last_decode_us) / 1000;
	r->last_decode_us = now_us;
}

static void decode_video(km_peer_rx_t *r, int64_t a, int64_t b, int64_t now_us)
{
	size_t len = 0;
	for (int64_t e = a; e <= b; e++)
		len += slot_of(r, e)->len;
	if (len > r->frame_cap) {
		uint8_t *f = realloc(r->frame, len);
		if (!f) {
			count_dropped(r, slot_of(r, a)->ts, true);
			r->broken = true;
			return;
		}
		r->frame = f;
		r->frame_cap = len;
	}
	len = 0;
	for (int64_t e = a; e <= b; e++) {
		slot_t *s = slot_of(r, e);
		memcpy(r->frame + len, r->store + ((uint64_t)e & (WIN - 1)) * SLOT_BYTES, s->len);
		len += s->len;
	}
	int corrupt = 0;
	bool got = false;
	if (vpx_codec_decode(&r->vpx, r->frame, (unsigned)len, NULL, 0) != VPX_CODEC_OK ||
	    vpx_codec_control(&r->vpx, VP8D_GET_FRAME_CORRUPTED, &corrupt) != VPX_CODEC_OK)
		corrupt = 1;
	vpx_codec_iter_t it = NULL;
	vpx_image_t *img;
	while ((img = vpx_codec_get_frame(&r->vpx, &it))) {
		r->st.width = (int)img->d_w;
		r->st.height = (int)img->d_h;
		got = true;
	}
	if (corrupt) {
		r->st.frames_corrupt++;
		r->broken = true;
		ask_key(r, now_us, true);
		return;
	}
	r->broken = false;
	if (got)
		decoded(r, now_us);
}

/* The frame starting at a: its last ext in *end if all its packets are here
 * (marker, or the next packet has another timestamp). */
static bool frame_complete(const km_peer_rx_t *r, int64_t a, int64_t *end)
{
	const slot_t *s0 = slot_of(r, a);
	for (int64_t e = a; s0 && e <= r->newest && e - a < WIN; e++) {
		const slot_t *s = slot_of(r, e);
		if (!s)
			return false;
		if (s->ts != s0->ts || (e > a && (s->flags & (F_START | F_EMPTY)))) {
			*end = e - 1;
			return true;
		}
		if (s->flags & F_MARKER) {
			*end = e;
			return true;
		}
	}
	return false;
}

/* The first packet after a that starts a frame with another timestamp than
 * ts (with_ts false: any), or -1. With key, only complete keyframes. */
static int64_t find_start(const km_peer_rx_t *r, int64_t a, uint32_t ts, bool with_ts, bool key)
{
	int64_t end;
	for (int64_t e = a + 1; e <= r->newest; e++) {
		const slot_t *s = slot_of(r, e);
		if (!s || !(s->flags & F_START) || (with_ts && s->ts == ts))
			continue;
		if (!key || ((s->flags & F_KEY) && frame_complete(r, e, &end)))
			return e;
	}
	return -1;
}

/* Drops the frame at next (incomplete for too long, or evicted). */
static void give_up(km_peer_rx_t *r, int64_t now_us)
{
	const slot_t *s = slot_of(r, r->next);
	uint32_t ts = s ? s->ts : 0;
	count_dropped(r, ts, s != NULL);
	r->broken = true;
	ask_key(r, now_us, true);
	int64_t n = find_start(r, r->next, ts, s != NULL, false);
	advance(r, n >= 0 ? n : r->newest + 1);
}

/* Stuck at next: skip to a complete keyframe if one is here, else note the stall. */
static bool stuck(km_peer_rx_t *r, int64_t now_us)
{
	int64_t k = find_start(r, r->next, 0, false, true);
	if (k >= 0) {
		const slot_t *s = slot_of(r, r->next);
		count_dropped(r, s ? s->ts : 0, s != NULL);
		advance(r, k);
		return true;
	}
	if (r->stall_us < 0) {
		r->stall_us = now_us;
		for (int64_t e = r->next; e <= r->newest; e++) {
			const slot_t *s = slot_of(r, e);
			if (s) {
				r->stall_us = s->arrive_us < now_us ? s->arrive_us : now_us;
				break;
			}
		}
	}
	return false;
}

/* Decodes every frame that is complete at next, in order. A frame that
 * cannot be decoded (its start or its reference lost) is dropped, except
 * before the first frame was passed: then an earlier keyframe may still
 * arrive out of order, so it waits like an incomplete frame. */
static void drain_video(km_peer_rx_t *r, int64_t now_us)
{
	while (r->next <= r->newest) {
		const slot_t *s = slot_of(r, r->next);
		int64_t end = 0;
		if (s && (s->flags & F_EMPTY)) { /* padding only */
			r->next++;
			r->stall_us = -1;
			continue;
		}
		bool whole = s && frame_complete(r, r->next, &end);
		if (whole && (s->flags & F_START) && (!r->broken || (s->flags & F_KEY))) {
			decode_video(r, r->next, end, now_us);
			advance(r, end + 1);
		} else if (whole && r->progressed) {
			count_dropped(r, s->ts, true);
			r->broken = true;
			ask_key(r, now_us, false);
			advance(r, end + 1);
		} else {
			if (whole)
				ask_key(r, now_us, false);
			if (!stuck(r, now_us))
				return;
		}
	}
}

static void take_stamp(km_peer_rx_t *r, const km_rtp_t *h, int64_t now_us)
{
	if (!h->padding || h->pad_len != KM_PEER_STAMP_LEN)
		return;
	const uint8_t *p = h->data + h->len - KM_PEER_STAMP_LEN;
	int64_t d = now_us - (int64_t)km_wire_ld64(p);
	r->st.stamped++;
	if (r->st.stamped == 1 || d > r->st.delay_us_max)
		r->st.delay_us_max = d;
	if (r->ndelays < DELAYS) {
		r->delays[r->ndelays++] = d;
		return;
	}
	r->rng ^= r->rng << 13; /* xorshift64: reservoir sampling */
	r->rng ^= r->rng >> 7;
	r->rng ^= r->rng << 17;
	uint64_t j = r->rng % r->st.stamped;
	if (j < DELAYS)
		r->delays[j] = d;
}

static void audio_packet(km_peer_rx_t *r, const km_rtp_t *h, int64_t ext, int64_t now_us)
{
	if (h->payload_len == 0 || (r->audio_last >= 0 && ext <= r->audio_last))
		return; /* nothing to decode, or too late */
	r->audio_last = ext;
	int n = opus_decode_float(r->opus, h->data + h->header_len, (opus_int32)h->payload_len,
				  r->pcm, (int)(sizeof(r->pcm) / sizeof(r->pcm[0])), 0);
	if (n <= 0) {
		r->st.frames_corrupt++;
		return;
	}
	double sum = 0;
	for (int i = 0; i < n; i++)
		sum += (double)r->pcm[i] * r->pcm[i];
	r->st.audio_level = sqrt(sum / n);
	decoded(r, now_us);
}

/* A new newest seq: a pending frame that would leave the window is dropped. */
static void slide(km_peer_rx_t *r, int64_t ext, int64_t now_us)
{
	if (r->kind == KM_PEER_VIDEO && r->next <= ext - WIN) {
		const slot_t *s = slot_of(r, r->next);
		count_dropped(r, s ? s->ts : 0, s != NULL);
		r->broken = true;
		ask_key(r, now_us, true);
		advance(r, ext - WIN + 1);
	}
	r->newest = ext;
}

/* Sequence bookkeeping; returns 1 for a packet to process, 0 to ignore. */
static int accept_seq(km_peer_rx_t *r, int64_t ext, int64_t now_us)
{
	if (!r->started) {
		r->started = true;
		r->first = r->newest = r->next = ext;
	} else if (ext > r->newest) {
		slide(r, ext, now_us);
	} else if (ext <= r->newest - WIN) {
		return 0; /* older than the window */
	} else if (slot_of(r, ext)) {
		r->st.duplicates++;
		return 0;
	}
	if (ext < r->first)
		r->first = ext;
	if (!r->progressed && ext < r->next) {
		r->next = ext; /* reordered before the first frame */
		r->stall_us = -1;
	}
	r->unique++;
	r->st.packets++;
	return 1;
}

int km_peer_rx_packet(km_peer_rx_t *r, const uint8_t *p, size_t len, int64_t now_us)
{
	km_rtp_t h;
	size_t hdr = 0;
	uint8_t flags = F_EMPTY;
	if (!r || !p || km_rtp_parse(p, len, &h) != KM_RTP_OK)
		return KM_EINVAL;
	if (r->started && h.ssrc != r->ssrc)
		return KM_EINVAL; /* one stream per receiver */
	if (r->kind == KM_PEER_VIDEO && h.payload_len > 0 &&
	    vp8_descriptor(h.data + h.header_len, h.payload_len, &hdr, &flags) < 0)
		return KM_EINVAL;
	r->ssrc = h.ssrc;
	int64_t ext = km_rtp_unwrap(&r->uw, h.seq);
	if (!accept_seq(r, ext, now_us))
		return 0;
	take_stamp(r, &h, now_us);
	slot_t *s = &r->slot[(uint64_t)ext & (WIN - 1)];
	*s = (slot_t){ .ext = ext, .arrive_us = now_us, .ts = h.ts, .nack_ext = NONE,
		.flags = (uint8_t)(flags | (h.marker ? F_MARKER : 0)) };
	if (r->kind == KM_PEER_AUDIO) {
		audio_packet(r, &h, ext, now_us);
		return 0;
	}
	if (!(flags & F_EMPTY)) {
		s->len = (uint16_t)(h.payload_len - hdr);
		memcpy(r->store + ((uint64_t)ext & (WIN - 1)) * SLOT_BYTES,
		       h.data + h.header_len + hdr, s->len);
	}
	if (ext >= r->next)
		drain_video(r, now_us);
	return 0;
}

void km_peer_rx_tick(km_peer_rx_t *r, int64_t now_us)
{
	if (!r || r->kind != KM_PEER_VIDEO || !r->started || r->stall_us < 0)
		return;
	if (now_us - r->stall_us > GIVE_UP_US) {
		give_up(r, now_us);
		drain_video(r, now_us);
	}
}

size_t km_peer_rx_nack_list(km_peer_rx_t *r, int64_t now_us, uint16_t *seqs, size_t cap)
{
	size_t n = 0;
	if (!r || !r->started || !seqs)
		return 0;
	int64_t lo = r->newest - WIN + 1 > r->first ? r->newest - WIN + 1 : r->first;
	for (int64_t e = lo; e < r->newest && n < cap; e++) {
		slot_t *s = &r->slot[(uint64_t)e & (WIN - 1)];
		if (s->ext == e)
			continue;
		if (s->nack_ext != e) {
			s->nack_ext = e;
			s->nacks = 0;
		} else if (s->nacks >= NACK_TRIES || now_us - s->nack_us < NACK_GAP_US) {
			continue;
		}
		s->nacks++;
		s->nack_us = now_us;
		seqs[n++] = (uint16_t)e;
	}
	return n;
}

bool km_peer_rx_need_keyframe(km_peer_rx_t *r)
{
	if (!r || !r->need_kf)
		return false;
	r->need_kf = false;
	return true;
}

uint32_t km_peer_rx_ssrc(const km_peer_rx_t *r)
{
	return r && r->started ? r->ssrc : 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Nearest rank: the smallest value with at least pct % of the samples at or below it. */
static int64_t rank(const int64_t *sorted, size_t n, size_t pct)
{
	size_t k = (pct * n + 99) / 100;
	return sorted[k ? k - 1 : 0];
}

void km_peer_rx_stats(const km_peer_rx_t *r, km_peer_rx_stats_t *out)
{
	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	if (!r)
		return;
	*out = r->st;
	if (r->started)
		out->lost = (uint64_t)(r->newest - r->first + 1) - r->unique;
	int64_t *d = r->ndelays ? malloc(r->ndelays * sizeof(*d)) : NULL;
	if (d) {
		memcpy(d, r->delays, r->ndelays * sizeof(*d));
		qsort(d, r->ndelays, sizeof(*d), cmp_i64);
		out->delay_us_p50 = rank(d, r->ndelays, 50);
		out->delay_us_p99 = rank(d, r->ndelays, 99);
		free(d);
	}
}
