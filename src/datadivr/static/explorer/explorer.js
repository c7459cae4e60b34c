// The datadivr protocol explorer: the events from GET /events, a WebSocket to /ws, an editor
// to send any message, and every message that arrives. Everything shown is set as text, never
// as HTML: relayed messages come from other clients.

/** Entries kept in the message log; older ones are dropped. */
const MAX_LOG = 200;
/** A frame longer than this many bytes is shown cut short, as text, not as a tree of values. */
const MAX_RENDERED = 64 * 1024;
/** One-line summaries kept for screen readers, which read each new one out. */
const MAX_ANNOUNCED = 20;
/** Sent messages remembered to show next to the errors that answer them. */
const MAX_SENT = 50;
/** Directions a client may send (`server_to_client` is the server's alone). */
const CLIENT_SENDS = new Set(["client_to_server", "client_to_client", "both"]);
/** Directions whose messages are relayed to the recipients named in `to`. */
const ROUTED = new Set(["client_to_client", "both"]);

const $ = (id) => document.getElementById(id);
const ui = {
  state: $("state"),
  clientId: $("client-id"),
  reconnect: $("reconnect"),
  events: $("events"),
  eventsError: $("events-error"),
  schemaView: $("schema-view"),
  schemaName: $("schema-name"),
  schemaJson: $("schema-json"),
  composer: $("composer"),
  event: $("event"),
  to: $("to"),
  toLabel: $("to-label"),
  editor: $("editor"),
  editorError: $("editor-error"),
  sendRaw: $("send-raw"),
  log: $("log"),
  announcer: $("announcer"),
  clear: $("clear"),
};

/** @type {Map<string, object>} the events by name, as GET /events lists them */
const events = new Map();
/** @type {Map<string, {text: string, value?: unknown}>} sent messages by id, oldest first */
const sentById = new Map();
/** @type {{text: string, value?: unknown} | null} */
let lastSent = null;
let sentCount = 0;
/** @type {WebSocket | null} */
let socket = null;

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function isObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

// -- the events -------------------------------------------------------------------------

async function loadEvents() {
  try {
    const response = await fetch("events", { headers: { accept: "application/json" } });
    if (!response.ok) throw new Error(`GET /events answered ${response.status}`);
    for (const event of await response.json()) events.set(event.name, event);
  } catch (error) {
    showProblem(ui.eventsError, `The events could not be loaded: ${error.message}`);
    return;
  }
  for (const event of events.values()) {
    const row = element("tr");
    row.dataset.event = event.name;
    const name = element("td");
    const link = element("a", "", event.name);
    link.href = event.schema;
    link.title = `The JSON Schema of ${event.name}`;
    const view = element("button", "small", "view");
    view.type = "button";
    view.setAttribute("aria-label", `View the schema of ${event.name}`);
    view.addEventListener("click", () => showSchema(event));
    name.append(link, " ", view);
    row.append(
      name,
      element("td", "direction", event.direction.replaceAll("_", " ")),
      element("td", "", event.reply ?? "—"),
      element("td", "", event.description),
    );
    ui.events.append(row);
    if (CLIENT_SENDS.has(event.direction)) {
      const option = element("option", "", event.name);
      option.value = event.name;
      ui.event.append(option);
    }
  }
  pickEvent();
}

async function showSchema(event) {
  ui.schemaName.textContent = event.name;
  ui.schemaJson.textContent = "loading…";
  ui.schemaView.open = true;
  try {
    const response = await fetch(event.schema);
    if (!response.ok) throw new Error(`GET ${event.schema} answered ${response.status}`);
    ui.schemaJson.textContent = JSON.stringify(await response.json(), null, 2);
  } catch (error) {
    ui.schemaJson.textContent = error.message;
  }
}

// -- the editor ---------------------------------------------------------------------------

function pickEvent() {
  const event = events.get(ui.event.value);
  if (!event) return;
  const routed = ROUTED.has(event.direction);
  ui.to.disabled = !routed;
  ui.toLabel.classList.toggle("disabled", !routed);
  if (routed && !ui.to.value) ui.to.value = "others";
  // An event whose schema gave no example starts from its name alone.
  const message = event.example
    ? structuredClone(event.example)
    : { event_name: event.name, payload: {} };
  if (routed) message.to = ui.to.value;
  ui.editor.value = JSON.stringify(message, null, 2);
  hideProblem(ui.editorError);
}

/** The `to` field writes the editor's `to`, so that the editor shows what is sent. */
function setRecipient() {
  let message;
  try {
    message = JSON.parse(ui.editor.value);
  } catch {
    return; // the editor says what is wrong when Send is pressed
  }
  if (!isObject(message)) return;
  const to = ui.to.value.trim();
  if (to) message.to = to;
  else delete message.to;
  ui.editor.value = JSON.stringify(message, null, 2);
}

function send() {
  let message;
  try {
    message = JSON.parse(ui.editor.value);
  } catch (error) {
    showProblem(ui.editorError, `Not valid JSON, nothing was sent: ${error.message}`);
    return;
  }
  if (isObject(message) && message.id === undefined) {
    message.id = `explorer-${++sentCount}`;
  }
  transmit(JSON.stringify(message), message);
}

/** Sends the editor's text as it is: the server's answer to a malformed frame, e.g. `invalid_json`. */
function sendRaw() {
  transmit(ui.editor.value);
}

function transmit(text, value) {
  if (!socket || socket.readyState !== WebSocket.OPEN) {
    showProblem(ui.editorError, "Not connected, nothing was sent.");
    return;
  }
  hideProblem(ui.editorError);
  socket.send(text);
  lastSent = value === undefined ? { text } : { text, value };
  // Text sent as it is may still carry an id, which the server's error answers with.
  const id = value === undefined ? idOf(text) : isObject(value) ? value.id : undefined;
  if (typeof id === "string") {
    sentById.delete(id);
    sentById.set(id, lastSent);
    if (sentById.size > MAX_SENT) sentById.delete(sentById.keys().next().value);
  }
  addEntry("sent", value === undefined ? "(text)" : String(value?.event_name ?? "?"), [
    renderFrame(text, value).root,
  ]);
}

function idOf(text) {
  try {
    const value = JSON.parse(text);
    return isObject(value) ? value.id : undefined;
  } catch {
    return undefined;
  }
}

function showProblem(node, text) {
  node.textContent = text;
  node.hidden = false;
}

function hideProblem(node) {
  node.textContent = "";
  node.hidden = true;
}

// -- the connection -------------------------------------------------------------------------

function setState(state, text) {
  ui.state.dataset.state = state;
  ui.state.textContent = text;
  ui.reconnect.disabled = state !== "closed";
}

/**
 * The token of a page opened as /#token=…, decoded as written: not as a form, where `+` would
 * become a space.
 */
function fragmentToken() {
  for (const part of location.hash.slice(1).split("&")) {
    if (!part.startsWith("token=")) continue;
    const written = part.slice("token=".length);
    try {
      return decodeURIComponent(written);
    } catch {
      return written; // a lone `%`: the token as it is
    }
  }
  return null;
}

function connect() {
  const url = new URL("ws", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  // A server started with a token: open the page as /#token=… (the fragment never leaves the
  // browser); browsers can only present it as a subprotocol.
  const token = fragmentToken();
  const protocols = token ? ["datadivr", `datadivr.token.${token}`] : ["datadivr"];
  setState("connecting", "connecting…");
  ui.clientId.textContent = "";
  // Ids are the client's own: a new connection answers none of the old one's messages.
  sentById.clear();
  lastSent = null;
  try {
    socket = new WebSocket(url, protocols);
  } catch (error) {
    // A subprotocol holding a separator (`/ = : @ ? ( ) [ ] { } ,`, a space …) is a
    // SyntaxError: RFC 6455 allows only HTTP token characters there.
    socket = null;
    const why = token
      ? "the token cannot be sent as a WebSocket subprotocol: a browser allows only letters, " +
        "digits and !#$%&'*+-.^_`|~ there"
      : error.message;
    setState("closed", `closed (${why})`);
    return;
  }
  socket.addEventListener("open", () => setState("open", "connected"));
  socket.addEventListener("close", (event) => {
    const why = event.reason ? `: ${event.reason}` : "";
    setState("closed", `closed (${event.code}${why})`);
  });
  socket.addEventListener("message", (event) => receive(event.data));
}

function receive(text) {
  let message;
  try {
    message = JSON.parse(text);
  } catch {
    addEntry("received", "(not JSON)", [renderFrame(text).root]);
    return;
  }
  if (message.event_name === "welcome" && isObject(message.payload)) {
    ui.clientId.textContent = String(message.payload.client_id);
  }
  if (message.event_name === "error") {
    showError(message, text);
    return;
  }
  const from = message.from_id ? ` from ${message.from_id}` : "";
  addEntry("received", `${message.event_name}${from}`, [renderFrame(text, message).root]);
}

// -- the log ------------------------------------------------------------------------------

function addEntry(kind, title, parts) {
  const item = element("li", `entry ${kind}`);
  const heading = element("p", "heading");
  heading.append(
    element("span", "kind", kind),
    " ",
    element("strong", "title", title),
    " ",
    element("time", "", new Date().toLocaleTimeString()),
  );
  item.append(heading, ...parts);
  ui.log.prepend(item);
  while (ui.log.childElementCount > MAX_LOG) ui.log.lastElementChild.remove();
  ui.announcer.append(element("p", "", kind === "error" ? title : `${kind}: ${title}`));
  while (ui.announcer.childElementCount > MAX_ANNOUNCED) ui.announcer.firstElementChild.remove();
  return item;
}

function showError(message, text) {
  const payload = isObject(message.payload) ? message.payload : {};
  const details = Array.isArray(payload.details) ? payload.details : [];
  const parts = [element("p", "error-message", String(message.message ?? ""))];
  if (details.length) {
    const list = element("ul", "details");
    for (const detail of details) {
      const item = element("li");
      const kind = detail.kind ? ` (${detail.kind})` : "";
      item.append(element("code", "path", detail.path), ` ${detail.reason}${kind}`);
      list.append(item);
    }
    parts.push(list);
  }
  // The message it answers: by `reply_to`; only an error without one (a frame whose id could
  // not be read) is taken to answer the last one sent.
  const replyTo = message.reply_to ?? null;
  const sent = replyTo === null ? lastSent : sentById.get(replyTo);
  if (sent) {
    const rendering = renderFrame(sent.text, sent.value);
    for (const detail of details) mark(rendering.nodes, String(detail.path), detail);
    parts.push(element("p", "caption", "The message sent:"), rendering.root);
  } else if (replyTo !== null) {
    const gone = `The message sent (id ${replyTo}) is not among the last ${MAX_SENT} kept here.`;
    parts.push(element("p", "caption", gone));
  }
  const received = element("details");
  received.append(element("summary", "", "The error as received"), renderFrame(text, message).root);
  parts.push(received);
  addEntry("error", `error: ${payload.code ?? "?"}`, parts);
}

/** Marks the node at `path`; a path that is not there (a missing field) marks its parent. */
function mark(nodes, path, detail) {
  let at = path;
  while (!nodes.has(at)) {
    const parent = at.replace(/(\.[^.[\]]*|\[\d+\])$/, "");
    if (parent === at) return;
    at = parent;
  }
  const node = nodes.get(at);
  node.classList.add(at === path ? "hl" : "hl-inside");
  node.title = `${path}: ${detail.reason}`;
}

const utf8 = new TextEncoder();

/**
 * `value` (the frame `text` parsed, if it is JSON) as renderJson shows it; a frame over
 * MAX_RENDERED bytes as its text, cut there: a tree of spans per value would be too slow.
 */
function renderFrame(text, value) {
  const bytes = utf8.encode(text);
  if (bytes.length <= MAX_RENDERED) {
    return value === undefined
      ? { root: element("pre", "json", text), nodes: new Map() }
      : renderJson(value);
  }
  // The streaming decoder holds back a character cut in two.
  const shown = new TextDecoder().decode(bytes.subarray(0, MAX_RENDERED), { stream: true });
  const more = bytes.length - utf8.encode(shown).length;
  const root = element("pre", "json cut", shown);
  root.append(element("span", "more", `\n… ${more} more bytes`));
  return { root, nodes: new Map() };
}

/**
 * Pretty-prints `value` as JSON in a <pre>, each value in a span whose `data-path` is its
 * JSON path as the server writes it (`$.payload.numbers[0]`).
 */
function renderJson(value) {
  const root = element("pre", "json");
  const nodes = new Map();
  const indent = (depth) => "  ".repeat(depth);
  const walk = (item, path, depth, parent) => {
    const node = element("span", "node");
    node.dataset.path = path;
    nodes.set(path, node);
    parent.append(node);
    const entries = Array.isArray(item)
      ? item.map((v, i) => [null, v, `${path}[${i}]`])
      : isObject(item)
        ? Object.entries(item).map(([k, v]) => [k, v, `${path}.${k}`])
        : null;
    if (entries === null) {
      node.classList.add(item === null ? "null" : typeof item);
      node.textContent = JSON.stringify(item);
      return;
    }
    const [open, close] = Array.isArray(item) ? ["[", "]"] : ["{", "}"];
    if (!entries.length) {
      node.textContent = open + close;
      return;
    }
    node.append(`${open}\n`);
    entries.forEach(([key, child, childPath], i) => {
      node.append(indent(depth + 1));
      if (key !== null) node.append(element("span", "key", JSON.stringify(key)), ": ");
      walk(child, childPath, depth + 1, node);
      node.append(i < entries.length - 1 ? ",\n" : "\n");
    });
    node.append(indent(depth) + close);
  };
  walk(value, "$", 0, root);
  return { root, nodes };
}

// -- wiring -------------------------------------------------------------------------------

ui.event.addEventListener("change", pickEvent);
ui.to.addEventListener("input", setRecipient);
ui.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  send();
});
ui.sendRaw.addEventListener("click", sendRaw);
ui.reconnect.addEventListener("click", connect);
ui.clear.addEventListener("click", () => {
  ui.log.replaceChildren();
  ui.announcer.replaceChildren();
});

// The events first: they come over HTTP, whatever becomes of the WebSocket.
loadEvents();
connect();
