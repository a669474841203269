/**
 * The development issuer's "Who are you?" page: what a person sees when the portal sends them to
 * sign in on the local host. It asks for a name and roles instead of a password, because the
 * local host exists to let one person try every part. Plain HTML with no script at all, so it
 * works by keyboard and passes accessibility checks with native controls.
 */

/** The page's own policy: no script, nothing fetched, posts only to itself, never framed. */
export const SIGN_IN_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "style-src 'unsafe-inline'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The roles a person can take, with what they mean, in the order the page lists them. */
export const DEV_ROLES = [
  { value: 'PAM.Admin', label: 'Admin (PAM.Admin)' },
  { value: 'PAM.Auditor', label: 'Auditor (PAM.Auditor)' },
] as const;

export interface SignInPageModel {
  /** The authorization request, carried through the form unchanged as hidden fields. */
  readonly request: Readonly<Record<string, string>>;
  readonly action: string;
  readonly upn: string;
  readonly name: string;
  readonly roles: readonly string[];
  /** Authentication contexts the client asked for (the `claims` parameter); each gets a check box. */
  readonly contexts: readonly string[];
  readonly mfa: boolean;
  /** Why the last submission was refused, shown next to the user principal name field. */
  readonly upnError?: string | undefined;
}

const STYLE = `
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1b1b1b;background:#f5f5f5}
main{max-width:32rem;margin:2rem auto;padding:1.5rem;background:#fff;border:1px solid #ddd;border-radius:8px}
h1{font-size:1.4rem;margin:0 0 .5rem}
.warning{background:#fff4ce;border:1px solid #e0c060;padding:.6rem .8rem;border-radius:4px;margin:0 0 1rem}
label{display:block;margin:.8rem 0 .2rem;font-weight:600}
input[type=text]{width:100%;box-sizing:border-box;padding:.45rem;font:inherit;border:1px solid #888;border-radius:4px}
fieldset{border:1px solid #ccc;border-radius:4px;margin:1rem 0;padding:.4rem .8rem .8rem}
legend{font-weight:600;padding:0 .3rem}
fieldset label{display:flex;gap:.5rem;align-items:center;font-weight:400;margin:.4rem 0 0}
.error{color:#a4262c;margin:.3rem 0 0}
input[aria-invalid=true]{border-color:#a4262c}
button{margin-top:1rem;padding:.5rem 1.4rem;font:inherit;font-weight:600;color:#fff;background:#0f6cbd;border:0;border-radius:4px;cursor:pointer}
:focus-visible{outline:3px solid #1b1b1b;outline-offset:2px}
`;

/** Escapes text for element content and for quoted attribute values alike. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

export function renderSignInPage(model: SignInPageModel): string {
  const hidden = Object.entries(model.request)
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('\n');
  const checkbox = (name: string, value: string, label: string, checked: boolean, id: string): string =>
    `<label for="${id}"><input type="checkbox" id="${id}" name="${name}" value="${escapeHtml(value)}"${
      checked ? ' checked' : ''
    }> ${escapeHtml(label)}</label>`;
  const roles = DEV_ROLES.map((role, index) =>
    checkbox('roles', role.value, role.label, model.roles.includes(role.value), `role-${index}`),
  ).join('\n');
  const contexts = model.contexts
    .map((context, index) =>
      checkbox(
        'acrs',
        context,
        `Completed the extra check for authentication context ${context}`,
        true,
        `acr-${index}`,
      ),
    )
    .join('\n');
  const error =
    model.upnError === undefined ? '' : `<p class="error" id="upn-error">${escapeHtml(model.upnError)}</p>`;
  const body = `<main>
<h1>Who are you?</h1>
<p class="warning">Development sign-in: this page lets anyone be anyone, with any role. It only exists on the local host; in Azure people sign in with Microsoft Entra ID.</p>
<form method="post" action="${escapeHtml(model.action)}">
${hidden}
<label for="upn">User principal name</label>
<input type="text" id="upn" name="upn" value="${escapeHtml(model.upn)}" required autocomplete="username" spellcheck="false" autofocus placeholder="alice@contoso.com"${
    model.upnError === undefined ? '' : ' aria-invalid="true" aria-describedby="upn-error"'
  }>
${error}
<label for="name">Display name (optional)</label>
<input type="text" id="name" name="name" value="${escapeHtml(model.name)}" autocomplete="name">
<fieldset>
<legend>Roles</legend>
${roles}
</fieldset>
<fieldset>
<legend>How you signed in</legend>
${contexts}
${checkbox('mfa', 'true', 'Signed in with MFA', model.mfa, 'mfa')}
</fieldset>
<button type="submit">Continue</button>
</form>
</main>`;
  return document('Who are you?', body);
}

export function renderSignedOutPage(): string {
  return document(
    'Signed out',
    '<main><h1>Signed out</h1><p>You are signed out of the development issuer. Close this tab, or go back to the app and sign in again.</p></main>',
  );
}

function document(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)} · Local development sign-in</title><style>${STYLE}</style></head>
<body>
${body}
</body></html>
`;
}
