// How the explorer shows a frame: as JSON, each value in a span whose `data-path` is its JSON
// path as the server writes it (`$.payload.numbers[0]`), so that the values an error names
// can be marked. Everything is set as text: frames come from other clients.

/** A frame longer than this many bytes is shown cut short, as text, not as a tree of values. */
export const MAX_RENDERED = 64 * 1024;

export function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function isObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Marks the node at `path`; a path that is not there (a missing field) marks its parent. */
export function mark(nodes, path, detail) {
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
export function renderFrame(text, value) {
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
 * `text` sent as it is, shown as it is: when it is JSON (`value`), each value in a span with
 * its `data-path`, as renderJson makes them, for marking what an error names.
 */
export function renderText(text, value) {
  if (value === undefined || utf8.encode(text).length > MAX_RENDERED) return renderFrame(text);
  let tree;
  try {
    tree = scanJson(text);
  } catch {
    return renderFrame(text); // nested too deep to walk
  }
  const root = element("pre", "json");
  const nodes = new Map();
  const build = (item, parent) => {
    const node = element("span", "node");
    node.dataset.path = item.path;
    nodes.set(item.path, node); // a key given twice: the last one, which counts
    let at = item.start;
    for (const child of item.children) {
      node.append(text.slice(at, child.start));
      build(child, node);
      at = child.end;
    }
    node.append(text.slice(at, item.end));
    parent.append(node);
  };
  root.append(text.slice(0, tree.start));
  build(tree, root);
  root.append(text.slice(tree.end));
  return { root, nodes };
}

/**
 * Where each value of `text`, valid JSON, is: its JSON path, its start and end, its
 * children (the members' values and the items).
 * @typedef {{path: string, start: number, end: number, children: Scanned[]}} Scanned
 * @returns {Scanned}
 */
export function scanJson(text) {
  let i = 0;
  const space = () => {
    while (i < text.length && " \t\n\r".includes(text[i])) i += 1;
  };
  const string = () => {
    i += 1;
    while (text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
    i += 1;
  };
  const scan = (path) => {
    space();
    const start = i;
    const children = [];
    const open = text[i];
    if (open === "{" || open === "[") {
      const close = open === "{" ? "}" : "]";
      i += 1;
      space();
      while (text[i] !== close) {
        let childPath = `${path}[${children.length}]`;
        if (open === "{") {
          const key = i;
          string();
          childPath = `${path}.${JSON.parse(text.slice(key, i))}`;
          space();
          i += 1; // the colon
        }
        children.push(scan(childPath));
        space();
        if (text[i] === ",") i += 1;
        space();
      }
      i += 1;
    } else if (open === '"') {
      string();
    } else {
      while (i < text.length && !" \t\n\r,]}".includes(text[i])) i += 1;
    }
    return { path, start, end: i, children };
  };
  return scan("$");
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
