// client.mjs — a small browser-like API client for tests: keeps the session
// cookie, sends kamer's Origin, computes TOTP codes (RFC 6238) itself.
import crypto from 'node:crypto';
import { request } from './kamer.mjs';

export const COOKIE = '__Host-kamer_session';

export class Client {
  constructor(k) {
    this.k = k;
    this.cookie = '';
    this.setCookies = [];
  }

  async call(method, path, body, extra = {}) {
    const headers = { origin: `https://localhost:${this.k.port}`, 'user-agent': 'kamer-test', ...extra };
    if (this.cookie) headers.cookie = `${COOKIE}=${this.cookie}`;
    const r = await request(this.k.port, this.k.ca, method, path, body, headers);
    const sc = r.headers['set-cookie'] || [];
    for (const c of sc) {
      this.setCookies.push(c);
      const m = c.match(new RegExp(`^${COOKIE}=([^;]*)`));
      if (m) this.cookie = m[1];
    }
    return r;
  }

  get = (p) => this.call('GET', p);
  post = (p, b = {}) => this.call('POST', p, b);
  put = (p, b = {}) => this.call('PUT', p, b);
  patch = (p, b = {}) => this.call('PATCH', p, b);
  del = (p) => this.call('DELETE', p);
}

export function base32Decode(s) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0, value = 0;
  const out = [];
  for (const ch of s.replace(/=+$/, '').toUpperCase()) {
    const i = alphabet.indexOf(ch);
    if (i < 0) throw new Error(`bad base32 ${ch}`);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) { out.push((value >>> (bits - 8)) & 0xff); bits -= 8; }
  }
  return Buffer.from(out);
}

// The TOTP code of secret (base32) at unix time t (seconds).
export function totp(secretB32, t) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(t / 30)));
  const h = crypto.createHmac('sha1', base32Decode(secretB32)).update(counter).digest();
  const off = h[h.length - 1] & 0xf;
  const n = ((h[off] & 0x7f) << 24) | (h[off + 1] << 16) | (h[off + 2] << 8) | h[off + 3];
  return String(n % 1000000).padStart(6, '0');
}
