/**
 * Portal benchmark (#15), in headless Chromium (the system browser) against the local host running the
 * real app and serving the built portal:
 *
 * - initial JavaScript: the gzip bytes of every script the requester's first page loads (what
 *   index.html loads plus the "Request access" chunk), as the browser fetched them. Budget 250 KB.
 * - first page interactive: a signed-in requester opens /request; from navigation start to the
 *   "Request access" heading shown with the "Task" field enabled, p95 over `PORTAL_LOADS` loads
 *   (default 30). Budget 1 s. Floor: the same browser opening a static page from the same host.
 * - approval seen: an approver clicks "Approve" on the request's page in "Approvals"; until the
 *   requester's "My access" (left open) shows the grant, p95 over `PORTAL_APPROVALS` runs (default
 *   12). Budget 2 s. Floor: the same approval through the API, until a GET of the request says approved.
 *
 * Prints one JSON report, like the other benches.
 */
import { gzipSync } from 'node:zlib';
import type { Page } from 'playwright-core';
import { startHost } from '@zsa/local-host';
import { caller } from '../support/api';
import { launchBrowser, personPage, signIn, type Person } from '../support/browser';
import { startWebhookTarget } from '../support/webhook-target';
import { benchHostOptions, must, setUpBench } from './host-options';
import { now, ratio, summarize } from './stats';

const LOADS = Number(process.env.PORTAL_LOADS ?? 30);
const APPROVALS = Number(process.env.PORTAL_APPROVALS ?? 12);
const WARM = 2;
const KEY = 'bench-signing-key';
const BUDGET = { initialJsGzipBytes: 250 * 1024, firstPageInteractiveP95Ms: 1000, approvalSeenP95Ms: 2000 };

const ALICE: Person = { upn: 'alice@contoso.com', name: 'Alice Wood' };
const BOB: Person = { upn: 'approver@contoso.com', name: 'Bob Kelly' };

/**
 * Records, in the page itself, when the first page became usable: an `h1` "Request access" and an
 * enabled control labelled "Task" (or, for the floor, the `h1` of the issuer's static "Signed out"
 * page). A MutationObserver notes the first moment it holds, so the figure is on the page's own clock
 * (milliseconds since navigation start) rather than a polling interval's. Plain JavaScript: it runs in
 * the browser, before the page's own scripts.
 */
const MARK_INTERACTIVE = `(() => {
  const heading = (text) => [...document.querySelectorAll('h1')].some((h) => h.textContent.trim() === text);
  const taskEnabled = () => [...document.querySelectorAll('label')].some((label) => {
    if (!/^Task\\b/.test(label.textContent.trim())) return false;
    const control = label.htmlFor ? document.getElementById(label.htmlFor) : label.querySelector('input');
    // Not the "Task" choice of the "Access to" radio group: the picker itself.
    return !!control && control.type !== 'radio' && !control.disabled && control.getAttribute('aria-disabled') !== 'true';
  });
  const check = () => {
    if (window.__interactiveAt !== undefined) return;
    if ((heading('Request access') && taskEnabled()) || heading('Signed out')) window.__interactiveAt = performance.now();
  };
  new MutationObserver(check).observe(document, { childList: true, subtree: true, attributes: true });
  document.addEventListener('DOMContentLoaded', check);
})();`;

/**
 * Navigates and answers when the page said it was usable (ms since its navigation start). Polls with
 * page.evaluate, which runs outside the page's CSP (waitForFunction's predicate would be an eval the
 * portal's `script-src 'self'` refuses); the figure is the page's own timestamp, not the poll's.
 */
async function timeLoad(page: Page, url: string): Promise<number> {
  await page.goto(url, { waitUntil: 'commit' });
  const deadline = Date.now() + 15_000;
  for (;;) {
    const at = await page.evaluate<number | null>('window.__interactiveAt ?? null').catch(() => null);
    if (at !== null) return at;
    if (Date.now() > deadline) throw new Error(`${url} never became usable`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function main(): Promise<void> {
  const hook = await startWebhookTarget(KEY);
  const host = await startHost({ ...benchHostOptions(KEY), log: () => undefined });
  const browser = await launchBrowser();
  try {
    const admin = await caller(host.url, 'admin@contoso.com', ['PAM.Admin']);
    // One task per approval run, so the grant each run waits for is the one with its name.
    // Numbered 01, 02…: no name is part of another, so finding one on the page finds that grant.
    const tasks = Array.from(
      { length: APPROVALS + WARM },
      (_, i) => `Bench\\Portal ${String(i + 1).padStart(2, '0')}`,
    );
    await setUpBench(admin, {
      approver: BOB.upn,
      webhookUrl: hook.url,
      tasks: [...tasks.map((t) => [t, 'manual'] as const), ['Bench\\Floor', 'manual'] as const],
    });
    const alice = await caller(host.url, ALICE.upn);
    const bob = await caller(host.url, BOB.upn);

    // --- Initial JavaScript: what the browser fetched for the requester's first page. ---
    const requester = await personPage(browser);
    const scripts = new Map<string, number>();
    requester.page.on('response', (response) => {
      const url = new URL(response.url());
      if (url.origin !== host.url || !url.pathname.endsWith('.js')) return;
      void response.body().then(
        (body) => scripts.set(url.pathname, gzipSync(body).length),
        () => undefined,
      );
    });
    await requester.page.addInitScript({ content: MARK_INTERACTIVE });
    await signIn(requester.page, host.url, ALICE, '/request');
    scripts.clear();
    await timeLoad(requester.page, `${host.url}/request`);
    await requester.page.waitForLoadState('networkidle');
    const initialJs = [...scripts.values()].reduce((a, b) => a + b, 0);

    // --- First page interactive, alternating with the floor (a static page from the same host). ---
    const loads = { portal: [] as number[], floor: [] as number[] };
    for (let i = 0; i < LOADS + WARM; i++) {
      const portal = await timeLoad(requester.page, `${host.url}/request`);
      const floor = await timeLoad(requester.page, `${host.url}/dev/logout`);
      if (i >= WARM) {
        loads.portal.push(portal);
        loads.floor.push(floor);
      }
    }

    // --- Approve in "Approvals" → the requester's "My access" shows the grant. ---
    await requester.page.goto(`${host.url}/access`);
    await requester.page.getByRole('heading', { name: 'My access', level: 1 }).waitFor();
    const approver = await personPage(browser);
    await signIn(approver.page, host.url, BOB, '/approvals');
    const approvals = { portal: [] as number[], floor: [] as number[] };
    for (const [i, task] of tasks.entries()) {
      const submitted = await alice.post<{ id: string }>('/api/requests', {
        task,
        reason: 'Portal bench',
        durationHours: 1,
      });
      if (submitted.status !== 202) throw new Error(`submit: ${submitted.status} ${submitted.text}`);
      await approver.page.goto(`${host.url}/approvals/${submitted.body.id}`);
      const approve = approver.page.getByRole('button', { name: 'Approve', exact: true });
      await approve.waitFor();
      const started = now();
      await approve.click();
      await requester.page.getByRole('main').getByText(task).first().waitFor({ timeout: 15_000 });
      const seen = now() - started;

      // The floor: the same decision through the API, until a read of the request says approved.
      const floorRequest = await alice.post<{ id: string }>('/api/requests', {
        task: 'Bench\\Floor',
        reason: 'Portal bench floor',
        durationHours: 1,
      });
      if (floorRequest.status !== 202) throw new Error(`submit: ${floorRequest.status} ${floorRequest.text}`);
      const floorStarted = now();
      await must(bob.post(`/api/requests/${floorRequest.body.id}/approve`, { comment: 'ok' }));
      for (;;) {
        const view = await alice.get<{ status: string }>(`/api/requests/${floorRequest.body.id}`);
        if (view.body.status === 'approved') break;
      }
      const floor = now() - floorStarted;
      if (i >= WARM) {
        approvals.portal.push(seen);
        approvals.floor.push(floor);
      }
    }

    const first = summarize(loads.portal);
    const firstFloor = summarize(loads.floor);
    const seen = summarize(approvals.portal);
    const seenFloor = summarize(approvals.floor);
    process.stdout.write(
      `${JSON.stringify(
        {
          benchmark: 'portal',
          unit: 'ms',
          initial_js_gzip_bytes: initialJs,
          initial_js_files: Object.fromEntries(scripts),
          first_page_interactive: first,
          floor_static_page_from_same_host: firstFloor,
          first_page_over_floor: {
            p50: ratio(first.p50, firstFloor.p50),
            p95: ratio(first.p95, firstFloor.p95),
          },
          approve_to_my_access_shows_grant: seen,
          floor_api_approve_to_get_approved: seenFloor,
          approval_seen_over_floor: {
            p50: ratio(seen.p50, seenFloor.p50),
            p95: ratio(seen.p95, seenFloor.p95),
          },
          budgets: BUDGET,
          met: {
            initialJs: initialJs <= BUDGET.initialJsGzipBytes,
            firstPageInteractive: first.p95 <= BUDGET.firstPageInteractiveP95Ms,
            approvalSeen: seen.p95 <= BUDGET.approvalSeenP95Ms,
          },
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    await browser.close();
    await host.close();
    await hook.close();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
