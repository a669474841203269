/** Request access: the policy shown before submit, parameters from the schema, field errors, submit. */
import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { PolicyPreview } from '../../portal/src/api/types';
import RequestAccessPage from '../../portal/src/pages/requester/RequestAccessPage';
import { renderPage, startApi, type FakeApi } from './support';

function preview(over: Partial<PolicyPreview> = {}): PolicyPreview {
  return {
    target: { kind: 'task', name: 'restart-vm' },
    description: 'Restart a VM',
    approval: 'manual',
    exempt: false,
    stages: [{ approverGroup: 'ops', requiredApprovals: 2 }],
    maxDurationHours: 8,
    defaultDurationHours: 4,
    maxPendingHours: 24,
    maxUses: 3,
    maxStartDelayHours: 0,
    maxExtensions: 0,
    breakGlass: null,
    approverAuthContext: 'c1',
    parameters: [
      { name: 'vm', type: 'string', required: true, pattern: '^web-[0-9]+$' },
      { name: 'count', type: 'number', required: false },
      { name: 'force', type: 'boolean', required: false },
    ],
    ...over,
  };
}

let api: FakeApi;
beforeAll(async () => {
  api = await startApi();
});
afterAll(() => api.close());
beforeEach(() => {
  api.seen.length = 0;
  api.on('GET', '/api/catalog/tasks', {
    body: { items: [{ name: 'restart-vm', description: 'Restart a VM' }] },
  });
  api.on('GET', '/api/catalog/roles', { body: { items: [{ name: 'operator', tasks: ['restart-vm'] }] } });
});

async function choose(user: ReturnType<typeof userEvent.setup>, label = 'Task', value = 'restart-vm') {
  const picker = await screen.findByRole('combobox', { name: label });
  await waitFor(() => expect(screen.getByRole('option', { name: value })).toBeTruthy());
  await user.selectOptions(picker, value);
}

describe('Request access', () => {
  it('shows a manual policy in words before submitting, and sends typed parameters', async () => {
    api.on('GET', '/api/policy-preview', { body: preview() });
    api.on('POST', '/api/requests', { status: 201, body: { id: 'r9' } });
    const user = userEvent.setup();
    renderPage(<RequestAccessPage />, { api, path: '/request' });
    await choose(user);
    const policy = await screen.findByRole('region', { name: 'Policy that applies' });
    for (const want of [
      'Approval: manual',
      'Stage 1 of 1: 2 approvals from ops',
      'Longest duration: 8 hours',
      'ends after 3 executions',
      'step-up (c1)',
    ])
      expect(policy.textContent).toContain(want);
    expect(api.seen.find((s) => s.path === '/api/policy-preview')?.query.get('task')).toBe('restart-vm');
    expect(screen.getByLabelText<HTMLInputElement>(/Duration \(hours\)/).value).toBe('4');

    await user.type(screen.getByLabelText(/^vm/), 'web-01');
    await user.type(screen.getByLabelText(/^count/), '2');
    await user.click(screen.getByLabelText('force'));
    await user.type(screen.getByLabelText(/^Reason/), 'Patch night');
    await user.type(screen.getByLabelText('Ticket'), 'CHG-1');
    await user.click(screen.getByRole('button', { name: 'Submit request' }));
    await waitFor(() => expect(api.seen.some((s) => s.method === 'POST')).toBe(true));
    expect(api.seen.find((s) => s.method === 'POST')?.body).toEqual({
      task: 'restart-vm',
      reason: 'Patch night',
      ticket: 'CHG-1',
      durationHours: 4,
      parameters: { vm: 'web-01', count: 2, force: true },
    });
  });

  it('says an automatic policy and offers emergency access only when allowed', async () => {
    api.on('GET', '/api/policy-preview', {
      body: preview({
        approval: 'automatic',
        stages: [],
        maxPendingHours: null,
        maxUses: null,
        approverAuthContext: null,
        parameters: [],
        breakGlass: { maxDurationHours: 2 },
        defaultDurationHours: 4,
        maxDurationHours: 2,
      }),
    });
    const user = userEvent.setup();
    renderPage(<RequestAccessPage />, { api, path: '/request' });
    await choose(user);
    const policy = await screen.findByRole('region', { name: 'Policy that applies' });
    expect(policy.textContent).toContain('Approval: automatic');
    expect(policy.textContent).toContain('Emergency access allowed, up to 2 hours');
    expect(screen.getByLabelText('Emergency access')).toBeTruthy();
    // The default duration stays within the policy's maximum.
    expect(screen.getByLabelText<HTMLInputElement>(/Duration \(hours\)/).value).toBe('2');
  });

  it('says a request would be refused and disables submit', async () => {
    api.on('GET', '/api/policy-preview', {
      status: 409,
      body: {
        type: 'about:blank',
        title: 'Conflict',
        status: 409,
        code: 'PAM_DISABLED',
        detail: 'Privileged access is disabled',
      },
    });
    const user = userEvent.setup();
    renderPage(<RequestAccessPage />, { api, path: '/request' });
    await choose(user);
    expect(await screen.findByText('A request would be refused: Privileged access is disabled')).toBeTruthy();
    expect(screen.getByRole<HTMLButtonElement>('button', { name: 'Submit request' }).disabled).toBe(true);
  });

  it('previews a role and shows API field errors next to their fields', async () => {
    api.on('GET', '/api/policy-preview', {
      body: preview({ target: { kind: 'role', name: 'operator' }, parameters: undefined }),
    });
    api.on('POST', '/api/requests', {
      status: 400,
      body: {
        type: 'about:blank',
        title: 'Bad Request',
        status: 400,
        detail: 'The request is invalid',
        errors: [
          { pointer: '#/durationHours', detail: 'must be at most 8' },
          { pointer: '#/reason', detail: 'must not be empty' },
        ],
      },
    });
    const user = userEvent.setup();
    renderPage(<RequestAccessPage />, { api, path: '/request' });
    await user.click(await screen.findByRole('radio', { name: 'Role' }));
    await choose(user, 'Role', 'operator');
    await screen.findByRole('region', { name: 'Policy that applies' });
    expect(api.seen.find((s) => s.path === '/api/policy-preview')?.query.get('role')).toBe('operator');
    await user.click(screen.getByRole('button', { name: 'Submit request' }));
    expect(await screen.findByText('must be at most 8')).toBeTruthy();
    expect(screen.getByText('must not be empty')).toBeTruthy();
    expect(api.seen.find((s) => s.method === 'POST')?.body).toMatchObject({ role: 'operator' });
  });
});
