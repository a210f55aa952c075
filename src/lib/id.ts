import { randomBytes } from 'node:crypto';

// Prefixed, time-sortable ids (`tr_01JD…`): 10 characters of millisecond time, 16 of randomness, in
// Crockford base32, so ids sort by creation time. Within one millisecond the random part is
// incremented, so ids made by one process keep their order (the ULID "monotonic" rule).
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
let lastTime = 0;
let lastRandom: number[] = [];

// Random bytes drawn 4 KiB at a time: one call into the system's generator per 256 ids instead of one each.
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let offset = 0;
function random16(): Buffer {
  if (offset + 16 > pool.length) {
    pool = randomBytes(POOL_BYTES);
    offset = 0;
  }
  offset += 16;
  return pool.subarray(offset - 16, offset);
}

export function newId(prefix: string): string {
  const now = Date.now();
  if (now === lastTime) {
    increment(lastRandom);
  } else {
    lastTime = now;
    lastRandom = Array.from(random16(), (byte) => byte & 31);
  }
  let time = '';
  for (let t = now, i = 0; i < 10; i++, t = Math.floor(t / 32)) time = ALPHABET[t % 32] + time;
  return `${prefix}_${time}${lastRandom.map((digit) => ALPHABET[digit]).join('')}`;
}

function increment(digits: number[]) {
  for (let i = digits.length - 1; i >= 0; i--) {
    if (digits[i]! < 31) {
      digits[i]! += 1;
      return;
    }
    digits[i] = 0;
  }
}
