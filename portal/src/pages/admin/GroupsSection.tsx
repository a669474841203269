/** "Approver groups": who decides requests. Members are UPNs; the API resolves each to its directory id. */
import {
  Button,
  Field,
  Input,
  Table,
  TableBody,
  TableCell,
  TableHeader,
  TableHeaderCell,
  TableRow,
  Textarea,
} from '@fluentui/react-components';
import { useState } from 'react';
import type { ApproverGroupView } from '../../api/types';
import { usePortal } from '../../app/context';
import { ME_KEY, useChange, useQuery } from '../../components/data';
import { ErrorBar, Loading, Notice } from '../../components/ui';
import { ConfirmDelete, errorAt, fieldErrorsOf, lines, SectionTitle, useAdminStyles } from './kit';

export const GROUPS_KEY = ['admin', 'groups'] as const;

export function GroupsSection() {
  const { api } = usePortal();
  const styles = useAdminStyles();
  const [editing, setEditing] = useState<ApproverGroupView | 'new'>('new');
  const groups = useQuery({
    queryKey: GROUPS_KEY,
    queryFn: ({ signal }) =>
      api.get<{ items: ApproverGroupView[] }>('/api/approver-groups', undefined, { signal }),
  });
  const remove = useChange(
    (name: string) =>
      api.send<undefined>(
        'DELETE',
        `/api/approver-groups/${encodeURIComponent(name)}`,
        undefined,
        `Delete ${name}`,
      ),
    [GROUPS_KEY, ME_KEY],
  );
  return (
    <section className={styles.section} aria-labelledby="groups-title">
      <SectionTitle>
        <span id="groups-title">Approver groups</span>
      </SectionTitle>
      {groups.isPending ? <Loading /> : null}
      <ErrorBar error={groups.error} onRetry={() => void groups.refetch()} />
      <ErrorBar error={remove.error} />
      {groups.data ? (
        groups.data.items.length === 0 ? (
          <p>No approver groups yet.</p>
        ) : (
          <div className={styles.tableBox}>
            <Table aria-label="Approver groups">
              <TableHeader>
                <TableRow>
                  <TableHeaderCell>Name</TableHeaderCell>
                  <TableHeaderCell>Description</TableHeaderCell>
                  <TableHeaderCell>Members</TableHeaderCell>
                  <TableHeaderCell>Actions</TableHeaderCell>
                </TableRow>
              </TableHeader>
              <TableBody>
                {groups.data.items.map((g) => (
                  <TableRow key={g.name}>
                    <TableCell>{g.name}</TableCell>
                    <TableCell>{g.description ?? '—'}</TableCell>
                    <TableCell>
                      {g.identities
                        .map((m) => (m.id === null ? `${m.upn} (not yet resolved)` : m.upn))
                        .join(', ')}
                    </TableCell>
                    <TableCell>
                      <div className={styles.actions}>
                        <Button aria-label={`Edit ${g.name}`} onClick={() => setEditing(g)}>
                          Edit
                        </Button>
                        <ConfirmDelete
                          what={`approver group ${g.name}`}
                          consequence="Refused while it is the default approver group or a policy names it."
                          onConfirm={() => remove.mutate(g.name)}
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
      <GroupForm
        key={editing === 'new' ? 'new' : editing.name}
        group={editing === 'new' ? null : editing}
        onDone={() => setEditing('new')}
      />
    </section>
  );
}

function GroupForm(props: { group: ApproverGroupView | null; onDone: () => void }) {
  const { api } = usePortal();
  const styles = useAdminStyles();
  const [name, setName] = useState(props.group?.name ?? '');
  const [description, setDescription] = useState(props.group?.description ?? '');
  const [members, setMembers] = useState(props.group?.members.join('\n') ?? '');
  const [saved, setSaved] = useState<string | null>(null);
  const save = useChange(
    () =>
      api.send<ApproverGroupView>(
        'PUT',
        `/api/approver-groups/${encodeURIComponent(name.trim())}`,
        {
          members: lines(members),
          ...(description.trim() === '' ? {} : { description: description.trim() }),
        },
        `Save ${name}`,
      ),
    [GROUPS_KEY, ME_KEY],
  );
  const errors = fieldErrorsOf(save.error);
  return (
    <form
      className={styles.form}
      onSubmit={(e) => {
        e.preventDefault();
        setSaved(null);
        save.mutate(undefined, {
          onSuccess: (g) => {
            setSaved(g.name);
            if (props.group === null) {
              setName('');
              setDescription('');
              setMembers('');
            }
          },
        });
      }}
    >
      <SectionTitle>{props.group ? `Edit ${props.group.name}` : 'New approver group'}</SectionTitle>
      <Field
        label="Name"
        required
        hint="Letters, digits and - _ . @"
        validationMessage={errorAt(errors, 'name')}
      >
        <Input value={name} disabled={props.group !== null} onChange={(_, d) => setName(d.value)} />
      </Field>
      <Field label="Description" validationMessage={errorAt(errors, 'description')}>
        <Input value={description} onChange={(_, d) => setDescription(d.value)} />
      </Field>
      <Field label="Members" required hint="One UPN per line." validationMessage={errorAt(errors, 'members')}>
        <Textarea value={members} onChange={(_, d) => setMembers(d.value)} resize="vertical" rows={4} />
      </Field>
      <ErrorBar error={save.error} />
      {saved ? <Notice intent="success">Saved approver group {saved}.</Notice> : null}
      <div className={styles.actions}>
        <Button type="submit" appearance="primary" disabled={save.isPending || name.trim() === ''}>
          Save group
        </Button>
        {props.group ? <Button onClick={props.onDone}>New group instead</Button> : null}
      </div>
    </form>
  );
}
