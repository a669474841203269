/**
 * The `/dev/teams` page: pick a user, see what the bot sent them, click the cards' actions. Cards
 * are rendered in the browser by Microsoft's `adaptivecards` renderer, served from node_modules
 * (no CDN: the host works offline). Everything the page shows comes from the bot, so the page
 * builds it with DOM APIs and text nodes only, never markup from data.
 */
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';

export const TEAMS_PATH = '/dev/teams';

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1b1b1b;background:#f5f5f5}
h1{font-size:1.3rem;margin:0 0 .3rem}
.note{color:#555;margin:0 0 1rem}
form{display:flex;gap:.5rem;align-items:center;margin:0 0 1rem;flex-wrap:wrap}
.activity{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.75rem;margin:0 0 1rem;max-width:36rem}
.meta{color:#666;font-size:12px;margin:0 0 .5rem}
.clicked{color:#5b5fc7}
.empty{color:#666}
`;

const PAGE_SCRIPT = `'use strict';
(function () {
  var select = document.getElementById('user');
  var list = document.getElementById('activities');
  var shown = '';
  var responses = {};

  function text(tag, value, cls) {
    var el = document.createElement(tag);
    el.textContent = value;
    if (cls) el.className = cls;
    return el;
  }
  function post(path, body) {
    return fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      .then(function (r) { return r.json(); });
  }
  function renderCard(content, activityId, version) {
    var card = new AdaptiveCards.AdaptiveCard();
    card.onExecuteAction = function (action) {
      if (action instanceof AdaptiveCards.OpenUrlAction) {
        // Web links only: a card's javascript: or data: URL must not run as this page.
        if (/^https?:/i.test(action.url || '')) window.open(action.url, '_blank', 'noopener');
        return;
      }
      if (!(action instanceof AdaptiveCards.ExecuteAction)) return;
      // Teams merges the card's inputs into the action's data, as action.data already has them.
      post('${TEAMS_PATH}/act', { upn: select.value, activityId: activityId, verb: action.verb, data: action.data || {} })
        .then(function (answer) { responses[activityId] = { answer: answer, version: version }; refresh(true); });
    };
    card.parse(content);
    return card.render();
  }
  function isCard(body) {
    return !!body && body.type === 'application/vnd.microsoft.card.adaptive' && !!body.value;
  }
  function render(activities) {
    list.replaceChildren();
    if (activities.length === 0) list.appendChild(text('p', 'Nothing from the bot yet.', 'empty'));
    activities.slice().reverse().forEach(function (a) {
      var box = document.createElement('div');
      box.className = 'activity';
      box.dataset.activityId = a.id;
      box.appendChild(text('div', a.type + ' · sent ' + a.sentAt + (a.version > 1 ? ' · updated ' + a.updatedAt + ' (version ' + a.version + ')' : ''), 'meta'));
      var response = responses[a.id];
      // Teams shows the card a bot answers a click with in place of the clicked one, until the bot
      // updates the message itself.
      var inPlace = response && response.version === a.version && isCard(response.answer.body);
      if (response) box.appendChild(text('div', 'You clicked; the bot answered ' + response.answer.status + (inPlace ? ', with this card:' : ''), 'meta clicked'));
      if (inPlace) { box.appendChild(renderCard(response.answer.body.value, a.id, a.version)); list.appendChild(box); return; }
      if (response && !isCard(response.answer.body)) box.appendChild(text('pre', JSON.stringify(response.answer.body, null, 2)));
      if (a.text) box.appendChild(text('p', a.text));
      (a.attachments || []).forEach(function (attachment) {
        if (attachment.contentType === 'application/vnd.microsoft.card.adaptive') box.appendChild(renderCard(attachment.content, a.id, a.version));
        else box.appendChild(text('pre', JSON.stringify(attachment, null, 2)));
      });
      list.appendChild(box);
    });
  }
  function refresh(force) {
    if (!select.value) { render([]); return Promise.resolve(); }
    return fetch('${TEAMS_PATH}/activities?upn=' + encodeURIComponent(select.value))
      .then(function (r) { return r.json(); })
      .then(function (activities) {
        var json = JSON.stringify(activities) + JSON.stringify(responses);
        // Do not redraw under someone typing a comment (but do show the answer to their click).
        if (!force && (json === shown || list.contains(document.activeElement))) return;
        shown = json;
        render(activities);
      });
  }
  function loadUsers(selected) {
    return fetch('${TEAMS_PATH}/conversations').then(function (r) { return r.json(); }).then(function (users) {
      select.replaceChildren();
      users.filter(function (u) { return u.installed; }).forEach(function (u) {
        var option = text('option', u.upn);
        option.value = u.upn;
        select.appendChild(option);
      });
      if (selected) select.value = selected;
      return refresh(true);
    });
  }
  document.getElementById('install').addEventListener('submit', function (e) {
    e.preventDefault();
    var upn = document.getElementById('install-upn').value;
    post('${TEAMS_PATH}/install', { upn: upn }).then(function () { return loadUsers(upn.toLowerCase()); });
  });
  select.addEventListener('change', function () { responses = {}; refresh(true); });
  loadUsers(new URLSearchParams(location.search).get('upn'));
  setInterval(function () { refresh(false); }, 2000);
})();
`;

export function renderTeamsPage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Teams — development channel</title>
<style>${STYLE}</style></head>
<body>
<h1>Teams — development channel</h1>
<p class="note">What the bot sent each user who installed it, as Teams would show it. Clicking a card's action sends the bot a signed <code>invoke</code> as that user (development only).</p>
<form id="install"><label>User <select id="user"></select></label>
<span>· install for</span><input id="install-upn" type="email" placeholder="user@contoso.com" required><button>Install</button></form>
<div id="activities"></div>
<script src="${TEAMS_PATH}/adaptivecards.js"></script>
<script src="${TEAMS_PATH}/page.js"></script>
</body></html>`;
}

let renderer: Buffer | undefined;

/** Serves the page's two scripts; false for any other path. */
export function servePageAsset(rest: string, res: ServerResponse): boolean {
  let script: Buffer | string;
  if (rest === '/page.js') script = PAGE_SCRIPT;
  else if (rest === '/adaptivecards.js')
    // Read on first use: a host that never opens the page never loads 330 kB.
    script = renderer ??= readFileSync(require.resolve('adaptivecards/dist/adaptivecards.min.js'));
  else return false;
  res.writeHead(200, {
    'content-type': 'text/javascript; charset=utf-8',
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
  });
  res.end(script);
  return true;
}
