/** My requests and My access: the timeline, cancel, countdown, execute and its result, end access. */
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RequestView } from '../../portal/src/api/types';
import MyAccessPage from '../../portal/src/pages/requester/MyAccessPage';
import MyRequestsPage from '../../portal/src/pages/requester/MyRequestsPage';
import { aRequest, renderPage, startApi, type FakeApi } from './support';

function request(over: Partial<RequestView> = {}): RequestView {
  return aRequest({ requiredApprovals: 2, ...over });
}

const approval = (approver: string, stage: number, at: string) => ({
  approver,
  decision: 'approve' as const,
  comment: 'ok',
  at,
  stage,
});

let api: FakeApi;
beforeAll(async () => {
  api = await startApi();
});
afterAll(() => api.close());
beforeEach(() => {
  api.seen.length = 0;
});

/**
 * Answers the confirmation dialog. jsdom runs no animations, so Fluent's dialog can stay marked
 * aria-hidden while it opens; a person sees it, so the query includes hidden elements.
 */
async function confirm(user: ReturnType<typeof userEvent.setup>, name: string) {
  const dialog = await screen.findByRole('dialog', { hidden: true });
  await user.click(await within(dialog).findByRole('button', { name, hidden: true }));
}

describe('My requests', () => {
  it('lists my requests and filters by status', async () => {
    api.on('GET', '/api/requests', { body: { items: [request()] } });
    const user = userEvent.setup();
    renderPage(<MyRequestsPage />, { api, path: '/requests' });
    expect(await screen.findByRole('link', { name: 'Task restart-vm' })).toBeTruthy();
    await user.selectOptions(screen.getByRole('combobox', { name: 'Status' }), 'approved');
    await waitFor(() => expect(api.seen.some((s) => s.query.get('status') === 'approved')).toBe(true));
    expect(api.seen.every((s) => s.query.get('mine') === 'true')).toBe(true);
  });

  it('shows every step of a request in its timeline', async () => {
    const grantedAt = '2026-12-03T11:00:00.000Z';
    api.on('GET', '/api/requests/r1', {
      body: request({
        status: 'revoked',
        stages: [
          {
            approverGroup: 'ops',
            requiredApprovals: 1,
            status: 'approved',
            approvals: [approval('bob@contoso.com', 0, '2026-12-03T10:30:00.000Z')],
          },
          {
            approverGroup: 'sec',
            requiredApprovals: 1,
            status: 'approved',
            approvals: [approval('carol@contoso.com', 1, grantedAt)],
          },
        ],
        decidedAt: grantedAt,
        grantedAt,
        expiresAt: '2026-12-03T13:00:00.000Z',
        endedAt: '2026-12-03T12:00:00.000Z',
        endedBy: 'alice@contoso.com',
        endReason: 'done',
        executions: [
          {
            executionId: 'e1',
            task: 'restart-vm',
            status: 'succeeded',
            executedAt: '2026-12-03T11:30:00.000Z',
          },
        ],
      }),
    });
    renderPage(<MyRequestsPage />, { api, path: '/requests/r1' });
    const steps = within(await screen.findByRole('region', { name: 'Timeline' })).getAllByRole('listitem');
    const text = steps.map((s) => s.textContent);
    const expected = [
      'Submitted by alice@contoso.com',
      'Waiting for 1 approval from stage 1 of 2 (ops)',
      'Approved by bob@contoso.com in stage 1 of 2 (ops)',
      'Waiting for 1 approval from stage 2 of 2 (sec)',
      'Approved by carol@contoso.com in stage 2 of 2 (sec)',
      'Approved',
      'Access started',
      'Executed restart-vm: succeeded',
      'Access revoked by alice@contoso.com: done',
    ];
    expect(text).toHaveLength(expected.length);
    expected.forEach((want, i) => expect(text[i]).toContain(want));
  });

  it('cancels a pending request after asking', async () => {
    api.on('GET', '/api/requests/r1', { body: request() });
    api.on('POST', '/api/requests/r1/cancel', {
      body: request({
        status: 'canceled',
        endedAt: '2026-12-03T10:05:00.000Z',
        endedBy: 'alice@contoso.com',
      }),
    });
    const user = userEvent.setup();
    renderPage(<MyRequestsPage />, { api, path: '/requests/r1' });
    await user.click(await screen.findByRole('button', { name: 'Cancel request' }));
    expect(api.seen.some((s) => s.method === 'POST')).toBe(false);
    await confirm(user, 'Yes, cancel it');
    expect(await screen.findByText('Your request is canceled.')).toBeTruthy();
    expect(api.seen.filter((s) => s.method === 'POST').map((s) => s.path)).toEqual([
      '/api/requests/r1/cancel',
    ]);
  });
});

describe('My access', () => {
  const live = () =>
    request({
      id: 'g1',
      role: 'operator',
      task: undefined,
      tasks: ['restart-vm', 'flush-dns'],
      status: 'approved',
      decidedAt: new Date(Date.now() - 60_000).toISOString(),
      grantedAt: new Date(Date.now() - 60_000).toISOString(),
      expiresAt: new Date(Date.now() + 2 * 3600_000 + 30_000).toISOString(),
      maxUses: 3,
      uses: 1,
    });

  it('shows a live grant with its countdown and uses, executes with typed parameters and shows the result', async () => {
    api.on('GET', '/api/requests', { body: { items: [live()] } });
    api.on('GET', '/api/catalog/tasks', (req) => ({
      body: {
        name: req.query.get('name'),
        description: 'x',
        parameters:
          req.query.get('name') === 'flush-dns' ? [{ name: 'zone', type: 'string', required: true }] : [],
      },
    }));
    api.on('POST', '/api/execute', {
      body: {
        executionId: 'e1',
        requestId: 'g1',
        task: 'flush-dns',
        status: 'succeeded',
        result: { flushed: 12 },
        executedAt: '2026-12-03T11:00:00.000Z',
      },
    });
    const user = userEvent.setup();
    renderPage(<MyAccessPage />, { api, path: '/access' });
    const card = await screen.findByRole('group', { name: 'Role operator' });
    expect(card.textContent).toMatch(/2 h 0\d m left/);
    expect(card.textContent).toContain('2 of 3 uses left');
    expect(api.seen[0]?.query.get('status')).toBe('approved');
    await user.selectOptions(within(card).getByRole('combobox', { name: 'Task' }), 'flush-dns');
    await user.type(await within(card).findByLabelText(/^zone/), 'contoso.com');
    await user.click(within(card).getByRole('button', { name: 'Execute' }));
    expect((await within(card).findByLabelText('Result')).textContent).toContain('"flushed": 12');
    expect(api.seen.find((s) => s.path === '/api/execute')?.body).toEqual({
      task: 'flush-dns',
      requestId: 'g1',
      parameters: { zone: 'contoso.com' },
    });
  });

  it('shows an execution refused in words, and ends access after asking', async () => {
    api.on('GET', '/api/requests', { body: { items: [live()] } });
    api.on('GET', '/api/catalog/tasks', { body: { name: 'restart-vm', description: 'x' } });
    api.on('POST', '/api/execute', {
      status: 403,
      body: {
        type: 'about:blank',
        title: 'Forbidden',
        status: 403,
        code: 'NO_ACTIVE_GRANT',
        detail: 'No live grant covers restart-vm',
      },
    });
    api.on('POST', '/api/requests/g1/revoke', { body: { ...live(), status: 'revoked' } });
    const user = userEvent.setup();
    renderPage(<MyAccessPage />, { api, path: '/access' });
    const card = await screen.findByRole('group', { name: 'Role operator' });
    // Execute is disabled until the chosen task's parameters have loaded; a click before that does
    // nothing (as for a person), so wait for it.
    const execute = within(card).getByRole('button', { name: 'Execute' });
    await waitFor(() => expect((execute as HTMLButtonElement).disabled).toBe(false));
    await user.click(execute);
    expect(await within(card).findByText(/No live grant covers restart-vm/)).toBeTruthy();
    await user.click(within(card).getByRole('button', { name: 'End access' }));
    await confirm(user, 'Yes, end it');
    await waitFor(() =>
      expect(api.seen.some((s) => s.method === 'POST' && s.path === '/api/requests/g1/revoke')).toBe(true),
    );
  });

  it('does not show a grant that has not started or has expired', async () => {
    api.on('GET', '/api/requests', {
      body: {
        items: [
          request({
            id: 'old',
            status: 'approved',
            grantedAt: '2026-01-01T00:00:00.000Z',
            expiresAt: '2026-01-01T01:00:00.000Z',
          }),
        ],
      },
    });
    renderPage(<MyAccessPage />, { api, path: '/access' });
    expect(await screen.findByText(/You have no access now/)).toBeTruthy();
  });
});
