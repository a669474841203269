/**
 * Real Chromium for the portal's browser tests and bench: the system browser (Debian's `chromium`
 * package, which `.ci/run` installs), driven by playwright-core. npm cannot download browsers here, so
 * none is bundled. Without the browser the tests skip with how to install it, except under CI, where a
 * missing browser fails loudly: CI must never pass without running them.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.ZSA_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Without the background-networking flags Chromium keeps calling Google's services, which a closed
 * network turns into a flood of failing connections and a slower browser.
 */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const HOW_TO_INSTALL =
  `Chromium is not at ${CHROMIUM}: install Debian's package (apt-get install chromium) ` +
  'or set ZSA_CHROMIUM to a Chromium binary.';

/** Whether the browser tests run here; throws under CI when the browser is missing. */
export function browserAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env.CI) throw new Error(`${HOW_TO_INSTALL} CI runs the browser tests; they may not skip.`);
  console.warn(`Skipping the browser tests. ${HOW_TO_INSTALL}`);
  return false;
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/** What went wrong in a page that a person would not see but a test must. */
export interface PageProblems {
  /** console.error messages (a failed resource load included). */
  readonly console: string[];
  /** Uncaught exceptions and unhandled rejections. */
  readonly errors: string[];
  /** Content-Security-Policy refusals (Chromium reports each as a console error too). */
  readonly csp: string[];
  /** Everything, for an assertion that wants none: `expect(all()).toEqual([])`. */
  all(): string[];
  /** Forget what is known so far (after a failure a test caused on purpose). */
  clear(): void;
}

export function watchPage(page: Page): PageProblems {
  const problems = {
    console: [] as string[],
    errors: [] as string[],
    csp: [] as string[],
    all: () => [...problems.console, ...problems.errors.map((e) => `page error: ${e}`)],
    clear: () => {
      problems.console.length = 0;
      problems.errors.length = 0;
      problems.csp.length = 0;
    },
  };
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const text = message.text();
    problems.console.push(`${text} (${page.url()})`);
    if (/Content Security Policy/i.test(text)) problems.csp.push(text);
  });
  page.on('pageerror', (error) => problems.errors.push(error.message));
  return problems;
}

export interface Person {
  readonly upn: string;
  readonly name?: string;
  readonly roles?: readonly ('PAM.Admin' | 'PAM.Auditor')[];
}

/**
 * Fills the development issuer's "Who are you?" page as a person would: by its labels. Check boxes the
 * issuer prefills (the roles the UPN had last time) are set to what the person should have now.
 */
export async function answerWhoAreYou(page: Page, person: Person): Promise<void> {
  await page.getByRole('heading', { name: 'Who are you?' }).waitFor();
  await page.getByLabel('User principal name').fill(person.upn);
  if (person.name !== undefined) await page.getByLabel('Display name').fill(person.name);
  const roles = person.roles ?? [];
  await page.getByLabel('Admin (PAM.Admin)').setChecked(roles.includes('PAM.Admin'));
  await page.getByLabel('Auditor (PAM.Auditor)').setChecked(roles.includes('PAM.Auditor'));
  await page.getByRole('button', { name: 'Continue' }).click();
}

/**
 * Opens the portal and signs in through the "Sign in" button and the "Who are you?" page; resolves
 * when the portal shows the navigation (the app has read GET /api/me).
 */
export async function signIn(page: Page, origin: string, person: Person, path = '/'): Promise<void> {
  await page.goto(`${origin}${path}`);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await answerWhoAreYou(page, person);
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
}

/** A context of its own per person: nothing (session storage, cookies) is shared between people. */
export async function personPage(
  browser: Browser,
  viewport = { width: 1280, height: 900 },
): Promise<{ context: BrowserContext; page: Page; problems: PageProblems }> {
  const context = await browser.newContext({ viewport, acceptDownloads: true });
  // A step that cannot happen fails with what it waited for, well before the test's own timeout.
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  return { context, page, problems: watchPage(page) };
}
