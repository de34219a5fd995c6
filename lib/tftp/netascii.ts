/**
 * Netascii (RFC 764, as TFTP uses it): lines end in CR LF on the wire and a
 * bare CR travels as CR NUL. Converting to the wire is stateless; converting
 * back keeps a CR that ends one block until the next block says what follows
 * it, so a CR LF split across two DATA packets still becomes one LF.
 *
 * @module
 */

const CR = 13;
const LF = 10;
const NUL = 0;

/**
 * Converts local bytes (LF line ends) to netascii, writing into `output`,
 * which must hold `2 * input.length` bytes; returns the bytes written.
 *
 * @example Usage
 * ```ts
 * import { encodeNetascii } from "./netascii.ts";
 * const input = new TextEncoder().encode("a\nb\r");
 * const output = new Uint8Array(input.length * 2);
 * const n = encodeNetascii(input, output); // "a\r\nb\r\0"
 * ```
 */
export function encodeNetascii(input: Uint8Array, output: Uint8Array): number {
  let out = 0;
  for (let i = 0; i < input.length; i++) {
    const byte = input[i];
    if (byte === LF) {
      output[out++] = CR;
      output[out++] = LF;
    } else if (byte === CR) {
      output[out++] = CR;
      output[out++] = NUL;
    } else {
      output[out++] = byte;
    }
  }
  return out;
}

/**
 * Converts netascii back to local bytes, across as many chunks as it takes:
 * CR LF becomes LF, CR NUL becomes CR, and a CR followed by anything else is
 * kept as it is (lenient, as peers differ). Call `end()` after the last chunk.
 *
 * @example Usage
 * ```ts
 * import { NetasciiDecoder } from "./netascii.ts";
 * const decoder = new NetasciiDecoder();
 * const out = new Uint8Array(16);
 * let n = decoder.decode(new TextEncoder().encode("a\r"), out); // "a" (the CR waits)
 * n += decoder.decode(new TextEncoder().encode("\nb"), out.subarray(n)); // "\nb"
 * n += decoder.end(out.subarray(n)); // nothing left
 * new TextDecoder().decode(out.subarray(0, n)); // "a\nb"
 * ```
 */
export class NetasciiDecoder {
  #pendingCR = false;

  /** Converts `input` into `output` (at least `input.length + 1` bytes); returns the bytes written. */
  decode(input: Uint8Array, output: Uint8Array): number {
    let out = 0;
    let i = 0;
    if (this.#pendingCR && input.length > 0) {
      this.#pendingCR = false;
      const next = input[0];
      output[out++] = next === LF ? LF : CR;
      // CR LF and CR NUL are pairs; after a lone CR the next byte stands on its own.
      if (next === LF || next === NUL) i = 1;
    }
    for (; i < input.length; i++) {
      const byte = input[i];
      if (byte !== CR) {
        output[out++] = byte;
        continue;
      }
      if (i + 1 === input.length) {
        this.#pendingCR = true;
        break;
      }
      const next = input[i + 1];
      output[out++] = next === LF ? LF : CR;
      if (next === LF || next === NUL) i++;
    }
    return out;
  }

  /** Flushes a CR that ended the last chunk; returns the bytes written (0 or 1). */
  end(output: Uint8Array): number {
    if (!this.#pendingCR) return 0;
    this.#pendingCR = false;
    output[0] = CR;
    return 1;
  }
}

/**
 * Converts a whole buffer to netascii.
 *
 * @example Usage
 * ```ts
 * import { toNetascii } from "./netascii.ts";
 * toNetascii(new TextEncoder().encode("line\n")); // "line\r\n"
 * ```
 */
export function toNetascii(bytes: Uint8Array): Uint8Array {
  const output = new Uint8Array(bytes.length * 2);
  return output.slice(0, encodeNetascii(bytes, output));
}

/**
 * Converts a whole netascii buffer back to local bytes.
 *
 * @example Usage
 * ```ts
 * import { fromNetascii } from "./netascii.ts";
 * fromNetascii(new TextEncoder().encode("line\r\n")); // "line\n"
 * ```
 */
export function fromNetascii(bytes: Uint8Array): Uint8Array {
  const decoder = new NetasciiDecoder();
  const output = new Uint8Array(bytes.length + 1);
  let n = decoder.decode(bytes, output);
  n += decoder.end(output.subarray(n));
  return output.slice(0, n);
}
