// format.test.mjs — the pure page helpers in web/format.js.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dateOf, groupSecret, isSwitch, svgDataUrl, totpCode, uaSummary, wholeInRange } from '../../web/format.js';

test('groupSecret', () => {
  assert.equal(groupSecret('JBSWY3DPEHPK3PXP'), 'JBSW Y3DP EHPK 3PXP');
  assert.equal(groupSecret('ABCDEFGHIJ'), 'ABCD EFGH IJ');
  assert.equal(groupSecret(' AB CD '), 'ABCD');
  assert.equal(groupSecret(''), '');
});

test('svgDataUrl keeps UTF-8', () => {
  const svg = '<svg xmlns="http://www.w3.org/2000/svg"><title>é</title></svg>';
  const url = svgDataUrl(svg);
  assert.ok(url.startsWith('data:image/svg+xml;base64,'));
  assert.equal(Buffer.from(url.split(',')[1], 'base64').toString('utf8'), svg);
});

test('dateOf', () => {
  assert.equal(dateOf(1700000000).getTime(), 1700000000000);
  assert.equal(dateOf(1700000000123).getTime(), 1700000000123);
  assert.equal(dateOf('1700000000').getTime(), 1700000000000);
  assert.equal(dateOf(null), null);
  assert.equal(dateOf('x'), null);
  assert.equal(dateOf(0), null);
});

test('uaSummary', () => {
  assert.equal(uaSummary('Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'), 'Firefox / Linux');
  assert.equal(uaSummary('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36 Edg/126.0'), 'Edge / Windows');
  assert.equal(uaSummary('Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1'), 'Safari / iOS');
  assert.equal(uaSummary('Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36'), 'Chrome / Android');
  assert.equal(uaSummary('kamer-test'), '');
  assert.equal(uaSummary(undefined), '');
});

test('isSwitch, wholeInRange, totpCode', () => {
  assert.ok(isSwitch([0, 1]));
  assert.ok(!isSwitch([0, 2]));
  assert.ok(!isSwitch(undefined));
  assert.equal(wholeInRange(' 15 ', 1, 60), 15);
  assert.equal(wholeInRange('0', 1, 60), null);
  assert.equal(wholeInRange('61', 1, 60), null);
  assert.equal(wholeInRange('1.5', 1, 60), null);
  assert.equal(wholeInRange('', 1, 60), null);
  assert.equal(totpCode('123 456'), '123456');
  assert.equal(totpCode('123-456'), '123456');
  assert.equal(totpCode('12345'), null);
  assert.equal(totpCode('12345a'), null);
});
