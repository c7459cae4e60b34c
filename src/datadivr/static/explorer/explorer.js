// The datadivr protocol explorer: the events from GET /events, a WebSocket to /ws, an editor
// to send any message, and every message that arrives. Everything shown is set as text, never
// as HTML: relayed messages come from other clients, and descriptions are rendered from their
// Markdown into elements (markdown.js).

import { element, isObject, mark, renderFrame, renderText, scanJson } from "./frames.js";
import { render as markdown } from "./markdown.js";

/** Entries kept in the message log; older ones are dropped. */
const MAX_LOG = 200;
/** One-line summaries kept for screen readers, which read each new one out. */
const MAX_ANNOUNCED = 20;
/** Sent messages remembered to show next to the answers to them. */
const MAX_SENT = 50;
/** The longest `id` the server answers with `reply_to` (characters, as Python counts them). */
const MAX_ID = 128;
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
  schemaHint: $("schema-hint"),
  schemaView: $("schema-view"),
  schemaName: $("schema-name"),
  schemaJson: $("schema-json"),
  schemaClose: $("schema-close"),
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
/**
 * A message sent: its text, its value if it is JSON, and its entry in the log.
 * @typedef {{text: string, value?: unknown, asText: boolean, entry: HTMLElement,
 *   nodes: Map<string, HTMLElement>}} Sent
 */
/** @type {Map<string, Sent>} sent messages with an id the server answers with, oldest first */
const sentById = new Map();
/**
 * Sent frames without such an id, by their number among them: the server refuses each one
 * (not JSON, not an object, or an unusable `id`) with an error that has no `reply_to`, and
 * answers one connection's frames in order, so the n-th such error answers the n-th frame.
 * @type {Map<number, Sent>}
 */
const sentWithoutId = new Map();
let withoutIdSent = 0;
let withoutIdAnswered = 0;
let sentCount = 0;
let entryCount = 0;
/** @type {WebSocket | null} */
let socket = null;

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
    const name = element("td", "event");
    const link = element("a", "", event.name);
    link.href = event.schema;
    link.title = `The JSON Schema of ${event.name}`;
    const view = element("button", "small", "view");
    view.type = "button";
    view.setAttribute("aria-label", `View the schema of ${event.name}`);
    view.addEventListener("click", () => showSchema(event));
    const facts = element("p", "facts");
    facts.append(element("span", "direction", event.direction.replaceAll("_", " ")));
    if (event.reply) {
      facts.append(" · reply ", element("code", "reply", event.reply));
    }
    name.append(link, " ", view, facts);
    row.append(name, description(event.description));
    ui.events.append(row);
    if (CLIENT_SENDS.has(event.direction)) {
      const option = element("option", "", event.name);
      option.value = event.name;
      ui.event.append(option);
    }
  }
  pickEvent();
}

function description(text) {
  const cell = element("td", "description");
  cell.append(markdown(text ?? ""));
  return cell;
}

async function showSchema(event) {
  ui.schemaName.textContent = event.name;
  ui.schemaJson.textContent = "loading…";
  ui.schemaHint.hidden = true;
  ui.schemaView.hidden = false;
  try {
    const response = await fetch(event.schema);
    if (!response.ok) throw new Error(`GET ${event.schema} answered ${response.status}`);
    ui.schemaJson.textContent = JSON.stringify(await response.json(), null, 2);
  } catch (error) {
    ui.schemaJson.textContent = error.message;
  }
  ui.schemaView.scrollIntoView({ block: "nearest" });
}

function closeSchema() {
  ui.schemaView.hidden = true;
  ui.schemaHint.hidden = false;
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

function nextId() {
  return `explorer-${++sentCount}`;
}

function send() {
  let message;
  try {
    message = JSON.parse(ui.editor.value);
  } catch (error) {
    showProblem(ui.editorError, `Not valid JSON, nothing was sent: ${error.message}`);
    return;
  }
  if (isObject(message) && (message.id === undefined || message.id === null)) {
    message.id = nextId();
  }
  transmit(JSON.stringify(message), message, false);
}

/**
 * Sends the editor's text as it is, for the server's answer to a malformed frame (e.g.
 * `invalid_json`); only a JSON object without an id gets one, written into the text.
 */
function sendRaw() {
  const text = ui.editor.value;
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    transmit(text, undefined, true);
    return;
  }
  if (isObject(value) && (value.id === undefined || value.id === null)) {
    const id = nextId();
    transmit(withId(text, id), { ...value, id }, true);
  } else {
    transmit(text, value, true);
  }
}

/** `text`, a JSON object without an id, with `id` written in: in place of an `"id": null`,
 * else first, and every other character as it was. */
function withId(text, id) {
  const root = scanJson(text);
  const written = JSON.stringify(id);
  const held = root.children.findLast((child) => child.path === "$.id");
  if (held) return text.slice(0, held.start) + written + text.slice(held.end);
  const open = root.start + 1;
  const gap = /^[ \t\n\r]*/.exec(text.slice(open))[0];
  const comma = root.children.length ? (gap ? "," : ", ") : "";
  return `${text.slice(0, open)}${gap}"id": ${written}${comma}${text.slice(open)}`;
}

/** The `id` the server answers a frame's errors with: a string of 1 to 128 characters. */
function usableId(value) {
  if (!isObject(value) || typeof value.id !== "string") return undefined;
  const id = value.id;
  const length = [...id].length;
  return length > 0 && length <= MAX_ID && id.isWellFormed() ? id : undefined;
}

function transmit(text, value, asText) {
  if (!socket || socket.readyState !== WebSocket.OPEN) {
    showProblem(ui.editorError, "Not connected, nothing was sent.");
    return;
  }
  hideProblem(ui.editorError);
  socket.send(text);
  const name = isObject(value) ? String(value.event_name ?? "?") : null;
  const title = asText ? (name ? `${name} (as text)` : "(text)") : (name ?? "?");
  const rendering = asText ? renderText(text, value) : renderFrame(text, value);
  const entry = addEntry("sent", title, [rendering.root]);
  /** @type {Sent} */
  const sent = { text, asText, entry, nodes: rendering.nodes };
  if (value !== undefined) sent.value = value;
  const id = usableId(value);
  if (id !== undefined) {
    sentById.delete(id);
    sentById.set(id, sent);
    if (sentById.size > MAX_SENT) sentById.delete(sentById.keys().next().value);
  } else {
    sentWithoutId.set(withoutIdSent++, sent);
    if (sentWithoutId.size > MAX_SENT) sentWithoutId.delete(sentWithoutId.keys().next().value);
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
  sentWithoutId.clear();
  withoutIdSent = 0;
  withoutIdAnswered = 0;
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
    message = undefined;
  }
  if (!isObject(message)) {
    addEntry("received", "(not a JSON object)", [renderFrame(text, message).root]);
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
  const entry = addEntry("received", `${message.event_name}${from}`, [
    renderFrame(text, message).root,
  ]);
  const sent = typeof message.reply_to === "string" ? sentById.get(message.reply_to) : undefined;
  if (sent) linkAnswer(sent, entry, String(message.event_name), "reply");
}

// -- the log ------------------------------------------------------------------------------

function addEntry(kind, title, parts) {
  const item = element("li", `entry ${kind}`);
  item.id = `entry-${++entryCount}`;
  item.tabIndex = -1; // focused when an answer or its message is shown
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
      item.append(element("code", "path", String(detail.path)), ` ${detail.reason}${kind}`);
      list.append(item);
    }
    parts.push(list);
  }
  const [sent, missing] = answered(message.reply_to ?? null);
  if (sent) {
    const rendering = render(sent);
    for (const detail of details) mark(rendering.nodes, String(detail.path), detail);
    parts.push(element("p", "caption", "The message sent:"), rendering.root);
  } else if (missing) {
    parts.push(element("p", "caption", missing));
  }
  const received = element("details");
  received.append(element("summary", "", "The error as received"), renderFrame(text, message).root);
  parts.push(received);
  const code = String(payload.code ?? "?");
  const entry = addEntry("error", `error: ${code}`, parts);
  if (sent) {
    // Marked in the message's own entry too, next to which the error is named.
    for (const detail of details) mark(sent.nodes, String(detail.path), detail);
    linkAnswer(sent, entry, `error: ${code}`, "refused");
  }
}

/**
 * The sent message an error answers, by its `reply_to`, or for an error without one, the
 * oldest frame sent without a usable id not answered yet; else why it is not shown.
 * @returns {[Sent | undefined, string | null]}
 */
function answered(replyTo) {
  if (replyTo !== null) {
    const sent = sentById.get(String(replyTo));
    const gone = `The message sent (id ${replyTo}) is not among the last ${MAX_SENT} kept here.`;
    return sent ? [sent, null] : [undefined, gone];
  }
  if (withoutIdAnswered >= withoutIdSent) {
    // Only a frame too large to look for its id in is refused so (when over the rate limit).
    return [undefined, "The server could not read the id of the message this error answers."];
  }
  const number = withoutIdAnswered++;
  const sent = sentWithoutId.get(number);
  sentWithoutId.delete(number);
  const gone = `The message sent (number ${number + 1} without an id) is not among the last ${MAX_SENT} kept here.`;
  return sent ? [sent, null] : [undefined, gone];
}

/** A sent message's rendering, anew, to show in another entry. */
function render(sent) {
  return sent.asText ? renderText(sent.text, sent.value) : renderFrame(sent.text, sent.value);
}

/**
 * Names `answer` in the entry of the message it answers, and that message in the answer's
 * entry: each a button that brings the other into view.
 */
function linkAnswer(sent, answer, title, kind) {
  const answers =
    sent.entry.querySelector(".answers") ??
    sent.entry.appendChild(element("p", "answers", "Answered by "));
  if (answers.childElementCount) answers.append(", ");
  answers.append(jump(answer, `${title} ↑`, `answer ${kind}`));
  const heading = answer.querySelector(".heading");
  heading.append(" ", jump(sent.entry, "to the message sent ↓", "answer"));
  sent.entry.classList.add(kind);
}

function jump(target, text, className) {
  const button = element("button", `jump ${className}`, text);
  button.type = "button";
  button.addEventListener("click", () => {
    if (!target.isConnected) return; // dropped from the log
    target.scrollIntoView({ block: "nearest" });
    target.focus({ preventScroll: true });
  });
  return button;
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
ui.schemaClose.addEventListener("click", closeSchema);
ui.clear.addEventListener("click", () => {
  ui.log.replaceChildren();
  ui.announcer.replaceChildren();
});

// The events first: they come over HTTP, whatever becomes of the WebSocket.
loadEvents();
connect();
