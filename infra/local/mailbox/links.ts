/**
 * Link extraction from an email, so tests can "click" what a person would click.
 *
 * A regular-expression scan rather than an HTML parser: the input is mail our own app sends, the
 * output only needs to be the clickable `http(s)` targets, and the repository has no HTML parser.
 */

/** Parts of HTML whose `href`s are not links a reader can click. */
const NOT_CONTENT = /<!--[\s\S]*?-->|<(script|style|template)\b[\s\S]*?<\/\1\s*>/gi;
/** An `<a>` or `<area>` start tag, with quoted attribute values that may contain `>`. */
const ANCHOR_TAG = /<(?:a|area)\b(?:[^>"']|"[^"]*"|'[^']*')*>/gi;
const HREF_ATTRIBUTE = /\shref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))/i;
const BARE_URL = /\bhttps?:\/\/[^\s<>"'`]+/gi;
/** Punctuation that ends a sentence rather than a URL ("see https://x/y."). */
const TRAILING_PUNCTUATION = /[.,;:!?'"*_]$/;
const CLOSING_TO_OPENING: Readonly<Record<string, string>> = { ')': '(', ']': '[', '}': '{', '>': '<' };

const NAMED_ENTITIES: Readonly<Record<string, string>> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: '\u00a0',
};

/** Every http(s) link in the HTML anchors, then bare URLs in the text, deduplicated, in order. */
export function extractLinks(html: string | null, text: string): string[] {
  const links = [...(html === null ? [] : linksInHtml(html)), ...linksInText(text)];
  return [...new Set(links)];
}

export function linksInHtml(html: string): string[] {
  const links: string[] = [];
  for (const [tag] of html.replace(NOT_CONTENT, '').matchAll(ANCHOR_TAG)) {
    const match = HREF_ATTRIBUTE.exec(tag);
    if (match === null) continue;
    const raw = match[1] ?? match[2] ?? match[3] ?? '';
    // Browsers strip surrounding whitespace and drop tabs and newlines inside a URL.
    const href = decodeEntities(raw)
      .trim()
      .replace(/[\t\n\r]/g, '');
    if (isHttpUrl(href)) links.push(href);
  }
  return links;
}

export function linksInText(text: string): string[] {
  const links: string[] = [];
  for (const [candidate] of text.matchAll(BARE_URL)) {
    const url = trimTrailing(candidate);
    if (isHttpUrl(url)) links.push(url);
  }
  return links;
}

function trimTrailing(url: string): string {
  let result = url;
  for (;;) {
    const last = result.at(-1) ?? '';
    const opening = CLOSING_TO_OPENING[last];
    // Keep a closing bracket that closes one opened inside the URL (Wikipedia-style paths).
    const unbalanced = opening !== undefined && count(result, last) > count(result, opening);
    if (!TRAILING_PUNCTUATION.test(result) && !unbalanced) return result;
    result = result.slice(0, -1);
  }
}

function count(text: string, character: string): number {
  return text.split(character).length - 1;
}

function decodeEntities(value: string): string {
  return value.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (entity, body: string) => {
    if (body.startsWith('#')) {
      const codePoint =
        body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return codePoint > 0 && codePoint <= 0x10ffff ? String.fromCodePoint(codePoint) : entity;
    }
    return NAMED_ENTITIES[body.toLowerCase()] ?? entity;
  });
}

function isHttpUrl(candidate: string): boolean {
  if (!/^https?:\/\//i.test(candidate)) return false;
  return URL.canParse(candidate);
}
