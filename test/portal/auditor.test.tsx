/** The audit page: filters reach the query, events page, verification in words, downloads. */
import { configure, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../portal/src/api/types';
import AuditPage, { exportFileName } from '../../portal/src/pages/auditor/AuditPage';
import { ALICE, renderPage, startApi, type FakeApi } from './support';

// Several test files share two cores: wait for what a person would see longer than the default second.
configure({ asyncUtilTimeout: 5_000 });

const AUDITOR = { ...ALICE, roles: ['PAM.Auditor' as const] };

function event(sequence: number, over: Partial<AuditRecord> = {}): AuditRecord {
  return {
    v: 1,
    id: `e${sequence}`,
    chain: 0,
    sequence,
    at: '2026-12-03T10:00:00.000Z',
    action: 'request.approved',
    outcome: 'success',
    actorKind: 'user',
    actorId: 'tid:bob',
    actorUpn: 'bob@contoso.com',
    actorRoles: 'none',
    requestId: 'r1',
    task: 'restart-vm',
    prevHash: '0'.repeat(64),
    hash: '1'.repeat(64),
    ...over,
  };
}

let api: FakeApi;
const saved: Blob[] = [];
const realCreate = URL.createObjectURL.bind(URL);
beforeAll(async () => {
  api = await startApi();
  // jsdom has no object URLs; the page hands the Blob to one, so keep what it was given.
  URL.createObjectURL = (blob: Blob) => {
    saved.push(blob);
    return 'blob:test';
  };
  URL.revokeObjectURL = () => undefined;
});
afterAll(async () => {
  URL.createObjectURL = realCreate;
  await api.close();
});
beforeEach(() => {
  api.seen.length = 0;
  saved.length = 0;
  api.on('GET', '/api/audit', { body: { items: [event(1)] } });
});

async function fillFilters(user: ReturnType<typeof userEvent.setup>) {
  const from = screen.getByLabelText('From');
  const to = screen.getByLabelText('To');
  await user.click(from);
  await user.paste('2026-12-01T08:00');
  await user.click(to);
  await user.paste('2026-12-03T18:30');
  await user.click(screen.getByLabelText('Actor', { exact: false }));
  await user.paste('bob@contoso.com');
  await user.click(screen.getByLabelText('Request'));
  await user.paste('r1');
  await user.click(screen.getByLabelText('Task'));
  await user.paste('restart-vm');
  await user.selectOptions(screen.getByLabelText('Action'), 'request.approved');
  await user.selectOptions(screen.getByLabelText('Page size'), '100');
  return {
    from: new Date('2026-12-01T08:00').toISOString(),
    to: new Date('2026-12-03T18:30').toISOString(),
  };
}

describe('Audit', () => {
  it('shows the events and sends every filter in the query', async () => {
    const user = userEvent.setup({ delay: null });
    renderPage(<AuditPage />, { api, me: AUDITOR, path: '/audit' });
    const table = await screen.findByRole('region', { name: 'Audit events' });
    const cells = within(table)
      .getAllByRole('cell')
      .map((c) => c.textContent);
    expect(cells).toEqual(
      expect.arrayContaining(['request.approved', 'bob@contoso.com', 'r1', 'restart-vm']),
    );
    const range = await fillFilters(user);
    await user.click(screen.getByRole('button', { name: 'Show events' }));
    await screen.findByRole('region', { name: 'Audit events' });
    const last = api.seen.filter((s) => s.path === '/api/audit').at(-1);
    expect(Object.fromEntries(last?.query ?? [])).toEqual({
      ...range,
      actor: 'bob@contoso.com',
      requestId: 'r1',
      task: 'restart-vm',
      action: 'request.approved',
      pageSize: '100',
    });
  });

  it('pages with "Load more" using the continuation token', async () => {
    api.on('GET', '/api/audit', (req) =>
      req.query.get('continuationToken') === 'next'
        ? { body: { items: [event(2, { action: 'grant.started' })] } }
        : { body: { items: [event(1)], continuationToken: 'next' } },
    );
    const user = userEvent.setup({ delay: null });
    renderPage(<AuditPage />, { api, me: AUDITOR, path: '/audit' });
    await user.click(await screen.findByRole('button', { name: 'Load more' }));
    expect(await screen.findByText('grant.started')).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Load more' })).toBeNull();
  });

  it('says plainly whether the chain is intact', async () => {
    api.on('GET', '/api/audit/verify', { body: { ok: true, checked: 12, chains: 2, anchors: 1 } });
    const user = userEvent.setup({ delay: null });
    renderPage(<AuditPage />, { api, me: AUDITOR, path: '/audit' });
    await user.click(await screen.findByRole('button', { name: 'Verify' }));
    expect(await screen.findByText('The audit log is intact')).toBeTruthy();
    expect(screen.getByText(/12 events checked in 2 chains, 1 anchor\./)).toBeTruthy();
  });

  it('says where the chain is broken', async () => {
    api.on('GET', '/api/audit/verify', {
      body: {
        ok: false,
        checked: 5,
        chains: 1,
        anchors: 0,
        firstBroken: { chain: 0, sequence: 4, reason: 'hash-mismatch', detail: 'row 4 was changed' },
      },
    });
    const user = userEvent.setup({ delay: null });
    renderPage(<AuditPage />, { api, me: AUDITOR, path: '/audit' });
    await user.click(await screen.findByRole('button', { name: 'Verify' }));
    expect(await screen.findByText('The audit log is broken')).toBeTruthy();
    expect(
      screen.getByText(/First break at chain 0, event 4: hash-mismatch — row 4 was changed/),
    ).toBeTruthy();
  });

  it('downloads the export with the filters, named after the range', async () => {
    api.on('GET', '/api/audit/export', { body: 'a,b\n', headers: { 'content-type': 'text/csv' } });
    const user = userEvent.setup({ delay: null });
    renderPage(<AuditPage />, { api, me: AUDITOR, path: '/audit' });
    const range = await fillFilters(user);
    await user.click(screen.getByRole('button', { name: 'Show events' }));
    await user.click(screen.getByRole('button', { name: 'Download CSV' }));
    const name = exportFileName(range.from, range.to, 'csv');
    expect(await screen.findByText(`Downloaded ${name}.`)).toBeTruthy();
    expect(name).toMatch(/^zsa-audit-2026-12-0\dT\d{4}Z-2026-12-0\dT\d{4}Z\.csv$/);
    const call = api.seen.find((s) => s.path === '/api/audit/export');
    expect(Object.fromEntries(call?.query ?? [])).toEqual({
      ...range,
      action: 'request.approved',
      format: 'csv',
    });
    expect(saved).toHaveLength(1);
    expect(await saved[0]?.text()).toBe(JSON.stringify('a,b\n'));
  });

  it('a refused read is shown with its detail', async () => {
    api.on('GET', '/api/audit', {
      status: 403,
      body: {
        type: 'urn:zsa:problem:insufficient-role',
        title: 'Forbidden',
        status: 403,
        detail: 'Auditors only.',
      },
    });
    renderPage(<AuditPage />, { api, me: AUDITOR, path: '/audit' });
    expect(await screen.findByText('Auditors only.')).toBeTruthy();
  });
});
