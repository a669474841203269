/**
 * Pieces the admin forms share: field errors from the API by body path, a delete that asks first,
 * list tables that scroll sideways on a narrow screen, and text ↔ list/number conversions.
 */
import {
  Button,
  Dialog,
  DialogActions,
  DialogBody,
  DialogContent,
  DialogSurface,
  DialogTitle,
  DialogTrigger,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { useState, type ReactNode } from 'react';
import { ApiError } from '../../api/errors';

export const useAdminStyles = makeStyles({
  section: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM },
  form: {
    display: 'flex',
    flexDirection: 'column',
    gap: tokens.spacingVerticalM,
    maxWidth: '48rem',
    padding: tokens.spacingHorizontalM,
    border: `${tokens.strokeWidthThin} solid ${tokens.colorNeutralStroke2}`,
    borderRadius: tokens.borderRadiusMedium,
  },
  // Side by side when there is room, stacked at 375 px.
  row: {
    display: 'flex',
    flexWrap: 'wrap',
    gap: tokens.spacingHorizontalM,
    alignItems: 'flex-end',
    '> *': { flex: '1 1 12rem', minWidth: 0 },
  },
  fieldset: {
    border: `${tokens.strokeWidthThin} solid ${tokens.colorNeutralStroke2}`,
    borderRadius: tokens.borderRadiusMedium,
    padding: tokens.spacingHorizontalM,
    margin: 0,
    display: 'flex',
    flexDirection: 'column',
    gap: tokens.spacingVerticalS,
  },
  actions: { display: 'flex', flexWrap: 'wrap', gap: tokens.spacingHorizontalS },
  // Tables scroll inside their box rather than widening the page.
  tableBox: { overflowX: 'auto', maxWidth: '100%' },
  h2: { margin: 0, fontSize: tokens.fontSizeBase500, lineHeight: tokens.lineHeightBase500 },
});

/** The API's field messages keyed by body path (`stages.0.approverGroup`); empty for other errors. */
export function fieldErrorsOf(error: unknown): Readonly<Record<string, string>> {
  return error instanceof ApiError ? error.fieldErrors : {};
}

/**
 * The message for a field: its own path, or the first one under it (`members.3` lands on the
 * members box, which holds every member).
 */
export function errorAt(errors: Readonly<Record<string, string>>, path: string): string | undefined {
  if (errors[path] !== undefined) return errors[path];
  const under = Object.keys(errors).find((k) => k.startsWith(`${path}.`));
  return under === undefined ? undefined : errors[under];
}

/** One entry a line, blanks dropped (UPNs, task names, role names). */
export function lines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * A number field's value for the body: absent when empty; what was typed when it is not a number,
 * so the API (the one authority on the rules) names the field in its refusal.
 */
export function optionalNumber(text: string): number | string | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : t;
}

export function numberText(n: number | null | undefined): string {
  return n === undefined || n === null ? '' : String(n);
}

/** Drops absent fields, so the body carries only what the admin gave. */
export function compact<T extends Record<string, unknown>>(body: T): Partial<T> {
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function SectionTitle(props: { children: ReactNode }) {
  const styles = useAdminStyles();
  return <h2 className={styles.h2}>{props.children}</h2>;
}

/** A button that asks before it acts (delete, disable). */
export function Confirm(props: {
  label: string;
  ariaLabel?: string;
  title: string;
  consequence: string;
  confirmLabel: string;
  disabled?: boolean;
  onConfirm: () => void;
}) {
  const [open, setOpen] = useState(false);
  return (
    <Dialog open={open} onOpenChange={(_, d) => setOpen(d.open)}>
      <DialogTrigger disableButtonEnhancement>
        <Button aria-label={props.ariaLabel} disabled={props.disabled}>
          {props.label}
        </Button>
      </DialogTrigger>
      <DialogSurface>
        <DialogBody>
          <DialogTitle>{props.title}</DialogTitle>
          <DialogContent>{props.consequence}</DialogContent>
          <DialogActions>
            <DialogTrigger disableButtonEnhancement>
              <Button appearance="secondary">Keep it</Button>
            </DialogTrigger>
            <Button
              appearance="primary"
              onClick={() => {
                setOpen(false);
                props.onConfirm();
              }}
            >
              {props.confirmLabel}
            </Button>
          </DialogActions>
        </DialogBody>
      </DialogSurface>
    </Dialog>
  );
}

/** A "Delete" that asks first, naming what goes. */
export function ConfirmDelete(props: {
  what: string;
  consequence?: string;
  disabled?: boolean;
  onConfirm: () => void;
}) {
  return (
    <Confirm
      label="Delete"
      ariaLabel={`Delete ${props.what}`}
      title={`Delete ${props.what}?`}
      consequence={props.consequence ?? 'This cannot be undone.'}
      confirmLabel="Delete"
      disabled={props.disabled}
      onConfirm={props.onConfirm}
    />
  );
}
