/**
 * The pure rules for AI agents: which agents a policy lets ask, the narrowed plan of an agent's
 * request (one use, the shortest grant), manual approval only, a sponsor never approving their
 * agent's request, how verified claims become an agent caller, and what a refused run tells the
 * agent to do.
 */
import { describe, expect, it } from 'vitest';
import { agentCallerOf, agentUpn, AgentIdentityError, clientNameOf } from '#shared/agents/identity';
import { callTool, parameterSchema, runHint, type AgentCaller } from '#shared/agents/tools';
import type { AuditEventInput } from '#shared/audit/types';
import { DomainError } from '#shared/domain/errors';
import { askedBy } from '#shared/notifications/html';
import { claimsFromEasyAuthHeader } from '#shared/auth/easy-auth';
import type { IdentityClaims } from '#shared/auth/principal';
import {
  admitAgent,
  agentDurationHours,
  agentPolicy,
  AgentsPolicy,
  type AgentIdentity,
} from '#shared/domain/agents';
import { newPolicy, PolicyBody, type Policy } from '#shared/domain/policy';
import { decisionRefusal, type Request } from '#shared/domain/request';
import { aRequest, BOB, inGroup, minutesAfterT0 } from '../domain/builders';

const TID = '7e57da7a-0000-4000-8000-00000000de70';
const OID = '11111111-2222-4333-8444-555555555555';
const KEY = `${TID}:${OID}`;
const SPONSOR_KEY = `${TID}:99999999-2222-4333-8444-555555555555`;
const FOR_USER: AgentIdentity = { mode: 'onBehalfOf', appId: 'vscode', clientName: null };
const OWN: AgentIdentity = { mode: 'ownIdentity', appId: 'agent-1', clientName: 'bot', key: KEY };

function policy(extra: Record<string, unknown> = {}): Policy {
  return newPolicy('p1', PolicyBody.parse({ scope: 'task', target: 'T', approvalType: 'manual', ...extra }));
}

describe('admitAgent', () => {
  it.each([
    { agents: undefined, who: FOR_USER, sponsor: undefined },
    { agents: { mode: 'none' }, who: FOR_USER, sponsor: undefined },
    { agents: { mode: 'onBehalfOf' }, who: FOR_USER, sponsor: null },
    { agents: { mode: 'onBehalfOf' }, who: OWN, sponsor: undefined },
    {
      agents: { mode: 'ownIdentity', sponsors: { [KEY]: 'carol@contoso.com' } },
      who: FOR_USER,
      sponsor: undefined,
    },
    { agents: { mode: 'ownIdentity' }, who: OWN, sponsor: undefined },
    {
      agents: { mode: 'both', sponsors: { [KEY]: 'carol@contoso.com' } },
      who: OWN,
      sponsor: 'carol@contoso.com',
    },
    { agents: { mode: 'both' }, who: FOR_USER, sponsor: null },
  ])(
    'mode $agents.mode for $who.mode → sponsor $sponsor (undefined: refused)',
    ({ agents, who, sponsor }) => {
      // Arrange
      const p = policy(agents === undefined ? {} : { agents });

      // Act
      const act = () => admitAgent(p, who);

      // Assert
      if (sponsor === undefined) expect(act).toThrow(expect.objectContaining({ code: 'AGENT_NOT_ALLOWED' }));
      else expect(act()).toEqual({ sponsor, sponsorId: null });
    },
  );

  it('answers the sponsor’s stable key the policy resolved when saved', () => {
    // Arrange
    const p = policy({
      agents: {
        mode: 'ownIdentity',
        sponsors: { [KEY]: 'carol@contoso.com' },
        sponsorIds: { [KEY]: SPONSOR_KEY },
      },
    });

    // Act / Assert
    expect(admitAgent(p, OWN)).toEqual({ sponsor: 'carol@contoso.com', sponsorId: SPONSOR_KEY });
  });

  it('lets agents in only where a person approves: an automatic policy is refused when saved and when asked', () => {
    // Arrange: a body an admin sends, and a row stored before the rule (not validated again on read).
    const body = { scope: 'task', target: 'T', approvalType: 'auto', agents: { mode: 'onBehalfOf' } };
    const stored: Policy = { ...policy(), approvalType: 'auto', agents: { mode: 'onBehalfOf' } };

    // Act
    const saved = PolicyBody.safeParse(body);

    // Assert
    expect(saved.success).toBe(false);
    expect(saved.error?.issues[0]?.path).toEqual(['agents']);
    expect(PolicyBody.safeParse({ ...body, agents: { mode: 'none' } }).success).toBe(true);
    expect(() => admitAgent(stored, FOR_USER)).toThrow(/approves automatically/);
    expect(() => admitAgent(stored, FOR_USER)).toThrow(
      expect.objectContaining({ code: 'AGENT_NOT_ALLOWED' }),
    );
  });

  it('refuses a sponsor map keyed by anything but a tenant:object id, and a sponsor that is no UPN', () => {
    // Act / Assert
    expect(
      AgentsPolicy.safeParse({ mode: 'both', sponsors: { 'agent-1': 'carol@contoso.com' } }).success,
    ).toBe(false);
    expect(AgentsPolicy.safeParse({ mode: 'both', sponsors: { [KEY]: 'carol' } }).success).toBe(false);
    expect(AgentsPolicy.safeParse({ mode: 'sometimes' }).success).toBe(false);
  });
});

describe('agentPolicy', () => {
  it.each([
    { name: 'the setting is shortest', extra: {}, setting: 15, hours: 0.25 },
    {
      name: "the policy's agent maximum is shortest",
      extra: { agents: { mode: 'both', maxGrantMinutes: 6 } },
      setting: 15,
      hours: 0.1,
    },
    {
      name: "the policy's own maximum is shortest",
      extra: { maxDurationHours: 0.05 },
      setting: 15,
      hours: 0.05,
    },
  ])('grants one use for the shortest window: $name', ({ extra, setting, hours }) => {
    // Arrange
    const p = policy({ maxUses: 10, maxExtensions: 3, ...extra });

    // Act
    const narrowed = agentPolicy(p, setting);

    // Assert
    expect(narrowed).toMatchObject({ maxUses: 1, maxExtensions: 0, maxDurationHours: hours });
    expect(agentDurationHours(narrowed)).toBe(hours);
    expect(narrowed.approverGroup).toBe(p.approverGroup);
  });
});

describe('a sponsor and their agent’s request', () => {
  it.each([
    {
      name: 'the sponsor (by key) is refused as a self-approval',
      sponsorId: SPONSOR_KEY,
      code: 'SELF_APPROVAL',
    },
    {
      name: 'another sponsor leaves the approver free to decide',
      sponsorId: KEY,
      code: undefined,
    },
    { name: 'a sponsor the policy could not resolve changes nothing', sponsorId: null, code: undefined },
  ])('$name', ({ sponsorId, code }) => {
    // Arrange: an agent's request; bob, an approver of its group, decides.
    const request: Request = {
      ...aRequest(),
      agent: { mode: 'ownIdentity', appId: 'agent-1', name: null, sponsor: BOB, sponsorId },
    };
    const bob = { id: SPONSOR_KEY, upn: BOB };

    // Act
    const refusal = decisionRefusal(request, bob, inGroup([bob]), minutesAfterT0(1));

    // Assert
    expect(refusal?.code).toBe(code);
  });
});

describe('agentCallerOf', () => {
  const user: IdentityClaims = {
    tid: TID,
    oid: OID,
    upn: 'Alice@Contoso.com',
    roles: ['PAM.Admin'],
    azp: 'vscode',
  };
  const app: IdentityClaims = { tid: TID, oid: OID, idtyp: 'app', azp: 'agent-1', roles: ['PAM.Admin'] };

  it('makes a delegated token the user, with the agent as its client', () => {
    // Act
    const { principal, identity } = agentCallerOf(user, 'bearer', 'VS Code');

    // Assert
    expect(principal).toMatchObject({
      id: KEY,
      upn: 'alice@contoso.com',
      isAdmin: true,
      agent: { appId: 'vscode', ownIdentity: false },
    });
    expect(identity).toEqual({ mode: 'onBehalfOf', appId: 'vscode', clientName: 'VS Code' });
  });

  it.each([
    { name: 'idtyp app', claims: app },
    {
      name: 'no scp and no user name (no idtyp claim)',
      claims: { tid: TID, oid: OID, appid: 'agent-1', roles: [] },
    },
  ])('makes an app-only token ($name) the agent itself, with no roles', ({ claims }) => {
    // Act
    const { principal, identity } = agentCallerOf(claims, 'bearer', null);

    // Assert: an agent is never an admin, whatever roles its token carries.
    expect(principal).toMatchObject({
      id: KEY,
      upn: 'agent-1@agents.invalid',
      roles: [],
      isAdmin: false,
      isAuditor: false,
    });
    expect(identity).toEqual({ mode: 'ownIdentity', appId: 'agent-1', clientName: null, key: KEY });
  });

  it.each([
    { name: 'no client application', claims: { ...user, azp: undefined } },
    { name: 'an app-only token without an object id', claims: { ...app, oid: undefined } },
    { name: 'an app-only token with a tenant that is no GUID', claims: { ...app, tid: 'contoso' } },
    {
      name: 'a delegated token without a user name',
      claims: { tid: TID, oid: OID, scp: 'x', azp: 'v', roles: [] },
    },
  ])('refuses $name', ({ claims }) => {
    // Act / Assert
    expect(() => agentCallerOf(claims, 'bearer', null)).toThrow(AgentIdentityError);
  });

  it('keeps client-chosen names printable and short, and agent names out of mailboxes', () => {
    // Act / Assert
    expect(clientNameOf('Claude\u0000 Desktop\n')).toBe('Claude Desktop');
    expect(clientNameOf('x'.repeat(500))).toHaveLength(128);
    expect(clientNameOf(42)).toBeNull();
    expect(agentUpn('Some App/ID')).toBe('some-app-id@agents.invalid');
  });
});

describe('what a refused run tells the agent', () => {
  const base = {
    status: 'approved',
    maxUses: 1,
    uses: 0,
    grantedAt: '2030-01-01T09:00:00.000Z',
    expiresAt: '2030-01-01T09:15:00.000Z',
    parameters: { host: 'a' },
    endReason: null,
  };
  const at = new Date('2030-01-01T09:05:00.000Z');
  it.each([
    { name: 'pending', request: { ...base, status: 'pending' }, args: {}, says: /Not approved yet/ },
    { name: 'used up', request: { ...base, uses: 1 }, args: {}, says: /used up/ },
    {
      name: 'expired',
      request: { ...base, status: 'ended', endReason: null },
      args: {},
      says: /ended: it can no longer run/,
    },
    {
      name: 'past its window',
      request: base,
      args: {},
      at: new Date('2030-01-01T10:00:00.000Z'),
      says: /not live now/,
    },
    {
      name: 'other parameters',
      request: base,
      args: { parameters: { host: 'b' } },
      says: /only the approved parameters: \{"host":"a"\}/,
    },
  ])('$name', ({ request, args, says, ...rest }) => {
    // Act
    const hint = runHint(request as unknown as Request, args, 'at' in rest && rest.at ? rest.at : at);

    // Assert
    expect(hint).toMatch(says);
  });

  it('turns task parameters into the JSON Schema request_action binds', () => {
    // Act
    const schema = parameterSchema([
      { name: 'host', type: 'string', required: true, pattern: '^[a-z]+$', description: 'Host' },
      { name: 'force', type: 'boolean', required: false },
    ]);

    // Assert
    expect(schema).toEqual({
      type: 'object',
      properties: {
        host: { type: 'string', description: 'Host', pattern: '^[a-z]+$' },
        force: { type: 'boolean' },
      },
      required: ['host'],
      additionalProperties: false,
    });
  });
});

describe('what approvers read of an agent’s request', () => {
  it.each([
    { agent: undefined, says: 'alice@contoso.com' },
    {
      agent: { mode: 'onBehalfOf', appId: 'vscode', name: 'Visual Studio Code', sponsor: null },
      says: 'AI agent Visual Studio Code for alice@contoso.com',
    },
    {
      agent: { mode: 'ownIdentity', appId: 'agent-1', name: null, sponsor: 'alice@contoso.com' },
      says: 'AI agent agent-1 (its own identity; sponsor alice@contoso.com)',
    },
  ] as const)('$says', ({ agent, says }) => {
    // Act / Assert
    expect(askedBy({ requester: 'alice@contoso.com', ...(agent === undefined ? {} : { agent }) })).toBe(says);
  });
});

describe('claims behind App Service Authentication', () => {
  it('reads the client application, token type and scopes an agent is told apart by', () => {
    // Arrange: the platform's principal of an app-only call, scope under its long claim type too.
    const header = Buffer.from(
      JSON.stringify({
        auth_typ: 'aad',
        claims: [
          { typ: 'tid', val: TID },
          { typ: 'oid', val: OID },
          { typ: 'azp', val: 'agent-1' },
          { typ: 'idtyp', val: 'app' },
          { typ: 'http://schemas.microsoft.com/identity/claims/scope', val: 'x' },
        ],
      }),
    ).toString('base64');

    // Act
    const claims = claimsFromEasyAuthHeader(header);

    // Assert
    expect(claims).toMatchObject({ azp: 'agent-1', idtyp: 'app', scp: 'x' });
    expect(agentCallerOf(claims, 'easyAuth', null).identity).toMatchObject({ mode: 'ownIdentity', key: KEY });
  });
});

describe('callTool: what the agent reads and the audit records', () => {
  const who = { caller: { actor: {}, origin: {} }, identity: FOR_USER } as unknown as AgentCaller;
  it.each([
    {
      name: 'a momentary unavailability is a tool error with when to retry, a failure',
      run: () => Promise.reject(new DomainError('UNAVAILABLE', 'being activated', { retryAfterSeconds: 2 })),
      data: { error: 'UNAVAILABLE', retryAfterSeconds: 2 },
      outcome: 'failure',
    },
    {
      name: 'a task that ran and failed is a failure, not a refusal',
      run: () =>
        Promise.resolve({
          text: 'failed',
          data: { error: 'EXECUTION_FAILED' },
          error: { code: 'EXECUTION_FAILED' },
        }),
      data: { error: 'EXECUTION_FAILED' },
      outcome: 'failure',
    },
    {
      name: 'a refusal of the story is refused',
      run: () => Promise.reject(new DomainError('NOT_FOUND', 'no such request')),
      data: { error: 'NOT_FOUND' },
      outcome: 'refused',
    },
  ])('$name', async ({ run, data, outcome }) => {
    // Arrange
    const rows: AuditEventInput[] = [];
    const audit = { append: (e: AuditEventInput) => (rows.push(e), Promise.resolve({ id: '1' })) };

    // Act
    const answer = await callTool({ audit }, who, 'run_action', run);

    // Assert
    expect(answer.data).toEqual(data);
    expect(rows.map((r) => r.outcome)).toEqual([outcome]);
  });
});
