/**
 * "Policies": for one task, role or role group, who approves (one group, or stages in turn), and the
 * limits of what is granted. Every field the API takes; the API's refusal names the field, shown there.
 */
import {
  Button,
  Field,
  Input,
  Radio,
  RadioGroup,
  Select,
  Table,
  TableBody,
  TableCell,
  TableHeader,
  TableHeaderCell,
  TableRow,
} from '@fluentui/react-components';
import { useState } from 'react';
import type { Policy } from '../../api/types';
import { usePortal } from '../../app/context';
import { ME_KEY, POLICY_PREVIEW_KEY, useChange, useQuery } from '../../components/data';
import { ErrorBar, Loading, Notice } from '../../components/ui';
import {
  compact,
  ConfirmDelete,
  fieldErrorsOf,
  numberText,
  optionalNumber,
  SectionTitle,
  useAdminStyles,
} from './kit';

export const POLICIES_KEY = ['admin', 'policies'] as const;
const SCOPE_LABEL: Record<Policy['scope'], string> = { task: 'Task', role: 'Role', roleGroup: 'Role group' };

export function PoliciesSection() {
  const { api } = usePortal();
  const styles = useAdminStyles();
  const [editing, setEditing] = useState<Policy | 'new'>('new');
  const policies = useQuery({
    queryKey: POLICIES_KEY,
    queryFn: ({ signal }) => api.get<{ items: Policy[] }>('/api/policies', undefined, { signal }),
  });
  const remove = useChange(
    (id: string) =>
      api.send<undefined>('DELETE', `/api/policies/${encodeURIComponent(id)}`, undefined, `Delete policy`),
    [POLICIES_KEY, POLICY_PREVIEW_KEY, ME_KEY],
  );
  return (
    <section className={styles.section} aria-labelledby="policies-title">
      <SectionTitle>
        <span id="policies-title">Policies</span>
      </SectionTitle>
      {policies.isPending ? <Loading /> : null}
      <ErrorBar error={policies.error} onRetry={() => void policies.refetch()} />
      <ErrorBar error={remove.error} />
      {policies.data ? (
        policies.data.items.length === 0 ? (
          <p>No policies yet: nothing can be requested until a policy covers it.</p>
        ) : (
          <div className={styles.tableBox}>
            <Table aria-label="Policies">
              <TableHeader>
                <TableRow>
                  <TableHeaderCell>For</TableHeaderCell>
                  <TableHeaderCell>Approval</TableHeaderCell>
                  <TableHeaderCell>Approvers</TableHeaderCell>
                  <TableHeaderCell>Limits</TableHeaderCell>
                  <TableHeaderCell>Actions</TableHeaderCell>
                </TableRow>
              </TableHeader>
              <TableBody>
                {policies.data.items.map((p) => (
                  <TableRow key={p.id}>
                    <TableCell>
                      {SCOPE_LABEL[p.scope]} {p.target}
                    </TableCell>
                    <TableCell>{p.approvalType === 'auto' ? 'Automatic' : 'Manual'}</TableCell>
                    <TableCell>{approvers(p)}</TableCell>
                    <TableCell>{limits(p)}</TableCell>
                    <TableCell>
                      <div className={styles.actions}>
                        <Button aria-label={`Edit policy for ${p.target}`} onClick={() => setEditing(p)}>
                          Edit
                        </Button>
                        <ConfirmDelete
                          what={`the policy for ${p.target}`}
                          consequence="Requests already submitted keep their rules; new requests for it are refused."
                          onConfirm={() => remove.mutate(p.id)}
                        />
                      </div>
                    </TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          </div>
        )
      ) : null}
      <PolicyForm
        key={editing === 'new' ? 'new' : editing.id}
        policy={editing === 'new' ? null : editing}
        onDone={() => setEditing('new')}
      />
    </section>
  );
}

function approvers(p: Policy): string {
  if (p.approvalType === 'auto') return '—';
  if (p.stages)
    return p.stages.map((s, i) => `${i + 1}. ${s.approverGroup} (${s.requiredApprovals})`).join(' then ');
  return `${p.approverGroup ?? 'default group'} (${p.requiredApprovals ?? 1})`;
}

function limits(p: Policy): string {
  const out = [`up to ${p.maxDurationHours ?? '—'} h`, `waits ${p.pendingTimeoutHours} h`];
  if (p.maxUses) out.push(`${p.maxUses} uses`);
  if (p.breakGlassGroup) out.push(`emergency: ${p.breakGlassGroup}`);
  if (p.approverAuthContext) out.push(`approvers need ${p.approverAuthContext}`);
  return out.join(', ');
}

interface StageRow {
  approverGroup: string;
  requiredApprovals: string;
}

function PolicyForm(props: { policy: Policy | null; onDone: () => void }) {
  const { api } = usePortal();
  const styles = useAdminStyles();
  const p = props.policy;
  const [scope, setScope] = useState<Policy['scope']>(p?.scope ?? 'task');
  const [target, setTarget] = useState(p?.target ?? '');
  const [approvalType, setApprovalType] = useState<Policy['approvalType']>(p?.approvalType ?? 'manual');
  const [approvers, setApprovers] = useState<'one' | 'stages'>(p?.stages ? 'stages' : 'one');
  const [approverGroup, setApproverGroup] = useState(p?.approverGroup ?? '');
  const [requiredApprovals, setRequiredApprovals] = useState(numberText(p?.requiredApprovals));
  const [stages, setStages] = useState<StageRow[]>(
    p?.stages?.map((s) => ({
      approverGroup: s.approverGroup,
      requiredApprovals: String(s.requiredApprovals),
    })) ?? [{ approverGroup: '', requiredApprovals: '1' }],
  );
  const [n, setN] = useState({
    maxDurationHours: numberText(p?.maxDurationHours),
    pendingTimeoutHours: numberText(p?.pendingTimeoutHours),
    maxUses: numberText(p?.maxUses),
    maxStartDelayHours: numberText(p?.maxStartDelayHours),
    maxExtensions: numberText(p?.maxExtensions),
    breakGlassMaxHours: numberText(p?.breakGlassGroup ? p.breakGlassMaxHours : undefined),
  });
  const [breakGlassGroup, setBreakGlassGroup] = useState(p?.breakGlassGroup ?? '');
  const [authContext, setAuthContext] = useState(p?.approverAuthContext ?? '');
  const [saved, setSaved] = useState(false);

  const body = () => {
    const manual = approvalType === 'manual';
    return compact({
      scope,
      target: target.trim(),
      approvalType,
      approverGroup:
        manual && approvers === 'one' && approverGroup.trim() !== '' ? approverGroup.trim() : undefined,
      requiredApprovals: manual && approvers === 'one' ? optionalNumber(requiredApprovals) : undefined,
      stages:
        manual && approvers === 'stages'
          ? stages.map((s) =>
              compact({
                approverGroup: s.approverGroup.trim(),
                requiredApprovals: optionalNumber(s.requiredApprovals),
              }),
            )
          : undefined,
      maxDurationHours: optionalNumber(n.maxDurationHours),
      pendingTimeoutHours: optionalNumber(n.pendingTimeoutHours),
      maxUses: optionalNumber(n.maxUses),
      maxStartDelayHours: optionalNumber(n.maxStartDelayHours),
      maxExtensions: optionalNumber(n.maxExtensions),
      breakGlassGroup: breakGlassGroup.trim() === '' ? undefined : breakGlassGroup.trim(),
      breakGlassMaxHours: breakGlassGroup.trim() === '' ? undefined : optionalNumber(n.breakGlassMaxHours),
      approverAuthContext: authContext === '' ? undefined : authContext,
    });
  };
  const save = useChange(
    () =>
      p
        ? api.send<Policy>('PUT', `/api/policies/${encodeURIComponent(p.id)}`, body(), 'Save policy')
        : api.send<Policy>('POST', '/api/policies', body(), 'Create policy'),
    [POLICIES_KEY, POLICY_PREVIEW_KEY, ME_KEY],
  );
  const errors = fieldErrorsOf(save.error);
  const number = (key: keyof typeof n, label: string, hint?: string) => (
    <Field label={label} hint={hint} validationMessage={errors[key]}>
      <Input
        inputMode="decimal"
        value={n[key]}
        onChange={(_, d) => setN((v) => ({ ...v, [key]: d.value }))}
      />
    </Field>
  );
  const setStage = (i: number, change: Partial<StageRow>) =>
    setStages((ss) => ss.map((s, j) => (j === i ? { ...s, ...change } : s)));

  return (
    <form
      className={styles.form}
      onSubmit={(e) => {
        e.preventDefault();
        setSaved(false);
        save.mutate(undefined, { onSuccess: () => setSaved(true) });
      }}
    >
      <SectionTitle>{p ? `Edit the policy for ${p.target}` : 'New policy'}</SectionTitle>
      <div className={styles.row}>
        <Field label="Applies to" validationMessage={errors['scope']}>
          <Select value={scope} onChange={(_, d) => setScope(d.value as Policy['scope'])}>
            <option value="task">Task</option>
            <option value="role">Role</option>
            <option value="roleGroup">Role group</option>
          </Select>
        </Field>
        <Field
          label="Target"
          required
          hint={`The ${SCOPE_LABEL[scope].toLowerCase()}'s name`}
          validationMessage={errors['target']}
        >
          <Input value={target} onChange={(_, d) => setTarget(d.value)} />
        </Field>
      </div>
      <Field label="Approval" validationMessage={errors['approvalType']}>
        <RadioGroup
          layout="horizontal"
          value={approvalType}
          onChange={(_, d) => setApprovalType(d.value as Policy['approvalType'])}
        >
          <Radio value="manual" label="Manual (people approve)" />
          <Radio value="auto" label="Automatic" />
        </RadioGroup>
      </Field>
      {approvalType === 'manual' ? (
        <>
          <Field
            label="Approved by"
            validationMessage={errors['stages'] && approvers === 'one' ? errors['stages'] : undefined}
          >
            <RadioGroup
              layout="horizontal"
              value={approvers}
              onChange={(_, d) => setApprovers(d.value as 'one' | 'stages')}
            >
              <Radio value="one" label="One group" />
              <Radio value="stages" label="Stages, in turn" />
            </RadioGroup>
          </Field>
          {approvers === 'one' ? (
            <div className={styles.row}>
              <Field
                label="Approver group"
                hint="Empty: the default approver group"
                validationMessage={errors['approverGroup']}
              >
                <Input value={approverGroup} onChange={(_, d) => setApproverGroup(d.value)} />
              </Field>
              <Field
                label="Required approvals"
                hint="1 when empty"
                validationMessage={errors['requiredApprovals']}
              >
                <Input
                  inputMode="numeric"
                  value={requiredApprovals}
                  onChange={(_, d) => setRequiredApprovals(d.value)}
                />
              </Field>
            </div>
          ) : (
            <>
              {errors['stages'] ? <Notice intent="warning">Stages: {errors['stages']}</Notice> : null}
              {stages.map((s, i) => (
                <fieldset key={i} className={styles.fieldset}>
                  <legend>Stage {i + 1}</legend>
                  <div className={styles.row}>
                    <Field
                      label="Approver group"
                      required
                      validationMessage={errors[`stages.${i}.approverGroup`] ?? errors[`stages.${i}`]}
                    >
                      <Input
                        value={s.approverGroup}
                        onChange={(_, d) => setStage(i, { approverGroup: d.value })}
                      />
                    </Field>
                    <Field
                      label="Required approvals"
                      validationMessage={errors[`stages.${i}.requiredApprovals`]}
                    >
                      <Input
                        inputMode="numeric"
                        value={s.requiredApprovals}
                        onChange={(_, d) => setStage(i, { requiredApprovals: d.value })}
                      />
                    </Field>
                  </div>
                  {stages.length > 1 ? (
                    <div className={styles.actions}>
                      <Button
                        aria-label={`Remove stage ${i + 1}`}
                        onClick={() => setStages((ss) => ss.filter((_, j) => j !== i))}
                      >
                        Remove
                      </Button>
                    </div>
                  ) : null}
                </fieldset>
              ))}
              {stages.length < 5 ? (
                <div className={styles.actions}>
                  <Button
                    onClick={() => setStages((ss) => [...ss, { approverGroup: '', requiredApprovals: '1' }])}
                  >
                    Add stage
                  </Button>
                </div>
              ) : null}
            </>
          )}
        </>
      ) : null}
      <div className={styles.row}>
        {number('maxDurationHours', 'Longest grant (hours)', 'Empty: no limit')}
        {number('pendingTimeoutHours', 'Decide within (hours)', 'Empty: 24')}
        {number('maxUses', 'Uses per grant', 'Empty: unlimited')}
      </div>
      <div className={styles.row}>
        {number('maxStartDelayHours', 'Latest scheduled start (hours ahead)', 'Empty: 168')}
        {number('maxExtensions', 'Extensions allowed', 'Empty: none')}
      </div>
      <div className={styles.row}>
        <Field
          label="Emergency access group"
          hint="Its members may get access at once, reviewed afterwards. Empty: none"
          validationMessage={errors['breakGlassGroup']}
        >
          <Input value={breakGlassGroup} onChange={(_, d) => setBreakGlassGroup(d.value)} />
        </Field>
        {breakGlassGroup.trim() !== ''
          ? number('breakGlassMaxHours', 'Longest emergency grant (hours)', 'Empty: 1')
          : null}
      </div>
      <Field
        label="Approvers' authentication context"
        hint="Approvers must prove it (step-up) to decide: mfa, or c1 … c99. Empty: none"
        validationMessage={errors['approverAuthContext']}
      >
        <Input value={authContext} onChange={(_, d) => setAuthContext(d.value.trim())} />
      </Field>
      <ErrorBar error={save.error} />
      {saved ? <Notice intent="success">Saved the policy for {target.trim()}.</Notice> : null}
      <div className={styles.actions}>
        <Button type="submit" appearance="primary" disabled={save.isPending}>
          {p ? 'Save policy' : 'Create policy'}
        </Button>
        {p ? <Button onClick={props.onDone}>New policy instead</Button> : null}
      </div>
    </form>
  );
}
