/**
 * What commands print: a table for people by default, the API's own JSON with `--json` for
 * scripts (stdout only ever carries the result; progress, spinners and errors go to stderr).
 */
import Table from 'cli-table3';

export interface Out {
  json: boolean;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/** The fields of a request view the tables show. */
export interface RequestRow {
  id: string;
  status: string;
  task?: string | undefined;
  role?: string | undefined;
  roleGroup?: string | undefined;
  requester: string;
  createdAt: string;
  expiresAt: string | null;
  emergency?: boolean | undefined;
}

function target(r: RequestRow): string {
  if (r.task !== undefined) return r.task;
  if (r.role !== undefined) return `role: ${r.role}`;
  return r.roleGroup === undefined ? '' : `role group: ${r.roleGroup}`;
}

export function table(head: string[], rows: string[][]): string {
  const t = new Table({ head, style: { head: [], border: [] } });
  t.push(...rows);
  return t.toString();
}

export function requestsTable(items: readonly RequestRow[]): string {
  if (items.length === 0) return 'No requests.';
  return table(
    ['id', 'status', 'target', 'requester', 'created', 'expires'],
    items.map((r) => [
      r.id,
      r.emergency === true ? `${r.status} (emergency)` : r.status,
      target(r),
      r.requester,
      r.createdAt,
      r.expiresAt ?? '',
    ]),
  );
}

/** Prints `value` as JSON with `--json`, else the human form. */
export function print(out: Out, value: unknown, human: () => string): void {
  out.stdout(out.json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
}
