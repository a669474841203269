/**
 * Holds a live answer to the contract: for tests that call the real API (e2e stories), so the
 * documented shapes are checked against what the running app actually sends, not only against the
 * examples. Returns the disagreements, empty when the answer conforms.
 *
 *   expect(conformanceIssues('SubmitRequest', res.status, res.body)).toEqual([]);
 */
import { problemsOf } from '#shared/openapi/document';
import { OPERATIONS } from '#shared/openapi/operations';
import { problemEntry } from '#shared/openapi/problems';
import { Problem } from '#shared/openapi/schemas';

export function conformanceIssues(operationId: string, status: number, body: unknown): string[] {
  const op = OPERATIONS.find((o) => o.operationId === operationId);
  if (op === undefined) return [`no operation ${operationId}`];
  const success = op.responses.find((r) => r.status === status);
  if (success !== undefined) {
    const json = success.content?.find((c) => (c.mediaType ?? 'application/json') === 'application/json');
    if (json === undefined) return [];
    const parsed = json.schema.safeParse(body);
    return parsed.success
      ? []
      : parsed.error.issues.map((i) => `${operationId} ${status} ${i.path.join('.')}: ${i.message}`);
  }
  const documented = problemsOf(op).filter((code) => problemEntry(code).status === status);
  if (documented.length === 0) return [`${operationId} does not document status ${status}`];
  const problem = Problem.safeParse(body);
  if (!problem.success) return [`${operationId} ${status} is not a problem: ${problem.error.message}`];
  const code = problem.data.code;
  return code !== undefined && !(documented as readonly string[]).includes(code)
    ? [`${operationId} ${status} answers ${code}, documented: ${documented.join(', ')}`]
    : [];
}
