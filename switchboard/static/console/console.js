// A small agent-console demo: it proves the agent side of the API in a browser
// and is meant to be read, not to replace a real console. One ES module, no
// build step; "graphql-ws" is the copy vendored in this server (import map).
//
// Open it as /console/#token=<agent token>. It lists the agent's invites,
// the visitors waiting in queues and the agent's threads, all kept live; a
// thread shows its conversation (internal notes included), a reply box that
// answers the visitor or writes an internal note, and its collaborators,
// whose permission the agent may change when their own place allows it.
import { createClient } from "graphql-ws";

const ENDPOINT = new URL(document.body.dataset.endpoint, location.href);
const TOKEN = new URLSearchParams(location.hash.slice(1)).get("token");
const $ = (id) => document.getElementById(id);

const MESSAGE = "id senderKind displayName visibility body createdAt";
const VIEWER = `query ConsoleViewer { viewer { agent { id name status role }
  pendingInvites { id type permission message inviter { name } thread { id subject } }
  threads(first: 50) { edges { node { id status subject unreadCount visitor { name externalId } } } } }
  queues { id name entries(first: 20) { edges { node { id priority position enqueuedAt } } } } }`;
const THREAD = `query ConsoleThread($id: ID!) { thread(id: $id) { id status subject viewerPermission
  visitor { name externalId } primaryAgent { id }
  collaborators { role permission agent { id name } }
  messages(last: 50) { edges { cursor node { ${MESSAGE} } } } } }`;
const CONVERSATION = `subscription ConsoleConversation($id: ID!, $after: String) {
  conversationEvents(threadId: $id, after: $after) { cursor kind typing typingName status message { ${MESSAGE} } } }`;
const THREAD_EVENTS = `subscription ConsoleThreadEvents($id: ID!) { threadEvents(threadId: $id) { kind } }`;
const INVITE_EVENTS = `subscription ConsoleInvites { inviteEvents { kind } }`;
const QUEUE_STATS = `subscription ConsoleQueue($id: ID!) { queueStats(queueId: $id) { waiting } }`;
const MUTATIONS = {
  send: `mutation($input: SendMessageInput!) { sendMessage(input: $input) { message { ${MESSAGE} } userErrors { message } } }`,
  typing: `mutation($input: SetTypingInput!) { setTyping(input: $input) { ok } }`,
  read: `mutation($input: MarkThreadReadInput!) { markThreadRead(input: $input) { userErrors { message } } }`,
  respond: `mutation($input: RespondToInviteInput!) { respondToInvite(input: $input) {
    invite { thread { id } } userErrors { message } } }`,
  claim: `mutation($input: ClaimQueueEntryInput!) { claimQueueEntry(input: $input) {
    queueEntry { thread { id } } userErrors { message } } }`,
  permission: `mutation($input: ChangePermissionInput!) { changePermission(input: $input) { userErrors { message } } }`,
  status: `mutation($input: SetAgentStatusInput!) { setAgentStatus(input: $input) { userErrors { message } } }`,
};

const state = { me: null, open: null, shown: new Set(), watchers: [], queuesWatched: new Set(), typingAt: 0 };

async function gql(query, variables = {}) {
  const response = await fetch(ENDPOINT, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ query, variables }),
  });
  const result = await response.json();
  if (result.errors && result.errors.length) throw new Error(result.errors[0].message);
  return result.data;
}

// A mutation whose userErrors, if any, are shown; returns its payload or null.
async function mutate(name, input) {
  try {
    const payload = Object.values(await gql(MUTATIONS[name], { input }))[0];
    if (payload.userErrors && payload.userErrors.length) {
      alert(payload.userErrors[0].message);
      return null;
    }
    return payload;
  } catch (error) {
    alert(error.message);
    return null;
  }
}

function alert(text) {
  $("c-alert").textContent = text;
  $("c-alert").hidden = !text;
}

function el(tag, text = "", attributes = {}) {
  const node = document.createElement(tag);
  node.textContent = text;
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  return node;
}

function button(text, onClick) {
  const node = el("button", text, { type: "button" });
  node.addEventListener("click", onClick);
  return node;
}

// graphql-ws retries a dropped socket by itself; on every (re)connection the
// page reloads what it shows, so nothing missed while it was down stays missing.
const client = createClient({
  url: ENDPOINT.href.replace(/^http/, "ws"),
  connectionParams: { Authorization: `Bearer ${TOKEN}` },
  retryAttempts: Infinity,
  shouldRetry: (event) => !event || event.code !== 4401,
  on: {
    connected: () => {
      scheduleRefresh();
      if (state.open) openThread(state.open);
    },
    closed: (event) => event && event.code === 4401 && alert("Your session has ended: open the console with a fresh token."),
  },
});

function watch(query, variables, onData) {
  return client.subscribe(
    { query, variables },
    {
      next: (result) => (result.errors ? alert(result.errors[0].message) : onData(result.data)),
      // A refused stream comes as a list of errors; a closed socket is retried by the client.
      error: (error) => Array.isArray(error) && alert(error[0].message),
      complete: () => {},
    },
  );
}

// ------------------------------------------------------------------ lists

// Many events in a burst (a queue draining) make one reload.
function scheduleRefresh() {
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(refresh, 100);
}

async function refresh() {
  let data;
  try {
    data = await gql(VIEWER);
  } catch (error) {
    alert(error.message);
    return;
  }
  state.me = data.viewer.agent;
  $("c-me").textContent = state.me ? `Signed in as ${state.me.name}` : "Not an agent token";
  $("c-status").value = state.me ? state.me.status : "OFFLINE";
  $("c-status").disabled = !state.me;
  showInvites(data.viewer.pendingInvites);
  showThreads(data.viewer.threads.edges.map((edge) => edge.node));
  showQueues(data.queues);
}

function showInvites(invites) {
  const items = invites.map((invite) => {
    const li = el("li", `${invite.inviter.name} invites you as ${invite.type} (${invite.permission}) to “${invite.thread.subject || "a thread"}” `);
    if (invite.message) li.append(el("q", invite.message), " ");
    li.append(
      button("Accept", () => answer(invite, "ACCEPT")),
      " ",
      button("Reject", () => answer(invite, "REJECT")),
    );
    return li;
  });
  $("c-invites").replaceChildren(...(items.length ? items : [el("li", "No invites.", { class: "empty" })]));
}

async function answer(invite, action) {
  const payload = await mutate("respond", { inviteId: invite.id, action });
  await refresh();
  if (payload && action === "ACCEPT") openThread(invite.thread.id);
}

function showThreads(threads) {
  const items = threads.map((thread) => {
    const name = thread.visitor.name || thread.visitor.externalId;
    const unread = thread.unreadCount ? ` (${thread.unreadCount} unread)` : "";
    const li = el("li");
    li.append(button(`${name}: ${thread.subject || "no subject"} · ${thread.status}${unread}`, () => openThread(thread.id)));
    if (thread.id === state.open) li.className = "current";
    return li;
  });
  $("c-threads").replaceChildren(...(items.length ? items : [el("li", "No threads.", { class: "empty" })]));
}

function showQueues(queues) {
  const items = [];
  for (const queue of queues) {
    // Supervisors may watch a queue's stats live; other agents look again every few seconds.
    if (!state.queuesWatched.has(queue.id) && state.me && state.me.role === "SUPERVISOR") {
      state.queuesWatched.add(queue.id);
      watch(QUEUE_STATS, { id: queue.id }, scheduleRefresh);
    }
    for (const { node: entry } of queue.entries.edges) {
      const li = el("li", `${queue.name} #${entry.position} · ${entry.priority} `);
      li.append(button("Claim", () => claim(entry.id)));
      items.push(li);
    }
  }
  $("c-queue").replaceChildren(...(items.length ? items : [el("li", "Nobody is waiting.", { class: "empty" })]));
}

async function claim(entryId) {
  const payload = await mutate("claim", { queueEntryId: entryId });
  await refresh();
  if (payload && payload.queueEntry) openThread(payload.queueEntry.thread.id);
}

// ------------------------------------------------------------------ one thread

async function openThread(threadId) {
  for (const stop of state.watchers) stop();
  state.watchers = [];
  state.open = threadId;
  state.shown = new Set();
  $("c-messages").replaceChildren();
  let thread;
  try {
    thread = (await gql(THREAD, { id: threadId })).thread;
  } catch (error) {
    alert(error.message);
    return;
  }
  if (!thread) return alert("That thread is not readable any more.");
  showThread(thread);
  const edges = thread.messages.edges;
  edges.forEach((edge) => showMessage(edge.node));
  const after = edges.length ? edges[edges.length - 1].cursor : null;
  state.watchers.push(
    watch(CONVERSATION, { id: threadId, after }, (data) => onConversation(data.conversationEvents)),
    watch(THREAD_EVENTS, { id: threadId }, () => reloadThread(threadId)),
  );
  markRead();
}

function showThread(thread) {
  $("c-thread").hidden = false;
  $("c-thread-title").textContent = `${thread.visitor.name || thread.visitor.externalId}: ${thread.subject || "no subject"}`;
  $("c-thread-status").textContent = `Status ${thread.status} · your permission: ${thread.viewerPermission || "none"}`;
  const canManage = thread.viewerPermission === "ADMIN";
  $("c-collaborators").replaceChildren(...thread.collaborators.map((c) => collaboratorItem(thread, c, canManage)));
  for (const li of $("c-threads").children) li.classList.remove("current");
}

function collaboratorItem(thread, collaborator, canManage) {
  const li = el("li", `${collaborator.agent.name} · ${collaborator.role} `);
  if (collaborator.role === "PRIMARY") return li;
  const select = el("select", "", { "aria-label": `Permission of ${collaborator.agent.name}` });
  for (const permission of ["READ", "WRITE", "ADMIN"]) select.append(el("option", permission));
  select.value = collaborator.permission;
  select.disabled = !canManage;
  select.addEventListener("change", async () => {
    await mutate("permission", { threadId: thread.id, agentId: collaborator.agent.id, permission: select.value });
    reloadThread(thread.id);
  });
  li.append(select);
  return li;
}

async function reloadThread(threadId) {
  if (state.open !== threadId) return;
  const thread = (await gql(THREAD, { id: threadId }).catch(() => ({ thread: null }))).thread;
  if (!thread || state.open !== threadId) return;
  showThread(thread);
  // A stream opened without a cursor starts with the thread's state: a message that came in
  // between the first load and that state is in this load (one already shown is not repeated).
  thread.messages.edges.forEach((edge) => showMessage(edge.node));
}

function onConversation(event) {
  if (event.kind === "MESSAGE" && event.message) {
    $("c-typing").hidden = true;
    showMessage(event.message);
    markRead();
  } else if (event.kind === "TYPING") {
    $("c-typing").textContent = `${event.typingName} is typing…`;
    $("c-typing").hidden = !event.typing;
    clearTimeout(state.typingTimer);
    state.typingTimer = setTimeout(() => ($("c-typing").hidden = true), 6000);
  } else if (event.kind === "STATUS_CHANGED") {
    reloadThread(state.open);
    scheduleRefresh();
  }
}

function showMessage(message) {
  if (state.shown.has(message.id)) return;
  state.shown.add(message.id);
  const li = el("li", "", { class: `message ${message.visibility.toLowerCase()}`, "data-sender": message.senderKind });
  const who = message.visibility === "INTERNAL" ? `${message.displayName} · internal note` : message.displayName;
  li.append(el("span", who, { class: "who" }), el("p", message.body, { class: "body" }));
  $("c-messages").append(li);
  $("c-messages").scrollTop = $("c-messages").scrollHeight;
}

// crypto.randomUUID exists on https and localhost pages only.
function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

function markRead() {
  gql(MUTATIONS.read, { input: { threadId: state.open } }).catch(() => {});
}

$("c-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = $("c-input").value;
  const visibility = new FormData(event.target).get("visibility");
  if (!body.trim() || !state.open) return;
  const input = { threadId: state.open, body, visibility, clientMessageId: newKey() };
  const payload = await mutate("send", input);
  if (payload) {
    $("c-input").value = "";
    showMessage(payload.message);
  }
});

$("c-input").addEventListener("input", () => {
  if (Date.now() - state.typingAt < 2000 || !state.open) return;
  state.typingAt = Date.now();
  const visibility = new FormData($("c-form")).get("visibility");
  gql(MUTATIONS.typing, { input: { threadId: state.open, typing: true, visibility } }).catch(() => {});
});

$("c-status").addEventListener("change", async () => {
  await mutate("status", { status: $("c-status").value });
  scheduleRefresh();
});

if (!TOKEN) {
  $("c-me").textContent = "Open this page as /console/#token=<agent token>.";
} else {
  refresh();
  watch(INVITE_EVENTS, {}, scheduleRefresh);
  // New assignments and queue entries have no stream an agent may open: look again now and then.
  setInterval(scheduleRefresh, 5000);
}
