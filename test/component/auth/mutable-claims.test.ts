/**
 * Rights follow the directory's key (tenant + object id), never a name a token carries. Tokens here
 * are validly signed by the configured issuer, shaped as an attacker shapes them: a fresh object id
 * with someone else's `email`, `upn` or `preferred_username`. Real Azurite, the real development
 * issuer and directory, the real handlers, a real webhook on loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getDeps } from '#shared/app/deps';
import { catalogTaskPut } from '../../../functions/catalog';
import { execute } from '../../../functions/execute';
import { approverGroupGet, approverGroupPut } from '../../../functions/approver-groups';
import { pamEnable, pamRead } from '../../../functions/pam';
import { approveRequest, listRequests } from '../../../functions/requests';
import { enablePam } from '../../support/admin';
import { call, startComponentEnv, type ComponentEnv } from '../../support/component';
import { aPendingRequest, userKey } from '../../support/requests';
import { startWebhookTarget, type WebhookTarget } from '../../support/webhook-target';

const CAROL = 'carol@contoso.com';
const SVC = 'svc-automation@contoso.com';
const TASK = 'Exchange\\Set-Mailbox';
/** A user the directory knows, who is neither an approver nor a system account. */
const MALLORY = 'mallory@contoso.com';

let env: ComponentEnv;
let hook: WebhookTarget;
let admin: string;
const runs = () => hook.received.length;

beforeAll(async () => {
  env = await startComponentEnv();
  hook = await startWebhookTarget('component-test-signing-key');
  admin = await env.token('admin@contoso.com', ['PAM.Admin']);
  await enablePam(admin, { group: 'approvers', members: [CAROL], systemAccounts: [SVC] });
  const put = await call(catalogTaskPut, {
    method: 'PUT',
    path: '/x',
    token: admin,
    body: {
      name: TASK,
      description: 'd',
      executor: { type: 'webhook', url: hook.url },
    },
  });
  expect(put.status).toBeLessThan(300);
}, 60_000);

afterAll(async () => {
  await hook.close();
  await env.close();
});

/** Mallory's token (her own object id), with the name claims set as given. */
function malloryClaiming(names: Record<string, string | null>): Promise<string> {
  return env.issuer.mint({ upn: MALLORY, overrides: names });
}

async function aPendingRequestOfTheGroup(): Promise<string> {
  const request = aPendingRequest({ approverGroup: 'approvers' });
  await getDeps().requests.create(request);
  return request.id;
}

async function approvable(token: string): Promise<string[]> {
  const res = await call(listRequests, { path: '/api/requests?approvable=true', token, durableClient: true });
  expect(res.status).toBe(200);
  return (res.body as { items: { id: string }[] }).items.map((i) => i.id);
}

describe('approver rights follow the directory key', () => {
  it.each<{ name: string; claims: Record<string, string | null>; status: number }>([
    {
      name: "only email = carol's",
      claims: { upn: null, preferred_username: null, email: CAROL },
      status: 401,
    },
    {
      name: "only unique_name = carol's",
      claims: { upn: null, preferred_username: null, unique_name: CAROL },
      status: 401,
    },
    // Signed in, as someone the request is nothing to: it does not exist for them.
    { name: "upn = carol's", claims: { upn: CAROL, preferred_username: CAROL }, status: 404 },
    { name: "preferred_username = carol's", claims: { upn: null, preferred_username: CAROL }, status: 404 },
  ])('a token of another object id with $name does not approve as carol', async ({ claims, status }) => {
    // Prepare
    const id = await aPendingRequestOfTheGroup();
    const token = await malloryClaiming(claims);

    // Act
    const res = await call(approveRequest, {
      method: 'POST',
      path: `/api/requests/${id}/approve`,
      params: { id },
      token,
      body: {},
      durableClient: true,
    });

    // Assess: never approved; the row still waits for a real approver.
    expect(res.status).toBe(status);
    expect((await getDeps().requests.read(id))?.request.status).toBe('pending');
  });

  it('carol herself (her object id) may approve; a token naming her with another id may not', async () => {
    const id = await aPendingRequestOfTheGroup();
    const carol = await env.token(CAROL);
    const impostor = await malloryClaiming({ upn: CAROL, preferred_username: CAROL });

    expect(await approvable(carol)).toContain(id);
    expect(await approvable(impostor)).not.toContain(id);
  });
});

describe('system accounts follow the directory key', () => {
  async function run(token: string) {
    return call(execute, {
      method: 'POST',
      path: '/api/execute',
      token,
      body: { task: TASK },
      durableClient: true,
    });
  }

  it('a token of another object id naming the system account runs nothing', async () => {
    const before = runs();

    const byEmail = await run(await malloryClaiming({ upn: null, preferred_username: null, email: SVC }));
    const byUpn = await run(await malloryClaiming({ upn: SVC, preferred_username: SVC }));

    expect(byEmail.status).toBe(401);
    expect(byUpn.status).toBe(403);
    expect(runs()).toBe(before);
  });

  it('the system account itself runs the task without a request', async () => {
    const before = runs();

    const res = await run(await env.token(SVC));

    expect(res.status).toBe(200);
    expect(runs()).toBe(before + 1);
  });
});

describe('saving members resolves them in the directory', () => {
  it('stores each member with the key the directory gives, and shows it', async () => {
    const res = await call(approverGroupGet, { path: '/x', params: { name: 'approvers' }, token: admin });
    const pam = await call(pamRead, { path: '/x', token: admin });

    expect(res.body).toMatchObject({ members: [CAROL], identities: [{ upn: CAROL, id: userKey(CAROL) }] });
    expect(pam.body).toMatchObject({ systemAccountIdentities: [{ upn: SVC, id: userKey(SVC) }] });
  });

  it('resolves a UPN that starts with $ through the key form Graph asks for', async () => {
    const res = await call(approverGroupPut, {
      method: 'PUT',
      path: '/x',
      params: { name: 'dollar' },
      token: admin,
      body: { members: ["$o'neil@contoso.com"] },
    });

    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      identities: [{ upn: "$o'neil@contoso.com", id: userKey("$o'neil@contoso.com") }],
    });
  });

  it('refuses (400, naming each) members the directory does not know, and writes nothing', async () => {
    const res = await call(approverGroupPut, {
      method: 'PUT',
      path: '/x',
      params: { name: 'approvers' },
      token: admin,
      body: { members: [CAROL, 'ghost@contoso.invalid', 'nobody@fabrikam.invalid'] },
    });
    const enable = await call(pamEnable, {
      method: 'POST',
      path: '/x',
      token: admin,
      body: { defaultApproverGroup: 'approvers', systemAccounts: ['robot@contoso.invalid'] },
    });

    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({
      errors: [
        { pointer: '#/members/1', detail: expect.stringContaining('ghost@contoso.invalid') as unknown },
        { pointer: '#/members/2' },
      ],
    });
    expect(enable.status).toBe(400);
    expect(enable.body).toMatchObject({ errors: [{ pointer: '#/systemAccounts/0' }] });
    const still = await call(approverGroupGet, { path: '/x', params: { name: 'approvers' }, token: admin });
    expect(still.body).toMatchObject({ members: [CAROL] });
  });
});
