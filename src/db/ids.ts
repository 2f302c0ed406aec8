import { randomBytes } from 'node:crypto';

/** The last id's time and counter, so ids made in the same millisecond still sort in order. */
let lastMs = -1;
let lastCounter = 0;

/**
 * UUID version 7 (RFC 9562): random, but ordered by creation time, so ids sort like their rows were
 * made and can serve as pagination cursors on both databases. Within one process they are strictly
 * increasing (RFC 9562 §6.2, method 1: a 12-bit counter in rand_a that starts at a random value
 * below 2048 each millisecond and, past 4095, borrows the next millisecond), so the events of one
 * transaction keep the order they were written in. An explicit time well in the past (historical
 * rows) is not part of that sequence.
 */
export function newId(now: number = Date.now()): string {
  const bytes = randomBytes(16);
  let ms = now;
  let counter: number;
  if (now > lastMs) {
    counter = bytes.readUInt16BE(6) & 0x7ff;
    lastMs = now;
    lastCounter = counter;
  } else if (lastMs - now < 1000) {
    counter = lastCounter + 1;
    if (counter > 0xfff) {
      lastMs += 1;
      counter = 0;
    }
    ms = lastMs;
    lastCounter = counter;
  } else {
    counter = bytes.readUInt16BE(6) & 0xfff;
  }
  bytes.writeUIntBE(ms, 0, 6);
  bytes[6] = 0x70 | (counter >> 8);
  bytes[7] = counter & 0xff;
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
