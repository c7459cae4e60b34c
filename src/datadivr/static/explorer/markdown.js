// The Markdown of schema descriptions, as text: paragraphs, lists, `code`, *emphasis*,
// **strong** and links to http(s) URLs. Nothing in a description becomes HTML: every part is
// built as an element whose text is set as text, so `<script>` shows as written.

/** ASCII punctuation, which a backslash makes literal. */
const ESCAPABLE = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/;
/** A line of a list: `- item`, `* item` or `+ item`. */
const ITEM = /^[ \t]{0,3}[-*+][ \t]+/;

/**
 * @typedef {{type: "text" | "code", text: string}
 *   | {type: "em" | "strong", children: Inline[]}
 *   | {type: "link", href: string, children: Inline[]}} Inline
 * @typedef {{type: "p", children: Inline[]} | {type: "ul", items: Inline[][]}} Block
 */

/**
 * `text` as blocks: paragraphs apart by a blank line; a block whose lines all start with
 * `- ` is a list. A line break inside a paragraph is a space, as in Markdown.
 * @param {string} text
 * @returns {Block[]}
 */
export function parse(text) {
  const blocks = [];
  for (const block of String(text).split(/\r?\n[ \t]*\r?\n/)) {
    const lines = block.split(/\r?\n/).filter((line) => line.trim());
    if (!lines.length) continue;
    if (lines.every((line) => ITEM.test(line))) {
      blocks.push({ type: "ul", items: lines.map((line) => inline(line.replace(ITEM, ""))) });
    } else {
      blocks.push({ type: "p", children: inline(lines.map((line) => line.trim()).join(" ")) });
    }
  }
  return blocks;
}

/**
 * The inline parts of `text`.
 * @param {string} text
 * @param {boolean} [inLink] inside a link's label, where no other link may start
 * @returns {Inline[]}
 */
export function inline(text, inLink = false) {
  /** @type {Inline[]} */
  const out = [];
  let plain = "";
  const flush = () => {
    if (plain) out.push({ type: "text", text: plain });
    plain = "";
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === "\\" && ESCAPABLE.test(text[i + 1] ?? "")) {
      plain += text[i + 1];
      i += 2;
      continue;
    }
    if (c === "`") {
      const span = codeSpan(text, i);
      if (span) {
        flush();
        out.push({ type: "code", text: span.text });
        i = span.end;
        continue;
      }
      // An unclosed run of backticks is text, all of it.
      const run = backticks(text, i);
      plain += text.slice(i, i + run);
      i += run;
      continue;
    }
    if (c === "*" || c === "_") {
      const found = emphasis(text, i);
      if (found) {
        flush();
        out.push({ type: found.type, children: inline(found.inner, inLink) });
        i = found.end;
        continue;
      }
    }
    if (c === "[" && !inLink) {
      const found = link(text, i);
      if (found) {
        flush();
        const children = inline(found.label, true);
        // Only a web address is a link; any other (javascript:, data:, a relative path) leaves
        // its label as text.
        if (found.href) out.push({ type: "link", href: found.href, children });
        else out.push(...children);
        i = found.end;
        continue;
      }
    }
    if (c === "<" && !inLink) {
      const found = /^<([A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>]*)>/.exec(text.slice(i));
      const href = found && webAddress(found[1]);
      if (href) {
        flush();
        out.push({ type: "link", href, children: [{ type: "text", text: found[1] }] });
        i += found[0].length;
        continue;
      }
    }
    plain += c;
    i += 1;
  }
  flush();
  return out;
}

function backticks(text, at) {
  let n = 0;
  while (text[at + n] === "`") n += 1;
  return n;
}

/** The code span that opens at `at`: closed by a run of as many backticks. */
function codeSpan(text, at) {
  const run = backticks(text, at);
  let j = at + run;
  while (j < text.length) {
    const k = text.indexOf("`", j);
    if (k < 0) return null;
    const close = backticks(text, k);
    if (close === run) {
      let code = text.slice(at + run, k);
      // One space either side lets a span start or end with a backtick: `` `x` ``.
      if (code.length > 2 && code.startsWith(" ") && code.endsWith(" ") && code.trim()) {
        code = code.slice(1, -1);
      }
      return { text: code, end: k + close };
    }
    j = k + close;
  }
  return null;
}

const isSpace = (c) => c === undefined || /\s/.test(c);
const isWordChar = (c) => c !== undefined && /[\p{L}\p{N}]/u.test(c);

/**
 * `*em*`, `_em_`, `**strong**` or `__strong__` opening at `at`. A delimiter inside a word
 * opens or closes nothing, so that `snake_case_names` and `2*3*4` stay as written.
 */
function emphasis(text, at) {
  const c = text[at];
  const double = text[at + 1] === c;
  const delimiter = double ? c + c : c;
  const after = at + delimiter.length;
  if (isWordChar(text[at - 1]) || isSpace(text[after]) || text[after] === c) return null;
  let j = after + 1;
  while (j < text.length) {
    if (text[j] === "`") {
      const span = codeSpan(text, j);
      j = span ? span.end : j + backticks(text, j);
      continue;
    }
    if (text[j] === "\\") {
      j += 2;
      continue;
    }
    if (
      text.startsWith(delimiter, j) &&
      !isSpace(text[j - 1]) &&
      text[j + delimiter.length] !== c &&
      text[j - 1] !== c &&
      !isWordChar(text[j + delimiter.length])
    ) {
      return {
        type: double ? "strong" : "em",
        inner: text.slice(after, j),
        end: j + delimiter.length,
      };
    }
    j += 1;
  }
  return null;
}

/** `[label](address)` opening at `at`; `href` is null unless the address is a web address. */
function link(text, at) {
  const close = text.indexOf("]", at + 1);
  if (close < 0 || text[close + 1] !== "(") return null;
  // The address ends at the parenthesis that balances the opening one: (a_(b)) holds a_(b).
  let end = close + 2;
  for (let depth = 1; end < text.length; end += 1) {
    if (text[end] === "(") depth += 1;
    else if (text[end] === ")" && --depth === 0) break;
  }
  if (end >= text.length) return null;
  const address = text.slice(close + 2, end).trim();
  if (!address || /\s/.test(address)) return null;
  return { label: text.slice(at + 1, close), href: webAddress(address), end: end + 1 };
}

/** `address` as an absolute http(s) URL, or null. */
export function webAddress(address) {
  let url;
  try {
    url = new URL(address);
  } catch {
    return null;
  }
  return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
}

/**
 * `text` as Markdown, in elements made for `document`: `<p>`, `<ul>`, `<code>`, `<em>`,
 * `<strong>` and `<a>` (a new tab, without opener or referrer), every text set as text.
 * @param {string} text
 * @param {Document} [doc]
 * @returns {DocumentFragment}
 */
export function render(text, doc = document) {
  const fragment = doc.createDocumentFragment();
  for (const block of parse(text)) {
    if (block.type === "p") {
      const p = doc.createElement("p");
      p.append(...block.children.map((part) => node(part, doc)));
      fragment.append(p);
    } else {
      const list = doc.createElement("ul");
      for (const item of block.items) {
        const li = doc.createElement("li");
        li.append(...item.map((part) => node(part, doc)));
        list.append(li);
      }
      fragment.append(list);
    }
  }
  return fragment;
}

/** @param {Inline} part @param {Document} doc @returns {Node} */
function node(part, doc) {
  if (part.type === "text") return doc.createTextNode(part.text);
  if (part.type === "code") {
    const code = doc.createElement("code");
    code.textContent = part.text;
    return code;
  }
  const element = doc.createElement(part.type === "link" ? "a" : part.type);
  if (part.type === "link") {
    element.href = part.href;
    element.target = "_blank";
    element.rel = "noopener noreferrer";
  }
  element.append(...part.children.map((child) => node(child, doc)));
  return element;
}
