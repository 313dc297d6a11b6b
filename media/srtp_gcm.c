/* srtp_gcm.c — AES-GCM for libsrtp2 on OpenSSL's EVP interface.
 *
 * Debian's libsrtp2 does its AEAD ciphers with NSS: every packet goes through
 * PK11_Encrypt/PK11_Decrypt, which make and free a context, take the
 * softoken's session locks and allocate each time (a fifth of a media
 * worker's profile at 8 rooms of 4). libsrtp2 lets a program replace a cipher
 * type (srtp_replace_cipher_type, cipher.h) and, before it accepts the new
 * one, runs the replaced type's known-answer vectors against it. Here each
 * libsrtp2 cipher keeps one EVP context keyed once; a packet only sets the
 * IV, the AAD and the tag. No I/O, no logging.
 *
 * Threads: the types are installed by km_srtp_init() before workers start; a
 * cipher's state belongs to the one session (one worker) that made it, as
 * with NSS. */
#include "media/srtp_gcm.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <srtp2/cipher.h>
#include <srtp2/srtp.h>

/* libsrtp2's own (NSS) AES-GCM types: exported by the library though not in
 * its installed headers. Used only to borrow their test vectors, which
 * libsrtp2 also runs against a replacement. */
extern const srtp_cipher_type_t srtp_aes_gcm_128, srtp_aes_gcm_256;

typedef struct {
	EVP_CIPHER_CTX *ctx;
	const EVP_CIPHER *evp;
	int tag_len;
	int dir; /* srtp_direction_* of the packet under way */
} gcm_t;

static EVP_CIPHER *evp_128, *evp_256; /* fetched once; kept for the process */

static srtp_cipher_type_t type_128, type_256; /* filled in by km_srtp_gcm_install */

static srtp_err_status_t gcm_alloc(srtp_cipher_pointer_t *cp, int key_len, int tag_len)
{
	const srtp_cipher_type_t *type;
	const EVP_CIPHER *evp;
	int alg;
	if (key_len == SRTP_AES_GCM_128_KEY_LEN_WSALT) {
		type = &type_128, evp = evp_128, alg = SRTP_AES_GCM_128;
	} else if (key_len == SRTP_AES_GCM_256_KEY_LEN_WSALT) {
		type = &type_256, evp = evp_256, alg = SRTP_AES_GCM_256;
	} else {
		return srtp_err_status_bad_param;
	}
	if ((tag_len != 16 && tag_len != 8) || !evp)
		return srtp_err_status_bad_param;
	srtp_cipher_t *c = calloc(1, sizeof *c);
	gcm_t *g = calloc(1, sizeof *g);
	if (g)
		g->ctx = EVP_CIPHER_CTX_new();
	if (!c || !g || !g->ctx) {
		if (g)
			EVP_CIPHER_CTX_free(g->ctx);
		free(g);
		free(c);
		return srtp_err_status_alloc_fail;
	}
	g->evp = evp;
	g->tag_len = tag_len;
	g->dir = srtp_direction_any;
	c->type = type;
	c->state = g;
	c->algorithm = alg;
	c->key_len = key_len; /* with the salt, as libsrtp2 expects */
	*cp = c;
	return srtp_err_status_ok;
}

static srtp_err_status_t gcm_dealloc(srtp_cipher_pointer_t c)
{
	if (!c)
		return srtp_err_status_ok;
	gcm_t *g = c->state;
	if (g) {
		EVP_CIPHER_CTX_free(g->ctx); /* clears the key schedule */
		free(g);
	}
	free(c);
	return srtp_err_status_ok;
}

/* key: the session key (16 or 32 bytes; libsrtp2 keeps the salt itself). */
static srtp_err_status_t gcm_init(void *state, const uint8_t *key)
{
	gcm_t *g = state;
	g->dir = srtp_direction_any;
	if (!EVP_CIPHER_CTX_reset(g->ctx) ||
	    !EVP_CipherInit_ex(g->ctx, g->evp, NULL, key, NULL, 1))
		return srtp_err_status_init_fail;
	return srtp_err_status_ok;
}

/* iv: the 12-byte nonce libsrtp2 made from the salt, SSRC and index. */
static srtp_err_status_t gcm_set_iv(void *state, uint8_t *iv, srtp_cipher_direction_t dir)
{
	gcm_t *g = state;
	if (dir != srtp_direction_encrypt && dir != srtp_direction_decrypt)
		return srtp_err_status_bad_param;
	g->dir = dir;
	if (!EVP_CipherInit_ex(g->ctx, NULL, NULL, NULL, iv, dir == srtp_direction_encrypt))
		return srtp_err_status_init_fail;
	return srtp_err_status_ok;
}

/* May be called more than once per packet (SRTCP adds its index word). */
static srtp_err_status_t gcm_set_aad(void *state, const uint8_t *aad, uint32_t len)
{
	gcm_t *g = state;
	int out = 0;
	if (g->dir == srtp_direction_any || len > INT32_MAX)
		return srtp_err_status_bad_param;
	if (len && !EVP_CipherUpdate(g->ctx, NULL, &out, aad, (int)len))
		return srtp_err_status_algo_fail;
	return srtp_err_status_ok;
}

/* In place; the tag comes from gcm_get_tag. */
static srtp_err_status_t gcm_encrypt(void *state, uint8_t *buf, unsigned int *len)
{
	gcm_t *g = state;
	int out = 0;
	if (g->dir != srtp_direction_encrypt || *len > INT32_MAX)
		return srtp_err_status_bad_param;
	if (*len && (!EVP_CipherUpdate(g->ctx, buf, &out, buf, (int)*len) || out != (int)*len))
		return srtp_err_status_cipher_fail;
	return srtp_err_status_ok;
}

static srtp_err_status_t gcm_get_tag(void *state, uint8_t *tag, uint32_t *len)
{
	gcm_t *g = state;
	uint8_t none[16];
	int out = 0;
	if (g->dir != srtp_direction_encrypt)
		return srtp_err_status_bad_param;
	if (!EVP_CipherFinal_ex(g->ctx, none, &out) ||
	    !EVP_CIPHER_CTX_ctrl(g->ctx, EVP_CTRL_AEAD_GET_TAG, g->tag_len, tag))
		return srtp_err_status_algo_fail;
	*len = (uint32_t)g->tag_len;
	return srtp_err_status_ok;
}

/* In place: buf[0..*len) is ciphertext then the tag; on success *len loses
 * the tag. A wrong tag is auth_fail (the plaintext is then garbage and
 * libsrtp2 drops it). */
static srtp_err_status_t gcm_decrypt(void *state, uint8_t *buf, unsigned int *len)
{
	gcm_t *g = state;
	uint8_t none[16];
	int out = 0;
	if (g->dir != srtp_direction_decrypt || *len > INT32_MAX)
		return srtp_err_status_bad_param;
	if (*len < (unsigned)g->tag_len)
		return srtp_err_status_auth_fail;
	int n = (int)*len - g->tag_len;
	if (!EVP_CIPHER_CTX_ctrl(g->ctx, EVP_CTRL_AEAD_SET_TAG, g->tag_len, buf + n))
		return srtp_err_status_algo_fail;
	if (n && (!EVP_CipherUpdate(g->ctx, buf, &out, buf, n) || out != n))
		return srtp_err_status_cipher_fail;
	if (EVP_CipherFinal_ex(g->ctx, none, &out) != 1)
		return srtp_err_status_auth_fail;
	*len = (unsigned)n;
	return srtp_err_status_ok;
}

static void fill(srtp_cipher_type_t *t, const srtp_cipher_type_t *nss, const char *what,
		 srtp_cipher_type_id_t id)
{
	*t = (srtp_cipher_type_t){
		.alloc = gcm_alloc,
		.dealloc = gcm_dealloc,
		.init = gcm_init,
		.set_aad = gcm_set_aad,
		.encrypt = gcm_encrypt,
		.decrypt = gcm_decrypt,
		.set_iv = gcm_set_iv,
		.get_tag = gcm_get_tag,
		.description = what,
		.test_data = nss->test_data,
		.id = id,
	};
}

static int installed;

const struct srtp_cipher_type_t *km_srtp_gcm_type(int key_bits)
{
	if (!installed)
		return NULL;
	return key_bits == 128 ? &type_128 : key_bits == 256 ? &type_256 : NULL;
}

int km_srtp_gcm_install(void)
{
	if (!evp_128)
		evp_128 = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
	if (!evp_256)
		evp_256 = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	if (!evp_128 || !evp_256)
		return -1;
	fill(&type_128, &srtp_aes_gcm_128, "AES-128 GCM (kamer, OpenSSL EVP)", SRTP_AES_GCM_128);
	fill(&type_256, &srtp_aes_gcm_256, "AES-256 GCM (kamer, OpenSSL EVP)", SRTP_AES_GCM_256);
	/* Each call runs both our vectors and the replaced type's; a failure
	 * leaves that id on libsrtp2's own cipher. Both or neither: if 128 is
	 * refused, 256 goes back to libsrtp2's, so that km_srtp_backend() is
	 * true for every key size. */
	if (srtp_replace_cipher_type(&type_256, SRTP_AES_GCM_256) != srtp_err_status_ok)
		return -1;
	if (srtp_replace_cipher_type(&type_128, SRTP_AES_GCM_128) != srtp_err_status_ok) {
		(void)srtp_replace_cipher_type(&srtp_aes_gcm_256, SRTP_AES_GCM_256);
		return -1;
	}
	installed = 1;
	return 0;
}
