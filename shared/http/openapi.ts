/**
 * `GET /api/openapi.json` as an HTTP answer: the generated document, the same bytes the build
 * writes, cacheable and revalidated by a strong ETag (it changes only with a new version).
 */
import { createHash } from 'node:crypto';
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { openApiJson } from '#shared/openapi/document';

let etag: string | undefined;

export function openApiResponse(request: HttpRequest): HttpResponseInit {
  const body = openApiJson();
  etag ??= `"${createHash('sha256').update(body).digest('base64url')}"`;
  const headers = {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'public, max-age=300',
    etag,
  };
  return matches(request.headers.get('if-none-match'), etag)
    ? { status: 304, headers }
    : { status: 200, headers, body };
}

/** RFC 9110 §13.1.2: `*` or any listed tag, weak or not (a GET compares weakly). */
function matches(ifNoneMatch: string | null, tag: string): boolean {
  if (ifNoneMatch === null) return false;
  return ifNoneMatch
    .split(',')
    .map((t) => t.trim().replace(/^W\//, ''))
    .some((t) => t === '*' || t === tag);
}
