// The reference visitor widget: one ES module, no build step, no CDN. The page's
// import map points "graphql-ws" at the copy vendored in this server.
//
// What it shows is what the contract lets a visitor see: PUBLIC messages, every
// agent, bot and system message under the organization's one service name
// (Message.displayName; this file never names an agent), the thread's status
// and, while QUEUED, the live queue position.
//
// Read top to bottom: the token, the first load, the live stream that resumes
// where it stopped, sending with a retry-safe key, typing, the queue, a human.
import { createClient } from "graphql-ws";

const page = document.body.dataset;
const ENDPOINT = new URL(page.endpoint, location.href);
const SOCKET_URL = new URL(ENDPOINT.href.replace(/^http/, "ws"));
// SWITCHBOARD_ALLOWED_ORIGINS, written into the page by the server, in the form
// browsers give event.origin (lower case, no default port).
const ALLOWED_ORIGINS = (page.allowedOrigins || "")
  .split(" ")
  .filter(Boolean)
  .map((origin) => (origin === "*" ? origin : new URL(origin).origin));
const EMBEDDED = window.parent !== window;
const TYPING_SHOWN_MS = 6000; // contract: typing is over 6 s after the last `typing: true`
const TYPING_SEND_MS = 2000; // the server sends at most one typing event per 2 s anyway
const SEND_ATTEMPTS = 5;

const $ = (id) => document.getElementById(id);
const ui = {
  root: $("sb-widget"),
  status: $("sb-status"),
  connection: $("sb-connection"),
  queue: $("sb-queue"),
  position: $("sb-queue-position"),
  wait: $("sb-queue-wait"),
  alert: $("sb-alert"),
  messages: $("sb-messages"),
  typing: $("sb-typing"),
  form: $("sb-form"),
  input: $("sb-input"),
  send: $("sb-send"),
  human: $("sb-human"),
};

const MESSAGE = "id senderKind displayName body clientMessageId createdAt";
const LOAD = `query WidgetLoad($id: ID!) { thread(id: $id) { id status
  messages(last: 50) { edges { cursor node { ${MESSAGE} } } } } }`;
const EVENTS = `subscription WidgetEvents($id: ID!, $after: String) {
  conversationEvents(threadId: $id, after: $after) {
    cursor kind typing typingName status message { ${MESSAGE} } } }`;
const POSITION = `subscription WidgetQueue($id: ID!) {
  queuePosition(threadId: $id) { status position queueLength estimatedWaitSeconds } }`;
const SEND = `mutation WidgetSend($input: SendMessageInput!) { sendMessage(input: $input) {
  message { ${MESSAGE} } thread { status } userErrors { code message } } }`;
const TYPING = `mutation WidgetTyping($input: SetTypingInput!) { setTyping(input: $input) { ok } }`;
const HUMAN = `mutation WidgetHuman($input: RequestTransferInput!) { requestTransfer(input: $input) {
  thread { status } userErrors { code message } } }`;

const state = {
  token: null,
  threadId: null,
  status: null,
  // The cursor of the last MESSAGE or STATUS_CHANGED seen: a new socket resumes after it.
  cursor: null,
  shown: new Map(), // message id -> { li, via: "load" | "event" | "send" }
  pending: new Map(), // clientMessageId -> { li, body }
  provisional: new Set(), // <li>s of our own messages the stream has not confirmed yet
  client: null,
  session: 0,
  stopQueue: null,
  retryMs: 500,
  typingSentAt: 0,
  duplicates: 0, // events replayed for a message already received live: must stay 0
};

// ------------------------------------------------------------------ the token

function tokenFromFragment() {
  return new URLSearchParams(location.hash.slice(1)).get("token");
}

// The token's claims (thread, exp). Reading a JWT's payload needs no secret.
function claimsOf(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part));
  } catch {
    return null;
  }
}

function originAllowed(origin) {
  return origin === location.origin || ALLOWED_ORIGINS.includes("*") || ALLOWED_ORIGINS.includes(origin);
}

// An embedding page hands the token over with postMessage({ token }).
window.addEventListener("message", (event) => {
  if (!EMBEDDED || event.source !== window.parent) return;
  const token = event.data && typeof event.data.token === "string" ? event.data.token : null;
  if (!token) return;
  if (!originAllowed(event.origin)) {
    refuse(event.origin);
    return;
  }
  start(token);
});

window.addEventListener("hashchange", () => {
  const token = tokenFromFragment();
  if (token) start(token);
});

function refuse(origin) {
  ui.status.textContent = "The chat is not available here.";
  setState("refused", `This site (${origin}) may not open the chat.`);
  setComposer(false);
}

async function start(token) {
  const claims = claimsOf(token);
  if (!claims || !claims.thread) {
    setState("no-token", "This chat link has no valid visitor token.");
    return;
  }
  if (typeof claims.exp === "number" && claims.exp * 1000 <= Date.now()) {
    expired();
    return;
  }
  if (state.threadId !== null && state.threadId !== claims.thread) {
    location.reload(); // another conversation: start from a clean page
    return;
  }
  state.token = token;
  state.threadId = claims.thread;
  closeLive();
  setState("connecting");
  try {
    if (!state.shown.size && state.cursor === null) await load();
  } catch (error) {
    showAlert(error.message);
    if (error.fatal) return;
  }
  openLive();
}

// ------------------------------------------------------------------ HTTP

class RequestError extends Error {
  constructor(message, { fatal = false, code = null } = {}) {
    super(message);
    this.fatal = fatal; // retrying the same request cannot help
    this.code = code;
  }
}

async function gql(query, variables) {
  let response;
  try {
    response = await fetch(ENDPOINT, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/graphql-response+json, application/json",
        authorization: `Bearer ${state.token}`,
      },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new RequestError("The connection to the chat server is down.");
  }
  let result = null;
  try {
    result = await response.json();
  } catch {
    throw new RequestError(`The chat server answered ${response.status}.`);
  }
  if (result.errors && result.errors.length) {
    const code = (result.errors[0].extensions || {}).code || null;
    throw new RequestError(result.errors[0].message, { fatal: code !== "RATE_LIMITED", code });
  }
  if (!response.ok) throw new RequestError(`The chat server answered ${response.status}.`);
  return result.data;
}

// The thread's messages (and, unless the stream already runs, its status and cursor).
async function load({ messagesOnly = false } = {}) {
  const data = await gql(LOAD, { id: state.threadId });
  if (!data.thread) throw new RequestError("This conversation does not exist.", { fatal: true });
  const edges = data.thread.messages.edges;
  for (const edge of edges) receive(edge.node, "load");
  // The stream's cursor and status are newer than this read may be: it must not move them back.
  if (messagesOnly) return;
  if (edges.length) state.cursor = edges[edges.length - 1].cursor;
  setStatus(data.thread.status);
}

// ------------------------------------------------------------------ live

// One socket per token. It resumes conversationEvents after the last cursor,
// so a dropped socket loses nothing and repeats nothing.
function openLive() {
  closeLive(); // at most one socket, whatever called us
  const session = state.session;
  const current = () => session === state.session;
  // Opened without a cursor, the stream sends the thread's current state first (its status and
  // the cursor it goes on from); the messages up to that cursor come from a new load, the later
  // ones on the stream (one in both is shown once).
  let reloadOnState = state.cursor === null;
  state.client = createClient({
    url: SOCKET_URL.href,
    connectionParams: { Authorization: `Bearer ${state.token}` },
    retryAttempts: 0, // reconnecting is ours: the resumed stream needs the newest cursor
    // The socket stays open with no stream too (a refused stream must not make it close and retry).
    lazy: false,
    onNonLazyError: () => {}, // reported to `closed`
    on: {
      connected: () => current() && connected(),
      closed: (event) => current() && closed(event),
    },
  });
  watch(EVENTS, { id: state.threadId, after: state.cursor }, (data) => {
    onEvent(data.conversationEvents);
    if (!reloadOnState) return;
    reloadOnState = false;
    load({ messagesOnly: true }).catch((error) => showAlert(error.message));
  });
  if (state.status === "QUEUED") watchQueue();
}

function closeLive() {
  clearTimeout(state.reconnectTimer);
  state.session++;
  // dispose() rejects when the socket it waits for never opened: nothing to do then.
  if (state.client) Promise.resolve(state.client.dispose()).catch(() => {});
  state.client = null;
  state.stopQueue = null;
}

function connected() {
  state.retryMs = 500;
  setState("live");
}

function closed(event) {
  closeLive();
  if (event && event.code === 4401) {
    expired();
    return;
  }
  setState("reconnecting");
  state.reconnectTimer = setTimeout(openLive, state.retryMs);
  state.retryMs = Math.min(state.retryMs * 2, 10000);
}

function expired() {
  closeLive();
  setState(
    "expired",
    EMBEDDED
      ? "Your chat session has ended. Reload this page to continue."
      : "Your chat session has ended. Open the chat again from the site you came from.",
  );
  setComposer(false);
}

function watch(query, variables, onData, onDone = () => {}) {
  return state.client.subscribe(
    { query, variables },
    {
      next: (result) => (result.errors ? showAlert(result.errors[0].message) : onData(result.data)),
      // A closed socket arrives as a CloseEvent and is handled by `closed`.
      error: (error) => {
        if (Array.isArray(error)) showAlert(error[0].message);
        onDone();
      },
      complete: onDone,
    },
  );
}

function onEvent(event) {
  if (event.cursor) state.cursor = event.cursor;
  if (event.kind === "MESSAGE" && event.message) {
    hideTyping();
    receive(event.message, "event");
  } else if (event.kind === "TYPING") {
    showTyping(event);
  } else if (event.kind === "STATUS_CHANGED" && event.status) {
    setStatus(event.status);
  }
}

// ------------------------------------------------------------------ messages

// The page keeps the thread's one order: messages confirmed by the stream (or the
// first load) in the order they came, then this page's own messages that the
// stream has not confirmed yet (still sending, or answered by sendMessage only).
function receive(message, via) {
  const known = state.shown.get(message.id);
  if (known) {
    if (via === "event" && known.via === "event") state.duplicates++;
    else if (via !== "send" && known.via === "send") {
      known.via = via;
      confirm(known.li);
    }
    ui.root.dataset.duplicates = String(state.duplicates);
    return;
  }
  const pending = message.clientMessageId ? state.pending.get(message.clientMessageId) : null;
  let li = pending ? pending.li : null;
  if (li) {
    state.pending.delete(message.clientMessageId);
    li.replaceChildren();
    li.className = "message";
  } else {
    li = document.createElement("li");
    state.provisional.add(li);
    ui.messages.append(li);
  }
  fillMessage(li, message);
  state.shown.set(message.id, { li, via });
  if (via !== "send") confirm(li);
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

function confirm(li) {
  state.provisional.delete(li);
  const firstProvisional = Array.from(ui.messages.children).find((item) => state.provisional.has(item));
  ui.messages.insertBefore(li, firstProvisional || null);
}

function fillMessage(li, message) {
  const mine = message.senderKind === "VISITOR";
  li.classList.add("message", mine ? "mine" : "theirs");
  li.dataset.id = message.id || "";
  li.dataset.sender = message.senderKind;
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = mine ? "You" : message.displayName;
  const body = document.createElement("p");
  body.className = "body";
  body.textContent = message.body;
  li.append(who, body);
  if (message.createdAt) {
    const time = document.createElement("time");
    time.dateTime = message.createdAt;
    time.textContent = new Date(message.createdAt).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    li.append(time);
  }
}

// ------------------------------------------------------------------ sending

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  const body = ui.input.value;
  if (!body.trim()) return;
  ui.input.value = "";
  stopTyping();
  const key = newKey();
  const li = document.createElement("li");
  fillMessage(li, { senderKind: "VISITOR", body });
  li.classList.add("pending");
  state.provisional.add(li);
  ui.messages.append(li);
  state.pending.set(key, { li, body });
  deliver(key);
});

ui.input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    ui.form.requestSubmit();
  }
});

// Every attempt carries the same clientMessageId: the server keeps the first and
// answers a retry with it, so a lost answer never doubles a message.
async function deliver(key) {
  const pending = state.pending.get(key);
  if (!pending) return;
  markPending(pending.li, "Sending…");
  let problem = null;
  for (let attempt = 0; attempt < SEND_ATTEMPTS; attempt++) {
    try {
      const input = { threadId: state.threadId, body: pending.body, clientMessageId: key };
      const payload = (await gql(SEND, { input })).sendMessage;
      if (payload.userErrors.length) {
        problem = payload.userErrors[0].message;
        if (payload.userErrors[0].code !== "RATE_LIMITED") break;
      } else {
        receive(payload.message, "send");
        if (payload.thread) setStatus(payload.thread.status);
        return;
      }
    } catch (error) {
      problem = error.message;
      if (error.fatal) break;
    }
    await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** attempt));
    if (!state.pending.has(key)) return; // the stream brought it meanwhile: it was written
  }
  markPending(pending.li, `Not sent: ${problem}`, () => deliver(key));
}

function markPending(li, text, retry = null) {
  li.querySelector(".note")?.remove();
  const note = document.createElement("span");
  note.className = "note";
  note.textContent = text;
  if (retry) {
    li.classList.add("failed");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Retry";
    button.addEventListener("click", () => {
      li.classList.remove("failed");
      retry();
    });
    note.append(" ", button);
  }
  li.append(note);
}

// ------------------------------------------------------------------ typing

let typingIdle = null;
let typingShown = null;

ui.input.addEventListener("input", () => {
  const now = Date.now();
  if (ui.input.value.trim() && now - state.typingSentAt > TYPING_SEND_MS) {
    state.typingSentAt = now;
    setTyping(true);
  }
  clearTimeout(typingIdle);
  typingIdle = setTimeout(stopTyping, TYPING_SHOWN_MS - 1000);
});

function stopTyping() {
  clearTimeout(typingIdle);
  if (!state.typingSentAt) return;
  state.typingSentAt = 0;
  setTyping(false);
}

function setTyping(typing) {
  gql(TYPING, { input: { threadId: state.threadId, typing } }).catch(() => {}); // best effort
}

function showTyping(event) {
  // The server never sends a caller their own typing.
  if (!event.typing) return hideTyping();
  ui.typing.textContent = `${event.typingName} is typing…`;
  ui.typing.hidden = false;
  clearTimeout(typingShown);
  typingShown = setTimeout(hideTyping, TYPING_SHOWN_MS);
}

function hideTyping() {
  clearTimeout(typingShown);
  ui.typing.hidden = true;
}

// ------------------------------------------------------------------ queue and status

const STATUS_TEXT = {
  BOT: "Our assistant is answering. You can ask for a person at any time.",
  QUEUED: "Waiting for a person from our team…",
  ACTIVE: "A person from our team is with you.",
  RESOLVED: "This conversation is resolved. Write again to reopen it.",
  CLOSED: "This conversation is closed.",
};

function setStatus(status) {
  state.status = status;
  ui.root.dataset.status = status;
  ui.status.textContent = STATUS_TEXT[status] || status;
  ui.human.hidden = status !== "BOT";
  setComposer(status !== "CLOSED" && ui.root.dataset.state !== "expired");
  if (status === "QUEUED") watchQueue();
  else showQueue(null);
}

function watchQueue() {
  if (state.stopQueue || !state.client) return;
  const done = () => {
    state.stopQueue = null;
  };
  state.stopQueue = watch(POSITION, { id: state.threadId }, (data) => showQueue(data.queuePosition), done);
}

function showQueue(update) {
  const waiting = update && update.status === "WAITING" && state.status === "QUEUED";
  ui.queue.hidden = !waiting;
  if (!waiting) return;
  ui.queue.dataset.position = String(update.position);
  ui.position.textContent = `You are number ${update.position} of ${update.queueLength} in the queue.`;
  const seconds = update.estimatedWaitSeconds;
  ui.wait.textContent =
    seconds == null ? "" : `Estimated wait: about ${Math.max(1, Math.round(seconds / 60))} min.`;
}

ui.human.addEventListener("click", async () => {
  ui.human.disabled = true;
  try {
    const input = { threadId: state.threadId, trigger: "VISITOR_REQUEST" };
    const payload = (await gql(HUMAN, { input })).requestTransfer;
    if (payload.userErrors.length) showAlert(payload.userErrors[0].message);
    else if (payload.thread) setStatus(payload.thread.status);
  } catch (error) {
    showAlert(error.message);
  } finally {
    ui.human.disabled = false;
  }
});

// ------------------------------------------------------------------ page state

const CONNECTION_TEXT = {
  connecting: "Connecting…",
  reconnecting: "Connection lost. Reconnecting…",
};

function setState(name, text = null) {
  ui.root.dataset.state = name;
  const message = text || CONNECTION_TEXT[name] || "";
  ui.connection.textContent = message;
  ui.connection.hidden = !message;
  if (name === "live") setComposer(state.status !== "CLOSED");
}

function setComposer(enabled) {
  ui.input.disabled = !enabled;
  ui.send.disabled = !enabled;
}

function showAlert(text) {
  ui.alert.textContent = text;
  ui.alert.hidden = false;
}

// Tell an embedding page that the widget listens (the message holds nothing secret).
if (EMBEDDED) window.parent.postMessage({ type: "switchboard:ready" }, "*");
const initial = tokenFromFragment();
if (initial) start(initial);
else if (!EMBEDDED) setState("no-token", "Open this page as /widget/#token=<visitor token>.");
