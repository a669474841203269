/**
 * Request access: pick a task, role or role group, see what the policy would do BEFORE submitting
 * (from GET /api/policy-preview, the same code submit runs), fill in the task's parameters, reason,
 * ticket and duration, and submit. API field errors show next to their fields.
 */
import {
  Button,
  Checkbox,
  Field,
  Input,
  Radio,
  RadioGroup,
  Select,
  Textarea,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { useState, type SyntheticEvent } from 'react';
import { useLocation } from 'wouter';
import { ApiError } from '../../api/errors';
import type { CatalogRole, Page, PolicyPreview, RequestView, RoleGroup, Task } from '../../api/types';
import { usePortal } from '../../app/context';
import { CATALOG_KEY, POLICY_PREVIEW_KEY, useChange, useQuery } from '../../components/data';
import { ErrorBar, Loading, Notice, PageHeader } from '../../components/ui';
import { ParameterFields, typedValues, type ParameterDraft } from './parameters';

type Kind = 'task' | 'role' | 'roleGroup';
type TaskSummary = Pick<Task, 'name' | 'description' | 'parameters'>;
type Entry = { name: string; description: string };

const KINDS: Record<Kind, { label: string; path: string }> = {
  task: { label: 'Task', path: '/api/catalog/tasks' },
  role: { label: 'Role', path: '/api/catalog/roles' },
  roleGroup: { label: 'Role group', path: '/api/catalog/role-groups' },
};

const useStyles = makeStyles({
  form: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM, maxWidth: '40rem' },
  policy: {
    border: `1px solid ${tokens.colorNeutralStroke2}`,
    borderRadius: tokens.borderRadiusMedium,
    padding: tokens.spacingHorizontalM,
  },
  list: { margin: 0, paddingLeft: tokens.spacingHorizontalL },
});

function entries(kind: Kind, items: readonly unknown[]): Entry[] {
  switch (kind) {
    case 'task':
      return (items as TaskSummary[]).map((t) => ({ name: t.name, description: t.description }));
    case 'role':
      return (items as CatalogRole[]).map((r) => ({
        name: r.name,
        description: `Tasks: ${r.tasks.join(', ')}`,
      }));
    case 'roleGroup':
      return (items as RoleGroup[]).map((g) => ({
        name: g.name,
        description: `Roles: ${g.roles.join(', ')}`,
      }));
  }
}

export default function RequestAccessPage() {
  const styles = useStyles();
  const { api } = usePortal();
  const [, navigate] = useLocation();
  const [kind, setKind] = useState<Kind>('task');
  const [name, setName] = useState('');
  const [draft, setDraft] = useState<ParameterDraft>({});
  const [reason, setReason] = useState('');
  const [ticket, setTicket] = useState('');
  // null: the policy's default, until the person types a duration.
  const [typedDuration, setDuration] = useState<string | null>(null);
  const [startAt, setStartAt] = useState('');
  const [emergency, setEmergency] = useState(false);

  const catalog = useQuery({
    queryKey: [...CATALOG_KEY, kind],
    queryFn: ({ signal }) => api.get<Page<unknown>>(KINDS[kind].path, undefined, { signal }),
  });
  const list = catalog.data ? entries(kind, catalog.data.items) : [];
  const chosen = list.find((e) => e.name === name);

  const preview = useQuery({
    queryKey: [...POLICY_PREVIEW_KEY, kind, name],
    queryFn: ({ signal }) => api.get<PolicyPreview>('/api/policy-preview', { [kind]: name }, { signal }),
    enabled: chosen !== undefined,
  });
  const policy = preview.data;

  // A new choice starts from the policy's default duration, within its maximum.
  const duration =
    typedDuration ??
    (policy ? String(Math.min(policy.defaultDurationHours, policy.maxDurationHours ?? Infinity)) : '4');

  const submit = useChange(
    (body: Record<string, unknown>) => api.send<RequestView>('POST', '/api/requests', body, 'Submit request'),
    [['requests'], ['access']],
  );
  const errors = submit.error instanceof ApiError ? submit.error.fieldErrors : {};

  const onSubmit = (event: SyntheticEvent) => {
    event.preventDefault();
    if (!policy) return;
    const body: Record<string, unknown> = {
      [kind]: name,
      reason,
      durationHours: Number(duration),
    };
    if (ticket.trim() !== '') body.ticket = ticket;
    if (policy.parameters && policy.parameters.length > 0)
      body.parameters = typedValues(policy.parameters, draft);
    if (startAt !== '' && !emergency) body.startAt = new Date(startAt).toISOString();
    if (emergency) body.emergency = true;
    submit.mutate(body, { onSuccess: (r) => navigate(`/requests/${encodeURIComponent(r.id)}`) });
  };

  const pick = (next: string) => {
    setName(next);
    setDraft({});
    setDuration(null);
    setEmergency(false);
    submit.reset();
  };
  // The refusals submit would answer too (unknown target, no policy, PAM disabled, no approvers).
  const refusal =
    preview.error instanceof ApiError && [400, 404, 409].includes(preview.error.status)
      ? preview.error
      : null;

  return (
    <>
      <PageHeader
        title="Request access"
        description="Choose what you need. The policy that applies is shown before you submit."
      />
      <form className={styles.form} onSubmit={onSubmit} noValidate>
        <Field label="Access to">
          <RadioGroup
            layout="horizontal"
            value={kind}
            onChange={(_, d) => {
              setKind(d.value as Kind);
              pick('');
            }}
          >
            <Radio value="task" label="Task" />
            <Radio value="role" label="Role" />
            <Radio value="roleGroup" label="Role group" />
          </RadioGroup>
        </Field>
        {catalog.error ? <ErrorBar error={catalog.error} onRetry={() => void catalog.refetch()} /> : null}
        <Field label={KINDS[kind].label} required hint={chosen?.description} validationMessage={errors[kind]}>
          <Select value={name} disabled={catalog.isPending} onChange={(_, d) => pick(d.value)}>
            <option value="">{catalog.isPending ? 'Loading…' : 'Choose…'}</option>
            {list.map((e) => (
              <option key={e.name} value={e.name}>
                {e.name}
              </option>
            ))}
          </Select>
        </Field>

        {chosen && preview.isPending ? <Loading label="Reading the policy…" /> : null}
        {refusal ? (
          <Notice intent="warning" title="A request would be refused">
            {`A request would be refused: ${refusal.message}`}
          </Notice>
        ) : preview.error ? (
          <ErrorBar error={preview.error} onRetry={() => void preview.refetch()} />
        ) : null}
        {policy ? <PolicySummary policy={policy} /> : null}

        {policy?.parameters && policy.parameters.length > 0 ? (
          <fieldset className={styles.form}>
            <legend>Parameters</legend>
            <ParameterFields
              parameters={policy.parameters}
              values={draft}
              onChange={setDraft}
              errors={errors}
            />
          </fieldset>
        ) : null}

        <Field label="Reason" required validationMessage={errors.reason}>
          <Textarea value={reason} onChange={(_, d) => setReason(d.value)} maxLength={1000} />
        </Field>
        <Field
          label="Ticket"
          validationMessage={errors.ticket}
          hint="A change or incident number, if there is one."
        >
          <Input value={ticket} onChange={(_, d) => setTicket(d.value)} maxLength={128} />
        </Field>
        <Field
          label="Duration (hours)"
          required
          validationMessage={errors.durationHours}
          hint={policy?.maxDurationHours != null ? `At most ${policy.maxDurationHours} hours.` : undefined}
        >
          <Input
            type="number"
            min={1}
            max={policy?.maxDurationHours ?? undefined}
            value={duration}
            onChange={(_, d) => setDuration(d.value)}
          />
        </Field>
        {policy && policy.maxStartDelayHours > 0 && !emergency ? (
          <Field
            label="Start at"
            validationMessage={errors.startAt}
            hint={`Optional: a later start, at most ${policy.maxStartDelayHours} hours ahead. Empty: as soon as approved.`}
          >
            <Input type="datetime-local" value={startAt} onChange={(_, d) => setStartAt(d.value)} />
          </Field>
        ) : null}
        {policy?.breakGlass ? (
          <Field
            validationMessage={errors.emergency}
            hint={`Only for an emergency: granted at once without approval, from now, for at most ${policy.breakGlass.maxDurationHours} hours; the reason needs at least 20 characters. Every member of this access's approver groups and of the default approver group is told at once, and an approver reviews the use afterwards.`}
          >
            <Checkbox
              label="Emergency access"
              checked={emergency}
              onChange={(_, d) => setEmergency(d.checked === true)}
            />
          </Field>
        ) : null}

        {submit.error ? <ErrorBar error={submit.error} /> : null}
        <div>
          <Button
            type="submit"
            appearance="primary"
            disabled={!policy || refusal !== null || submit.isPending}
          >
            {submit.isPending ? 'Submitting…' : 'Submit request'}
          </Button>
        </div>
      </form>
    </>
  );
}

/** The policy in words: who decides, how long, how many uses, what approvers must prove. */
function PolicySummary(props: { policy: PolicyPreview }) {
  const styles = useStyles();
  const p = props.policy;
  const lines: string[] = [];
  if (p.approval === 'automatic') lines.push('Approval: automatic — granted as soon as you submit.');
  else {
    lines.push('Approval: manual — approvers decide.');
    p.stages.forEach((s, i) =>
      lines.push(
        `Stage ${i + 1} of ${p.stages.length}: ${s.requiredApprovals} approval${s.requiredApprovals === 1 ? '' : 's'} from ${s.approverGroup}.`,
      ),
    );
    if (p.maxPendingHours !== null) lines.push(`Approvers have ${p.maxPendingHours} hours to decide.`);
  }
  if (p.exempt) lines.push('You are a system account: you may execute without a request.');
  lines.push(
    p.maxDurationHours !== null ? `Longest duration: ${p.maxDurationHours} hours.` : 'No maximum duration.',
  );
  if (p.maxUses !== null)
    lines.push(`Counted uses: the grant ends after ${p.maxUses} execution${p.maxUses === 1 ? '' : 's'}.`);
  if (p.breakGlass) lines.push(`Emergency access allowed, up to ${p.breakGlass.maxDurationHours} hours.`);
  if (p.approverAuthContext)
    lines.push(`Approvers must sign in with step-up (${p.approverAuthContext}) to decide.`);
  return (
    <section className={styles.policy} aria-label="Policy that applies">
      <h2>Policy that applies</h2>
      {p.description ? <p>{p.description}</p> : null}
      <ul className={styles.list}>
        {lines.map((l) => (
          <li key={l}>{l}</li>
        ))}
      </ul>
    </section>
  );
}
