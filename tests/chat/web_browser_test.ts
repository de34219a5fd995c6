/**
 * The chat page in a real headless Chromium: two pages and a terminal
 * client in one room, history, private messages, nick changes, HTML that
 * must stay text, reconnection after a restart, a phone-width screen and
 * keyboard-only use. Screenshots go to the temporary folder (and, with
 * WIREBOX_SCREENSHOTS=1, to docs/ for the README).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { type ChatServer, type ChatServerOptions, serveChat } from "../../lib/chat/server.ts";
import { browserTest, launchBrowser } from "../_helpers/browser.ts";
import { ROOT } from "../_helpers/cli.ts";
import { LineClient } from "../_helpers/line_client.ts";

const SCREENSHOTS = Deno.env.get("TMPDIR") ?? "/tmp";

/** A chat server with its page on free loopback ports (or the ports given), stopped by `await using`. */
function startChat(options: ChatServerOptions = {}) {
  const controller = new AbortController();
  const chat: ChatServer = serveChat({
    hostname: "127.0.0.1",
    port: 0,
    webPort: 0,
    signal: controller.signal,
    ...options,
  });
  return {
    chat,
    url: `http://127.0.0.1:${chat.web!.addr.port}/`,
    async tcp(nick: string): Promise<LineClient> {
      const client = await LineClient.connect(chat.tcp.addr);
      await client.send(`/nick ${nick}\n`);
      await client.waitFor(new RegExp(` is now known as ${nick}$`));
      return client;
    },
    async stop(): Promise<void> {
      controller.abort();
      await chat.finished;
    },
    [Symbol.asyncDispose](): Promise<void> {
      return this.stop();
    },
  };
}

/** What went wrong inside a page: script errors and dialogs (an alert() would mean injected script ran). */
interface PageTrouble {
  errors: string[];
  dialogs: string[];
}

/** Opens the chat page and joins as `nick` by typing it and pressing Enter. */
async function openChat(
  browser: Browser,
  url: string,
  nick: string,
  viewport = { width: 1100, height: 720 },
): Promise<Page & { trouble: PageTrouble }> {
  const page = await browser.newPage({ viewport });
  const trouble: PageTrouble = { errors: [], dialogs: [] };
  page.on("pageerror", (error) => trouble.errors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error") trouble.errors.push(message.text());
  });
  page.on("dialog", (dialog) => {
    trouble.dialogs.push(dialog.message());
    dialog.dismiss().catch(() => {});
  });
  await page.goto(url);
  await page.fill("#join-nick", nick);
  await page.press("#join-nick", "Enter");
  // (Locators, not waitForFunction: the page's CSP forbids the eval that waitForFunction polls with.)
  await page.locator('body[data-state="chat"]').waitFor();
  return Object.assign(page, { trouble });
}

/** Waits until the page's message list has an entry containing `text`; returns that entry's text. */
async function logEntry(page: Page, text: string, kind = "li"): Promise<string> {
  const entry = page.locator(`#log ${kind}`, { hasText: text }).last();
  await entry.waitFor({ timeout: 10_000 });
  return await entry.innerText();
}

/** The nicks in the page's who list, as shown. */
function people(page: Page): Promise<string[]> {
  return page.locator("#people button").allTextContents();
}

/** The id of the element that has the keyboard focus. */
function focused(page: Page): Promise<string> {
  return page.evaluate("document.activeElement?.id ?? ''");
}

/** Waits until the status line matches `pattern`. */
async function statusMatches(page: Page, pattern: RegExp): Promise<string> {
  const status = page.locator("#status-text");
  await status.filter({ hasText: pattern }).waitFor({ timeout: 15_000 });
  return await status.innerText();
}

/** Sends `/echo TOKEN` and waits for it: everything the client sent before has been handled. */
async function sync(client: LineClient): Promise<void> {
  const token = `sync-${crypto.randomUUID()}`;
  await client.send(`/echo ${token}\n`);
  await client.waitFor(new RegExp(`-- ${token}$`));
}

/** Saves a screenshot in the temporary folder; with `docs`, also in docs/ when WIREBOX_SCREENSHOTS=1. */
async function screenshot(page: Page, name: string, docs = false): Promise<string> {
  const path = join(SCREENSHOTS, `wirebox-${name}.png`);
  const png = await page.screenshot({ path });
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], "a PNG");
  if (docs && Deno.env.get("WIREBOX_SCREENSHOTS") === "1") {
    await Deno.writeFile(join(ROOT, "docs", `${name}.png`), png);
  }
  return path;
}

browserTest(
  "web page: two pages and a TCP client talk both ways; history on join; who, private messages, nicks",
  async () => {
    await using server = startChat();
    const carol = await server.tcp("carol");
    await carol.send("said before anyone opened the page\n");
    await carol.waitFor(/ <carol> said before anyone opened the page$/);
    await using browser = await launchBrowser();

    const alice = await openChat(browser, server.url, "alice");
    await logEntry(alice, "said before anyone opened the page"); // the history, replayed on join
    assert.match(await logEntry(alice, "Welcome to wirebox chat"), /You are alice, 2 online/);
    const bob = await openChat(browser, server.url, "bob");
    await carol.waitFor(/ -> bob joined from 127\.0\.0\.1:\d+ \(web\), 3 online$/);
    await logEntry(alice, "bob joined from");

    // Enter sends; the box is emptied.
    await alice.fill("#message", "hello from alice");
    await alice.press("#message", "Enter");
    await carol.waitFor(/ <alice> hello from alice$/);
    assert.match(await logEntry(bob, "hello from alice"), /^\d\d:\d\d\s+alice hello from alice$/);
    assert.equal(await alice.inputValue("#message"), "");
    // So does the Send button.
    await bob.fill("#message", "hi from bob");
    await bob.click("#send");
    await carol.waitFor(/ <bob> hi from bob$/);
    await logEntry(alice, "hi from bob");
    // And the terminal reaches both pages.
    await carol.send("hello pages\n");
    await logEntry(alice, "hello pages");
    await logEntry(bob, "hello pages");

    assert.deepEqual(await people(alice), ["alice(you)", "bob", "carol"]);
    assert.match(await alice.textContent("#status-text") ?? "", /^Connected as alice · 3 online$/);

    // A private message: choose bob in the who list, type, Enter.
    await alice.click('#people button[data-nick="bob"]');
    assert.equal(await alice.inputValue("#message"), "/msg bob ");
    assert.equal(await focused(alice), "message");
    await alice.press("#message", "End");
    await alice.keyboard.type("just for you");
    await alice.press("#message", "Enter");
    assert.match(await logEntry(bob, "just for you", "li.private"), /private\s*alice just for you/i);
    assert.match(await logEntry(alice, "just for you", "li.private"), /to bob just for you/i);
    await sync(carol);
    assert.ok(!carol.lines.some((line) => line.includes("just for you")), "carol never saw it");

    // /who typed in the box lists everyone with address and idle time, as on a terminal.
    await alice.fill("#message", "/who");
    await alice.press("#message", "Enter");
    const who = await logEntry(alice, "3 online:", "li.info");
    assert.match(who, /carol\s+127\.0\.0\.1:\d+\s+idle \d+s/);
    assert.match(who, /bob\s+127\.0\.0\.1:\d+ \(web\)\s+idle \d+s/);

    // A nick change from the form.
    await bob.fill("#nick", "robert");
    await bob.press("#nick", "Enter");
    await carol.waitFor(/ -- bob is now known as robert$/);
    await logEntry(alice, "is now known as");
    await alice.locator('#people button[data-nick="robert"]').waitFor();
    assert.match(await bob.textContent("#status-text") ?? "", /^Connected as robert/);
    // A taken nick is refused, and the field shows the nick one still has.
    await bob.fill("#nick", "Carol");
    await bob.press("#nick", "Enter");
    await logEntry(bob, 'the nick "Carol" is taken', "li.error");
    assert.equal(await bob.inputValue("#nick"), "robert");

    await alice.mouse.move(0, 0); // no hover highlight in the picture
    const shot = await screenshot(alice, "web_chat", true);
    console.log(`screenshot: ${shot}`);

    await bob.close();
    await logEntry(alice, "robert left (connection lost");
    await carol.waitFor(/ <- robert left \(connection lost: closed by the client\), 2 online$/);
    assert.deepEqual([...alice.trouble.errors, ...bob.trouble.errors], []);
    await carol.close();
  },
);

browserTest("web page: HTML and script in messages show as their characters and never run", async () => {
  await using server = startChat();
  const mallory = await server.tcp("mallory");
  await using browser = await launchBrowser();
  const alice = await openChat(browser, server.url, "alice");
  const attacks = [
    `<img src=x onerror="document.title='pwned';alert(1)">`,
    `<script>document.title='pwned';alert(2)</script>`,
    `"><svg onload=alert(3)><b>bold?</b>`,
    `javascript:alert(4) &lt;&amp;`,
  ];
  for (const attack of attacks) await mallory.send(attack + "\n");
  for (const attack of attacks) {
    const shown = await logEntry(alice, attack.slice(-12));
    assert.ok(shown.endsWith(`mallory ${attack}`), `${JSON.stringify(shown)} shows ${JSON.stringify(attack)}`);
  }
  // From a page, too.
  await alice.fill("#message", "<i>not italic</i><iframe src=/></iframe>");
  await alice.press("#message", "Enter");
  await mallory.waitFor(/ <alice> <i>not italic<\/i><iframe src=\/><\/iframe>$/);
  await logEntry(alice, "<i>not italic</i>");
  for (const tag of ["img", "script", "svg", "b", "i", "iframe"]) {
    assert.equal(await alice.locator(`#log ${tag}`).count(), 0, `no <${tag}> element in the log`);
  }
  assert.equal(await alice.title(), "wirebox chat");
  assert.deepEqual(alice.trouble.dialogs, []);
  assert.deepEqual(alice.trouble.errors, []);
  await screenshot(alice, "web_chat_injection");
  await mallory.close();
});

browserTest("web page: when the server restarts, the page says so, reconnects by itself and carries on", async () => {
  const first = startChat();
  const ports = { port: first.chat.tcp.addr.port, webPort: first.chat.web!.addr.port };
  await using browser = await launchBrowser();
  const alice = await openChat(browser, first.url, "alice");
  await logEntry(alice, "Welcome to wirebox chat");
  await first.stop();
  await logEntry(alice, "disconnected: server stopping", "li.separator");
  // "Disconnected (server stopping). Reconnecting in 1 s (attempt 1)…", then "Connection lost. ..." while it is down.
  await statusMatches(
    alice,
    /^(Disconnected \(server stopping\)|Connection lost)\. Reconnecting in \d+ s \(attempt \d+\)…$/,
  );

  await using second = startChat(ports);
  await logEntry(alice, "reconnected", "li.separator");
  await statusMatches(alice, /^Connected as alice · 1 online$/);
  const carol = await second.tcp("carol");
  await carol.send("welcome back\n");
  await logEntry(alice, "welcome back");
  await alice.fill("#message", "I am back");
  await alice.press("#message", "Enter");
  await carol.waitFor(/ <alice> I am back$/);
  assert.deepEqual(alice.trouble.errors.filter((error) => !error.includes("WebSocket")), []);
  await carol.close();
});

browserTest("web page: kicked, it stays away until asked, and 'Join again' rejoins", async () => {
  await using server = startChat();
  await using browser = await launchBrowser();
  const alice = await openChat(browser, server.url, "alice");
  await logEntry(alice, "Welcome to wirebox chat");
  assert.ok(server.chat.room.kick("alice", "testing"));
  await logEntry(alice, "You left (kicked: testing)");
  await statusMatches(alice, /^You were disconnected \(kicked\)\.$/);
  assert.equal(await alice.textContent("#retry"), "Join again");
  assert.equal(server.chat.room.size, 0);
  await alice.click("#retry");
  await alice.locator("#log li", { hasText: "alice joined from" }).nth(1).waitFor(); // the second join
  assert.equal(server.chat.room.size, 1);
  await statusMatches(alice, /^Connected as alice · 1 online$/);
});

browserTest("web page: on a phone-width screen, with the keyboard alone", async () => {
  await using server = startChat();
  const carol = await server.tcp("carol");
  await using browser = await launchBrowser();
  const page = await browser.newPage({ viewport: { width: 390, height: 760 }, isMobile: true, hasTouch: true });
  await page.goto(server.url);
  // The nick field has the focus on arrival: type, Enter.
  assert.equal(await focused(page), "join-nick");
  await page.keyboard.type("kim");
  await page.keyboard.press("Enter");
  await page.locator("#message:focus").waitFor();
  await page.keyboard.type("typed on a phone");
  await page.keyboard.press("Enter");
  await carol.waitFor(/ <kim> typed on a phone$/);
  await page.keyboard.press("ArrowUp"); // recalls what was sent, as a terminal does
  assert.equal(await page.inputValue("#message"), "typed on a phone");
  await page.keyboard.press("ArrowDown");
  assert.equal(await page.inputValue("#message"), "");
  await page.keyboard.press("Tab");
  assert.equal(await focused(page), "send");

  // Nothing sticks out sideways; the box and its button are on screen.
  assert.equal(await page.evaluate("document.documentElement.scrollWidth <= innerWidth"), true);
  const send = (await page.locator("#send").boundingBox())!;
  assert.ok(send.x + send.width <= 390 && send.y + send.height <= 760, JSON.stringify(send));

  // The who list is a drawer behind a button in the top bar, reached and closed with keys.
  assert.equal(await page.locator("#side").isVisible(), false);
  await carol.send("seen on a phone\n");
  await logEntry(page, "seen on a phone");
  await screenshot(page, "web_chat_phone", true);
  await page.focus("#message");
  await page.keyboard.press("Shift+Tab"); // the message list (focusable, for scrolling with keys)
  assert.equal(await focused(page), "log");
  await page.keyboard.press("Shift+Tab");
  assert.equal(await focused(page), "people-toggle");
  await page.keyboard.press("Enter");
  assert.equal(await page.locator("#side").isVisible(), true);
  assert.equal(await page.getAttribute("#people-toggle", "aria-expanded"), "true");
  assert.equal(await focused(page), "nick");
  await screenshot(page, "web_chat_phone_people");
  await page.keyboard.press("Escape");
  assert.equal(await page.locator("#side").isVisible(), false);
  assert.equal(await focused(page), "people-toggle");

  // Labels and live regions for screen readers.
  assert.equal(await page.getByLabel("Message", { exact: true }).getAttribute("id"), "message");
  assert.equal(await page.getAttribute("#log", "role"), "log");
  assert.equal(await page.getAttribute("#log", "aria-live"), "polite");
  await carol.close();
});
