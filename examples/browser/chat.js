// @ts-check
// A browser client of datadivr in plain JavaScript, with no build step. It loads the server's
// bundled schema (GET /schema: the document `datadivr schema bundle` writes), checks every
// message against it with Ajv before sending, and shows the replies and errors that come back.
// Its types come from the protocol's declarations (GET /protocol.d.ts, saved as protocol.d.ts
// beside it): `tsc -p examples/browser` checks it, the browser ignores them.

/** @typedef {import("./protocol").ClientFrame} ClientFrame */
/** @typedef {import("./protocol").ServerFrame} ServerFrame */
/** @typedef {import("./protocol").Events} Events */

// --8<-- [start:schema]
/**
 * The protocol from the bundled schema: the events a client may send, and a check.
 * @param {string} url
 */
async function loadProtocol(url) {
  /** @type {{ "x-datadivr": { events: Events } }} */
  const bundle = await (await fetch(url)).json();
  // Ajv compiles each schema to JavaScript: under a Content-Security-Policy without
  // 'unsafe-eval', use Ajv's standalone (precompiled) validators instead.
  const ajv = new window.ajv2020({
    allErrors: true,
    strict: true, // the bundle is written for Ajv's strict mode
    validateFormats: false, // date-time and uuid are left to the server: no ajv-formats here
  });
  ajv.addKeyword("x-datadivr");
  ajv.addSchema(bundle, "protocol");
  const events = bundle["x-datadivr"].events;
  const names = /** @type {(keyof Events)[]} */ (Object.keys(events));
  const sendable = names.filter((name) => events[name].direction !== "server_to_client");
  return {
    sendable,
    /**
     * What is wrong with `message`, as `$.path: reason` lines like the server's; [] if valid.
     * @param {ClientFrame} message
     * @returns {string[]}
     */
    check(message) {
      if (!sendable.includes(message.event_name)) {
        return ["$.event_name: not an event a client may send"];
      }
      // Every event's schema is in the bundle.
      const validate = /** @type {AjvValidate} */ (
        ajv.getSchema(`protocol${events[message.event_name].schema}`)
      );
      if (validate(message)) return [];
      return (validate.errors ?? []).map((error) => `${jsonPath(error)}: ${error.message}`);
    },
  };
}

/**
 * Ajv's JSON Pointer (`/payload/numbers/1`) as a path the way the server writes them.
 * @param {AjvError} error
 */
function jsonPath(error) {
  const parts = error.instancePath.split("/").slice(1);
  const { missingProperty, additionalProperty, unevaluatedProperty } = error.params;
  const named = missingProperty ?? additionalProperty ?? unevaluatedProperty;
  if (named !== undefined) parts.push(named);
  const steps = parts.map((part) => (/^\d+$/.test(part) ? `[${part}]` : `.${part}`));
  return "$" + steps.join("");
}
// --8<-- [end:schema]

const statusLine = /** @type {HTMLOutputElement} */ (document.getElementById("status"));
const logList = /** @type {HTMLUListElement} */ (document.getElementById("log"));

/**
 * @param {string} title
 * @param {string} text
 */
function log(title, text) {
  const item = document.createElement("li");
  const strong = document.createElement("strong");
  strong.textContent = title;
  item.append(strong, ` ${text}`); // as text: messages from other clients are not HTML
  logList.prepend(item);
  if (logList.children.length > 100) logList.lastElementChild?.remove();
}

if (typeof window.ajv2020 !== "function") {
  statusLine.textContent = "Ajv is missing: run `make browser-example`";
  throw new Error("node_modules/ajv-dist is missing");
}
const protocol = await loadProtocol("/schema");
/** @type {HTMLOutputElement} */ (document.getElementById("events")).textContent =
  protocol.sendable.join(", ");

// --8<-- [start:connect]
const scheme = location.protocol === "https:" ? "wss" : "ws";
const socket = new WebSocket(`${scheme}://${location.host}/ws`, ["datadivr"]);
socket.addEventListener("message", (event) => receive(JSON.parse(event.data)));
socket.addEventListener("close", (event) => {
  statusLine.textContent = `closed (${event.code})`;
});
// --8<-- [end:connect]

// --8<-- [start:send]
let sent = 0;

/**
 * Send `message` with an id (its answer carries it in `reply_to`), if the schema allows it.
 * @param {ClientFrame} message
 */
function send(message) {
  // Before it opens, send() throws; once it has closed, it drops the message without a word.
  if (socket.readyState !== WebSocket.OPEN) {
    log("not sent:", "not connected");
    return;
  }
  const framed = { ...message, id: `m${++sent}` };
  const problems = protocol.check(framed);
  if (problems.length > 0) {
    log("not sent:", problems.join("; "));
    return;
  }
  socket.send(JSON.stringify(framed));
  log(`sent ${framed.id}:`, framed.event_name);
}
// --8<-- [end:send]

// --8<-- [start:receive]
/** @param {ServerFrame} message */
function receive(message) {
  switch (message.event_name) {
    case "welcome":
      statusLine.textContent = `connected as ${message.payload.client_id}`;
      break;
    case "sum_handler_result":
      log(`sum for ${message.reply_to}:`, String(message.payload));
      break;
    case "msg":
      log(`${message.from_id} says:`, message.message);
      break;
    case "error": {
      const details = (message.payload.details ?? []).map((d) => `${d.path}: ${d.reason}`);
      log(`error ${message.payload.code}:`, [message.message, ...details].join("; "));
      break;
    }
    default:
      log(`${message.event_name}:`, JSON.stringify(message.payload));
  }
}
// --8<-- [end:receive]

/** @param {string} id */
const field = (id) => /** @type {HTMLInputElement} */ (document.getElementById(id)).value;
/** @param {string} id */
const form = (id) => /** @type {HTMLFormElement} */ (document.getElementById(id));

form("sum").addEventListener("submit", (event) => {
  event.preventDefault();
  const numbers = field("numbers")
    .split(",")
    .map((item) => item.trim())
    .map((item) => (item !== "" && Number.isFinite(Number(item)) ? Number(item) : item));
  // What was typed, numbers or not: send() checks it against the schema before it goes out.
  send(/** @type {ClientFrame} */ ({ event_name: "sum_event", payload: { numbers } }));
});

form("chat").addEventListener("submit", (event) => {
  event.preventDefault();
  send({ event_name: "msg", payload: null, message: field("text"), to: field("to") });
});
