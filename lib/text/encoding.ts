/**
 * Text codecs for peers that do not speak UTF-8 (Windows network assistants
 * commonly send GBK). WHATWG standardises only decoders for legacy
 * encodings; the encoder here is derived by inverting the decoder's table.
 *
 * @module
 */

/** Encodes strings into bytes of one encoding. */
export interface TextCodec {
  /** Canonical WHATWG name of the encoding ("gbk", "utf-8"...). */
  readonly encoding: string;
  /** Encodes `text`; characters the encoding cannot represent become "?". */
  encode(text: string): Uint8Array;
  /** A fresh decoder for this encoding (stateful: pass `{ stream: true }` between chunks). */
  decoder(): TextDecoder;
}

const QUESTION_MARK = 0x3f;

/**
 * A codec for any WHATWG encoding label: `utf-8`, `gbk`, `gb2312`, `big5`,
 * `shift_jis`, `euc-kr`, `windows-1252`, `latin1`... Throws a `RangeError`
 * naming the label when it is unknown.
 *
 * @example Usage
 * ```ts
 * import { textCodec } from "./encoding.ts";
 * const gbk = textCodec("gbk");
 * gbk.encode("你好"); // Uint8Array [0xc4, 0xe3, 0xba, 0xc3]
 * gbk.decoder().decode(new Uint8Array([0xc4, 0xe3, 0xba, 0xc3])); // "你好"
 * ```
 */
export function textCodec(label: string): TextCodec {
  let probe: TextDecoder;
  try {
    probe = new TextDecoder(label);
  } catch {
    throw new RangeError(
      `Unknown encoding "${label}": use a WHATWG label such as utf-8, gbk, big5, shift_jis or latin1`,
    );
  }
  const encoding = probe.encoding;
  const decoder = () => new TextDecoder(encoding);
  if (encoding === "utf-8") {
    const encoder = new TextEncoder();
    return { encoding, decoder, encode: (text) => encoder.encode(text) };
  }
  if (encoding.startsWith("utf-16")) {
    throw new RangeError(`Encoding "${label}" is not supported here: use an ASCII-compatible encoding`);
  }
  const table = inverseTable(encoding);
  return { encoding, decoder, encode: (text) => encodeWith(table, text) };
}

function encodeWith(table: Map<number, number[]>, text: string): Uint8Array {
  const out: number[] = [];
  for (const char of text) {
    const code = char.codePointAt(0)!;
    const bytes = table.get(code);
    if (bytes) out.push(...bytes);
    else out.push(QUESTION_MARK);
  }
  return Uint8Array.from(out);
}

const tables = new Map<string, Map<number, number[]>>();

// Decodes every one- and two-byte sequence once and remembers which bytes
// produce each character (the first, shortest sequence wins).
function inverseTable(encoding: string): Map<number, number[]> {
  const cached = tables.get(encoding);
  if (cached) return cached;
  const table = new Map<number, number[]>();
  const fatal = new TextDecoder(encoding, { fatal: true });
  const tryBytes = (bytes: number[]) => {
    let text: string;
    try {
      text = fatal.decode(Uint8Array.from(bytes));
    } catch {
      return;
    }
    const code = text.codePointAt(0)!;
    if ([...text].length === 1 && code !== 0xfffd && !table.has(code)) table.set(code, bytes);
  };
  for (let byte = 0; byte < 0x100; byte++) tryBytes([byte]);
  for (let lead = 0x81; lead < 0x100; lead++) {
    for (let trail = 0x40; trail < 0x100; trail++) tryBytes([lead, trail]);
  }
  tables.set(encoding, table);
  return table;
}

/** Options for {@linkcode createTranscoder}. */
export interface TranscoderOptions {
  /** Encoding of the bytes coming in.
   * @default {"utf-8"} */
  from?: string;
  /** Encoding of the bytes going out.
   * @default {"utf-8"} */
  to?: string;
  /** Applied to the text between decoding and encoding (escaping controls, say). */
  map?: (text: string) => string;
}

/**
 * Converts a byte stream from one encoding to another, chunk by chunk; a
 * character split between chunks is carried over. Call with `final: true`
 * (and no bytes, or the last ones) at the end to flush what is left.
 *
 * @example Usage
 * ```ts
 * import { createTranscoder } from "./encoding.ts";
 * const toGbk = createTranscoder({ from: "utf-8", to: "gbk" });
 * const utf8 = new TextEncoder().encode("你好");
 * const gbk = [...toGbk(utf8.subarray(0, 4)), ...toGbk(utf8.subarray(4), true)];
 * console.log(gbk); // [0xc4, 0xe3, 0xba, 0xc3]
 * ```
 */
export function createTranscoder(options: TranscoderOptions = {}): (bytes: Uint8Array, final?: boolean) => Uint8Array {
  const decoder = textCodec(options.from ?? "utf-8").decoder();
  const target = textCodec(options.to ?? "utf-8");
  const map = options.map ?? ((text: string) => text);
  return (bytes, final = false) => target.encode(map(decoder.decode(bytes, { stream: !final })));
}
