/**
 * The PAM configuration: one row. Its system accounts are a bounded list (at most
 * `MAX_SYSTEM_ACCOUNTS` members of a UPN of at most 256 characters and a key, well inside one 64 KiB
 * property), kept as JSON in that row so that enabling stays one conditional write. A list of bare
 * UPNs was saved before system accounts were keyed: those read with `id: null` (they match nobody)
 * until the directory migration rewrites the row.
 */
import { z } from 'zod';
import { compareAndSwap, readEntity, type Tables } from '#shared/adapters/tables';
import { parseOrThrow } from '#shared/domain/errors';
import { INITIAL_PAM_CONFIG, PamConfig } from '#shared/domain/pam';
import { AdminTable, corruptRow } from './store';

const PARTITION = 'pam';
const ROW = 'config';

// Table Storage drops null properties, so absent means null.
const PamRow = z.object({
  enabled: z.boolean(),
  defaultApproverGroup: z.string().optional(),
  systemAccounts: z.string(),
  updatedAt: z.string().optional(),
  updatedBy: z.string().optional(),
});
type PamRow = z.output<typeof PamRow>;

function toConfig(row: unknown): PamConfig {
  const corrupt = (cause: unknown) => corruptRow(AdminTable.config, PARTITION, cause);
  const parsed = PamRow.safeParse(row);
  if (!parsed.success) throw corrupt(parsed.error);
  let systemAccounts: unknown;
  try {
    systemAccounts = JSON.parse(parsed.data.systemAccounts);
  } catch (e) {
    throw corrupt(e);
  }
  const config = PamConfig.safeParse({
    enabled: parsed.data.enabled,
    defaultApproverGroup: parsed.data.defaultApproverGroup ?? null,
    systemAccounts: Array.isArray(systemAccounts)
      ? systemAccounts.map((a: unknown) => (typeof a === 'string' ? { upn: a, id: null } : a))
      : systemAccounts,
    updatedAt: parsed.data.updatedAt ?? null,
    updatedBy: parsed.data.updatedBy ?? null,
  });
  if (!config.success) throw corrupt(config.error);
  return config.data;
}

function toRow(config: PamConfig): PamRow & { partitionKey: string; rowKey: string } {
  return {
    partitionKey: PARTITION,
    rowKey: ROW,
    enabled: config.enabled,
    ...(config.defaultApproverGroup === null ? {} : { defaultApproverGroup: config.defaultApproverGroup }),
    systemAccounts: JSON.stringify(config.systemAccounts),
    ...(config.updatedAt === null ? {} : { updatedAt: config.updatedAt }),
    ...(config.updatedBy === null ? {} : { updatedBy: config.updatedBy }),
  };
}

/** The current configuration; off (`INITIAL_PAM_CONFIG`) until an admin first enables it. */
export async function getPamConfig(tables: Tables): Promise<PamConfig> {
  const row = await readEntity<PamRow>(await tables.get(AdminTable.config), PARTITION, ROW);
  return row === undefined ? INITIAL_PAM_CONFIG : toConfig(row);
}

/** Applies `change` to the current configuration, compare-and-swap; answers both sides. */
export async function changePamConfig(
  tables: Tables,
  change: (current: PamConfig) => PamConfig,
): Promise<{ before: PamConfig; after: PamConfig }> {
  return compareAndSwap<PamRow, { before: PamConfig; after: PamConfig }>(
    await tables.get(AdminTable.config),
    PARTITION,
    ROW,
    (row) => {
      const before = row === undefined ? INITIAL_PAM_CONFIG : toConfig(row);
      // Never store what could not be read back (say, an actor name that is not a UPN).
      const after = parseOrThrow(PamConfig, change(before), 'configuration');
      return { entity: toRow(after), result: { before, after } };
    },
  );
}
