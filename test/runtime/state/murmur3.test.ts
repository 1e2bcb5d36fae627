import assert from 'node:assert/strict';
import { test } from 'node:test';
import { murmur3String, murmur3_32 } from '../../../runtime/state/index.ts';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

// Published MurmurHash3_x86_32 vectors (SMHasher's reference implementation).
const vectors: Array<[Uint8Array, number, number]> = [
  [new Uint8Array([]), 0, 0],
  [new Uint8Array([]), 1, 0x514e28b7],
  [new Uint8Array([]), 0xffffffff, 0x81f16f39],
  [new Uint8Array([0xff, 0xff, 0xff, 0xff]), 0, 0x76293b50],
  [new Uint8Array([0x21, 0x43, 0x65, 0x87]), 0, 0xf55b516b],
  [new Uint8Array([0x21, 0x43, 0x65, 0x87]), 0x5082edee, 0x2362f9de],
  [new Uint8Array([0x21, 0x43, 0x65]), 0, 0x7e4a8634],
  [new Uint8Array([0x21, 0x43]), 0, 0xa0f7b07a],
  [new Uint8Array([0x21]), 0, 0x72661cf4],
  [new Uint8Array([0, 0, 0, 0]), 0, 0x2362f9de],
  [new Uint8Array([0, 0, 0]), 0, 0x85f0b427],
  [new Uint8Array([0, 0]), 0, 0x30f4c306],
  [new Uint8Array([0]), 0, 0x514e28b7],
  [utf8('aaaa'), 0x9747b28c, 0x5a97808a],
  [utf8('aaa'), 0x9747b28c, 0x283e0130],
  [utf8('aa'), 0x9747b28c, 0x5d211726],
  [utf8('a'), 0x9747b28c, 0x7fa09ea6],
  [utf8('abcd'), 0x9747b28c, 0xf0478627],
  [utf8('abc'), 0x9747b28c, 0xc84a62dd],
  [utf8('ab'), 0x9747b28c, 0x74875592],
  [utf8('Hello, world!'), 0x9747b28c, 0x24884cba],
  [utf8('ππππππππ'), 0x9747b28c, 0xd58063c1],
  [utf8('The quick brown fox jumps over the lazy dog'), 0x9747b28c, 0x2fa826cd],
];

test('murmur3_32 matches the published x86_32 vectors', () => {
  for (const [bytes, seed, expected] of vectors) {
    assert.equal(murmur3_32(bytes, seed), expected, `bytes [${[...bytes].join(',')}] seed ${seed.toString(16)}`);
  }
});

test('murmur3String equals murmur3_32 of the UTF-8 bytes, ASCII and not', () => {
  const samples = ['', 'a', 'ab', 'abc', 'abcd', 'abcde', 'user-17', 'Hello, world!', 'ππππ', 'aπ', 'abcπ', 'abcdé',
    'é', '日本語のキー', '🎉 party', 'x'.repeat(1001), '\u007f\u0080'];
  for (let i = 0; i < 2000; i++) {
    let s = '';
    const len = i % 23;
    for (let j = 0; j < len; j++) s += String.fromCharCode(Math.random() < 0.9 ? 32 + Math.floor(Math.random() * 95) : 128 + Math.floor(Math.random() * 4000));
    samples.push(s);
  }
  for (const s of samples) assert.equal(murmur3String(s), murmur3_32(utf8(s)), JSON.stringify(s));
});
