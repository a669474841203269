/** The approver's page: what a waiting request shows, deciding on it, refusals in words, reviews. */
import { configure, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RequestView } from '../../portal/src/api/types';
import ApprovalsPage from '../../portal/src/pages/approver/ApprovalsPage';
import { aRequest, ALICE, renderPage, startApi, type FakeApi } from './support';

// Several test files share two cores: wait for what a person would see longer than the default second.
configure({ asyncUtilTimeout: 5_000 });

const BOB = { ...ALICE, id: 'tid:bob', upn: 'bob@contoso.com', name: 'Bob', approverGroups: ['ops', 'sec'] };

function request(over: Partial<RequestView> = {}): RequestView {
  return aRequest({ parameters: { vm: 'web-01' }, requiredApprovals: 1, ...over });
}

let api: FakeApi;
beforeAll(async () => {
  api = await startApi();
});
afterAll(() => api.close());
beforeEach(() => {
  api.seen.length = 0;
  api.on('GET', '/api/reviews', { body: { items: [] } });
});

describe('Waiting for me', () => {
  it('shows everything the decision page shows', async () => {
    api.on('GET', '/api/requests', {
      body: { items: [request({ emergency: true, approverAuthContext: 'c1' })] },
    });
    renderPage(<ApprovalsPage />, { api, me: BOB, path: '/approvals' });
    const card = await screen.findByRole('group', { name: 'Task restart-vm for alice@contoso.com' });
    const text = card.textContent;
    for (const want of [
      'alice@contoso.com',
      'vm = web-01',
      'Patch night',
      'CHG-42',
      '2 h',
      '1 of 2: group ops, 0 of 1 approvals',
      'Emergency access',
      'Needs a stronger sign-in',
    ])
      expect(text).toContain(want);
    expect(within(card).getByText('Decide by')).toBeTruthy();
    expect(api.seen.find((s) => s.path === '/api/requests')?.query.get('approvable')).toBe('true');
  });

  it.each([
    {
      mode: 'onBehalfOf' as const,
      sponsor: null,
      asks: 'AI agent VS Code for alice@contoso.com',
    },
    {
      mode: 'ownIdentity' as const,
      sponsor: 'alice@contoso.com',
      asks: 'AI agent VS Code (its own identity; sponsor alice@contoso.com)',
    },
  ])(
    'shows that an AI agent asks ($mode), on whose behalf, and that it runs exactly these parameters once',
    async ({ mode, sponsor, asks }) => {
      // Arrange
      api.on('GET', '/api/requests', {
        body: { items: [request({ agent: { mode, appId: 'agent-1', name: 'VS Code', sponsor } })] },
      });

      // Act
      renderPage(<ApprovalsPage />, { api, me: BOB, path: '/approvals' });

      // Assert
      const card = await screen.findByRole('group', { name: `Task restart-vm for ${asks}` });
      expect(card.textContent).toContain('Asked by an AI agent');
      expect(card.textContent).toContain('It may run exactly the parameters shown, once');
      expect(card.textContent).toContain('vm = web-01');
    },
  );

  it('approves with the comment, says the next stage waits, and keeps saying so once the item leaves', async () => {
    let approved = false;
    api.on('GET', '/api/requests', () => ({ body: { items: approved ? [] : [request()] } }));
    api.on('POST', '/api/requests/r1/approve', () => {
      approved = true;
      return {
        body: request({
          currentStage: 1,
          approvals: [
            {
              approver: 'bob@contoso.com',
              decision: 'approve',
              comment: 'ok',
              at: '2026-12-03T10:01:00.000Z',
              stage: 0,
            },
          ],
        }),
      };
    });
    const user = userEvent.setup({ delay: null });
    renderPage(<ApprovalsPage />, { api, me: BOB, path: '/approvals' });
    await user.type(await screen.findByLabelText('Comment', { exact: false }), 'Looks fine');
    await user.click(screen.getByRole('button', { name: 'Approve' }));
    // The list refreshes after the decision; the card goes, the outcome stays in sight. (Awaited
    // first: the click only starts the call, which a busy machine may answer after the next line.)
    expect(await screen.findByText('Nothing waits for your decision.')).toBeTruthy();
    const post = api.seen.find((s) => s.method === 'POST');
    expect(post?.path).toBe('/api/requests/r1/approve');
    expect(post?.body).toEqual({ comment: 'Looks fine' });
    expect(
      screen.getByText('Task restart-vm for alice@contoso.com: Approved — waiting for stage 2'),
    ).toBeTruthy();
  });

  it('denies and says so', async () => {
    api.on('GET', '/api/requests', { body: { items: [request()] } });
    api.on('POST', '/api/requests/r1/deny', { body: request({ status: 'denied', currentStage: null }) });
    const user = userEvent.setup({ delay: null });
    renderPage(<ApprovalsPage />, { api, me: BOB, path: '/approvals' });
    await user.click(await screen.findByRole('button', { name: 'Deny' }));
    expect(await screen.findByText('Denied')).toBeTruthy();
    expect(api.seen.find((s) => s.method === 'POST' && s.path.endsWith('/deny'))?.body).toEqual({});
  });

  it.each([
    ['REQUEST_NOT_PENDING', 'Someone decided first'],
    ['ALREADY_DECIDED', 'You already decided on this.'],
    ['STAGE_NOT_OPEN', 'It is not your stage yet'],
  ])('a 409 %s is said in words', async (code, words) => {
    api.on('GET', '/api/requests', { body: { items: [request()] } });
    api.on('POST', '/api/requests/r1/approve', {
      status: 409,
      body: { type: `urn:zsa:problem:x`, title: 'Conflict', status: 409, detail: `refused: ${code}`, code },
    });
    const user = userEvent.setup({ delay: null });
    renderPage(<ApprovalsPage />, { api, me: BOB, path: '/approvals' });
    await user.click(await screen.findByRole('button', { name: 'Approve' }));
    expect(await screen.findByText(words, { exact: false })).toBeTruthy();
    expect(screen.getByText(`refused: ${code}`)).toBeTruthy();
  });

  it('a pending extension is decided on its own', async () => {
    const extension = {
      id: '1',
      hours: 2,
      reason: 'Not done yet',
      status: 'pending' as const,
      approvals: [],
      createdAt: '2026-12-03T11:00:00.000Z',
      pendingUntil: '2026-12-03T12:00:00.000Z',
      decidedAt: null,
      stages: [{ approverGroup: 'ops', requiredApprovals: 1, status: 'open' as const, approvals: [] }],
      currentStage: 0,
    };
    const live = request({ status: 'approved', currentStage: null, extensions: [extension] });
    api.on('GET', '/api/requests', { body: { items: [live] } });
    api.on('POST', '/api/requests/r1/extensions/1/approve', {
      body: { ...live, extensions: [{ ...extension, status: 'approved', currentStage: null }] },
    });
    const user = userEvent.setup({ delay: null });
    renderPage(<ApprovalsPage />, { api, me: BOB, path: '/approvals' });
    expect(await screen.findByText('Extension 1: 2 h more')).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Approve' })).toBeNull();
    await user.click(screen.getByRole('button', { name: 'Approve extension' }));
    expect(await screen.findByText('Extension approved')).toBeTruthy();
  });

  it('keeps "Load more" while a token comes back, even after an empty page', async () => {
    api.on('GET', '/api/requests', (req) =>
      req.query.get('continuationToken') === 't1'
        ? { body: { items: [request({ id: 'r2', task: 'reboot' })] } }
        : { body: { items: [], continuationToken: 't1' } },
    );
    const user = userEvent.setup({ delay: null });
    renderPage(<ApprovalsPage />, { api, me: BOB, path: '/approvals' });
    await user.click(await screen.findByRole('button', { name: 'Load more' }));
    expect(await screen.findByText('Task reboot for alice@contoso.com')).toBeTruthy();
  });
});

describe('Decided by me and reviews', () => {
  it('the decided tab lists what I decided', async () => {
    api.on('GET', '/api/requests', (req) =>
      req.query.get('decided') === 'true'
        ? {
            body: {
              items: [request({ id: 'r9', task: 'old-task', status: 'approved', currentStage: null })],
            },
          }
        : { body: { items: [] } },
    );
    const user = userEvent.setup({ delay: null });
    renderPage(<ApprovalsPage />, { api, me: BOB, path: '/approvals' });
    await user.click(await screen.findByRole('tab', { name: 'Decided by me' }));
    expect(await screen.findByText('Task old-task for alice@contoso.com')).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Approve' })).toBeNull();
  });

  it('a review of an emergency use is submitted with its outcome and comment', async () => {
    const used = request({
      id: 'r5',
      status: 'approved',
      emergency: true,
      currentStage: null,
      review: { status: 'open', reviewer: null, reviewerId: null, comment: null, at: null, remindedAt: null },
    });
    api.on('GET', '/api/requests', { body: { items: [] } });
    api.on('GET', '/api/reviews', { body: { items: [used] } });
    api.on('POST', '/api/requests/r5/review', { body: used });
    const user = userEvent.setup({ delay: null });
    renderPage(<ApprovalsPage />, { api, me: BOB, path: '/approvals' });
    await user.click(await screen.findByRole('tab', { name: 'Reviews (1)' }));
    await user.click(await screen.findByRole('radio', { name: 'Unjustified' }));
    await user.click(screen.getByRole('button', { name: 'Submit review' }));
    expect(await screen.findByText('Say why the emergency access was not justified.')).toBeTruthy();
    expect(api.seen.some((s) => s.method === 'POST')).toBe(false);
    await user.type(screen.getByRole('textbox', { name: /Comment/ }), 'No incident open');
    await user.click(screen.getByRole('button', { name: 'Submit review' }));
    expect(await screen.findByText('Reviewed: unjustified')).toBeTruthy();
    expect(api.seen.find((s) => s.method === 'POST')?.body).toEqual({
      outcome: 'unjustified',
      comment: 'No incident open',
    });
  });

  it('/approvals/<id> opens one request to decide on', async () => {
    api.on('GET', '/api/requests/r1', { body: request() });
    api.on('POST', '/api/requests/r1/approve', { body: request({ status: 'approved', currentStage: null }) });
    const user = userEvent.setup({ delay: null });
    renderPage(<ApprovalsPage />, { api, me: BOB, path: '/approvals/r1' });
    await user.click(await screen.findByRole('button', { name: 'Approve' }));
    await waitFor(() => expect(screen.getByText('Approved')).toBeTruthy());
  });
});
