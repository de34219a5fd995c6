// wirebox chat in the browser. Served as its own file: the page's Content-Security-Policy
// runs no inline script. Every nick and message is put on the page with textContent, never
// parsed as HTML, so a message such as <img src=x onerror=alert(1)> shows as its characters.
//
// The socket speaks the server's JSON events (binary frames holding one or more JSON lines)
// and sends {"type":"line","text":...} frames, read by the room exactly as lines from TCP.

const MAX_LOG_ENTRIES = 1500;
const RETRY_MS = [1000, 2000, 4000, 8000, 15000, 30000];
const NICK_PATTERN = /^[\p{L}\p{N}_.-][\p{L}\p{M}\p{N}_.-]*$/u;
const STORAGE_KEY = "wirebox-chat-nick";

const $ = (id) => document.getElementById(id);
const ui = {
  status: $("status"),
  statusText: $("status-text"),
  retry: $("retry"),
  joinForm: $("join-form"),
  joinNick: $("join-nick"),
  joinHint: $("join-hint"),
  log: $("log"),
  jump: $("jump"),
  composer: $("composer"),
  message: $("message"),
  nickForm: $("nick-form"),
  nick: $("nick"),
  people: $("people"),
  peopleToggle: $("people-toggle"),
  onlineCount: $("online-count"),
};

const state = {
  socket: null,
  /** The nick the server gave us; "" before the first welcome. */
  nick: "",
  /** The nick to ask for when (re)connecting. */
  wanted: "",
  limits: { maxLineBytes: 4096 },
  /** Who is here: nick key (lower case) -> nick. */
  members: new Map(),
  attempt: 0,
  retryTimer: 0,
  welcomed: false,
  everWelcomed: false,
  /** /who requests the page sent itself, whose answers fill the side panel only. */
  quietWho: 0,
  /** A /nick sent from the nick form, whose error should put the old nick back in the field. */
  renaming: false,
  /** Replayed history already shown before a reconnect is not shown twice. */
  seen: new Set(),
  sent: [],
  sentIndex: 0,
  /** Why the server said we left, for when its close frame is lost. */
  leftReason: "",
};

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// ---------------------------------------------------------------- helpers

function nickProblem(nick) {
  const length = [...nick].length;
  if (length > 32) return "A nick has at most 32 characters.";
  if (!NICK_PATTERN.test(nick)) return "A nick has only letters, digits, _ - and .";
  if (nick.normalize("NFKC").toLowerCase() === "server") return '"server" is reserved for the operator.';
  return "";
}

function colorClass(nick) {
  let hash = 0;
  for (const char of nick.normalize("NFKC").toLowerCase()) hash = (hash * 31 + char.codePointAt(0)) >>> 0;
  return `c${hash % 10}`;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function setStatus(text, tone, retry = false) {
  ui.statusText.textContent = text;
  ui.status.dataset.tone = tone;
  ui.retry.hidden = !retry;
}

function connectedStatus() {
  const online = state.members.size;
  setStatus(`Connected as ${state.nick} · ${online} online`, "ok");
}

// ---------------------------------------------------------------- the message log

function nearBottom() {
  const log = ui.log;
  return log.scrollHeight - log.scrollTop - log.clientHeight < 48;
}

function scrollToEnd() {
  ui.log.scrollTop = ui.log.scrollHeight;
  ui.jump.hidden = true;
}

function timeOf(iso) {
  const date = iso ? new Date(iso) : new Date();
  const valid = !Number.isNaN(date.getTime());
  const clock = valid
    ? [date.getHours(), date.getMinutes()].map((part) => String(part).padStart(2, "0")).join(":")
    : "";
  const node = element("time", "", clock);
  if (valid) {
    node.dateTime = date.toISOString();
    node.title = date.toLocaleString();
  }
  return node;
}

function nickNode(nick) {
  return element("span", `nick ${colorClass(nick)}`, nick);
}

/** Appends one entry: `parts` are nodes or strings (strings become text, never HTML). */
function addEntry(kind, iso, parts) {
  const stick = nearBottom();
  const item = element("li", kind);
  item.append(timeOf(iso));
  const body = element("div", "body");
  body.append(...parts);
  item.append(body);
  ui.log.append(item);
  while (ui.log.childElementCount > MAX_LOG_ENTRIES) ui.log.firstElementChild.remove();
  if (stick) scrollToEnd();
  else ui.jump.hidden = false;
}

function addSeparator(text) {
  const stick = nearBottom();
  ui.log.append(element("li", "separator", text));
  if (stick) scrollToEnd();
}

function localError(text) {
  addEntry("error", "", [text]);
}

// ---------------------------------------------------------------- who is here

function renderPeople() {
  const nicks = [...state.members.values()].sort((a, b) => a.localeCompare(b, undefined, { sensitivity: "base" }));
  const items = nicks.map((nick) => {
    const item = element("li");
    const button = element("button");
    button.type = "button";
    button.dataset.nick = nick;
    const mine = nick === state.nick;
    button.setAttribute("aria-label", mine ? `${nick} (you)` : `${nick}: write privately`);
    button.append(element("span", `dot ${colorClass(nick)}`), element("span", "", nick));
    if (mine) button.append(element("span", "you", "(you)"));
    item.append(button);
    return item;
  });
  ui.people.replaceChildren(...items);
  ui.onlineCount.textContent = String(nicks.length);
}

/** An idle time as the terminal's /who shows it (formatIdle in protocol.ts): 5s, 3m, 2h, 4d. */
function idleText(ms) {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

function setMembers(nicks) {
  state.members = new Map(nicks.map((nick) => [nick.toLowerCase(), nick]));
  renderPeople();
}

// ---------------------------------------------------------------- events from the server

function remember(event) {
  if (event.type !== "message" && event.type !== "action") return true;
  const key = `${event.time}|${event.seq}|${event.from}|${event.text}`;
  if (state.seen.has(key)) return false;
  state.seen.add(key);
  if (state.seen.size > MAX_LOG_ENTRIES * 2) state.seen.delete(state.seen.values().next().value);
  return true;
}

function handle(event) {
  switch (event.type) {
    case "welcome": {
      const first = !state.everWelcomed;
      state.welcomed = true;
      state.everWelcomed = true;
      state.attempt = 0;
      state.nick = event.nick;
      state.wanted = event.nick;
      state.limits = event.limits ?? state.limits;
      ui.nick.value = event.nick;
      if (!/^guest\d+$/.test(event.nick)) saveNick(event.nick);
      if (!first) addSeparator("reconnected");
      addEntry("notice", event.time, [
        `Welcome to wirebox chat ${event.version}. You are `,
        nickNode(event.nick),
        `, ${event.online} online.`,
      ]);
      state.members.set(event.nick.toLowerCase(), event.nick);
      renderPeople();
      state.quietWho++;
      send("/who");
      connectedStatus();
      if (first) {
        document.body.dataset.state = "chat";
        ui.message.focus();
      }
      break;
    }
    case "message":
    case "action": {
      if (!remember(event)) break;
      const mine = event.from === state.nick;
      const kind = `${event.type === "action" ? "action" : "msg"}${mine ? " mine" : ""}`;
      const parts = event.type === "action"
        ? ["* ", nickNode(event.from), " ", event.text]
        : [nickNode(event.from), " ", event.text];
      addEntry(kind, event.time, parts);
      break;
    }
    case "private": {
      const mine = event.from === state.nick;
      const who = mine ? ["to ", nickNode(event.to)] : [nickNode(event.from)];
      addEntry("private", event.time, [element("span", "tag", "private"), ...who, " ", event.text]);
      break;
    }
    case "join":
      state.members.set(event.nick.toLowerCase(), event.nick);
      renderPeople();
      addEntry("notice", event.time, [
        "→ ",
        nickNode(event.nick),
        ` joined from ${event.address}, ${event.online} online`,
      ]);
      if (state.welcomed) connectedStatus();
      break;
    case "leave": {
      const why = event.detail ? `${event.reason}: ${event.detail}` : event.reason;
      if (event.nick === state.nick) {
        state.leftReason = event.reason;
        addEntry("notice", event.time, [`You left (${why}).`]);
        break;
      }
      state.members.delete(event.nick.toLowerCase());
      renderPeople();
      addEntry("notice", event.time, ["← ", nickNode(event.nick), ` left (${why}), ${event.online} online`]);
      if (state.welcomed) connectedStatus();
      break;
    }
    case "nick": {
      state.members.delete(event.from.toLowerCase());
      state.members.set(event.nick.toLowerCase(), event.nick);
      if (event.from === state.nick) {
        state.nick = event.nick;
        state.wanted = event.nick;
        state.renaming = false;
        ui.nick.value = event.nick;
        saveNick(event.nick);
        connectedStatus();
      }
      renderPeople();
      addEntry("notice", event.time, [nickNode(event.from), " is now known as ", nickNode(event.nick)]);
      break;
    }
    case "who": {
      const nicks = (event.members ?? []).map((member) => member.nick);
      setMembers(nicks);
      if (state.welcomed) connectedStatus();
      if (state.quietWho > 0) {
        state.quietWho--;
        break;
      }
      const rows = (event.members ?? []).map((member) =>
        `  ${member.nick}  ${member.address}  idle ${idleText(member.idleMs ?? 0)}`
      );
      addEntry("info", event.time, [[`${nicks.length} online:`, ...rows].join("\n")]);
      break;
    }
    case "info":
    case "echo":
      addEntry("info", event.time, [event.text ?? ""]);
      break;
    case "error":
      addEntry("error", event.time, [event.text ?? ""]);
      if (state.renaming) {
        state.renaming = false;
        ui.nick.value = state.nick;
      }
      break;
  }
}

function receive(data) {
  const text = typeof data === "string" ? data : decoder.decode(data);
  for (const line of text.split("\n")) {
    if (line === "") continue;
    let event;
    try {
      event = JSON.parse(line);
    } catch {
      continue;
    }
    if (event && typeof event === "object" && typeof event.type === "string") handle(event);
  }
}

// ---------------------------------------------------------------- the connection

function socketUrl() {
  const url = new URL("/ws", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  if (state.wanted) url.searchParams.set("nick", state.wanted);
  return url.href;
}

function connect() {
  clearTimeout(state.retryTimer);
  if (state.socket) return;
  setStatus(state.attempt === 0 ? "Connecting…" : `Reconnecting (attempt ${state.attempt})…`, "wait");
  let socket;
  try {
    socket = new WebSocket(socketUrl());
  } catch {
    scheduleReconnect("the address is not valid");
    return;
  }
  socket.binaryType = "arraybuffer";
  state.socket = socket;
  socket.addEventListener("message", (event) => receive(event.data));
  socket.addEventListener("close", (event) => closed(socket, event));
}

/** Why the server closed, as it said in the close frame. */
const FINAL_REASONS = new Set(["quit", "kicked", "flooding", "idle timeout"]);

function closed(socket, event) {
  if (state.socket !== socket) return;
  state.socket = null;
  const wasWelcomed = state.welcomed;
  state.welcomed = false;
  state.quietWho = 0;
  const reason = event.reason || state.leftReason;
  state.leftReason = "";
  if (FINAL_REASONS.has(reason)) {
    const why = reason === "quit" ? "You left the chat." : `You were disconnected (${reason}).`;
    setStatus(why, "down", true);
    ui.retry.textContent = "Join again";
    return;
  }
  if (wasWelcomed) addSeparator(reason ? `disconnected: ${reason}` : "disconnected");
  scheduleReconnect(reason);
}

function scheduleReconnect(reason) {
  const base = RETRY_MS[Math.min(state.attempt, RETRY_MS.length - 1)];
  const delay = Math.round(base * (0.8 + Math.random() * 0.4));
  state.attempt++;
  const seconds = Math.max(1, Math.round(delay / 1000));
  const why = reason ? `Disconnected (${reason}).` : "Connection lost.";
  setStatus(`${why} Reconnecting in ${seconds} s (attempt ${state.attempt})…`, "down", true);
  ui.retry.textContent = "Reconnect now";
  state.retryTimer = setTimeout(connect, delay);
}

function send(line) {
  const socket = state.socket;
  if (!socket || socket.readyState !== WebSocket.OPEN) return false;
  socket.send(JSON.stringify({ type: "line", text: line }));
  return true;
}

function saveNick(nick) {
  try {
    localStorage.setItem(STORAGE_KEY, nick);
  } catch {
    // Storage may be disabled; the nick is then asked for again next time.
  }
}

function loadNick() {
  try {
    return localStorage.getItem(STORAGE_KEY) ?? "";
  } catch {
    return "";
  }
}

// ---------------------------------------------------------------- what the user does

ui.joinForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const nick = ui.joinNick.value.trim();
  const problem = nick === "" ? "" : nickProblem(nick);
  ui.joinNick.setAttribute("aria-invalid", problem ? "true" : "false");
  ui.joinHint.classList.toggle("error", Boolean(problem));
  if (problem) {
    ui.joinHint.textContent = problem;
    ui.joinNick.focus();
    return;
  }
  state.wanted = nick;
  state.attempt = 0;
  connect();
});

ui.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = ui.message.value;
  if (text.trim() === "") return;
  const bytes = encoder.encode(text).length;
  if (bytes > state.limits.maxLineBytes) {
    localError(
      `Not sent: the message is ${bytes} bytes long, and the server takes at most ${state.limits.maxLineBytes}.`,
    );
    return;
  }
  if (!send(text)) {
    localError("Not sent: not connected. Your message is still in the box; send it again once reconnected.");
    return;
  }
  state.sent.push(text);
  if (state.sent.length > 100) state.sent.shift();
  state.sentIndex = state.sent.length;
  ui.message.value = "";
  scrollToEnd();
});

// Up and down recall what was sent, as in a terminal.
ui.message.addEventListener("keydown", (event) => {
  if (event.key !== "ArrowUp" && event.key !== "ArrowDown") return;
  if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
  if (state.sent.length === 0) return;
  const step = event.key === "ArrowUp" ? -1 : 1;
  const next = Math.min(state.sent.length, Math.max(0, state.sentIndex + step));
  if (next === state.sentIndex) return;
  event.preventDefault();
  state.sentIndex = next;
  ui.message.value = state.sent[next] ?? "";
});

ui.nickForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const nick = ui.nick.value.trim();
  if (nick === "" || nick === state.nick) {
    ui.nick.value = state.nick;
    return;
  }
  const problem = nickProblem(nick);
  if (problem) {
    localError(`Cannot take the nick "${nick}": ${problem}`);
    ui.nick.value = state.nick;
    return;
  }
  if (send(`/nick ${nick}`)) state.renaming = true;
  else {
    state.wanted = nick; // taken on the next connection
    localError("Not connected: the new nick will be asked for when the page reconnects.");
  }
});

ui.people.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-nick]");
  if (!button || button.dataset.nick === state.nick) return;
  ui.message.value = `/msg ${button.dataset.nick} `;
  document.body.dataset.people = "closed";
  ui.peopleToggle.setAttribute("aria-expanded", "false");
  ui.message.focus();
});

ui.peopleToggle.addEventListener("click", () => {
  const open = document.body.dataset.people !== "open";
  document.body.dataset.people = open ? "open" : "closed";
  ui.peopleToggle.setAttribute("aria-expanded", String(open));
  if (open) ui.nick.focus();
});

document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && document.body.dataset.people === "open") {
    document.body.dataset.people = "closed";
    ui.peopleToggle.setAttribute("aria-expanded", "false");
    ui.peopleToggle.focus();
  }
});

ui.retry.addEventListener("click", () => {
  state.attempt = 0;
  clearTimeout(state.retryTimer);
  connect();
});

ui.jump.addEventListener("click", () => {
  scrollToEnd();
  ui.message.focus();
});

ui.log.addEventListener("scroll", () => {
  if (nearBottom()) ui.jump.hidden = true;
});

ui.joinNick.value = loadNick();
ui.joinNick.focus();
