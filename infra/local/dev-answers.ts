/**
 * How the host's own development pages answer (the mailbox, the telemetry receiver): never cached,
 * no referrer, no sniffing; HTML under the pages' script-free Content-Security-Policy and never framed.
 */
import type { ServerResponse } from 'node:http';
import { PAGE_CONTENT_SECURITY_POLICY } from './mailbox/pages';

export function commonHeaders(): Record<string, string> {
  return {
    'Cache-Control': 'no-store',
    'Referrer-Policy': 'no-referrer',
    'X-Content-Type-Options': 'nosniff',
  };
}

export function sendHtml(res: ServerResponse, status: number, html: string): true {
  res
    .writeHead(status, {
      ...commonHeaders(),
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Security-Policy': PAGE_CONTENT_SECURITY_POLICY,
      'X-Frame-Options': 'DENY',
    })
    .end(html);
  return true;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): true {
  res
    .writeHead(status, { ...commonHeaders(), 'Content-Type': 'application/json; charset=utf-8' })
    .end(JSON.stringify(body));
  return true;
}

export function methodNotAllowed(res: ServerResponse, allow: string): true {
  res
    .writeHead(405, { ...commonHeaders(), Allow: allow, 'Content-Type': 'text/plain; charset=utf-8' })
    .end('Method not allowed');
  return true;
}
