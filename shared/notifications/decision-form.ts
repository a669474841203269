/**
 * The decision link's HTTP edge: its path, the form of its confirmation page, and where a form may
 * come from. The handler validates with these schemas and the OpenAPI document describes them.
 *
 * CSRF: the secret token in the path is what a forged cross-site form cannot know, so it serves as
 * the anti-CSRF token; in addition only `application/x-www-form-urlencoded` is accepted and a
 * browser's cross-site `Sec-Fetch-Site` or a foreign `Origin` is refused. A per-render HMAC would
 * add nothing a holder of the link could not also obtain by opening the page.
 */
import type { HttpRequest } from '@azure/functions';
import { z } from 'zod';
import { DecisionSchema, MAX_COMMENT } from '#shared/domain/request';
import { mediaTypeOf, publicOrigin, readText } from '#shared/http/handler';
import { badFormPage, unsupportedMediaPage, type Page } from './pages';

/** The single-use token of an emailed link; anything it could not be is simply an invalid link. */
export const DecisionTokenPath = z.strictObject({
  token: z.string().min(1).max(1024).meta({ description: 'The single-use token from the emailed link.' }),
});

/** The form of the confirmation page; nothing else is accepted. */
export const DecisionForm = z
  .strictObject({
    decision: DecisionSchema,
    comment: z
      .string()
      .max(MAX_COMMENT, `must be at most ${MAX_COMMENT} characters`)
      .optional()
      .transform((c) => (c === undefined || c.trim() === '' ? undefined : c.trim())),
  })
  .meta({ id: 'DecisionForm', description: 'The decision confirmed on the page.' });
export type DecisionForm = z.output<typeof DecisionForm>;

/** A browser says where a form came from; refuse anything but this service's own page. */
export function crossSite(request: HttpRequest, publicBaseUrl: string | undefined): boolean {
  const site = request.headers.get('sec-fetch-site');
  if (site !== null && site !== 'same-origin' && site !== 'none') return true;
  const origin = request.headers.get('origin');
  // `null` is what browsers send under Referrer-Policy: no-referrer, which these pages set.
  if (origin === null || origin === 'null') return false;
  return origin !== publicOrigin(publicBaseUrl);
}

/** The form, or the page that says why it could not be read. */
export async function readDecisionForm(request: HttpRequest): Promise<DecisionForm | Page> {
  if (mediaTypeOf(request.headers.get('content-type')) !== 'application/x-www-form-urlencoded')
    return unsupportedMediaPage();
  const fields: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(await readText(request))) {
    if (key in fields) return badFormPage(`The field ${key} was sent twice.`);
    fields[key] = value;
  }
  const parsed = DecisionForm.safeParse(fields);
  if (parsed.success) return parsed.data;
  return badFormPage(
    parsed.error.issues.map((i) => `${i.path.join('.') || 'form'}: ${i.message}`).join('; '),
  );
}
