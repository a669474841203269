/** "Privileged access": on or off, the default approver group and the system accounts. */
import { Button, Field, Input, Textarea } from '@fluentui/react-components';
import { useState } from 'react';
import type { PamView } from '../../api/types';
import { usePortal } from '../../app/context';
import { ME_KEY, useChange, useQuery } from '../../components/data';
import { ErrorBar, Loading, Notice, Time } from '../../components/ui';
import { Confirm, errorAt, fieldErrorsOf, lines, SectionTitle, useAdminStyles } from './kit';

export const PAM_KEY = ['admin', 'pam'] as const;

export function PamSection() {
  const { api } = usePortal();
  const styles = useAdminStyles();
  const pam = useQuery({
    queryKey: PAM_KEY,
    queryFn: ({ signal }) => api.get<PamView>('/api/pam', undefined, { signal }),
  });
  if (pam.isPending) return <Loading />;
  if (pam.error) return <ErrorBar error={pam.error} onRetry={() => void pam.refetch()} />;
  return (
    <section className={styles.section} aria-labelledby="pam-title">
      <SectionTitle>
        <span id="pam-title">Privileged access</span>
      </SectionTitle>
      <Notice
        intent={pam.data.enabled ? 'success' : 'warning'}
        title={pam.data.enabled ? 'Enabled' : 'Disabled'}
      >
        {pam.data.enabled
          ? `Requests may be submitted. Default approver group: ${pam.data.defaultApproverGroup ?? '—'}.`
          : 'No request may be submitted until privileged access is enabled.'}{' '}
        {pam.data.updatedBy ? (
          <>
            Last changed by {pam.data.updatedBy} on <Time at={pam.data.updatedAt} />.
          </>
        ) : null}
      </Notice>
      {/* Not keyed by the saved state: a remount after a save would drop the outcome shown below the
          fields; what stays typed in them is what was just saved. */}
      <PamForm pam={pam.data} />
    </section>
  );
}

function PamForm(props: { pam: PamView }) {
  const { api } = usePortal();
  const styles = useAdminStyles();
  const [group, setGroup] = useState(props.pam.defaultApproverGroup ?? '');
  const [accounts, setAccounts] = useState(props.pam.systemAccounts.join('\n'));
  const enable = useChange(
    () =>
      api.send<PamView>(
        'POST',
        '/api/pam/enable',
        { defaultApproverGroup: group.trim(), systemAccounts: lines(accounts) },
        'Enable privileged access',
      ),
    [PAM_KEY, ME_KEY],
  );
  const disable = useChange(
    () => api.send<PamView>('POST', '/api/pam/disable', {}, 'Disable privileged access'),
    [PAM_KEY, ME_KEY],
  );
  const errors = fieldErrorsOf(enable.error);
  const unresolved = props.pam.systemAccountIdentities.filter((m) => m.id === null);
  return (
    <>
      <form
        className={styles.form}
        onSubmit={(e) => {
          e.preventDefault();
          disable.reset();
          enable.mutate(undefined);
        }}
      >
        <Field
          label="Default approver group"
          required
          hint="Decides requests whose policy names no group. It must exist."
          validationMessage={errorAt(errors, 'defaultApproverGroup')}
        >
          <Input value={group} onChange={(_, d) => setGroup(d.value)} />
        </Field>
        <Field
          label="System accounts"
          hint="One UPN per line. These accounts run tasks without a request."
          validationMessage={errorAt(errors, 'systemAccounts')}
        >
          <Textarea value={accounts} onChange={(_, d) => setAccounts(d.value)} resize="vertical" rows={4} />
        </Field>
        {unresolved.length > 0 ? (
          <Notice intent="warning" title="Not yet resolved">
            {unresolved.map((m) => m.upn).join(', ')} cannot run tasks until the directory migration resolves
            them.
          </Notice>
        ) : null}
        <ErrorBar error={enable.error ?? disable.error} />
        {enable.isSuccess ? <Notice intent="success">Privileged access is enabled.</Notice> : null}
        {disable.isSuccess ? <Notice intent="success">Privileged access is disabled.</Notice> : null}
        <div className={styles.actions}>
          <Button type="submit" appearance="primary" disabled={enable.isPending}>
            {props.pam.enabled ? 'Save and keep enabled' : 'Enable privileged access'}
          </Button>
        </div>
      </form>
      {/* Outside the form: turning it off is its own decision, never a submit of the fields above. */}
      <div className={styles.actions}>
        {props.pam.enabled ? (
          <Confirm
            label="Disable privileged access"
            title="Disable privileged access?"
            consequence="No request may be submitted while it is off. Policies, groups, the default group and system accounts are kept."
            confirmLabel="Disable"
            disabled={disable.isPending}
            onConfirm={() => {
              enable.reset();
              disable.mutate(undefined);
            }}
          />
        ) : null}
      </div>
    </>
  );
}
