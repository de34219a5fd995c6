/**
 * A real headless browser for tests: Debian's Chromium driven by
 * `playwright-core` (pinned in deno.json; it never downloads a browser of
 * its own). Each launch gets a fresh profile, removed when it closes.
 *
 * @module
 */

import fs from "node:fs";
import type { Browser } from "playwright-core";
import { peerTest } from "./peers.ts";

/** The system browser every browser test drives. */
export const CHROMIUM = "/usr/bin/chromium";

const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-dev-shm-usage",
];

let chromium: typeof import("playwright-core").chromium | undefined;

/**
 * Loads playwright-core. At load time it checks whether it runs under WSL
 * by looking for a file in /proc, which Deno allows only with --allow-all;
 * that one check is answered "no" instead of failing, so the test task
 * keeps its narrow permissions.
 */
async function playwright(): Promise<typeof import("playwright-core").chromium> {
  if (chromium) return chromium;
  const existsSync = fs.existsSync;
  fs.existsSync = (path: fs.PathLike) => {
    try {
      return existsSync(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotCapable && String(path).startsWith("/proc/")) return false;
      throw error;
    }
  };
  try {
    chromium = (await import("playwright-core")).chromium;
  } finally {
    fs.existsSync = existsSync;
  }
  return chromium;
}

/** Starts headless Chromium with a fresh profile; close it with `await using` or `browser.close()`. */
export async function launchBrowser(): Promise<Browser & AsyncDisposable> {
  const browser = await (await playwright()).launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
  return Object.assign(browser, { [Symbol.asyncDispose]: () => browser.close() });
}

/** A test that needs Chromium: skipped, with the reason in its name, when it is not installed. */
export function browserTest(name: string, fn: () => Promise<void>): void {
  peerTest(name, ["chromium"], fn);
}
