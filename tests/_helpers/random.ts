/**
 * A seeded pseudo-random generator (mulberry32), so that a test that drops
 * or reorders "random" packets does the same thing on every run and a
 * failure can be replayed from its seed.
 *
 * @module
 */

/**
 * Returns a function giving numbers in [0, 1) from `seed`.
 *
 * @example Usage
 * ```ts
 * import { seededRandom } from "./random.ts";
 * const random = seededRandom(42);
 * random(); // the same number on every run
 * ```
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Bytes from `seed` (fast, not cryptographic): test files whose content is reproducible. */
export function seededBytes(length: number, seed: number): Uint8Array {
  const random = seededRandom(seed);
  const bytes = new Uint8Array(length);
  const words = new Uint32Array(bytes.buffer, 0, Math.floor(length / 4));
  for (let i = 0; i < words.length; i++) words[i] = random() * 4294967296;
  for (let i = words.length * 4; i < length; i++) bytes[i] = random() * 256;
  return bytes;
}
