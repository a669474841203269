/**
 * The mailbox web pages. Everything shown comes from mail, i.e. from whoever can reach the SMTP port,
 * so every value is escaped, and the HTML body is only ever shown inside a sandboxed `srcdoc` iframe:
 * its links stay clickable (opening outside the sandbox), its scripts and forms never run.
 */
import type { MailMessage } from './message';

export const MAILBOX_PATH = '/dev/mailbox';

/**
 * No scripts, no remote fetches (so no tracking pixels), not framable. A `srcdoc` iframe inherits this
 * policy, which backs up its sandbox. Inline styles are allowed because emails depend on them.
 */
export const PAGE_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "style-src 'unsafe-inline'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1b1b1b}
h1{font-size:1.3rem;margin:0 0 .3rem}
.note{color:#555;margin:0 0 1rem}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #ddd;vertical-align:top}
th{background:#f4f4f4}
details summary{cursor:pointer}
pre{white-space:pre-wrap;word-break:break-word;background:#f8f8f8;padding:.75rem;border:1px solid #ddd}
iframe{width:100%;height:60vh;border:1px solid #ccc;background:#fff}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}
dt{font-weight:600}dd{margin:0}
`;

/** Escapes text for element content and for quoted attribute values alike. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

/** All messages, newest first (no auto-refresh: it would collapse an expanded message). */
export function renderListPage(messages: readonly MailMessage[], filter: string | undefined): string {
  const newestFirst = [...messages].reverse();
  const rows = newestFirst.map(
    (message) => `<tr>
<td><time datetime="${escapeHtml(message.receivedAt)}">${escapeHtml(message.receivedAt)}</time></td>
<td>${escapeHtml(message.from)}</td>
<td>${escapeHtml(message.to.join(', '))}</td>
<td><details><summary><a href="${messageHref(message)}">${escapeHtml(message.subject || '(no subject)')}</a></summary>
${renderLinks(message.links)}<pre>${escapeHtml(message.text)}</pre></details></td>
</tr>`,
  );
  const scope = filter === undefined ? '' : ` addressed to ${escapeHtml(filter)}`;
  const body = `<h1>Local mailbox</h1>
<p class="note">Development only: every email the local host sends lands here. ${newestFirst.length} message(s)${scope}.
JSON: <a href="${MAILBOX_PATH}/messages">${MAILBOX_PATH}/messages</a> (<code>?to=</code> filters, <code>DELETE</code> clears).</p>
${
  rows.length === 0
    ? '<p>No messages yet.</p>'
    : `<table><thead><tr><th>Received</th><th>From</th><th>To</th><th>Subject</th></tr></thead><tbody>
${rows.join('\n')}
</tbody></table>`
}`;
  return document(`Mailbox (${newestFirst.length})`, body);
}

/** One message: its headers, its links, the HTML body in a sandbox and the text part. */
export function renderMessagePage(message: MailMessage): string {
  const field = (name: string, value: string): string => `<dt>${name}</dt><dd>${escapeHtml(value)}</dd>`;
  const body = `<p><a href="${MAILBOX_PATH}">&larr; All messages</a></p>
<h1>${escapeHtml(message.subject || '(no subject)')}</h1>
<dl>
${field('From', message.headers.from ?? message.from)}
${field('To', message.headers.to ?? message.to.join(', '))}
${message.cc.length > 0 ? field('Cc', message.headers.cc ?? message.cc.join(', ')) : ''}
${field('Envelope', `${message.envelope.from} → ${message.envelope.to.join(', ')}`)}
${field('Received', message.receivedAt)}
${message.messageId === null ? '' : field('Message-ID', message.messageId)}
</dl>
<h2>Links</h2>
${renderLinks(message.links)}
${message.html === null ? '' : `<h2>HTML</h2>\n${renderSandboxedHtml(message.html)}`}
<h2>Text</h2>
<pre>${escapeHtml(message.text)}</pre>`;
  return document(message.subject || '(no subject)', body);
}

export function renderNotFoundPage(): string {
  return document(
    'Not found',
    `<p><a href="${MAILBOX_PATH}">&larr; All messages</a></p><h1>No such message</h1>`,
  );
}

/**
 * `<base target="_blank">` makes the email's links open in a new browsing context: inside the sandbox
 * they would load a page (the decision page, say) whose forms could not be submitted.
 */
function renderSandboxedHtml(html: string): string {
  const srcdoc = `<!doctype html><meta name="referrer" content="no-referrer"><base target="_blank">${html}`;
  return `<iframe title="HTML body" sandbox="allow-popups allow-popups-to-escape-sandbox" referrerpolicy="no-referrer" srcdoc="${escapeHtml(srcdoc)}"></iframe>`;
}

function renderLinks(links: readonly string[]): string {
  if (links.length === 0) return '<p>No links.</p>';
  const items = links.map(
    (link) =>
      `<li><a href="${escapeHtml(link)}" target="_blank" rel="noopener noreferrer">${escapeHtml(link)}</a></li>`,
  );
  return `<ul>${items.join('')}</ul>`;
}

function messageHref(message: MailMessage): string {
  return escapeHtml(`${MAILBOX_PATH}/${encodeURIComponent(message.id)}`);
}

function document(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)} · Local mailbox</title><style>${STYLE}</style></head>
<body>
${body}
</body></html>
`;
}
