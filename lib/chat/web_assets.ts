/**
 * The chat page, embedded in the program: its HTML, CSS and script are
 * imported as text (so `deno compile` carries them, and serving them needs
 * no file access), each served as its own response so that the page's
 * Content-Security-Policy can forbid inline script altogether.
 *
 * @module
 */

import { createHash } from "node:crypto";
import css from "./web/app.css" with { type: "text" };
import html from "./web/index.html" with { type: "text" };
import script from "./web/app.js" with { type: "text" };

/** One file of the page. */
export interface WebAsset {
  /** The body, UTF-8. */
  readonly body: Uint8Array<ArrayBuffer>;
  /** Its `Content-Type`. */
  readonly type: string;
  /** A strong ETag (a hash of the body), for `If-None-Match`. */
  readonly etag: string;
}

const FAVICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">
<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#2f6fde"/><stop offset="1" stop-color="#20b39a"/></linearGradient></defs>
<rect width="32" height="32" rx="8" fill="url(#g)"/>
<path d="M8 10h16v9H15l-5 4v-4H8z" fill="#fff"/>
</svg>
`;

function asset(text: string, type: string): WebAsset {
  const body = new TextEncoder().encode(text);
  const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`;
  return { body, type, etag };
}

/**
 * The page's files by path.
 *
 * @example Usage
 * ```ts
 * import { WEB_ASSETS } from "./web_assets.ts";
 * const page = WEB_ASSETS.get("/")!;
 * console.log(page.type, page.etag); // "text/html; charset=utf-8" and a quoted hash
 * ```
 */
export const WEB_ASSETS: ReadonlyMap<string, WebAsset> = new Map([
  ["/", asset(html, "text/html; charset=utf-8")],
  ["/app.js", asset(script, "text/javascript; charset=utf-8")],
  ["/app.css", asset(css, "text/css; charset=utf-8")],
  ["/favicon.svg", asset(FAVICON, "image/svg+xml")],
]);

/**
 * The Content-Security-Policy of every response: scripts, styles, images
 * and connections only from the page's own origin (the WebSocket included),
 * no inline script or style, no plugins, no framing, no form posts.
 */
export const CONTENT_SECURITY_POLICY: string = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** Headers sent with every response of the chat's web server. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "permissions-policy": "camera=(), microphone=(), geolocation=()",
};
