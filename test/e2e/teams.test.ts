/**
 * Approving in Teams end to end on the local host, through its development Teams channel: the
 * channel installs the app for people (installationUpdate to `/api/messages`), receives the cards
 * the `sendTeams` trigger posts through its Bot Connector endpoint, and clicks their actions as
 * signed invokes. One host; the stories run in order on one request, then a second one for a deny.
 *
 * With ZSA_SCREENSHOTS=docs, the last story also photographs the `/dev/teams` page in Chromium
 * for docs/teams.md (docs/teams/*.png); the normal run skips it.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caller, send, type ApiResponse, type Caller } from '../support/api';
import { launchBrowser } from '../support/browser';
import { ROOT, startLocalHost, type HostProcess } from '../support/local-host';
import { waitForMail } from '../support/mailbox';
import { startWebhookTarget, type WebhookTarget } from '../support/webhook-target';

const HOOK_KEY = 'e2e-teams-key';
const ALICE = 'alice@contoso.com';
const BOB = 'bob@contoso.com';
const CAROL = 'carol@contoso.com';
const TASK = 'Exchange\\Set-Mailbox (Teams)';

interface Activity {
  id: string;
  type: string;
  text?: string;
  version: number;
  attachments?: { contentType: string; content: unknown }[];
}

interface ExecuteAction {
  type: 'Action.Execute';
  verb: string;
  data: Record<string, unknown>;
}

interface BotAnswer {
  status: number;
  body: { statusCode?: number; type?: string; value?: unknown; title?: string } | null;
}

interface View {
  id: string;
  status: string;
  approvals: { approver: string; decision: string; comment: string | null }[];
}

let host: HostProcess;
let hook: WebhookTarget;
let alice: Caller;

async function ok<T>(p: Promise<ApiResponse<T>>): Promise<T> {
  const res = await p;
  if (res.status >= 300) throw new Error(`expected success, got ${res.status}: ${res.text}`);
  return res.body;
}

/** A JSON call to the development channel (its pages' and tests' side). */
async function channel<T>(path: string, body: unknown): Promise<ApiResponse<T>> {
  return send<T>(`${host.url}/dev/teams${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

async function activitiesOf(upn: string): Promise<Activity[]> {
  return ok(send<Activity[]>(`${host.url}/dev/teams/activities?upn=${encodeURIComponent(upn)}`, {}));
}

/** Every text and action of a card, whatever its nesting. */
function walk(node: unknown, visit: (n: Record<string, unknown>) => void): void {
  if (Array.isArray(node)) for (const n of node) walk(n, visit);
  else if (node !== null && typeof node === 'object') {
    visit(node as Record<string, unknown>);
    for (const v of Object.values(node)) walk(v, visit);
  }
}

function cardText(card: unknown): string {
  const texts: string[] = [];
  walk(card, (n) => {
    if (typeof n.text === 'string') texts.push(n.text);
  });
  return texts.join('\n');
}

function actionsOf(card: unknown): ExecuteAction[] {
  const found: ExecuteAction[] = [];
  walk(card, (n) => {
    if (n.type === 'Action.Execute') found.push(n as unknown as ExecuteAction);
  });
  return found;
}

const cardsOf = (a: Activity) =>
  (a.attachments ?? [])
    .filter((x) => x.contentType === 'application/vnd.microsoft.card.adaptive')
    .map((x) => x.content);

/** The first activity of `upn` about `requestId` satisfying `predicate`, polled for. */
async function waitForCard(
  upn: string,
  requestId: string,
  predicate: (a: Activity) => boolean = () => true,
  timeoutMs = 20_000,
): Promise<Activity> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = (await activitiesOf(upn)).find(
      (a) => JSON.stringify(a.attachments ?? []).includes(requestId) && predicate(a),
    );
    if (found) return found;
    if (Date.now() > deadline)
      throw new Error(
        `no matching card for ${upn} about ${requestId}: ${JSON.stringify(await activitiesOf(upn))}`,
      );
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function waitForStatus(id: string, status: string, timeoutMs = 15_000): Promise<View> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const view = (await alice.get<View>(`/api/requests/${id}`)).body;
    if (view.status === status) return view;
    if (Date.now() > deadline) throw new Error(`request ${id} is ${view.status}, expected ${status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Clicks a card's action as `upn` (or sends it with no card, `activityId` undefined). */
async function act(
  upn: string,
  activityId: string | undefined,
  action: ExecuteAction,
  extra: { comment?: string; token?: 'none' | 'forged' } = {},
): Promise<BotAnswer> {
  return ok(
    channel<BotAnswer>('/act', {
      upn,
      ...(activityId === undefined ? {} : { activityId }),
      verb: action.verb,
      data: action.data,
      ...extra,
    }),
  );
}

beforeAll(async () => {
  hook = await startWebhookTarget(HOOK_KEY);
  host = await startLocalHost({
    storage: 'shared',
    env: { ZSA_WEBHOOK_SIGNING_KEY: HOOK_KEY, ZSA_EXECUTOR_ALLOWED_HOSTS: '127.0.0.1' },
  });
  const admin = await caller(host.url, 'admin@contoso.com', ['PAM.Admin']);
  alice = await caller(host.url, ALICE);
  await ok(admin.put('/api/approver-groups/teams-approvers', { members: [ALICE, BOB, CAROL] }));
  await ok(admin.post('/api/pam/enable', { defaultApproverGroup: 'teams-approvers' }));
  await ok(
    admin.put('/api/catalog/tasks', {
      name: TASK,
      description: 'Change a mailbox',
      executor: { type: 'webhook', url: hook.url },
    }),
  );
  await ok(
    admin.post('/api/policies', {
      scope: 'task',
      target: TASK,
      approvalType: 'manual',
      approverGroup: 'teams-approvers',
      requiredApprovals: 1,
    }),
  );
}, 90_000);

afterAll(async () => {
  await host.stop();
  await hook.close();
});

describe('approving in Teams through the development channel', () => {
  let requestId = '';
  const cards = new Map<string, Activity>();
  let approve: ExecuteAction;

  it('installing the app for bob, carol and alice is accepted by the bot', async () => {
    // Act
    const answers = await Promise.all(
      [BOB, CAROL, ALICE].map((upn) => channel<{ bot: BotAnswer }>('/install', { upn })),
    );

    // Assert
    expect(answers.map((a) => [a.status, a.body.bot.status])).toEqual([
      [200, 200],
      [200, 200],
      [200, 200],
    ]);
  });

  it("alice's manual request reaches each approver as a card to decide, but not alice", async () => {
    // Act
    requestId = (await ok(alice.post<View>('/api/requests', { task: TASK, reason: 'Teams e2e' }))).id;

    // Assert
    for (const upn of [BOB, CAROL]) {
      const card = await waitForCard(upn, requestId);
      const verbs = cardsOf(card)
        .flatMap(actionsOf)
        .map((a) => a.verb);
      expect(verbs).toEqual(['approve', 'deny']);
      expect(cardText(cardsOf(card))).toContain('Teams e2e');
      cards.set(upn, card);
    }
    const found = cardsOf(cards.get(BOB) as Activity).flatMap(actionsOf)[0];
    if (!found) throw new Error('no approve action');
    approve = found;
    expect(approve.data).toMatchObject({ requestId, stage: 0 });
    const mine = (await activitiesOf(ALICE)).flatMap(cardsOf).flatMap(actionsOf);
    expect(mine).toEqual([]);
  });

  it('alice approving her own request with a crafted card action is refused, and nothing changes', async () => {
    // Act
    const answer = await act(ALICE, undefined, approve);

    // Assert
    expect(answer).toMatchObject({ status: 200, body: { statusCode: 200 } });
    expect(cardText(answer.body?.value)).toContain('You cannot approve your own request');
    expect((await alice.get<View>(`/api/requests/${requestId}`)).body).toMatchObject({
      status: 'pending',
      approvals: [],
    });
  });

  it.each(['none', 'forged'] as const)(
    'a card action with %s token is refused (401), and nothing changes',
    async (token) => {
      // Act
      const answer = await act(CAROL, cards.get(CAROL)?.id, approve, { token });

      // Assert
      expect(answer.status).toBe(401);
      expect((await alice.get<View>(`/api/requests/${requestId}`)).body).toMatchObject({
        status: 'pending',
        approvals: [],
      });
    },
  );

  it('bob approves on his card: the request is approved, alice executes, every card shows "Approved by bob"', async () => {
    // Act
    const answer = await act(BOB, cards.get(BOB)?.id, approve, { comment: 'ok from Teams' });

    // Assert
    expect(answer).toMatchObject({
      status: 200,
      body: { statusCode: 200, type: 'application/vnd.microsoft.card.adaptive' },
    });
    expect(cardText(answer.body?.value)).toContain('You approved');
    const view = await waitForStatus(requestId, 'approved');
    expect(view.approvals).toEqual([
      expect.objectContaining({ approver: BOB, decision: 'approve', comment: 'ok from Teams' }),
    ]);
    const executed = await alice.post('/api/execute', { task: TASK, requestId });
    expect(executed.status).toBe(200);
    expect(hook.received.some((r) => r.body.requestId === requestId && r.signatureValid)).toBe(true);
    for (const upn of [BOB, CAROL]) {
      const updated = await waitForCard(upn, requestId, (a) => /Approved by bob/i.test(cardText(cardsOf(a))));
      expect(updated.id).toBe(cards.get(upn)?.id);
      expect(updated.version).toBeGreaterThan(1);
      expect(cardsOf(updated).flatMap(actionsOf)).toEqual([]);
    }
  });

  it('a second click on a card shown before the decision answers "already decided" and changes nothing', async () => {
    // Act
    const answer = await act(CAROL, cards.get(CAROL)?.id, approve);

    // Assert
    expect(cardText(answer.body?.value)).toMatch(/Already decided.*Approved by bob/is);
    const view = (await alice.get<View>(`/api/requests/${requestId}`)).body;
    expect(view.approvals).toHaveLength(1);
  });

  it('a deny with a comment reaches alice in Teams and by email', { timeout: 90_000 }, async () => {
    // Arrange
    const id = (await ok(alice.post<View>('/api/requests', { task: TASK, reason: 'second' }))).id;
    const card = await waitForCard(BOB, id);
    const deny = cardsOf(card)
      .flatMap(actionsOf)
      .find((a) => a.verb === 'deny');
    if (!deny) throw new Error('no deny action');

    // Act
    const answer = await act(BOB, card.id, deny, { comment: 'not during the freeze' });

    // Assert
    expect(cardText(answer.body?.value)).toContain('You denied');
    await waitForStatus(id, 'denied');
    const told = await waitForCard(ALICE, id, (a) => cardText(cardsOf(a)).includes('not during the freeze'));
    expect(cardText(cardsOf(told))).toMatch(/Denied by bob/i);
    const mail = await waitForMail(host.url, id, 'denied', ALICE);
    expect(mail.text).toContain('not during the freeze');
    if (process.env.ZSA_SCREENSHOTS === 'docs') await screenshots();
  });
});

/**
 * Photographs the `/dev/teams` page for docs/teams.md: carol's card once bob denied, alice's
 * outcome, then bob's card for a fresh request, still to decide, and as it reads once he clicks
 * Approve on the page (which also proves the page's click path: the request is approved).
 */
async function screenshots(): Promise<void> {
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage({ viewport: { width: 720, height: 1000 } });
    const shoot = async (upn: string, file: string) => {
      await page.goto(`${host.url}/dev/teams?upn=${encodeURIComponent(upn)}`);
      const top = page.locator('.activity').first();
      await top.locator('.ac-adaptiveCard').first().waitFor();
      await top.screenshot({ path: join(ROOT, 'docs', 'teams', file) });
    };
    await shoot(CAROL, 'card-decided.png');
    await shoot(ALICE, 'card-outcome.png');
    const id = (
      await ok(
        alice.post<View>('/api/requests', {
          task: TASK,
          reason: 'Mailbox move for the finance team',
          ticket: 'CHG-1042',
        }),
      )
    ).id;
    await waitForCard(BOB, id);
    await shoot(BOB, 'card-decide.png');
    // Clicking on the page sends the invoke as bob; the card the bot answers replaces the clicked one.
    const top = page.locator('.activity').first();
    await top.locator('textarea').first().fill('Fine for the move window');
    await top.getByRole('button', { name: 'Approve' }).click();
    await top.getByText('You approved.').waitFor();
    await top.screenshot({ path: join(ROOT, 'docs', 'teams', 'card-approved.png') });
    await waitForStatus(id, 'approved');
  } finally {
    await browser.close();
  }
}
