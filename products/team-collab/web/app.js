// team-collab's web client: the product's HTTP API (/v1, openapi.yaml) in a
// browser, with no build step. Served as static files by the fileserver
// component; every page path (/workspaces/…, /verify-email, links in mail)
// loads this one page, which routes on location.pathname.
//
// User text is only ever written with textContent: nothing a member types
// becomes markup. The access token lives in localStorage.

const TOKEN_KEY = "keel.token";
const REACTIONS = ["👍", "🎉", "❤️", "😄", "👀"];
const PAGE = 50;

const state = {
  token: localStorage.getItem(TOKEN_KEY),
  me: null,
  workspaces: [],
  workspace: null, // the open workspace
  channels: [],
  channel: null, // the open channel
  members: new Map(), // user id → member, of the open workspace
  messages: new Map(), // message id → message, of the open channel and thread
  olderCursor: null,
  thread: null, // the parent message whose thread is open
  panel: null, // "thread" | "inbox" | "files" | "members" | "invitations"
  stream: null, // the live stream's AbortController
  pendingFile: null,
};

const $ = (id) => document.getElementById(id);

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// ---------------------------------------------------------------- the API

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, body, { raw = false, headers = {} } = {}) {
  const init = { method, headers: { ...headers } };
  if (state.token) init.headers.authorization = `Bearer ${state.token}`;
  if (body instanceof Blob) {
    init.body = body;
    init.headers["content-type"] = body.type || "application/octet-stream";
  } else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["content-type"] = "application/json";
  }
  const response = await fetch(path, init);
  if (!response.ok) {
    let code = "http_" + response.status;
    let message = response.statusText || "request failed";
    try {
      const error = (await response.json()).error;
      code = error.code;
      message = error.message;
    } catch {
      // Not Keel's error body (a proxy's page): keep the status text.
    }
    if (response.status === 401 && state.token) signedOut();
    throw new ApiError(response.status, code, message);
  }
  if (raw) return response;
  return response.status === 204 ? null : response.json();
}

const ws = (path = "") => `/v1/workspaces/${encodeURIComponent(state.workspace.id)}${path}`;
const ch = (path = "") => ws(`/channels/${encodeURIComponent(state.channel.id)}${path}`);

function toast(message, kind = "error") {
  const box = $("toast");
  box.textContent = message;
  box.className = kind;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (box.hidden = true), 6000);
}

// Run an action from a click or a form; its failure is shown, not thrown.
function guarded(action) {
  return async (event) => {
    event?.preventDefault?.();
    try {
      await action(event);
    } catch (error) {
      toast(error.message || String(error));
      if (!(error instanceof ApiError)) console.error(error);
    }
  };
}

// ---------------------------------------------------------------- routing

function navigate(path, { replace = false } = {}) {
  if (location.pathname + location.search !== path) history[replace ? "replaceState" : "pushState"](null, "", path);
  return route();
}

async function route() {
  const path = location.pathname;
  const params = new URLSearchParams(location.search);
  if (path === "/verify-email" && params.get("token")) return verifyEmail(params.get("token"));
  if (path === "/reset-password" && params.get("token")) return showAuth("reset-form");
  if (!state.token) return showAuth("signin-form");
  if (!state.me) await loadMe();
  showApp();
  const invitation = path.match(/^\/invitations\/([^/]+)$/);
  if (invitation) {
    await openPanel("invitations");
    return;
  }
  const parts = path.match(/^\/workspaces\/([^/]+)(?:\/channels\/([^/]+)(?:\/messages\/([^/]+))?)?/);
  const [workspaceId, channelId, messageId] = parts ? parts.slice(1).map((p) => p && decodeURIComponent(p)) : [];
  await openWorkspace(workspaceId ?? state.workspace?.id ?? state.workspaces[0]?.id, channelId, messageId);
}

window.addEventListener("popstate", () => route().catch((error) => toast(error.message)));

// ---------------------------------------------------------------- signing in

function showAuth(form) {
  stopStream();
  $("app").hidden = true;
  $("auth").hidden = false;
  for (const id of ["signin-form", "signup-form", "forgot-form", "reset-form"]) $(id).hidden = id !== form;
  $(form).querySelector("input")?.focus();
}

function showApp() {
  $("auth").hidden = true;
  $("app").hidden = false;
}

function signedIn(session) {
  state.token = session.token;
  localStorage.setItem(TOKEN_KEY, session.token);
  state.me = session.user;
}

function signedOut() {
  stopStream();
  localStorage.removeItem(TOKEN_KEY);
  Object.assign(state, { token: null, me: null, workspaces: [], workspace: null, channel: null, panel: null });
  $("panel").hidden = true;
  showAuth("signin-form");
}

function formData(form) {
  return Object.fromEntries(new FormData(form).entries());
}

async function verifyEmail(token) {
  try {
    await api("POST", "/v1/auth/verify-email", { token });
    toast("Your email address is verified.", "info");
    if (state.me) state.me.email_verified = true;
  } catch (error) {
    toast(`This link does not verify an address: ${error.message}`);
  }
  await navigate("/", { replace: true });
}

async function loadMe() {
  state.me = await api("GET", "/v1/me");
}

function renderMe() {
  $("me-name").textContent = state.me.display_name;
  $("verify-banner").hidden = state.me.email_verified;
  $("verify-email").textContent = state.me.email;
}

// ---------------------------------------------------------------- workspaces and channels

async function openWorkspace(workspaceId, channelId, messageId) {
  renderMe();
  state.workspaces = (await api("GET", "/v1/workspaces")).workspaces;
  refreshBadges();
  const select = $("workspace-select");
  select.replaceChildren(...state.workspaces.map((w) => el("option", { value: w.id }, w.name)));
  const workspace = state.workspaces.find((w) => w.id === workspaceId) ?? state.workspaces[0] ?? null;
  const changed = workspace?.id !== state.workspace?.id;
  state.workspace = workspace;
  $("channel-form").hidden = !workspace;
  $("open-members").hidden = !workspace;
  $("open-files").hidden = true;
  if (!workspace) {
    state.channels = [];
    renderChannels();
    showChannel(null);
    $("channel-title").textContent = "Create a workspace to start";
    return;
  }
  select.value = workspace.id;
  if (changed || !state.channels.length) {
    const [channels, members] = await Promise.all([api("GET", ws("/channels")), api("GET", ws("/members"))]);
    state.channels = channels.channels;
    state.members = new Map(members.members.map((m) => [m.user_id, m]));
  }
  renderChannels();
  const channel = state.channels.find((c) => c.id === channelId) ?? (changed || !state.channel ? state.channels[0] : state.channel);
  await showChannel(channel ?? null, messageId);
}

function renderChannels() {
  $("channel-list").replaceChildren(
    ...state.channels.map((c) =>
      el("li", {}, el("a", {
        href: `/workspaces/${c.workspace_id}/channels/${c.id}`,
        class: c.id === state.channel?.id ? "active" : "",
        "aria-current": c.id === state.channel?.id ? "page" : null,
        onclick: (e) => { e.preventDefault(); navigate(e.currentTarget.getAttribute("href")); },
      }, `# ${c.name}`)),
    ),
  );
}

async function showChannel(channel, messageId) {
  const same = channel && channel.id === state.channel?.id;
  state.channel = channel;
  renderChannels();
  $("composer").hidden = !channel;
  $("open-files").hidden = !channel;
  $("older").hidden = true;
  if (!channel) {
    stopStream();
    $("messages").replaceChildren();
    $("channel-title").textContent = state.workspace ? "Create a channel to start" : "Create a workspace to start";
    return;
  }
  $("channel-title").textContent = `# ${channel.name}`;
  if (!same) {
    state.messages.clear();
    state.thread = null;
    if (state.panel === "thread" || state.panel === "files") closePanel();
    const page = await api("GET", ch(`/messages?limit=${PAGE}`));
    $("messages").replaceChildren();
    for (const message of page.messages.reverse()) upsertMessage(message);
    setOlder(page.next_cursor);
    scrollToEnd();
    startStream();
  }
  if (messageId) await focusMessage(messageId);
}

function setOlder(cursor) {
  state.olderCursor = cursor;
  $("older").hidden = !cursor;
}

async function loadOlder() {
  const page = await api("GET", ch(`/messages?limit=${PAGE}&before=${encodeURIComponent(state.olderCursor)}`));
  const list = $("messages");
  const first = list.firstChild;
  for (const message of page.messages) {
    state.messages.set(message.id, message);
    list.insertBefore(renderMessage(message), first);
  }
  setOlder(page.next_cursor);
}

async function focusMessage(messageId) {
  const message = state.messages.get(messageId) ?? (await api("GET", ch(`/messages/${encodeURIComponent(messageId)}`)));
  if (message.parent_id) await openThread(message.parent_id);
  const node = document.querySelector(`[data-message-id="${CSS.escape(messageId)}"]`);
  node?.scrollIntoView({ block: "center" });
  node?.classList.add("focused");
}

// ---------------------------------------------------------------- messages

function nameOf(userId) {
  if (userId === state.me?.id) return state.me.display_name;
  return state.members.get(userId)?.display_name ?? "someone";
}

// The text as nodes, mentions marked: `<@usr_…>` shown as @Name, and
// `@Name` of a member (the longest name that matches, as the server reads it).
function messageText(text) {
  const names = [...state.members.values()].map((m) => m.display_name).sort((a, b) => b.length - a.length);
  const byName = names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|");
  const pattern = new RegExp(`<@(usr_[A-Za-z0-9_-]+)>${byName ? `|(?<![\\p{L}\\p{N}])@(${byName})(?![\\p{L}\\p{N}])` : ""}`, "giu");
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    parts.push(text.slice(last, match.index));
    parts.push(el("span", { class: "mention" }, match[1] ? `@${nameOf(match[1])}` : match[0]));
    last = match.index + match[0].length;
  }
  parts.push(text.slice(last));
  return parts;
}

function time(at) {
  const date = new Date(at);
  return el("time", { datetime: at, title: date.toLocaleString() }, date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
}

function renderMessage(message) {
  const mine = message.author_id === state.me.id;
  const admin = ["owner", "admin"].includes(state.workspace?.role);
  const body = message.deleted
    ? [el("p", { class: "text deleted" }, "This message was deleted.")]
    : [
        el("p", { class: "text" }, messageText(message.text)),
        message.attachments.length
          ? el("ul", { class: "attachments" }, message.attachments.map((a) => el("li", {}, attachmentLink(a))))
          : null,
        el("div", { class: "reactions" },
          message.reactions.map((r) =>
            el("button", {
              class: r.user_ids.includes(state.me.id) ? "reaction mine" : "reaction",
              title: r.user_ids.map(nameOf).join(", "),
              "aria-label": `${r.emoji} ${r.count}`,
              onclick: guarded(() => toggleReaction(message, r.emoji)),
            }, `${r.emoji} ${r.count}`),
          ),
          el("details", { class: "add-reaction" },
            el("summary", { "aria-label": "Add reaction", title: "Add reaction" }, "☺+"),
            REACTIONS.map((emoji) =>
              el("button", { "aria-label": `React ${emoji}`, onclick: guarded((e) => { e.currentTarget.closest("details").open = false; return toggleReaction(message, emoji); }) }, emoji),
            ),
          ),
        ),
      ];
  const actions = el("div", { class: "actions" },
    !message.parent_id && !message.deleted
      ? el("button", { class: "link", onclick: guarded(() => openThread(message.id)) },
          message.reply_count ? `${message.reply_count} ${message.reply_count === 1 ? "reply" : "replies"}` : "Reply")
      : null,
    mine && !message.deleted ? el("button", { class: "link", onclick: () => editMessage(message) }, "Edit") : null,
    (mine || admin) && !message.deleted ? el("button", { class: "link", onclick: guarded(() => deleteMessage(message)) }, "Delete") : null,
  );
  return el("li", { class: "message", dataset: { messageId: message.id } },
    el("header", {}, el("strong", { class: "author" }, nameOf(message.author_id)), " ", time(message.created_at),
      message.edited_at && !message.deleted ? el("span", { class: "edited" }, " (edited)") : null),
    body,
    actions,
  );
}

// Show `message` wherever it belongs: the channel, the open thread, both.
function upsertMessage(message) {
  state.messages.set(message.id, message);
  const lists = [];
  if (!message.parent_id) lists.push($("messages"));
  const thread = $("thread-messages");
  if (thread && (message.id === state.thread || message.parent_id === state.thread)) lists.push(thread);
  for (const list of lists) {
    const node = renderMessage(message);
    const existing = list.querySelector(`[data-message-id="${CSS.escape(message.id)}"]`);
    if (existing) existing.replaceWith(node);
    else {
      const atEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
      list.append(node);
      if (atEnd) list.scrollTop = list.scrollHeight;
    }
  }
}

function scrollToEnd() {
  const list = $("messages");
  list.scrollTop = list.scrollHeight;
}

async function send(form, path) {
  const text = form.elements.text.value.trim();
  const file = form.elements.file?.files[0];
  if (!text && !file) return;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const attachments = [];
    if (file) {
      const shared = await api("POST", ch(`/files?name=${encodeURIComponent(file.name)}`), file);
      attachments.push(shared.id);
    }
    const message = await api("POST", path, { text: text || file.name, attachments });
    upsertMessage(message);
    if (message.parent_id) {
      const parent = state.messages.get(message.parent_id);
      if (parent) upsertMessage({ ...parent, reply_count: parent.reply_count + 1 });
    } else scrollToEnd();
    form.reset();
    if (form.id === "composer") $("attached").textContent = "";
  } finally {
    button.disabled = false;
  }
}

async function toggleReaction(message, emoji) {
  const mine = message.reactions.find((r) => r.emoji === emoji)?.user_ids.includes(state.me.id);
  const updated = await api(mine ? "DELETE" : "PUT", ch(`/messages/${message.id}/reactions/${encodeURIComponent(emoji)}`));
  upsertMessage(updated);
}

function editMessage(message) {
  const node = document.querySelector(`[data-message-id="${CSS.escape(message.id)}"] .text`);
  const form = el("form", { class: "edit", "aria-label": "Edit message" },
    el("textarea", { name: "text", rows: 2, "aria-label": "Edited message", maxlength: 4000 }),
    el("button", { type: "submit" }, "Save"),
    el("button", { type: "button", class: "link", onclick: () => upsertMessage(message) }, "Cancel"),
  );
  form.elements.text.value = message.text;
  form.addEventListener("submit", guarded(async () => {
    upsertMessage(await api("PATCH", ch(`/messages/${message.id}`), { text: form.elements.text.value }));
  }));
  node.replaceWith(form);
  form.elements.text.focus();
}

async function deleteMessage(message) {
  if (!confirm("Delete this message?")) return;
  await api("DELETE", ch(`/messages/${message.id}`));
  upsertMessage({ ...message, deleted: true, text: "", attachments: [], reactions: [] });
}

// ---------------------------------------------------------------- files

function attachmentLink(file) {
  const id = file.file_id ?? file.id;
  return el("a", {
    href: ws(`/files/${id}/content`),
    class: "file",
    onclick: guarded((e) => download(id, file.name, e)),
  }, `📄 ${file.name}`, el("small", {}, ` ${size(file.size)}`));
}

function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

// Downloads need the bearer token, so they go through fetch and a blob URL.
async function download(fileId, name) {
  const response = await api("GET", ws(`/files/${fileId}/content?disposition=attachment`), undefined, { raw: true });
  const url = URL.createObjectURL(await response.blob());
  const link = el("a", { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

// ---------------------------------------------------------------- the live stream

function stopStream() {
  state.stream?.abort();
  state.stream = null;
  $("live-status").className = "live";
}

// Server-Sent Events over fetch (EventSource cannot send the bearer token):
// reconnects with Last-Event-ID after a drop, as EventSource would.
function startStream() {
  stopStream();
  const controller = new AbortController();
  state.stream = controller;
  const path = ch("/events");
  let lastId = null;
  let retry = 2000;
  const status = $("live-status");
  (async () => {
    while (!controller.signal.aborted) {
      try {
        const headers = { authorization: `Bearer ${state.token}`, accept: "text/event-stream" };
        if (lastId) headers["last-event-id"] = lastId;
        const response = await fetch(path, { headers, signal: controller.signal });
        if (response.status === 401 || response.status === 403 || response.status === 404) {
          status.className = "live off";
          return;
        }
        if (!response.ok) throw new Error(`stream answered ${response.status}`);
        status.className = "live on";
        status.title = "Live";
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end;
          while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, "");
            const event = { type: "message", data: [] };
            for (const line of block.split(/\r?\n/)) {
              if (line.startsWith(":")) continue;
              const colon = line.indexOf(":");
              const field = colon < 0 ? line : line.slice(0, colon);
              const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
              if (field === "id") lastId = value;
              else if (field === "event") event.type = value;
              else if (field === "data") event.data.push(value);
              else if (field === "retry" && /^\d+$/.test(value)) retry = Number(value);
            }
            if (event.type === "end") {
              status.className = "live off";
              toast("You are no longer a member of this workspace.");
              return;
            }
            if (event.data.length) onEvent(JSON.parse(event.data.join("\n")));
          }
        }
      } catch (error) {
        if (controller.signal.aborted) return;
        console.warn("live stream:", error);
      }
      status.className = "live off";
      status.title = "Reconnecting…";
      await new Promise((resolve) => setTimeout(resolve, retry));
    }
  })();
}

function onEvent(event) {
  if (event.channel_id && event.channel_id !== state.channel?.id) return;
  switch (event.type) {
    case "message.created":
    case "message.updated":
    case "message.deleted":
    case "reaction.added":
    case "reaction.removed":
      if (event.message) {
        upsertMessage(event.message);
        const parent = event.message.parent_id && state.messages.get(event.message.parent_id);
        if (parent && event.type === "message.created") refreshMessage(parent.id);
      }
      break;
    case "member.joined":
    case "member.removed":
      api("GET", ws("/members")).then((page) => {
        state.members = new Map(page.members.map((m) => [m.user_id, m]));
        if (state.panel === "members") openPanel("members");
      });
      break;
    case "file.shared":
    case "file.updated":
    case "file.deleted":
      if (state.panel === "files") openPanel("files");
      break;
  }
}

async function refreshMessage(id) {
  upsertMessage(await api("GET", ch(`/messages/${id}`)));
}

// ---------------------------------------------------------------- side panels

function closePanel() {
  state.panel = null;
  state.thread = null;
  $("panel").hidden = true;
}

async function openPanel(kind, render) {
  state.panel = kind;
  if (kind !== "thread") state.thread = null;
  const body = await (render ?? panels[kind])();
  $("panel-title").textContent = { thread: "Thread", inbox: "Inbox", files: "Files", members: "Members", invitations: "Invitations" }[kind];
  $("panel-body").replaceChildren(body);
  $("panel").hidden = false;
}

async function openThread(parentId) {
  state.thread = parentId;
  await openPanel("thread", async () => {
    const [parent, replies] = await Promise.all([
      api("GET", ch(`/messages/${parentId}`)),
      api("GET", ch(`/messages/${parentId}/replies?limit=100`)),
    ]);
    const list = el("ol", { id: "thread-messages", class: "messages thread" });
    const form = el("form", { class: "composer", "aria-label": "Reply" },
      el("textarea", { name: "text", rows: 2, placeholder: "Reply", "aria-label": "Reply", maxlength: 4000 }),
      el("button", { type: "submit" }, "Reply"),
    );
    form.addEventListener("submit", guarded(() => send(form, ch(`/messages/${parentId}/replies`))));
    const box = el("div", {}, list, form);
    $("panel-body").replaceChildren(box);
    state.messages.set(parent.id, parent);
    list.append(renderMessage(parent));
    for (const reply of replies.messages.reverse()) {
      state.messages.set(reply.id, reply);
      list.append(renderMessage(reply));
    }
    return box;
  });
}

const panels = {
  async inbox() {
    const page = await api("GET", "/v1/me/notifications?limit=50");
    renderUnread(page.unread_count);
    const markAll = el("button", { class: "link", onclick: guarded(async () => { await api("POST", "/v1/me/notifications/read"); await openPanel("inbox"); }) }, "Mark all read");
    if (!page.notifications.length) return el("p", { class: "empty" }, "Nothing yet. Mentions and replies to you land here.");
    const list = el("ul", { class: "notifications" }, page.notifications.map((n) => {
      const text = `${nameOf(n.actor_id)} ${n.kind === "mention" ? "mentioned you" : "replied to you"}`;
      const href = `/workspaces/${n.workspace_id}/channels/${n.channel_id}/messages/${n.message_id}`;
      return el("li", { class: n.read_at ? "read" : "unread" },
        el("a", {
          href,
          onclick: guarded(async () => {
            if (!n.read_at) await api("POST", `/v1/me/notifications/${n.id}/read`);
            await navigate(href);
            refreshBadges();
          }),
        }, text), " ", time(n.created_at));
    }));
    return el("div", {}, markAll, list);
  },

  async files() {
    const page = await api("GET", ch("/files?limit=100"));
    if (!page.files.length) return el("p", { class: "empty" }, "No files in this channel yet.");
    return el("ul", { class: "files" }, page.files.map((f) =>
      el("li", {}, attachmentLink(f), el("div", { class: "meta" }, `v${f.version} · ${nameOf(f.updated_by)} · `, time(f.updated_at))),
    ));
  },

  async members() {
    const page = await api("GET", ws("/members"));
    state.members = new Map(page.members.map((m) => [m.user_id, m]));
    const list = el("ul", { class: "members" }, page.members.map((m) =>
      el("li", {}, el("strong", {}, m.display_name), " ", el("span", { class: "role" }, m.role), el("div", { class: "meta" }, m.email)),
    ));
    if (!["owner", "admin"].includes(state.workspace.role)) return list;
    const form = el("form", { class: "invite", "aria-label": "Invite" },
      el("input", { name: "email", type: "email", placeholder: "name@example.com", "aria-label": "Email to invite", required: true }),
      el("select", { name: "role", "aria-label": "Role" }, ["member", "admin"].map((r) => el("option", { value: r }, r))),
      el("button", { type: "submit" }, "Invite"),
    );
    form.addEventListener("submit", guarded(async () => {
      const { email, role } = formData(form);
      await api("POST", ws("/invitations"), { email, role });
      toast(`Invitation sent to ${email}.`, "info");
      form.reset();
    }));
    return el("div", {}, list, el("h3", {}, "Invite someone"), form);
  },

  async invitations() {
    const page = await api("GET", "/v1/invitations");
    renderCount($("invitation-count"), page.invitations.length);
    if (!page.invitations.length) {
      return el("p", { class: "empty" }, state.me.email_verified ? "No invitations for you." : "Verify your email address to see invitations sent to it.");
    }
    return el("ul", { class: "invitations" }, page.invitations.map((i) =>
      el("li", {}, el("strong", {}, i.workspace_name), ` as ${i.role}`,
        el("div", {},
          el("button", { onclick: guarded(async () => {
            await api("POST", `/v1/invitations/${i.id}/accept`);
            closePanel();
            state.channels = [];
            await navigate(`/workspaces/${i.workspace_id}`);
          }) }, "Accept"),
          " ",
          el("button", { class: "link", onclick: guarded(async () => { await api("POST", `/v1/invitations/${i.id}/decline`); await openPanel("invitations"); }) }, "Decline"),
        )),
    ));
  },
};

function renderCount(badge, count) {
  badge.textContent = count > 99 ? "99+" : String(count);
  badge.hidden = !count;
}

function renderUnread(count) {
  renderCount($("unread"), count);
}

// The unread count and pending invitations, now and every 10 seconds.
async function refreshBadges() {
  clearTimeout(refreshBadges.timer);
  if (!state.token) return;
  try {
    const [inbox, invitations] = await Promise.all([
      api("GET", "/v1/me/notifications?unread=true&limit=1"),
      state.me?.email_verified ? api("GET", "/v1/invitations") : { invitations: [] },
    ]);
    renderUnread(inbox.unread_count);
    renderCount($("invitation-count"), invitations.invitations.length);
  } catch {
    // Shown when the user acts; the badges try again.
  }
  refreshBadges.timer = setTimeout(refreshBadges, 10_000);
}

// ---------------------------------------------------------------- wiring

function wire() {
  for (const link of document.querySelectorAll("[data-show]")) {
    link.addEventListener("click", (e) => { e.preventDefault(); showAuth(link.dataset.show); });
  }
  $("signin-form").addEventListener("submit", guarded(async (e) => {
    signedIn(await api("POST", "/v1/auth/login", formData(e.target)));
    e.target.reset();
    await route();
  }));
  $("signup-form").addEventListener("submit", guarded(async (e) => {
    signedIn(await api("POST", "/v1/auth/signup", formData(e.target)));
    e.target.reset();
    toast("Welcome! We mailed you a link to verify your address.", "info");
    await route();
  }));
  $("forgot-form").addEventListener("submit", guarded(async (e) => {
    await api("POST", "/v1/auth/password-reset", formData(e.target));
    toast("If that address has an account, a reset link is on its way.", "info");
    showAuth("signin-form");
  }));
  $("reset-form").addEventListener("submit", guarded(async (e) => {
    const token = new URLSearchParams(location.search).get("token");
    await api("POST", "/v1/auth/password-reset/confirm", { token, password: formData(e.target).password });
    e.target.reset();
    toast("Your password is changed. Sign in with it.", "info");
    history.replaceState(null, "", "/");
    showAuth("signin-form");
  }));
  $("signout").addEventListener("click", guarded(async () => {
    await api("POST", "/v1/auth/logout").catch(() => {});
    signedOut();
    history.replaceState(null, "", "/");
  }));
  $("resend-verification").addEventListener("click", guarded(async () => {
    await api("POST", "/v1/me/verification");
    toast("We mailed you a new link.", "info");
  }));
  $("workspace-select").addEventListener("change", guarded((e) => navigate(`/workspaces/${e.target.value}`)));
  $("workspace-form").addEventListener("submit", guarded(async (e) => {
    const workspace = await api("POST", "/v1/workspaces", formData(e.target));
    e.target.reset();
    state.channels = [];
    await navigate(`/workspaces/${workspace.id}`);
  }));
  $("channel-form").addEventListener("submit", guarded(async (e) => {
    const channel = await api("POST", ws("/channels"), formData(e.target));
    e.target.reset();
    state.channels.push(channel);
    await navigate(`/workspaces/${channel.workspace_id}/channels/${channel.id}`);
  }));
  const composer = $("composer");
  composer.addEventListener("submit", guarded(() => send(composer, ch("/messages"))));
  composer.elements.text.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      composer.requestSubmit();
    }
  });
  composer.elements.file.addEventListener("change", () => {
    const file = composer.elements.file.files[0];
    $("attached").textContent = file ? `${file.name} (${size(file.size)})` : "";
  });
  $("older").addEventListener("click", guarded(loadOlder));
  $("open-inbox").addEventListener("click", guarded(() => openPanel("inbox")));
  $("open-invitations").addEventListener("click", guarded(() => openPanel("invitations")));
  $("open-members").addEventListener("click", guarded(() => openPanel("members")));
  $("open-files").addEventListener("click", guarded(() => openPanel("files")));
  $("close-panel").addEventListener("click", closePanel);
}

wire();
route().catch((error) => toast(error.message));
