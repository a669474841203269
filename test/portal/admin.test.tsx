/**
 * The admin page: each form sends the body the API takes, shows the API's field errors on the fields
 * they name (nested ones too) and keeps what was typed, lists render, and deletes ask first.
 */
import { configure, getConfig, screen, waitFor, within } from '@testing-library/react';
import userEvent, { PointerEventsCheckLevel } from '@testing-library/user-event';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ApproverGroupView, PamView, Policy, Task } from '../../portal/src/api/types';
import AdminPage from '../../portal/src/pages/admin/AdminPage';
import { ALICE, renderPage, startApi, type FakeApi } from './support';

const ADMIN = { ...ALICE, roles: ['PAM.Admin' as const] };

const PAM_OFF: PamView = {
  enabled: false,
  defaultApproverGroup: null,
  systemAccounts: [],
  systemAccountIdentities: [],
  updatedAt: null,
  updatedBy: null,
};

const OPS: ApproverGroupView = {
  name: 'ops',
  description: 'Operations',
  members: ['bob@contoso.com'],
  identities: [{ upn: 'bob@contoso.com', id: null }],
};

const RESTART: Task = {
  name: 'restart-vm',
  description: 'Restart a VM',
  executor: { type: 'webhook', url: 'https://hooks.contoso.com/restart' },
  parameters: [{ name: 'vm', type: 'string', required: true, pattern: '[a-z0-9-]+' }],
};

const POLICY: Policy = {
  id: 'p1',
  scope: 'task',
  target: 'restart-vm',
  approvalType: 'manual',
  approverGroup: 'ops',
  requiredApprovals: 1,
  pendingTimeoutHours: 24,
  maxStartDelayHours: 168,
  maxExtensions: 0,
  breakGlassMaxHours: 1,
  maxDurationHours: 8,
};

/** A 400 as the API answers it: the detail, and one field error per body path. */
function invalid(errors: Record<string, string>) {
  return {
    status: 400,
    body: {
      type: 'urn:zsa:problem:invalid-input',
      title: 'Bad Request',
      status: 400,
      detail: 'The request body is not valid.',
      code: 'INVALID_INPUT',
      errors: Object.entries(errors).map(([pointer, detail]) => ({ pointer, detail })),
    },
  };
}

/**
 * A person at the keyboard and mouse, minus the waits: no delay between keys, and no computed-style
 * walk before each click (jsdom computes styles slowly, and these forms have many fields).
 */
function setup() {
  return userEvent.setup({ delay: null, pointerEventsCheck: PointerEventsCheckLevel.Never });
}

/**
 * The confirmation dialog. jsdom runs no animations, so Fluent's dialog can stay marked aria-hidden as
 * if still fading in: it is found including hidden elements here (a real browser shows it plainly).
 */
const dialog = () => screen.findByRole('dialog', { hidden: true });

/** Answers "Delete" / "Disable" in the confirmation dialog. */
async function confirm(user: ReturnType<typeof userEvent.setup>, name: string) {
  await user.click(await within(await dialog()).findByRole('button', { name, hidden: true }));
}

/** Types into a field as a paste (one input event), which keeps the file fast; the page sees the same value. */
async function fill(user: ReturnType<typeof userEvent.setup>, field: HTMLElement, text: string) {
  field.focus();
  await user.paste(text);
}

/** The form under a heading, as a person finds it. */
async function formUnder(heading: string) {
  const form = (await screen.findByRole('heading', { name: heading })).closest('form');
  if (!form) throw new Error(`no form under ${heading}`);
  return form;
}

const sent = (method: string, path: string) => api.seen.filter((s) => s.method === method && s.path === path);

let api: FakeApi;
// These pages render many Fluent fields; on a busy machine the first render can pass the default 1 s.
const timeout = getConfig().asyncUtilTimeout;
beforeAll(async () => {
  configure({ asyncUtilTimeout: 5_000 });
  api = await startApi();
});
afterAll(async () => {
  configure({ asyncUtilTimeout: timeout });
  await api.close();
});
beforeEach(() => {
  api.seen.length = 0;
  api.on('GET', '/api/pam', { body: PAM_OFF });
  api.on('GET', '/api/approver-groups', { body: { items: [OPS] } });
  api.on('GET', '/api/catalog/tasks', { body: { items: [RESTART] } });
  api.on('GET', '/api/catalog/roles', { body: { items: [{ name: 'vm-operator', tasks: ['restart-vm'] }] } });
  api.on('GET', '/api/policies', { body: { items: [POLICY] } });
});

describe('Privileged access', () => {
  it('enables with the default group and the system accounts, one per line', async () => {
    // As the API does: once enabled, the configuration read back says so (and when, and by whom).
    let pam: PamView = PAM_OFF;
    api.on('GET', '/api/pam', () => ({ body: pam }));
    api.on('POST', '/api/pam/enable', (req) => {
      pam = {
        ...PAM_OFF,
        ...(req.body as object),
        enabled: true,
        updatedAt: '2026-12-03T10:00:00.000Z',
        updatedBy: 'alice@contoso.com',
      };
      return { body: pam };
    });
    renderPage(<AdminPage />, { api, me: ADMIN, path: '/manage' });
    const user = setup();
    expect(await screen.findByText('Disabled')).toBeTruthy();
    await fill(user, screen.getByLabelText(/Default approver group/), 'ops');
    await fill(
      user,
      screen.getByLabelText(/System accounts/),
      'Svc-Deploy@contoso.com\n\nsvc-backup@contoso.com',
    );
    await user.click(screen.getByRole('button', { name: 'Enable privileged access' }));
    await screen.findByText('Privileged access is enabled.');
    expect(await screen.findByText('Enabled')).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Save and keep enabled' })).toBeTruthy();
    expect(sent('POST', '/api/pam/enable')[0]?.body).toEqual({
      defaultApproverGroup: 'ops',
      systemAccounts: ['Svc-Deploy@contoso.com', 'svc-backup@contoso.com'],
    });
  });

  it('shows a refused system account on its field and keeps what was typed', async () => {
    api.on('POST', '/api/pam/enable', invalid({ '#/systemAccounts/1': 'must be a UPN' }));
    renderPage(<AdminPage />, { api, me: ADMIN, path: '/manage/access' });
    const user = setup();
    await fill(user, await screen.findByLabelText(/Default approver group/), 'ops');
    await fill(user, screen.getByLabelText(/System accounts/), 'a@contoso.com\nnot a upn');
    await user.click(screen.getByRole('button', { name: 'Enable privileged access' }));
    expect(await screen.findByText('must be a UPN')).toBeTruthy();
    expect(screen.getByText(/The request body is not valid\./)).toBeTruthy();
    expect(screen.getByLabelText(/System accounts/)).toHaveProperty('value', 'a@contoso.com\nnot a upn');
    expect(screen.getByLabelText(/Default approver group/)).toHaveProperty('value', 'ops');
  });

  it('disables only after a confirmation', async () => {
    api.on('GET', '/api/pam', { body: { ...PAM_OFF, enabled: true, defaultApproverGroup: 'ops' } });
    api.on('POST', '/api/pam/disable', { body: PAM_OFF });
    renderPage(<AdminPage />, { api, me: ADMIN, path: '/manage' });
    const user = setup();
    await user.click(await screen.findByRole('button', { name: 'Disable privileged access' }));
    await dialog();
    expect(sent('POST', '/api/pam/disable')).toHaveLength(0);
    await confirm(user, 'Disable');
    await waitFor(() => expect(sent('POST', '/api/pam/disable')).toHaveLength(1));
  });
});

describe('Approver groups', () => {
  it('lists groups, marks unresolved members, and creates one with its members', async () => {
    api.on('PUT', '/api/approver-groups/sec', { status: 201, body: { ...OPS, name: 'sec' } });
    renderPage(<AdminPage />, { api, me: ADMIN, path: '/manage/groups' });
    const user = setup();
    const table = await screen.findByRole('table', { name: 'Approver groups' });
    expect(table.textContent).toContain('bob@contoso.com (not yet resolved)');
    await fill(user, screen.getByLabelText(/^Name/), 'sec');
    await fill(user, screen.getByLabelText(/^Description/), 'Security');
    await fill(user, screen.getByLabelText(/^Members/), 'carol@contoso.com\ndave@contoso.com');
    await user.click(screen.getByRole('button', { name: 'Save group' }));
    await screen.findByText('Saved approver group sec.');
    expect(sent('PUT', '/api/approver-groups/sec')[0]?.body).toEqual({
      members: ['carol@contoso.com', 'dave@contoso.com'],
      description: 'Security',
    });
  });

  it('deletes only after a confirmation, and shows a refusal in words', async () => {
    api.on('DELETE', '/api/approver-groups/ops', {
      status: 409,
      body: {
        type: 'urn:zsa:problem:conflict',
        title: 'Conflict',
        status: 409,
        detail: 'Policy p1 names ops.',
      },
    });
    renderPage(<AdminPage />, { api, me: ADMIN, path: '/manage/groups' });
    const user = setup();
    await user.click(await screen.findByRole('button', { name: 'Delete approver group ops' }));
    await dialog();
    expect(sent('DELETE', '/api/approver-groups/ops')).toHaveLength(0);
    await confirm(user, 'Delete');
    expect((await screen.findByRole('alert')).textContent).toContain('Policy p1 names ops.');
  });
});

describe('Catalog', () => {
  it('creates a task with typed parameter rows and a Service Bus executor', async () => {
    api.on('PUT', '/api/catalog/tasks', (req) => ({ status: 201, body: req.body }));
    renderPage(<AdminPage />, { api, me: ADMIN, path: '/manage/catalog' });
    const user = setup();
    expect((await screen.findByRole('table', { name: 'Tasks' })).textContent).toContain(
      'Webhook https://hooks.contoso.com/restart',
    );
    const form = await formUnder('New task');
    const f = within(form);
    await fill(user, f.getByLabelText(/^Name/), 'rotate\\key');
    await fill(user, f.getByLabelText(/^Description/), 'Rotate a key');
    await user.selectOptions(f.getByLabelText(/^Executor/), 'serviceBus');
    await fill(user, f.getByLabelText(/^Queue/), 'rotations');
    await user.click(f.getByRole('button', { name: 'Add parameter' }));
    await user.click(f.getByRole('button', { name: 'Add parameter' }));
    const p1 = within(f.getByRole('group', { name: 'Parameter 1' }));
    await fill(user, p1.getByLabelText(/^Name/), 'vault');
    await user.click(p1.getByRole('checkbox', { name: 'Required' }));
    await fill(user, p1.getByLabelText(/^Pattern/), '[a-z]+');
    await fill(user, p1.getByLabelText(/^Longest value/), '24');
    const p2 = within(f.getByRole('group', { name: 'Parameter 2' }));
    await fill(user, p2.getByLabelText(/^Name/), 'days');
    await user.selectOptions(p2.getByLabelText(/^Type/), 'number');
    await user.click(f.getByRole('button', { name: 'Save task' }));
    await screen.findByText('Saved task rotate\\key.');
    expect(sent('PUT', '/api/catalog/tasks')[0]?.body).toEqual({
      name: 'rotate\\key',
      description: 'Rotate a key',
      executor: { type: 'serviceBus', queue: 'rotations' },
      parameters: [
        { name: 'vault', type: 'string', required: true, pattern: '[a-z]+', maxLength: 24 },
        { name: 'days', type: 'number', required: false },
      ],
    });
  });

  it("shows a parameter's error on that row, the executor's on its field, and keeps the rows", async () => {
    api.on(
      'PUT',
      '/api/catalog/tasks',
      invalid({ '#/parameters/1/name': 'must start with a letter', '#/executor/url': 'must use https' }),
    );
    renderPage(<AdminPage />, { api, me: ADMIN, path: '/manage/catalog' });
    const user = setup();
    await user.click(await screen.findByRole('button', { name: 'Edit restart-vm' }));
    const form = await formUnder('Edit task restart-vm');
    const f = within(form);
    await user.click(f.getByRole('button', { name: 'Add parameter' }));
    await fill(user, within(f.getByRole('group', { name: 'Parameter 2' })).getByLabelText(/^Name/), '9lives');
    await user.click(f.getByRole('button', { name: 'Save task' }));
    const row2 = within(await f.findByRole('group', { name: 'Parameter 2' }));
    expect(await row2.findByText('must start with a letter')).toBeTruthy();
    expect(
      within(f.getByRole('group', { name: 'Parameter 1' })).queryByText('must start with a letter'),
    ).toBeNull();
    expect(f.getByText('must use https')).toBeTruthy();
    expect(row2.getByLabelText(/^Name/)).toHaveProperty('value', '9lives');
    expect(f.getByLabelText(/^Webhook URL/)).toHaveProperty('value', 'https://hooks.contoso.com/restart');
  });

  it('lists roles with their tasks and deletes one by ?name= after a confirmation', async () => {
    api.on('DELETE', '/api/catalog/roles', { status: 204 });
    renderPage(<AdminPage />, { api, me: ADMIN, path: '/manage/catalog' });
    const user = setup();
    await user.click(await screen.findByRole('tab', { name: 'Roles' }));
    expect((await screen.findByRole('table', { name: 'Roles' })).textContent).toContain('restart-vm');
    await user.click(screen.getByRole('button', { name: 'Delete role vm-operator' }));
    expect(sent('DELETE', '/api/catalog/roles')).toHaveLength(0);
    await confirm(user, 'Delete');
    await waitFor(() =>
      expect(sent('DELETE', '/api/catalog/roles')[0]?.query.get('name')).toBe('vm-operator'),
    );
  });
});

describe('Policies', () => {
  it('creates a staged policy with its limits, break glass and approver context', async () => {
    api.on('POST', '/api/policies', (req) => ({ status: 201, body: { id: 'p2', ...(req.body as object) } }));
    renderPage(<AdminPage />, { api, me: ADMIN, path: '/manage/policies' });
    const user = setup();
    expect((await screen.findByRole('table', { name: 'Policies' })).textContent).toContain('Task restart-vm');
    const form = await formUnder('New policy');
    const f = within(form);
    await user.selectOptions(f.getByLabelText(/^Applies to/), 'role');
    await fill(user, f.getByLabelText(/^Target/), 'vm-operator');
    await user.click(f.getByRole('radio', { name: 'Stages, in turn' }));
    await fill(
      user,
      within(f.getByRole('group', { name: 'Stage 1' })).getByLabelText(/^Approver group/),
      'ops',
    );
    await user.click(f.getByRole('button', { name: 'Add stage' }));
    const s2 = within(f.getByRole('group', { name: 'Stage 2' }));
    await fill(user, s2.getByLabelText(/^Approver group/), 'sec');
    await user.clear(s2.getByLabelText(/^Required approvals/));
    await fill(user, s2.getByLabelText(/^Required approvals/), '2');
    await fill(user, f.getByLabelText(/^Longest grant/), '4');
    await fill(user, f.getByLabelText(/^Uses per grant/), '3');
    await fill(user, f.getByLabelText(/^Emergency access group/), 'oncall');
    await fill(user, f.getByLabelText(/^Longest emergency grant/), '0.5');
    await fill(user, f.getByLabelText(/^Approvers' authentication context/), 'c1');
    await user.click(f.getByRole('button', { name: 'Create policy' }));
    await screen.findByText('Saved the policy for vm-operator.');
    expect(sent('POST', '/api/policies')[0]?.body).toEqual({
      scope: 'role',
      target: 'vm-operator',
      approvalType: 'manual',
      stages: [
        { approverGroup: 'ops', requiredApprovals: 1 },
        { approverGroup: 'sec', requiredApprovals: 2 },
      ],
      maxDurationHours: 4,
      maxUses: 3,
      breakGlassGroup: 'oncall',
      breakGlassMaxHours: 0.5,
      approverAuthContext: 'c1',
    });
  });

  it("shows a stage's error on that stage and a limit's on its field, keeping the form", async () => {
    api.on(
      'POST',
      '/api/policies',
      invalid({ '#/stages/1/approverGroup': 'no such group', '#/maxUses': 'too many' }),
    );
    renderPage(<AdminPage />, { api, me: ADMIN, path: '/manage/policies' });
    const user = setup();
    const form = await formUnder('New policy');
    const f = within(form);
    await fill(user, f.getByLabelText(/^Target/), 'restart-vm');
    await user.click(f.getByRole('radio', { name: 'Stages, in turn' }));
    await fill(
      user,
      within(f.getByRole('group', { name: 'Stage 1' })).getByLabelText(/^Approver group/),
      'ops',
    );
    await user.click(f.getByRole('button', { name: 'Add stage' }));
    await fill(
      user,
      within(f.getByRole('group', { name: 'Stage 2' })).getByLabelText(/^Approver group/),
      'ghosts',
    );
    await fill(user, f.getByLabelText(/^Uses per grant/), '5000');
    await user.click(f.getByRole('button', { name: 'Create policy' }));
    const s2 = within(f.getByRole('group', { name: 'Stage 2' }));
    expect(await s2.findByText('no such group')).toBeTruthy();
    expect(within(f.getByRole('group', { name: 'Stage 1' })).queryByText('no such group')).toBeNull();
    expect(f.getByText('too many')).toBeTruthy();
    expect(s2.getByLabelText(/^Approver group/)).toHaveProperty('value', 'ghosts');
  });

  it('edits with PUT to the policy and deletes it after a confirmation', async () => {
    api.on('PUT', '/api/policies/p1', (req) => ({ body: { id: 'p1', ...(req.body as object) } }));
    api.on('DELETE', '/api/policies/p1', { status: 204 });
    renderPage(<AdminPage />, { api, me: ADMIN, path: '/manage/policies' });
    const user = setup();
    await user.click(await screen.findByRole('button', { name: 'Edit policy for restart-vm' }));
    const f = within(await formUnder('Edit the policy for restart-vm'));
    expect(f.getByLabelText(/^Approver group/)).toHaveProperty('value', 'ops');
    await user.click(f.getByRole('radio', { name: 'Automatic' }));
    await user.click(f.getByRole('button', { name: 'Save policy' }));
    await waitFor(() => expect(sent('PUT', '/api/policies/p1')).toHaveLength(1));
    expect(sent('PUT', '/api/policies/p1')[0]?.body).toEqual({
      scope: 'task',
      target: 'restart-vm',
      approvalType: 'auto',
      maxDurationHours: 8,
      pendingTimeoutHours: 24,
      maxStartDelayHours: 168,
      maxExtensions: 0,
    });
    await user.click(screen.getByRole('button', { name: 'Delete the policy for restart-vm' }));
    expect(sent('DELETE', '/api/policies/p1')).toHaveLength(0);
    await confirm(user, 'Delete');
    await waitFor(() => expect(sent('DELETE', '/api/policies/p1')).toHaveLength(1));
  });
});
