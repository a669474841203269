/**
 * One request as an approver sees it (everything the emailed decision page shows), and the forms that
 * decide on it: approve / deny with a comment, an extension's approve / deny, an emergency review.
 */
import {
  Badge,
  Button,
  Card,
  Field,
  Radio,
  RadioGroup,
  Textarea,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { createContext, useContext, useState, type ReactNode } from 'react';
import { ApiError } from '../../api/errors';
import type { ExtensionView, RequestView } from '../../api/types';
import { usePortal } from '../../app/context';
import { useChange } from '../../components/data';
import { ErrorBar, Notice, StatusBadge, Time } from '../../components/ui';
import { AGENT_TERMS, askedBy, decisionOutcome, extensionOutcome, refusalWords, targetOf } from './words';

const useStyles = makeStyles({
  card: { marginBottom: tokens.spacingVerticalL, maxWidth: '900px' },
  heading: { margin: 0, fontSize: tokens.fontSizeBase500, overflowWrap: 'anywhere' },
  badges: { display: 'flex', flexWrap: 'wrap', gap: tokens.spacingHorizontalS },
  facts: {
    display: 'grid',
    gridTemplateColumns: 'minmax(8rem, max-content) 1fr',
    columnGap: tokens.spacingHorizontalL,
    rowGap: tokens.spacingVerticalXS,
    margin: 0,
    '@media (max-width: 480px)': { gridTemplateColumns: '1fr' },
  },
  term: { fontWeight: tokens.fontWeightSemibold },
  value: { margin: 0, overflowWrap: 'anywhere' },
  actions: { display: 'flex', flexWrap: 'wrap', gap: tokens.spacingHorizontalS },
  form: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalS },
  section: { margin: 0, fontSize: tokens.fontSizeBase400 },
});

function Fact(props: { term: string; children: ReactNode }) {
  const styles = useStyles();
  return (
    <>
      <dt className={styles.term}>{props.term}</dt>
      <dd className={styles.value}>{props.children}</dd>
    </>
  );
}

function approvalsText(approvals: RequestView['stages'][number]['approvals']): string {
  if (approvals.length === 0) return 'none yet';
  return approvals
    .map((a) => `${a.approver} (${a.decision === 'approve' ? 'approved' : 'denied'})`)
    .join(', ');
}

/** Who asked for what, why, for how long, and where the decision stands. */
export function RequestFacts(props: { request: RequestView }) {
  const styles = useStyles();
  const r = props.request;
  const stage = r.currentStage === null ? undefined : r.stages[r.currentStage];
  const parameters = Object.entries(r.parameters ?? {});
  return (
    <dl className={styles.facts}>
      <Fact term="Requester">{askedBy(r)}</Fact>
      {r.agent ? <Fact term="AI agent">{AGENT_TERMS}</Fact> : null}
      <Fact term="Access to">{targetOf(r)}</Fact>
      {r.tasks.length > 1 || !r.task ? <Fact term="Tasks">{r.tasks.join(', ')}</Fact> : null}
      {parameters.length > 0 ? (
        <Fact term="Parameters">{parameters.map(([k, v]) => `${k} = ${String(v)}`).join(', ')}</Fact>
      ) : null}
      <Fact term="Reason">{r.reason}</Fact>
      <Fact term="Ticket">{r.ticket ?? '—'}</Fact>
      <Fact term="Duration">{`${r.durationHours} h`}</Fact>
      {r.startAt ? (
        <Fact term="Starts at">
          <Time at={r.startAt} />
        </Fact>
      ) : null}
      <Fact term="Asked at">
        <Time at={r.createdAt} />
      </Fact>
      {r.status === 'pending' ? (
        <Fact term="Decide by">
          <Time at={r.pendingUntil} />
        </Fact>
      ) : null}
      {stage && r.currentStage !== null ? (
        <Fact term="Stage">
          {`${r.currentStage + 1} of ${r.stages.length}: group ${stage.approverGroup}, ${stage.approvals.length} of ${stage.requiredApprovals} approvals (${approvalsText(stage.approvals)})`}
        </Fact>
      ) : null}
      {r.approvals.length > 0 ? (
        <Fact term="Decisions">
          {r.approvals
            .map(
              (a) =>
                `${a.approver} ${a.decision === 'approve' ? 'approved' : 'denied'}` +
                (a.stage !== undefined && r.stages.length > 1 ? ` in stage ${a.stage + 1}` : '') +
                (a.comment ? `: “${a.comment}”` : ''),
            )
            .join('; ')}
        </Fact>
      ) : null}
      {r.expiresAt ? (
        <Fact term="Access ends">
          <Time at={r.expiresAt} />
        </Fact>
      ) : null}
    </dl>
  );
}

/** The card around one request: heading, badges, facts, and what the approver may do with it. */
export function RequestCard(props: { request: RequestView; children?: ReactNode }) {
  const styles = useStyles();
  const r = props.request;
  return (
    <Card className={styles.card} aria-labelledby={`request-${r.id}`}>
      <h2 className={styles.heading} id={`request-${r.id}`}>
        {`${targetOf(r)} for ${askedBy(r)}`}
      </h2>
      <div className={styles.badges}>
        <StatusBadge status={r.status} />
        {r.emergency ? (
          <Badge appearance="filled" color="danger">
            Emergency access
          </Badge>
        ) : null}
        {r.agent ? (
          <Badge appearance="outline" color="informative">
            Asked by an AI agent
          </Badge>
        ) : null}
        {r.approverAuthContext ? (
          <Badge appearance="outline" color="warning">
            Needs a stronger sign-in
          </Badge>
        ) : null}
      </div>
      <RequestFacts request={r} />
      {props.children}
    </Card>
  );
}

/**
 * Where a list hears of a decision made in one of its cards: the card may leave the list at its next
 * refresh (nothing waits for me any more), so the list keeps the outcome in sight above it.
 */
export const DecidedContext = createContext<(request: RequestView, outcome: string) => void>(() => undefined);

const REFRESH: readonly (readonly string[])[] = [['approvals'], ['request']];

/** "Comment", "Approve", "Deny", and the outcome in words. */
export function DecisionForm(props: { request: RequestView }) {
  const styles = useStyles();
  const { api } = usePortal();
  const decided = useContext(DecidedContext);
  const r = props.request;
  const [comment, setComment] = useState('');
  const [outcome, setOutcome] = useState<string>();
  const decide = useChange(
    ({ decision }: { decision: 'approve' | 'deny' }) =>
      api.send<RequestView>(
        'POST',
        `/api/requests/${encodeURIComponent(r.id)}/${decision}`,
        comment.trim() ? { comment: comment.trim() } : {},
        decision === 'approve' ? `Approve the request of ${askedBy(r)}` : `Deny the request of ${askedBy(r)}`,
      ),
    REFRESH,
  );
  const submit = (decision: 'approve' | 'deny') => {
    setOutcome(undefined);
    decide.mutate(
      { decision },
      {
        onSuccess: (after) => {
          const text = decisionOutcome(r, after, decision);
          setOutcome(text);
          decided(r, text);
        },
      },
    );
  };
  const refusal = refusalWords(decide.error);
  return (
    <div className={styles.form}>
      {outcome ? <Notice intent="success">{outcome}</Notice> : null}
      {decide.error ? (
        <>
          {refusal ? <Notice intent="warning">{refusal}</Notice> : null}
          <ErrorBar error={decide.error} />
        </>
      ) : null}
      {outcome ? null : (
        <>
          <Field label="Comment" hint="Optional; the requester and the audit log see it.">
            <Textarea value={comment} maxLength={1000} onChange={(_, d) => setComment(d.value)} />
          </Field>
          <div className={styles.actions}>
            <Button appearance="primary" disabled={decide.isPending} onClick={() => submit('approve')}>
              Approve
            </Button>
            <Button disabled={decide.isPending} onClick={() => submit('deny')}>
              Deny
            </Button>
          </div>
        </>
      )}
    </div>
  );
}

/** A pending extension of a live grant: how long more, why, its stage, and its own decision. */
export function ExtensionForm(props: { request: RequestView; extension: ExtensionView }) {
  const styles = useStyles();
  const { api } = usePortal();
  const decided = useContext(DecidedContext);
  const done = (text: string) => {
    setOutcome(text);
    decided(props.request, text);
  };
  const { request: r, extension: e } = props;
  const [comment, setComment] = useState('');
  const [outcome, setOutcome] = useState<string>();
  const decide = useChange(
    ({ decision }: { decision: 'approve' | 'deny' }) =>
      api.send<RequestView>(
        'POST',
        `/api/requests/${encodeURIComponent(r.id)}/extensions/${encodeURIComponent(e.id)}/${decision}`,
        comment.trim() ? { comment: comment.trim() } : {},
        `${decision === 'approve' ? 'Approve' : 'Deny'} the extension asked by ${r.requester}`,
      ),
    REFRESH,
  );
  const stage = e.currentStage === null ? undefined : e.stages[e.currentStage];
  const refusal = refusalWords(decide.error);
  return (
    <section className={styles.form} aria-labelledby={`extension-${r.id}-${e.id}`}>
      <h3 className={styles.section} id={`extension-${r.id}-${e.id}`}>
        {`Extension ${e.id}: ${e.hours} h more`}
      </h3>
      <dl className={styles.facts}>
        <Fact term="Why">{e.reason}</Fact>
        <Fact term="Decide by">
          <Time at={e.pendingUntil} />
        </Fact>
        {stage && e.currentStage !== null ? (
          <Fact term="Stage">
            {`${e.currentStage + 1} of ${e.stages.length}: group ${stage.approverGroup}, ${stage.approvals.length} of ${stage.requiredApprovals} approvals (${approvalsText(stage.approvals)})`}
          </Fact>
        ) : null}
      </dl>
      {outcome ? <Notice intent="success">{outcome}</Notice> : null}
      {decide.error ? (
        <>
          {refusal ? <Notice intent="warning">{refusal}</Notice> : null}
          <ErrorBar error={decide.error} />
        </>
      ) : null}
      {outcome ? null : (
        <>
          <Field label="Comment on the extension">
            <Textarea value={comment} maxLength={1000} onChange={(_, d) => setComment(d.value)} />
          </Field>
          <div className={styles.actions}>
            <Button
              appearance="primary"
              disabled={decide.isPending}
              onClick={() =>
                decide.mutate(
                  { decision: 'approve' },
                  { onSuccess: (after) => done(extensionOutcome(after, e.id, 'approve')) },
                )
              }
            >
              Approve extension
            </Button>
            <Button
              disabled={decide.isPending}
              onClick={() =>
                decide.mutate(
                  { decision: 'deny' },
                  { onSuccess: (after) => done(extensionOutcome(after, e.id, 'deny')) },
                )
              }
            >
              Deny extension
            </Button>
          </div>
        </>
      )}
    </section>
  );
}

/** Closes an emergency use's review: justified, or unjustified with a comment saying why. */
export function ReviewForm(props: { request: RequestView }) {
  const styles = useStyles();
  const { api } = usePortal();
  const decided = useContext(DecidedContext);
  const r = props.request;
  const [verdict, setVerdict] = useState<'justified' | 'unjustified'>('justified');
  const [comment, setComment] = useState('');
  const [missing, setMissing] = useState(false);
  const [done, setDone] = useState<string>();
  const review = useChange(
    () =>
      api.send<RequestView>(
        'POST',
        `/api/requests/${encodeURIComponent(r.id)}/review`,
        comment.trim() ? { outcome: verdict, comment: comment.trim() } : { outcome: verdict },
        `Review the emergency access of ${r.requester}`,
      ),
    [['reviews'], ['request']],
  );
  const fieldErrors = review.error instanceof ApiError ? review.error.fieldErrors : {};
  const refusal = refusalWords(review.error);
  const submit = () => {
    if (verdict === 'unjustified' && !comment.trim()) {
      setMissing(true);
      return;
    }
    setMissing(false);
    review.mutate(undefined, {
      onSuccess: () => {
        const text = verdict === 'justified' ? 'Reviewed: justified' : 'Reviewed: unjustified';
        setDone(text);
        decided(r, text);
      },
    });
  };
  if (done) return <Notice intent="success">{done}</Notice>;
  return (
    <div className={styles.form}>
      {review.error ? (
        <>
          {refusal ? <Notice intent="warning">{refusal}</Notice> : null}
          <ErrorBar error={review.error} />
        </>
      ) : null}
      <Field label="Outcome" validationMessage={fieldErrors.outcome}>
        <RadioGroup
          value={verdict}
          onChange={(_, d) => setVerdict(d.value === 'unjustified' ? 'unjustified' : 'justified')}
        >
          <Radio value="justified" label="Justified" />
          <Radio value="unjustified" label="Unjustified" />
        </RadioGroup>
      </Field>
      <Field
        label="Comment"
        hint={verdict === 'unjustified' ? 'Say why it was not justified.' : 'Optional.'}
        validationMessage={missing ? 'Say why the emergency access was not justified.' : fieldErrors.comment}
      >
        <Textarea value={comment} maxLength={1000} onChange={(_, d) => setComment(d.value)} />
      </Field>
      <div className={styles.actions}>
        <Button appearance="primary" disabled={review.isPending} onClick={submit}>
          Submit review
        </Button>
      </div>
    </div>
  );
}
