// What the template pages share: the parts of a variant and their labels,
// new variants, where an engine error points (variant, part, line), the
// sandboxed document a preview's HTML is shown in, and the Jinja
// highlighter of the code fields.
import type { Part, Variant } from '../../lib/types';

export const PARTS: Part[] = ['subject', 'preheader', 'html', 'text'];

export const PART_LABELS: Record<Part, string> = {
  subject: 'Subject',
  preheader: 'Preheader',
  html: 'HTML body',
  text: 'Plain-text body',
};

/** Parts written on one line. */
export function isLine(part: Part): boolean {
  return part === 'subject' || part === 'preheader';
}

export const STARTER_HTML = '<p>Hi {{ profile.first_name | default("there") }},</p>\n\n<p></p>\n';
export const STARTER_TEXT = 'Hi {{ profile.first_name | default("there") }},\n\n';

export function newVariant(name: string): Variant {
  return { name, subject: '', preheader: '', html: STARTER_HTML, text: STARTER_TEXT };
}

/** The next free variant name: A, B, … Z, then "Variant 27"… */
export function nextVariantName(taken: string[]): string {
  const used = new Set(taken.map((n) => n.trim().toUpperCase()));
  for (let i = 0; i < 26; i++) {
    const n = String.fromCharCode(65 + i);
    if (!used.has(n)) return n;
  }
  let i = 27;
  while (used.has(`VARIANT ${i}`)) i++;
  return `Variant ${i}`;
}

/** A problem the engine named the place of. */
export interface Problem {
  /** The variant's name, or its 1-based position when it has none. */
  variant: string | null;
  position: number | null;
  part: Part | null;
  /** The template's name field. */
  name: boolean;
  line: number | null;
  /** What is wrong, without the place. */
  message: string;
}

const PART_WORDS: Record<string, Part> = {
  subject: 'subject',
  preheader: 'preheader',
  html: 'html',
  'html body': 'html',
  text: 'text',
  'plain-text body': 'text',
};

function capitalise(s: string): string {
  return s ? s.charAt(0).toUpperCase() + s.slice(1) : s;
}

/**
 * Where a save (or preview) error of the engine points. The engine's
 * message is the only carrier of the place ("variant A, html, line 2:
 * unexpected end of input…"), so it is read back here; null when the
 * message names no place.
 */
export function locate(message: string): Problem | null {
  const m = message.match(/^variant (.+?), (subject|preheader|html body|plain-text body|html|text)(?:, line (\d+))?: ([\s\S]+)$/);
  if (m) {
    return {
      variant: m[1],
      position: null,
      part: PART_WORDS[m[2]] ?? null,
      name: false,
      line: m[3] ? Number(m[3]) : null,
      message: capitalise(m[4]),
    };
  }
  const empty = message.match(/^variant (.+?): the subject is empty$/);
  if (empty) return { variant: empty[1], position: null, part: 'subject', name: false, line: null, message: 'The subject is empty.' };
  const unnamed = message.match(/^variant (\d+): every variant needs a name$/);
  if (unnamed) return { variant: null, position: Number(unnamed[1]), part: null, name: false, line: null, message: 'Every variant needs a name.' };
  const twice = message.match(/^two variants are named “(.+)”/);
  if (twice) return { variant: twice[1], position: null, part: null, name: false, line: null, message: capitalise(message) };
  if (/^a template needs a name$|^there is already a template named/.test(message)) {
    return { variant: null, position: null, part: null, name: true, line: null, message: capitalise(message) };
  }
  return null;
}

/** The content security policy of every preview document. */
export const PREVIEW_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'";

/**
 * The document an iframe shows a rendered HTML body in, with a strict CSP
 * at the start of its head: no scripts, no fetches, no fonts or frames;
 * images from data: only (a remote image, a tracking pixel above all,
 * would tell its server that this person's message was previewed), inline
 * styles only. The iframe is sandboxed as well (`sandbox=""`), so nothing
 * in the message runs.
 */
export function previewDocument(html: string): string {
  const meta =
    `<meta http-equiv="Content-Security-Policy" content="${PREVIEW_CSP}">` +
    '<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">';
  const head = html.match(/<head(\s[^>]*)?>/i);
  if (head && head.index !== undefined) {
    const at = head.index + head[0].length;
    return html.slice(0, at) + meta + html.slice(at);
  }
  const root = html.match(/<html(\s[^>]*)?>/i);
  if (root && root.index !== undefined) {
    const at = root.index + root[0].length;
    return `${html.slice(0, at)}<head>${meta}</head>${html.slice(at)}`;
  }
  const doctype = html.match(/^\s*<!doctype[^>]*>/i);
  if (doctype) return `${doctype[0]}<html><head>${meta}</head><body>${html.slice(doctype[0].length)}</body></html>`;
  return `<!doctype html><html><head>${meta}<style>body{margin:12px;font-family:system-ui,sans-serif;}</style></head><body>${html}</body></html>`;
}

// ---- highlighting ------------------------------------------------------------

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const KEYWORDS =
  'if|elif|else|endif|for|endfor|in|not|and|or|is|set|endset|with|endwith|macro|endmacro|call|endcall|filter|endfilter|raw|endraw|true|false|none|True|False|None|loop';
const INNER = new RegExp(
  `("(?:[^"\\\\]|\\\\.)*"|'(?:[^'\\\\]|\\\\.)*')|(\\|\\s*[A-Za-z_]\\w*)|\\b(${KEYWORDS})\\b|(-?\\d+(?:\\.\\d+)?)`,
  'g',
);

/** The inside of a `{{ … }}` or `{% … %}` tag, with its delimiters. */
function tagHtml(tag: string): string {
  const open = tag.slice(0, 2) + (tag[2] === '-' || tag[2] === '+' ? tag[2] : '');
  const closeLen = tag.length >= 3 && (tag[tag.length - 3] === '-' || tag[tag.length - 3] === '+') ? 3 : 2;
  const body = tag.slice(open.length, tag.length - closeLen);
  const close = tag.slice(tag.length - closeLen);
  let out = `<span class="tk-delim">${escapeHtml(open)}</span>`;
  let at = 0;
  INNER.lastIndex = 0;
  for (let m = INNER.exec(body); m; m = INNER.exec(body)) {
    out += escapeHtml(body.slice(at, m.index));
    const cls = m[1] ? 'tk-str' : m[2] ? 'tk-filter' : m[3] ? 'tk-kw' : 'tk-num';
    out += `<span class="${cls}">${escapeHtml(m[0])}</span>`;
    at = m.index + m[0].length;
  }
  out += escapeHtml(body.slice(at));
  return out + `<span class="tk-delim">${escapeHtml(close)}</span>`;
}

/**
 * Template source as HTML with its Jinja tags marked: `{{ … }}` (output),
 * `{% … %}` (logic), `{# … #}` (comments); inside tags, strings, filters,
 * keywords and numbers. A tag left open is marked to the end.
 */
export function highlight(src: string): string {
  let out = '';
  let i = 0;
  const opener = /\{\{|\{%|\{#/g;
  for (;;) {
    opener.lastIndex = i;
    const m = opener.exec(src);
    if (!m) {
      out += escapeHtml(src.slice(i));
      break;
    }
    out += escapeHtml(src.slice(i, m.index));
    const kind = m[0] === '{{' ? 'expr' : m[0] === '{%' ? 'stmt' : 'comment';
    const close = kind === 'expr' ? '}}' : kind === 'stmt' ? '%}' : '#}';
    const end = src.indexOf(close, m.index + 2);
    if (end < 0) {
      out += `<span class="tk-${kind} tk-open">${escapeHtml(src.slice(m.index))}</span>`;
      break;
    }
    const tag = src.slice(m.index, end + 2);
    out += kind === 'comment' ? `<span class="tk-comment">${escapeHtml(tag)}</span>` : `<span class="tk-${kind}">${tagHtml(tag)}</span>`;
    i = end + 2;
  }
  return out;
}

/** The offsets of line `line` (1-based) of `text`: [start, end). */
export function lineRange(text: string, line: number): [number, number] {
  let start = 0;
  for (let l = 1; l < line; l++) {
    const nl = text.indexOf('\n', start);
    if (nl < 0) return [text.length, text.length];
    start = nl + 1;
  }
  const nl = text.indexOf('\n', start);
  return [start, nl < 0 ? text.length : nl];
}

export const SEVERITY_LABELS: Record<string, string> = {
  error: 'Errors',
  warning: 'Warnings',
  info: 'Notes',
};

export const TOOL_LABELS: Record<string, string> = {
  mailchimp: 'Mailchimp',
  klaviyo: 'Klaviyo',
};
