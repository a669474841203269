/**
 * "Catalog": tasks (what runs, and the parameters it takes), roles (sets of tasks) and role groups
 * (sets of roles). Names travel in `?name=`, never in the path: task names may hold `\` and `/`.
 */
import {
  Button,
  Checkbox,
  Field,
  Input,
  Select,
  Tab,
  TabList,
  Table,
  TableBody,
  TableCell,
  TableHeader,
  TableHeaderCell,
  TableRow,
  Textarea,
} from '@fluentui/react-components';
import { useState } from 'react';
import { withQuery } from '../../api/client';
import type { CatalogRole, RoleGroup, Task, TaskParameter } from '../../api/types';
import { usePortal } from '../../app/context';
import { CATALOG_KEY, POLICY_PREVIEW_KEY, useChange, useQuery } from '../../components/data';
import { ErrorBar, Loading, Notice } from '../../components/ui';
import {
  compact,
  ConfirmDelete,
  errorAt,
  fieldErrorsOf,
  lines,
  numberText,
  optionalNumber,
  SectionTitle,
  useAdminStyles,
} from './kit';

type Kind = 'tasks' | 'roles' | 'role-groups';
const KIND_LABEL: Record<Kind, string> = { tasks: 'Tasks', roles: 'Roles', 'role-groups': 'Role groups' };
const ONE: Record<Kind, string> = { tasks: 'task', roles: 'role', 'role-groups': 'role group' };
const catalogKey = (kind: Kind) => ['admin', 'catalog', kind] as const;
/**
 * What a catalog change makes stale besides this list: the requester's catalog and policy preview,
 * so an admin who adds a task and then opens "Request access" finds it there.
 */
const REQUESTER_KEYS = [CATALOG_KEY, POLICY_PREVIEW_KEY] as const;

export function CatalogSection() {
  const styles = useAdminStyles();
  const [kind, setKind] = useState<Kind>('tasks');
  return (
    <section className={styles.section} aria-labelledby="catalog-title">
      <SectionTitle>
        <span id="catalog-title">Catalog</span>
      </SectionTitle>
      <TabList
        selectedValue={kind}
        onTabSelect={(_, d) => setKind(d.value as Kind)}
        aria-label="Catalog entries"
        size="small"
      >
        {(Object.keys(KIND_LABEL) as Kind[]).map((k) => (
          <Tab key={k} value={k}>
            {KIND_LABEL[k]}
          </Tab>
        ))}
      </TabList>
      <CatalogKind key={kind} kind={kind} />
    </section>
  );
}

type Entry = Task | CatalogRole | RoleGroup;

function CatalogKind(props: { kind: Kind }) {
  const { api } = usePortal();
  const styles = useAdminStyles();
  const { kind } = props;
  const [editing, setEditing] = useState<Entry | 'new'>('new');
  const list = useQuery({
    queryKey: catalogKey(kind),
    queryFn: ({ signal }) => api.get<{ items: Entry[] }>(`/api/catalog/${kind}`, undefined, { signal }),
  });
  const remove = useChange(
    (name: string) =>
      api.send<undefined>('DELETE', withQuery(`/api/catalog/${kind}`, { name }), undefined, `Delete ${name}`),
    [catalogKey(kind), ...REQUESTER_KEYS],
  );
  const key = editing === 'new' ? 'new' : editing.name;
  const done = () => setEditing('new');
  return (
    <>
      {list.isPending ? <Loading /> : null}
      <ErrorBar error={list.error} onRetry={() => void list.refetch()} />
      <ErrorBar error={remove.error} />
      {list.data ? (
        list.data.items.length === 0 ? (
          <p>No {KIND_LABEL[kind].toLowerCase()} yet.</p>
        ) : (
          <div className={styles.tableBox}>
            <Table aria-label={KIND_LABEL[kind]}>
              <TableHeader>
                <TableRow>
                  <TableHeaderCell>Name</TableHeaderCell>
                  <TableHeaderCell>{kind === 'tasks' ? 'Description' : 'Contains'}</TableHeaderCell>
                  {kind === 'tasks' ? <TableHeaderCell>Executor</TableHeaderCell> : null}
                  <TableHeaderCell>Actions</TableHeaderCell>
                </TableRow>
              </TableHeader>
              <TableBody>
                {list.data.items.map((e) => (
                  <TableRow key={e.name}>
                    <TableCell>{e.name}</TableCell>
                    <TableCell>{describe(e)}</TableCell>
                    {'executor' in e ? (
                      <TableCell>
                        {e.executor.type === 'webhook'
                          ? `Webhook ${e.executor.url}`
                          : `Service Bus queue ${e.executor.queue}`}
                      </TableCell>
                    ) : null}
                    <TableCell>
                      <div className={styles.actions}>
                        <Button aria-label={`Edit ${e.name}`} onClick={() => setEditing(e)}>
                          Edit
                        </Button>
                        <ConfirmDelete
                          what={`${ONE[kind]} ${e.name}`}
                          consequence={`Refused while ${kind === 'tasks' ? 'a policy or a role' : kind === 'roles' ? 'a policy or a role group' : 'a policy'} uses it.`}
                          onConfirm={() => remove.mutate(e.name)}
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
      {kind === 'tasks' ? (
        <TaskForm key={key} task={editing === 'new' ? null : (editing as Task)} onDone={done} />
      ) : (
        <SetForm
          key={key}
          kind={kind}
          entry={editing === 'new' ? null : (editing as CatalogRole | RoleGroup)}
          onDone={done}
        />
      )}
    </>
  );
}

function describe(e: Entry): string {
  if ('tasks' in e) return e.tasks.join(', ');
  if ('roles' in e) return e.roles.join(', ');
  return e.description;
}

/** A parameter row as typed: every field text until it is sent. */
interface ParamRow {
  name: string;
  type: TaskParameter['type'];
  required: boolean;
  description: string;
  pattern: string;
  maxLength: string;
}

const toRow = (p: TaskParameter): ParamRow => ({
  name: p.name,
  type: p.type,
  required: p.required,
  description: p.description ?? '',
  pattern: p.pattern ?? '',
  maxLength: numberText(p.maxLength),
});

const fromRow = (r: ParamRow) =>
  compact({
    name: r.name.trim(),
    type: r.type,
    required: r.required,
    description: r.description.trim() === '' ? undefined : r.description.trim(),
    // Only strings take a pattern and a length; other types never send them (the API would refuse).
    pattern: r.type === 'string' && r.pattern !== '' ? r.pattern : undefined,
    maxLength: r.type === 'string' ? optionalNumber(r.maxLength) : undefined,
  });

function TaskForm(props: { task: Task | null; onDone: () => void }) {
  const { api } = usePortal();
  const styles = useAdminStyles();
  const t = props.task;
  const [name, setName] = useState(t?.name ?? '');
  const [description, setDescription] = useState(t?.description ?? '');
  const [executorType, setExecutorType] = useState<'webhook' | 'serviceBus'>(t?.executor.type ?? 'webhook');
  const [url, setUrl] = useState(t?.executor.type === 'webhook' ? t.executor.url : '');
  const [queue, setQueue] = useState(t?.executor.type === 'serviceBus' ? t.executor.queue : '');
  const [params, setParams] = useState<ParamRow[]>(t?.parameters?.map(toRow) ?? []);
  const [saved, setSaved] = useState<string | null>(null);
  const save = useChange(
    () =>
      api.send<Task>(
        'PUT',
        '/api/catalog/tasks',
        {
          name: name.trim(),
          description,
          executor:
            executorType === 'webhook'
              ? { type: 'webhook', url: url.trim() }
              : { type: 'serviceBus', queue: queue.trim() },
          parameters: params.map(fromRow),
        },
        `Save ${name}`,
      ),
    [catalogKey('tasks'), ...REQUESTER_KEYS],
  );
  const errors = fieldErrorsOf(save.error);
  const setParam = (i: number, change: Partial<ParamRow>) =>
    setParams((ps) => ps.map((p, j) => (j === i ? { ...p, ...change } : p)));
  return (
    <form
      className={styles.form}
      onSubmit={(e) => {
        e.preventDefault();
        setSaved(null);
        save.mutate(undefined, { onSuccess: (task) => setSaved(task.name) });
      }}
    >
      <SectionTitle>{t ? `Edit task ${t.name}` : 'New task'}</SectionTitle>
      <Field label="Name" required validationMessage={errorAt(errors, 'name')}>
        <Input value={name} disabled={t !== null} onChange={(_, d) => setName(d.value)} />
      </Field>
      <Field label="Description" required validationMessage={errorAt(errors, 'description')}>
        <Textarea value={description} onChange={(_, d) => setDescription(d.value)} resize="vertical" />
      </Field>
      <div className={styles.row}>
        <Field label="Executor" validationMessage={errors['executor.type'] ?? errors['executor']}>
          <Select
            value={executorType}
            onChange={(_, d) => setExecutorType(d.value as 'webhook' | 'serviceBus')}
          >
            <option value="webhook">Webhook (HTTPS URL)</option>
            <option value="serviceBus">Service Bus queue</option>
          </Select>
        </Field>
        {executorType === 'webhook' ? (
          <Field
            label="Webhook URL"
            required
            hint="https; plain http only for loopback test servers"
            validationMessage={errors['executor.url']}
          >
            <Input type="url" value={url} onChange={(_, d) => setUrl(d.value)} />
          </Field>
        ) : (
          <Field label="Queue" required validationMessage={errors['executor.queue']}>
            <Input value={queue} onChange={(_, d) => setQueue(d.value)} />
          </Field>
        )}
      </div>
      {errors['parameters'] ? <Notice intent="warning">Parameters: {errors['parameters']}</Notice> : null}
      {params.map((p, i) => (
        <fieldset key={i} className={styles.fieldset}>
          <legend>Parameter {i + 1}</legend>
          <div className={styles.row}>
            <Field
              label="Name"
              required
              validationMessage={errors[`parameters.${i}.name`] ?? errors[`parameters.${i}`]}
            >
              <Input value={p.name} onChange={(_, d) => setParam(i, { name: d.value })} />
            </Field>
            <Field label="Type" validationMessage={errors[`parameters.${i}.type`]}>
              <Select value={p.type} onChange={(_, d) => setParam(i, { type: d.value as ParamRow['type'] })}>
                <option value="string">Text</option>
                <option value="number">Number</option>
                <option value="boolean">Yes / no</option>
              </Select>
            </Field>
            <Field validationMessage={errors[`parameters.${i}.required`]}>
              <Checkbox
                label="Required"
                checked={p.required}
                onChange={(_, d) => setParam(i, { required: d.checked === true })}
              />
            </Field>
          </div>
          <Field label="Description" validationMessage={errors[`parameters.${i}.description`]}>
            <Input value={p.description} onChange={(_, d) => setParam(i, { description: d.value })} />
          </Field>
          {p.type === 'string' ? (
            <div className={styles.row}>
              <Field
                label="Pattern"
                hint="A regular expression the whole value must match"
                validationMessage={errors[`parameters.${i}.pattern`]}
              >
                <Input value={p.pattern} onChange={(_, d) => setParam(i, { pattern: d.value })} />
              </Field>
              <Field
                label="Longest value (characters)"
                validationMessage={errors[`parameters.${i}.maxLength`]}
              >
                <Input
                  inputMode="numeric"
                  value={p.maxLength}
                  onChange={(_, d) => setParam(i, { maxLength: d.value })}
                />
              </Field>
            </div>
          ) : null}
          <div className={styles.actions}>
            <Button
              aria-label={`Remove parameter ${i + 1}`}
              onClick={() => setParams((ps) => ps.filter((_, j) => j !== i))}
            >
              Remove
            </Button>
          </div>
        </fieldset>
      ))}
      <div className={styles.actions}>
        <Button
          onClick={() =>
            setParams((ps) => [
              ...ps,
              { name: '', type: 'string', required: false, description: '', pattern: '', maxLength: '' },
            ])
          }
        >
          Add parameter
        </Button>
      </div>
      <ErrorBar error={save.error} />
      {saved ? <Notice intent="success">Saved task {saved}.</Notice> : null}
      <div className={styles.actions}>
        <Button type="submit" appearance="primary" disabled={save.isPending}>
          Save task
        </Button>
        {t ? <Button onClick={props.onDone}>New task instead</Button> : null}
      </div>
    </form>
  );
}

/** A role (its tasks) or a role group (its roles). */
function SetForm(props: {
  kind: 'roles' | 'role-groups';
  entry: CatalogRole | RoleGroup | null;
  onDone: () => void;
}) {
  const { api } = usePortal();
  const styles = useAdminStyles();
  const field = props.kind === 'roles' ? 'tasks' : 'roles';
  const e = props.entry;
  const initial = e === null ? [] : 'tasks' in e ? e.tasks : e.roles;
  const [name, setName] = useState(e?.name ?? '');
  const [members, setMembers] = useState(initial.join('\n'));
  const [saved, setSaved] = useState<string | null>(null);
  const one = ONE[props.kind];
  const save = useChange(
    () =>
      api.send<{ name: string }>(
        'PUT',
        `/api/catalog/${props.kind}`,
        { name: name.trim(), [field]: lines(members) },
        `Save ${name}`,
      ),
    [catalogKey(props.kind), ...REQUESTER_KEYS],
  );
  const errors = fieldErrorsOf(save.error);
  return (
    <form
      className={styles.form}
      onSubmit={(ev) => {
        ev.preventDefault();
        setSaved(null);
        save.mutate(undefined, { onSuccess: (r) => setSaved(r.name) });
      }}
    >
      <SectionTitle>{e ? `Edit ${one} ${e.name}` : `New ${one}`}</SectionTitle>
      <Field label="Name" required validationMessage={errorAt(errors, 'name')}>
        <Input value={name} disabled={e !== null} onChange={(_, d) => setName(d.value)} />
      </Field>
      <Field
        label={props.kind === 'roles' ? 'Tasks' : 'Roles'}
        required
        hint={`One ${props.kind === 'roles' ? 'task' : 'role'} name per line; each must exist.`}
        validationMessage={errorAt(errors, field)}
      >
        <Textarea value={members} onChange={(_, d) => setMembers(d.value)} resize="vertical" rows={4} />
      </Field>
      <ErrorBar error={save.error} />
      {saved ? (
        <Notice intent="success">
          Saved {one} {saved}.
        </Notice>
      ) : null}
      <div className={styles.actions}>
        <Button type="submit" appearance="primary" disabled={save.isPending}>
          Save {one}
        </Button>
        {e ? <Button onClick={props.onDone}>New {one} instead</Button> : null}
      </div>
    </form>
  );
}
