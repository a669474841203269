/**
 * Approval stages (AND): the pure rules of one approval round — a request's own pending phase, or
 * one of its extensions. Stages are approved in order; only the members of the stage that is open
 * may decide in it; a person decides at most once per round (across all its stages); one denial in
 * any stage denies the round. A single-group policy is a round of one stage.
 *
 * A round's approvals are one flat list, each tagged with the stage it was given in, so the v1
 * view's `approvals` stays what it was and a stage's approvals are a filter of it.
 */
import { z } from 'zod';
import { DomainError } from './errors';
import { isMember, type Member } from './pam';
import { ApproverGroupName, normalizeUpn, Upn } from './names';
import { Timestamp } from './time';

export const MAX_STAGES = 5;
export const MAX_REQUIRED_APPROVALS = 10;
/**
 * Approvals a round may need in all stages together. The request row holds every round's approvals
 * (the request's and up to ten extensions'), with comments of up to 1,000 characters each: this
 * bound keeps the worst case well inside Table Storage's 1 MiB entity (docs/decisions/0010).
 */
export const MAX_TOTAL_APPROVALS = 20;

export const Decision = {
  approve: 'approve',
  deny: 'deny',
} as const;
export type Decision = (typeof Decision)[keyof typeof Decision];
export const DecisionSchema = z.enum(Decision);

export const MAX_COMMENT = 1000;

export const Approval = z.strictObject({
  /** For display; who decided is `approverId`. */
  approver: Upn.meta({ description: 'Who decided (UPN), for display.' }),
  /**
   * The approver's stable key (`Principal.id`). Absent only in approvals recorded before decisions
   * kept it; those still count, by name, for "once per person".
   */
  approverId: z
    .string()
    .min(1)
    .max(300)
    .optional()
    .meta({ description: "The approver's stable key (`<tenant id>:<object id>`)." }),
  decision: DecisionSchema.meta({ description: '`approve` or `deny`.' }),
  comment: z.string().max(MAX_COMMENT).nullable().meta({ description: "The approver's comment, if any." }),
  at: Timestamp.meta({ description: 'When the decision was given.' }),
  /** The stage (0-based) the decision was given in; absent in approvals recorded before stages (stage 0). */
  stage: z
    .int()
    .min(0)
    .max(MAX_STAGES - 1)
    .optional()
    .meta({ description: 'The stage (0-based) the decision was given in.' }),
});
export type Approval = z.output<typeof Approval>;

/** One stage as a policy declares it and a request copies it. */
export const StagePlan = z.strictObject({
  approverGroup: ApproverGroupName,
  requiredApprovals: z.int().min(1).max(MAX_REQUIRED_APPROVALS).default(1),
});
export type StagePlan = z.output<typeof StagePlan>;

/** A policy's `stages`: 1 to 5, needing at most `MAX_TOTAL_APPROVALS` approvals in all. */
export const StagePlans = z
  .array(StagePlan)
  .min(1, 'must list at least one stage')
  .max(MAX_STAGES, `must list at most ${MAX_STAGES} stages`)
  .refine((stages) => totalApprovals(stages) <= MAX_TOTAL_APPROVALS, {
    error: `the stages may need at most ${MAX_TOTAL_APPROVALS} approvals in all`,
  });

export const StageStatus = {
  /** Not open yet (an earlier stage still decides), or never opened (the round ended before it). */
  waiting: 'waiting',
  /** Its approvers decide now. */
  open: 'open',
  approved: 'approved',
  denied: 'denied',
} as const;
export type StageStatus = (typeof StageStatus)[keyof typeof StageStatus];
export const StageStatusSchema = z.enum(StageStatus);

/** A stage as the views show it. */
export const StageView = z.strictObject({
  approverGroup: ApproverGroupName.meta({ description: 'The approver group that decides in this stage.' }),
  requiredApprovals: z
    .int()
    .min(1)
    .max(MAX_REQUIRED_APPROVALS)
    .meta({ description: 'Approvals from distinct members the stage needs.' }),
  status: StageStatusSchema.meta({
    description: '`waiting`, `open` (deciding now), `approved` or `denied`.',
  }),
  approvals: z.array(Approval).meta({ description: 'The decisions given in this stage.' }),
});
export type StageView = z.output<typeof StageView>;

/** One approval round: its stages (empty when nobody approves: automatic) and the decisions so far. */
export interface Round {
  readonly stages: readonly StagePlan[];
  readonly approvals: readonly Approval[];
}

export function totalApprovals(stages: readonly Pick<StagePlan, 'requiredApprovals'>[]): number {
  return stages.reduce((sum, s) => sum + s.requiredApprovals, 0);
}

const stageOf = (a: Approval): number => a.stage ?? 0;

/** One person per approval: by stable key, or by name for an approval recorded before keys were kept. */
function personOf(a: Approval): string {
  return a.approverId ?? `upn:${a.approver}`;
}

/** Whether stage `index` has its approvals (counted once per distinct approver). */
function stageApproved(round: Round, index: number): boolean {
  const plan = round.stages[index];
  if (plan === undefined) return false;
  const approvers = new Set(
    round.approvals.filter((a) => stageOf(a) === index && a.decision === 'approve').map(personOf),
  );
  return approvers.size >= plan.requiredApprovals;
}

/**
 * What a round's decisions call for. A denial beats any number of approvals, by rule and not by
 * arrival order. `stage`: the stage that decides now while pending.
 */
export function tallyRound(
  round: Round,
): { state: 'pending'; stage: number } | { state: 'approved' } | { state: 'denied'; stage: number } {
  const denial = round.approvals.find((a) => a.decision === 'deny');
  if (denial !== undefined) return { state: 'denied', stage: stageOf(denial) };
  for (let i = 0; i < round.stages.length; i++)
    if (!stageApproved(round, i)) return { state: 'pending', stage: i };
  return { state: 'approved' };
}

/** The stage that decides now, or null once the round is decided (or is no longer open: `open` false). */
export function currentStage(round: Round, open: boolean): number | null {
  const tally = tallyRound(round);
  return open && tally.state === 'pending' ? tally.stage : null;
}

/**
 * Every stage with its status and approvals. `open`: whether the round still takes decisions (a
 * request that expired or was canceled shows its unfinished stages as `waiting`: none is open).
 */
export function stageViews(round: Round, open: boolean): StageView[] {
  const tally = tallyRound(round);
  return round.stages.map((plan, i) => {
    const approvals = round.approvals.filter((a) => stageOf(a) === i);
    let status: StageStatus;
    if (tally.state === 'denied' && tally.stage === i) status = 'denied';
    else if (stageApproved(round, i)) status = 'approved';
    else if (open && tally.state === 'pending' && tally.stage === i) status = 'open';
    else status = 'waiting';
    return { ...plan, status, approvals };
  });
}

/** Whether `who` has decided in this round already (by key; by name only for approvals without one). */
export function hasDecidedIn(round: Pick<Round, 'approvals'>, who: { id: string; upn: string }): boolean {
  return round.approvals.some((a) =>
    a.approverId === undefined ? a.approver === normalizeUpn(who.upn) : a.approverId === who.id,
  );
}

/** The members of each approver group a round names, by group name (a group that is gone: none). */
export type GroupMembers = ReadonlyMap<string, readonly Member[]>;

/** Whether `id` belongs to the approver group of any stage. */
export function isApproverOfAny(stages: readonly StagePlan[], members: GroupMembers, id: string): boolean {
  return stages.some((s) => isMember(members.get(s.approverGroup) ?? [], id));
}

/** Whether `id` belongs to stage `index`'s approver group. */
export function isApproverOfStage(
  stages: readonly StagePlan[],
  index: number,
  members: GroupMembers,
  id: string,
): boolean {
  const plan = stages[index];
  return plan !== undefined && isMember(members.get(plan.approverGroup) ?? [], id);
}

/**
 * Why an approver of the round may not decide in the stage that is open now, or undefined if they
 * may. `linkStage`: the stage an emailed link was minted for, which must be the open one.
 */
export function stageRefusal(
  round: Round,
  approverId: string,
  members: GroupMembers,
  linkStage?: number,
): DomainError | undefined {
  const tally = tallyRound(round);
  if (tally.state !== 'pending') return undefined; // the round's own state refusal applies
  const open = tally.stage;
  const stages = round.stages.length;
  if (linkStage !== undefined && linkStage !== open)
    return new DomainError(
      'STAGE_NOT_OPEN',
      linkStage < open
        ? `Stage ${linkStage + 1} of ${stages} is already over; stage ${open + 1} decides now`
        : `Stage ${linkStage + 1} of ${stages} is not open yet; stage ${open + 1} decides now`,
    );
  if (!isApproverOfStage(round.stages, open, members, approverId)) {
    const group = round.stages[open]?.approverGroup ?? '';
    return new DomainError(
      'STAGE_NOT_OPEN',
      `Stage ${open + 1} of ${stages} decides now, by the approver group ${JSON.stringify(group)}, ` +
        "of which you are not a member; your stage's approvers are emailed when it opens",
    );
  }
  return undefined;
}

/** The groups a set of stages names, each once, in order. */
export function stageGroups(stages: readonly StagePlan[]): string[] {
  return [...new Set(stages.map((s) => s.approverGroup))];
}

/**
 * The stages of several manual policies combined for one role or role-group request, or undefined
 * when they cannot be combined. Each policy's sequence of groups must be a prefix of the longest
 * one (a single-group policy is one stage): the longest then satisfies each of them, stage by
 * stage, with the most approvals any of them asks of that stage. Two policies that disagree on a
 * stage's group cannot both hold with one sequence (docs/decisions/0005).
 */
export function combineStages(sequences: readonly (readonly StagePlan[])[]): StagePlan[] | undefined {
  const longest = [...sequences].sort((a, b) => b.length - a.length)[0];
  if (longest === undefined) return undefined;
  for (const seq of sequences)
    if (seq.some((s, i) => longest[i]?.approverGroup !== s.approverGroup)) return undefined;
  return longest.map((stage, i) => ({
    approverGroup: stage.approverGroup,
    requiredApprovals: Math.max(...sequences.map((seq) => seq[i]?.requiredApprovals ?? 0)),
  }));
}

/** Appends one decision to a round's approvals, in the stage it was given in. */
export function withDecision(
  round: Round,
  approver: { id: string; upn: string },
  decision: Decision,
  comment: string | null | undefined,
  at: string,
  stage: number,
): Approval[] {
  const text = comment?.trim() ?? '';
  return [
    ...round.approvals,
    {
      approver: normalizeUpn(approver.upn),
      approverId: approver.id,
      decision,
      comment: text === '' ? null : text,
      at,
      stage,
    },
  ];
}
