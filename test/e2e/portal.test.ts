/**
 * The portal in real Chromium against the real local host (the compiled app, real Azurite, the
 * development issuer's "Who are you?" page): the whole Microsoft 365 story through the UI, people
 * finding controls by the names the issue fixes. One host and one browser for the file; a browser
 * context per person, so nobody shares a session.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  browserAvailable,
  launchBrowser,
  personPage,
  signIn,
  type PageProblems,
  type Person,
} from '../support/browser';
import { createBlobs } from '#shared/adapters/blobs';
import { createTables } from '#shared/adapters/tables';
import { createAuditLog } from '#shared/audit/log';
import { settings } from '#shared/config';
import { ROOT, sharedStorageEnv, startLocalHost, type HostProcess } from '../support/local-host';
import { startWebhookTarget, type WebhookTarget } from '../support/webhook-target';
import { EXPECTED as SEEDED, ROLE_X, seedEvents } from '../unit/insights/seed';

const KEY = 'portal-e2e-webhook-signing-key';
const AUDIT_KEY = 'portal-e2e-audit-key';
/**
 * The Insights seed (test/unit/insights/seed.ts, dated 2030-03-01..03) moved ten years back, to
 * 2020-03-01..03: a past range nothing else in this file writes to, before the host's own rows.
 */
const SEED_SHIFT_MS = Date.parse('2030-03-01') - Date.parse('2020-03-01');
const seededDay = (day: string) => new Date(Date.parse(day) - SEED_SHIFT_MS).toISOString().slice(0, 10);

/**
 * Writes the seed into the audit table the host will use (same storage, table prefix and key), with
 * the app's own AuditLog and a clock set to each seeded instant, before the host writes anything.
 */
async function seedAudit(env: Record<string, string>): Promise<void> {
  const s = settings({ ...process.env, ...env });
  let now = new Date(0);
  const log = createAuditLog({
    tables: createTables(s),
    blobs: createBlobs(s),
    now: () => now,
    hmacKey: AUDIT_KEY,
  });
  for (const { at, event } of seedEvents()) {
    now = new Date(Date.parse(at) - SEED_SHIFT_MS);
    await log.append(event);
  }
}
const SHOTS = join(ROOT, 'artifacts', 'portal');
/** `ZSA_SCREENSHOTS=docs` (npm run screenshots) also refreshes the pictures docs/portal.md shows. */
const DOC_SHOTS = process.env.ZSA_SCREENSHOTS === 'docs' ? join(ROOT, 'docs', 'portal') : undefined;

const ADMIN: Person = { upn: 'adele@contoso.com', name: 'Adele Vance', roles: ['PAM.Admin'] };
const ALICE: Person = { upn: 'alice@contoso.com', name: 'Alice Wood', roles: [] };
const BOB: Person = { upn: 'bob@contoso.com', name: 'Bob Kelly', roles: [] };
const AUDITOR: Person = { upn: 'audrey@contoso.com', name: 'Audrey Stone', roles: ['PAM.Auditor'] };
const NOBODY: Person = { upn: 'nora@contoso.com', name: 'Nora Plain', roles: [] };
const KEYBOARD: Person = { upn: 'kai@contoso.com', name: 'Kai Keys', roles: [] };

const GROUP = 'm365-approvers';
const TASK = 'Exchange\\Set-Mailbox';
const NAV = ['Request access', 'My requests', 'My access', 'Approvals', 'Admin', 'Audit'] as const;

const run = browserAvailable();
let host: HostProcess;
let hook: WebhookTarget;
let browser: Browser;
const everyPage: PageProblems[] = [];

beforeAll(async () => {
  if (!run) return;
  mkdirSync(SHOTS, { recursive: true });
  if (DOC_SHOTS) mkdirSync(DOC_SHOTS, { recursive: true });
  const storage = { ...sharedStorageEnv(), ZSA_AUDIT_HMAC_KEY: AUDIT_KEY };
  [hook, host, browser] = await Promise.all([
    startWebhookTarget(KEY),
    seedAudit(storage).then(() =>
      startLocalHost({
        env: { ...storage, ZSA_EXECUTOR_ALLOWED_HOSTS: '127.0.0.1', ZSA_WEBHOOK_SIGNING_KEY: KEY },
      }),
    ),
    launchBrowser(),
  ]);
}, 60_000);

afterAll(async () => {
  if (!run) return;
  // Each closer on its own: one that was never started must not keep the others from closing.
  const closers = [() => browser.close(), () => host.stop(), () => hook.close()];
  await Promise.allSettled(closers.map(async (close) => close()));
});

/** A person's own browser context, signed in, with everything that goes wrong in it recorded. */
async function open(person: Person, path = '/', width = 1280) {
  const opened = await personPage(browser, { width, height: 900 });
  everyPage.push(opened.problems);
  await signIn(opened.page, host.url, person, path);
  return opened;
}

function nav(page: Page, label: string) {
  return page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: label, exact: true });
}

async function visibleNav(page: Page): Promise<string[]> {
  const links = page.getByRole('navigation', { name: 'Main' }).getByRole('link');
  return (await links.allInnerTexts()).map((t) => t.trim());
}

/**
 * Each story is a person's whole task through several pages in a real browser: about 15 s on an idle
 * 2-core machine, twice that when the rest of the suite shares it.
 */
const STORY_TIMEOUT_MS = 90_000;

const shellChecked = new WeakSet<Page>();

/** axe-core on what the page shows now: no serious or critical violation. */
async function expectAccessible(page: Page, what: string): Promise<void> {
  // Fluent's focus management (Tabster) adds aria-hidden focusable `<i data-tabster-dummy>` elements
  // that only pass focus on; axe's aria-hidden-focus flags them though no person can land on them
  // (a known false positive: microsoft/tabster#288, microsoft/fluentui#25133).
  // The shell (header, navigation) is the same component on every page: check it once per person's
  // browser page, then only what each page adds. The WCAG 2.x A/AA rules are what we promise;
  // axe's best-practice extras double the time of every check (about 1.5 s a page) for no promise.
  let axe = new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'])
    .exclude('[data-tabster-dummy]');
  if (shellChecked.has(page)) axe = axe.include('main');
  else shellChecked.add(page);
  const result = await axe.analyze();
  const bad = result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map(
      (v) =>
        `${what}: ${v.id} (${v.impact ?? ''}) ${v.nodes.map((n) => `${n.html.slice(0, 120)} ${n.failureSummary ?? ''}`).join(', ')}`,
    );
  // Soft: the story goes on, so one run lists every page's problems.
  expect.soft(bad).toEqual([]);
}

/** A person can use the page without scrolling it sideways (tables scroll inside their container). */
async function expectNoSidewaysScroll(page: Page, what: string): Promise<void> {
  // Fluent re-lays some parts out from a ResizeObserver (a MessageBar, a TabList) a frame or two after
  // the viewport changes, so give the page up to a second to settle before calling it a defect.
  let overflow = 0;
  for (let tries = 0; tries < 10; tries += 1) {
    overflow = await page.evaluate<number>(
      'document.documentElement.scrollWidth - document.documentElement.clientWidth',
    );
    if (overflow <= 0) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  // When it does, name the outermost elements that stick out, so the report says what to fix.
  const culprits =
    overflow > 0
      ? await page.evaluate<string[]>(`[...document.querySelectorAll('body *')]
          .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
          .filter((e) => !(e.parentElement && e.parentElement.getBoundingClientRect().right > document.documentElement.clientWidth + 1))
          .slice(0, 5)
          .map((e) => e.outerHTML.slice(0, 160))`)
      : [];
  expect
    .soft({ overflow, culprits }, `${what} scrolls sideways at ${page.viewportSize()?.width ?? 0} px`)
    .toEqual({ overflow: Math.min(overflow, 0), culprits: [] });
}

async function shoot(page: Page, name: string): Promise<void> {
  const width = page.viewportSize()?.width ?? 0;
  const file = `${name}-${width}.png`;
  // The artifact is what the person sees first (a whole-page capture of a long page costs a second
  // or more); the pictures in the docs show the whole page.
  if (DOC_SHOTS) await page.screenshot({ path: join(DOC_SHOTS, file), fullPage: true });
  else await page.screenshot({ path: join(SHOTS, file) });
}

/** The access token the portal holds for this person (oidc-client-ts keeps it in session storage). */
async function tokenOf(page: Page): Promise<string> {
  const users = await page.evaluate<string[]>(
    "Object.keys(sessionStorage).filter((k) => k.startsWith('oidc.user:')).map((k) => sessionStorage.getItem(k))",
  );
  const user = users[0];
  if (!user) throw new Error('no signed-in user in session storage');
  return (JSON.parse(user) as { access_token: string }).access_token;
}

/**
 * Every page a person visits is checked the same way: axe at 1280 px, a screenshot, then at 375 px
 * (a phone) no sideways scroll of the page and a screenshot, then back to 1280 px.
 */
async function checkPage(page: Page, name: string): Promise<void> {
  await expectAccessible(page, name);
  await shoot(page, name);
  await page.setViewportSize({ width: 375, height: 800 });
  try {
    await expectNoSidewaysScroll(page, name);
    await shoot(page, name);
  } finally {
    await page.setViewportSize({ width: 1280, height: 900 });
  }
}

/** Waits for a person-visible text inside the page's main region. */
function inMain(page: Page, text: string | RegExp) {
  return page.getByRole('main').getByText(text).first();
}

async function adminConfigures(page: Page): Promise<void> {
  await nav(page, 'Admin').click();
  await page.getByRole('heading', { name: 'Admin', level: 1 }).waitFor();
  await checkPage(page, 'admin-access');

  // An approver group with bob.
  await page.getByRole('tab', { name: 'Approver groups' }).click();
  await page.getByLabel(/^Name\b/).fill(GROUP);
  await page.getByLabel('Members').fill(BOB.upn);
  await page.getByRole('button', { name: 'Save group' }).click();
  await inMain(page, `Saved approver group ${GROUP}.`).waitFor();
  await checkPage(page, 'admin-groups');

  // Privileged access on, with that group deciding by default.
  await page.getByRole('tab', { name: 'Privileged access' }).click();
  await page.getByLabel('Default approver group').fill(GROUP);
  await page.getByRole('button', { name: 'Enable privileged access' }).click();
  await inMain(page, 'Privileged access is enabled.').waitFor();

  // A task run by a real webhook, with one parameter the requester's form is generated from.
  await page.getByRole('tab', { name: 'Catalog' }).click();
  await page.getByRole('tab', { name: 'Tasks' }).waitFor();
  await page
    .getByLabel(/^Name\b/)
    .first()
    .fill(TASK);
  await page
    .getByLabel(/^Description\b/)
    .first()
    .fill('Change a mailbox setting');
  await page.getByLabel('Webhook URL').fill(hook.url);
  await page.getByRole('button', { name: 'Add parameter' }).click();
  const parameter = page.getByRole('group', { name: 'Parameter 1' });
  await parameter.getByLabel(/^Name\b/).fill('Mailbox');
  await parameter.getByLabel('Required').check();
  await page.getByRole('button', { name: 'Save task' }).click();
  await inMain(page, `Saved task ${TASK}.`).waitFor();
  await checkPage(page, 'admin-catalog');

  // A manual policy whose approvers must prove authentication context c1 (step-up).
  await page.getByRole('tab', { name: 'Policies' }).click();
  await page.getByLabel('Target').fill(TASK);
  await page.getByLabel('Approver group').fill(GROUP);
  await page.getByLabel('Longest grant (hours)').fill('8');
  await page.getByLabel("Approvers' authentication context").fill('c1');
  await page.getByRole('button', { name: 'Create policy' }).click();
  await inMain(page, `Saved the policy for ${TASK}.`).waitFor();
  await checkPage(page, 'admin-policies');
}

/** Request access: the policy shown before submitting, the generated parameter field, submit. */
async function requestAccess(page: Page, ticket: string): Promise<string> {
  // Opened afresh: going back to it in the same tab shows the catalog as it was read at sign-in,
  // before the admin added the task (the page does not read it again).
  await page.goto(`${host.url}/request`);
  await page.getByRole('heading', { name: 'Request access', level: 1 }).waitFor();
  // The picker is a select labelled "Task" (the "Access to" radio group has a "Task" choice too).
  const picker = page.getByRole('combobox', { name: 'Task' });
  await picker.locator('option', { hasText: TASK }).waitFor({ state: 'attached' });
  await picker.selectOption({ label: TASK });
  // The applicable policy, in words, before anything is submitted.
  await inMain(page, GROUP).waitFor();
  await page.getByLabel('Mailbox').fill('ceo@contoso.com');
  await page.getByLabel('Reason').fill('Migrate the CEO mailbox');
  await page.getByLabel('Ticket').fill(ticket);
  await page.getByLabel('Duration (hours)').fill('2');
  await checkPage(page, 'request-access');
  await page.getByRole('button', { name: 'Submit request' }).click();
  await page.waitForURL(/\/requests\/[^/]+$/);
  return decodeURIComponent(new URL(page.url()).pathname.split('/').pop() ?? '');
}

/** Submits a request with the keyboard alone: Tab to move, Space to pick, Enter to submit. */
async function requestByKeyboard(page: Page): Promise<void> {
  // Typing the address is keyboard too.
  await page.goto(`${host.url}/request`);
  await page.getByRole('heading', { name: 'Request access', level: 1 }).waitFor();
  const tabTo = async (target: Locator, what: string) => {
    // Tab until it has focus, as a person would; a page with no way to reach it fails here.
    const visited: string[] = [];
    for (let presses = 0; presses < 40; presses++) {
      if ((await target.and(page.locator(':focus')).count()) === 1) return;
      await page.keyboard.press('Tab');
      visited.push(await page.evaluate<string>('document.activeElement?.outerHTML.slice(0, 80) ?? ""'));
    }
    throw new Error(`Tab never reached ${what}; it went through:\n${visited.join('\n')}`);
  };
  const picker = page.getByRole('combobox', { name: 'Task' });
  // A person waits for the catalog to load (the picker is disabled until then), then tabs to it.
  await expect.poll(() => picker.isEnabled(), { timeout: 10_000 }).toBe(true);
  await tabTo(picker, 'the Task field');
  // On a closed select, ArrowDown picks the next entry: the first task after "Choose…".
  await page.keyboard.press('ArrowDown');
  await inMain(page, GROUP).waitFor();
  const typeInto = async (label: string, text: string) => {
    await tabTo(page.getByLabel(label), label);
    await page.keyboard.type(text);
  };
  await typeInto('Mailbox', 'kai@contoso.com');
  await typeInto('Reason', 'Fix the shared mailbox by keyboard');
  await typeInto('Ticket', 'KB-1');
  await tabTo(page.getByRole('button', { name: 'Submit request' }), 'Submit request');
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/requests\/[^/]+$/);
}

type Opened = Awaited<ReturnType<typeof open>>;

describe.skipIf(!run)('the portal in Chromium', () => {
  let admin: Opened;
  let alice: Opened;
  let bob: Opened;
  let auditor: Opened;
  let keyboard: Opened;
  let requestId = '';

  afterAll(async () => {
    await Promise.allSettled([admin, alice, bob, auditor, keyboard].map(async (p) => p.context.close()));
  });

  it(
    'an admin configures everything in "Admin" while the others sign in',
    async () => {
      [admin, alice, bob, auditor, keyboard] = await Promise.all([
        open(ADMIN),
        open(ALICE),
        open(BOB),
        open(AUDITOR),
        open(KEYBOARD),
      ]);
      expect(await visibleNav(admin.page)).toEqual([
        'Request access',
        'My requests',
        'My access',
        'Admin',
        'Audit',
        'Insights',
      ]);
      expect(await visibleNav(auditor.page)).toEqual([
        'Request access',
        'My requests',
        'My access',
        'Audit',
        'Insights',
      ]);
      await adminConfigures(admin.page);
      // bob is an approver now: his navigation shows Approvals once the portal reads who he is again.
      await bob.page.reload();
      await nav(bob.page, 'Approvals').waitFor();
      expect(await visibleNav(bob.page)).toEqual([...NAV.slice(0, 4)]);
    },
    STORY_TIMEOUT_MS,
  );

  it(
    'alice requests, bob approves with a stronger sign-in, alice executes; kai requests by keyboard',
    async () => {
      const [id] = await Promise.all([requestAccess(alice.page, 'INC-42'), requestByKeyboard(keyboard.page)]);
      requestId = id;

      // My requests: the request with its timeline, live.
      await inMain(alice.page, /submitted/i).waitFor();
      await checkPage(alice.page, 'request-detail');

      // bob: Approvals → Waiting for me shows everything the decision page shows, then Approve.
      await nav(bob.page, 'Approvals').click();
      const card = bob.page
        .locator('.fui-Card')
        .filter({ has: bob.page.getByRole('heading', { name: `Task ${TASK} for ${ALICE.upn}` }) });
      await card.waitFor();
      for (const fact of [
        'Migrate the CEO mailbox',
        'INC-42',
        'ceo@contoso.com',
        'Needs a stronger sign-in',
      ]) {
        await card.getByText(fact).first().waitFor();
      }
      await checkPage(bob.page, 'approvals');
      await card.getByLabel('Comment').fill('Go ahead');
      const beforeStepUp = bob.problems.console.length;
      await card.getByRole('button', { name: 'Approve', exact: true }).click();
      // The policy asks approvers for authentication context c1: the portal signs bob in again with
      // the claim, and the issuer's page asks for that extra check.
      const extraCheck = bob.page.getByLabel('Completed the extra check for authentication context c1');
      await extraCheck.waitFor();
      expect(await extraCheck.isChecked()).toBe(true);
      expect(await bob.page.getByLabel('User principal name').inputValue()).toBe(BOB.upn);
      await bob.page.getByRole('button', { name: 'Continue' }).click();
      await inMain(
        bob.page,
        `Approve the request of ${ALICE.upn}: done with your stronger sign-in.`,
      ).waitFor();
      // The browser reports the API's 401 claims challenge as a failed load; that one is expected.
      expect(
        bob.problems.console.splice(beforeStepUp).filter((m) => !/status of 401 \(Unauthorized\)/.test(m)),
      ).toEqual([]);

      // alice: My access shows the grant (live), Execute with the task's parameter, the result shown.
      await nav(alice.page, 'My access').click();
      await inMain(alice.page, TASK).waitFor();
      await checkPage(alice.page, 'my-access');
      // The parameters were approved with the request, so the grant runs with exactly those.
      await inMain(alice.page, 'Mailbox = ceo@contoso.com').waitFor();
      await alice.page.getByRole('button', { name: 'Execute', exact: true }).click();
      await inMain(alice.page, 'Succeeded').waitFor();
      const calls = hook.received.filter((r) => r.body.requestId === requestId);
      expect(calls).toHaveLength(1);
      expect(calls[0]?.signatureValid).toBe(true);
      expect(calls[0]?.body).toMatchObject({
        task: TASK,
        requestedBy: ALICE.upn,
        approvedBy: [BOB.upn],
        parameters: { Mailbox: 'ceo@contoso.com' },
      });
    },
    STORY_TIMEOUT_MS,
  );

  it(
    'an auditor filters, verifies and downloads; a failing API shows a message and recovers',
    async () => {
      const audit = async () => {
        const page = auditor.page;
        await nav(page, 'Audit').click();
        await page.getByRole('heading', { name: 'Audit', level: 1 }).waitFor();
        await page.getByLabel('Request').fill(requestId);
        await page.getByRole('button', { name: 'Show events' }).click();
        const events = page.getByRole('region', { name: 'Audit events' });
        for (const action of ['request.submitted', 'request.approved', 'execution.succeeded']) {
          await events.getByText(action).first().waitFor();
        }
        await page.getByRole('button', { name: 'Verify' }).click();
        await inMain(page, 'The audit log is intact').waitFor();
        await checkPage(page, 'audit');
        const [download] = await Promise.all([
          page.waitForEvent('download'),
          page.getByRole('button', { name: 'Download CSV' }).click(),
        ]);
        expect(download.suggestedFilename()).toMatch(/^zsa-audit-.*\.csv$/);
        const csv = readFileSync(await download.path(), 'utf8');
        // The export takes the time range and action (not the request), so it holds this request's
        // events among others.
        const ours = csv
          .trim()
          .split('\n')
          .filter((row) => row.includes(requestId));
        expect(ours.length).toBeGreaterThanOrEqual(3);
        expect(ours.some((row) => row.includes('request.approved'))).toBe(true);
        expect(csv).toContain(BOB.upn);
      };

      /** My requests while the API fails: first a 503, then no answer at all; each time a clear message, then recovery. */
      const failing = async () => {
        const page = alice.page;
        const isRequestList = (url: URL) => url.pathname === '/api/requests';
        const before = alice.problems.console.length;
        await nav(page, 'My requests').click();
        await page.getByRole('heading', { name: 'My requests', level: 1 }).waitFor();
        for (const failure of ['503', 'abort'] as const) {
          await page.route(isRequestList, (route) =>
            failure === 'abort'
              ? route.abort('connectionrefused')
              : route.fulfill({
                  status: 503,
                  contentType: 'application/problem+json',
                  headers: { 'retry-after': '0' },
                  body: JSON.stringify({
                    type: 'urn:zsa:problem:unavailable',
                    title: 'Service Unavailable',
                    status: 503,
                    detail: 'The service is restarting.',
                  }),
                }),
          );
          await page.reload();
          const alert = page.getByRole('alert');
          await alert.waitFor({ timeout: 20_000 });
          expect(await alert.innerText()).toMatch(
            failure === 'abort' ? /unreachable/i : /unavailable|restarting/i,
          );
          await page.unrouteAll();
          await alert.getByRole('button', { name: 'Try again' }).click();
          await inMain(page, TASK).waitFor();
          await expect(page.getByRole('alert').count()).resolves.toBe(0);
        }
        // The browser's own reports of the loads refused on purpose are expected here, nothing else.
        const expected = alice.problems.console.splice(before);
        expect(expected.filter((m) => !/Failed to load resource/.test(m))).toEqual([]);
      };

      // Both run to the end before either's failure is reported.
      const outcomes = await Promise.allSettled([audit(), failing()]);
      for (const outcome of outcomes) if (outcome.status === 'rejected') throw outcome.reason;
    },
    STORY_TIMEOUT_MS,
  );

  it(
    "an auditor reads Insights: the story's figures in each chart's table, and a chart's events in the audit",
    async () => {
      const page = auditor.page;
      await nav(page, 'Insights').click();
      await page.getByRole('heading', { name: 'Insights', level: 1 }).waitFor();
      await inMain(page, /audit events from/).waitFor();
      // The tables sit folded under each chart; their cells are read whether shown or not.
      const rows = (caption: string) =>
        page.evaluate<(string | null)[][]>(
          `[...document.querySelectorAll(${JSON.stringify(`table[aria-label="${caption}"] tr`)})]
            .map((tr) => [...tr.querySelectorAll('th, td')].map((c) => c.textContent))`,
        );
      // Known answers: the story so far made two requests today, alice's (approved by bob, then
      // executed once) and kai's (still pending).
      expect((await rows('Requests per day by outcome')).at(-1)).toEqual([
        'Total',
        '1', // approved
        '0', // denied
        '1', // pending
        '0',
        '0',
        '0',
        '0',
      ]);
      expect(await rows("Approvers' load")).toEqual([
        ['Approver', 'Decisions', 'Approvals / denials'],
        [BOB.upn, '1', '1 / 0'],
      ]);
      expect((await rows('Top tasks'))[1]).toEqual([TASK, '2']);
      expect((await rows('Time to decision, in seconds'))[1]?.[0]).toBe('1');
      expect((await rows('Time to first use, in seconds'))[1]?.[0]).toBe('1');
      expect(await rows('Executions')).toEqual([
        ['', 'Count'],
        ['Succeeded', '1'],
        ['Failed', '0'],
        ['Refused', '0'],
      ]);
      // The charts are drawn (SVG), each with its data table one click away.
      await page.getByRole('main').locator('svg').first().waitFor();
      await page.getByText("Approvers' load: data table").click();
      await page.getByRole('table', { name: "Approvers' load" }).waitFor();
      await checkPage(page, 'insights');

      // The seeded audit's known answers (the same EXPECTED as the unit and component tests), over
      // the custom range of whole UTC days it was written to.
      await page.getByLabel('Period').selectOption('custom');
      await page.getByLabel('From (UTC day)').fill(seededDay(SEEDED.from));
      await page.getByLabel('To (UTC day, included)').fill(seededDay('2030-03-03'));
      await page.getByRole('button', { name: 'Show' }).click();
      await inMain(page, `${SEEDED.events} audit events from ${seededDay(SEEDED.from)}`).waitFor();
      const outcomes = ['approved', 'denied', 'pending', 'canceled', 'expired', 'failed', 'refused'] as const;
      expect((await rows('Requests per day by outcome')).slice(1)).toEqual([
        ...SEEDED.requests.perDay.map((d) => [seededDay(d.day), ...outcomes.map((o) => String(d[o]))]),
        ['Total', ...outcomes.map((o) => String(SEEDED.requests.total[o]))],
      ]);
      const durations = (d: typeof SEEDED.timeToDecision) => [
        String(d.count),
        String(d.medianSeconds),
        String(d.p95Seconds),
      ];
      expect((await rows('Time to decision, in seconds'))[1]).toEqual(durations(SEEDED.timeToDecision));
      expect((await rows('Time to first use, in seconds'))[1]).toEqual(durations(SEEDED.timeToFirstUse));
      expect((await rows('Top tasks')).slice(1)).toEqual(
        SEEDED.topTasks.map((t) => [t.task === ROLE_X ? `${ROLE_X} (role)` : t.task, String(t.requests)]),
      );
      expect((await rows("Approvers' load")).slice(1)).toEqual(
        SEEDED.approvers.map((a) => [
          a.upn,
          String(a.approvals + a.denials),
          `${a.approvals} / ${a.denials}`,
        ]),
      );
      expect((await rows('Executions')).slice(1)).toEqual([
        ['Succeeded', String(SEEDED.executions.succeeded)],
        ['Failed', String(SEEDED.executions.failed)],
        ['Refused', String(SEEDED.executions.refused)],
      ]);
      expect((await rows('Emergency uses and their reviews')).slice(1)).toEqual([
        ['Justified', String(SEEDED.emergency.justified)],
        ['Unjustified', String(SEEDED.emergency.unjustified)],
        ['Review open', String(SEEDED.emergency.open)],
      ]);

      // A chart's link opens the audit page filtered to one of its actions over the same range.
      await page.getByRole('link', { name: 'See the final approvals in the audit' }).first().click();
      await page.getByRole('heading', { name: 'Audit', level: 1 }).waitFor();
      const events = page.getByRole('region', { name: 'Audit events' });
      await events.getByText('request.approved').first().waitFor();
      expect(await page.getByLabel('Action').inputValue()).toBe('request.approved');
      expect(await events.getByText('request.submitted').count()).toBe(0);
    },
    STORY_TIMEOUT_MS,
  );

  it('shows no console error, page error or CSP refusal on any page', () => {
    expect(everyPage.flatMap((p) => p.all())).toEqual([]);
  });

  it('a person without a role sees only the requester pages, and the API refuses them the rest', async () => {
    const { context, page } = await open(NOBODY);
    try {
      expect(await visibleNav(page)).toEqual(['Request access', 'My requests', 'My access']);
      const token = await tokenOf(page);
      for (const path of ['/api/audit', '/api/pam', '/api/approver-groups']) {
        const res = await fetch(`${host.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
        expect(res.status, path).toBe(403);
      }
      // Typing an admin page's address shows why it is not there, not a blank screen.
      await page.goto(`${host.url}/manage`);
      await page.getByText('Admin is not available to you').waitFor();
    } finally {
      await context.close();
    }
  });
});
