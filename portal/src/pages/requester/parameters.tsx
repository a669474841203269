/**
 * A task's parameters as labelled fields, generated from the task's own schema (name, type,
 * required, description, pattern, maxLength), and the typed values the API expects from them.
 */
import { Checkbox, Field, Input } from '@fluentui/react-components';
import type { ParameterValues, TaskParameter } from '../../api/types';

/** What the person typed: text for strings and numbers, a tick for booleans. */
export type ParameterDraft = Record<string, string | boolean>;

export function ParameterFields(props: {
  parameters: readonly TaskParameter[];
  values: ParameterDraft;
  onChange: (values: ParameterDraft) => void;
  /** API field errors by body path (`parameters.vm`). */
  errors: Readonly<Record<string, string>>;
}) {
  const set = (name: string, value: string | boolean) => props.onChange({ ...props.values, [name]: value });
  return (
    <>
      {props.parameters.map((p) => {
        const error = props.errors[`parameters.${p.name}`];
        const hint = [p.description, p.pattern ? `Must match ${p.pattern}` : undefined]
          .filter(Boolean)
          .join('. ');
        if (p.type === 'boolean')
          return (
            <Field key={p.name} validationMessage={error} hint={hint || undefined}>
              <Checkbox
                label={p.name}
                checked={props.values[p.name] === true}
                onChange={(_, d) => set(p.name, d.checked === true)}
              />
            </Field>
          );
        const raw = props.values[p.name];
        return (
          <Field
            key={p.name}
            label={p.name}
            required={p.required}
            validationMessage={error}
            hint={hint || undefined}
          >
            <Input
              type={p.type === 'number' ? 'number' : 'text'}
              value={typeof raw === 'string' ? raw : ''}
              maxLength={p.maxLength}
              onChange={(_, d) => set(p.name, d.value)}
            />
          </Field>
        );
      })}
    </>
  );
}

/**
 * The values to send: numbers as numbers, booleans as booleans, empty optional fields left out
 * (the API checks required ones and patterns and answers with field errors).
 */
export function typedValues(parameters: readonly TaskParameter[], draft: ParameterDraft): ParameterValues {
  const out: ParameterValues = {};
  for (const p of parameters) {
    const raw = draft[p.name];
    if (p.type === 'boolean') {
      if (raw !== undefined) out[p.name] = raw === true;
      continue;
    }
    if (typeof raw !== 'string' || raw.trim() === '') continue;
    if (p.type === 'number') {
      const n = Number(raw);
      // A text the browser let through stays text, so the API names the field in its refusal.
      out[p.name] = Number.isFinite(n) ? n : raw;
    } else out[p.name] = raw;
  }
  return out;
}
