/**
 * The "Who are you?" page in real Chromium: no accessibility violation axe-core can find, and a
 * person signs in with the keyboard alone, ending back at the app with a code.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AxeBuilder } from '@axe-core/playwright';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDevIssuer, type DevIssuer } from '@zsa/local-host';
import { launchBrowser } from '../../support/browser';

let server: Server;
let origin: string;
let issuer: DevIssuer;
let browser: Browser;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void (async () => {
        if (await issuer.handle(req, res, Buffer.concat(chunks))) return;
        // Stands in for the app the issuer sends people back to.
        res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>App</title>');
      })().catch(() => res.writeHead(500).end());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  issuer = await createDevIssuer({ issuer: `${origin}/dev`, audience: 'api://zsa-page-test' });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser.close();
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
});

function authorizeUrl(extra: Record<string, string> = {}): string {
  const query = new URLSearchParams({
    client_id: 'zsa-portal',
    redirect_uri: `${origin}/`,
    response_type: 'code',
    scope: 'openid',
    state: 'st',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
    ...extra,
  });
  return `${origin}/dev/authorize?${query.toString()}`;
}

it('passes axe (step-up check boxes and a refused UPN shown) and works by keyboard alone', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  try {
    const claims = JSON.stringify({ access_token: { acrs: { essential: true, values: ['c1', 'c2'] } } });
    await page.goto(authorizeUrl({ claims }));

    // A UPN the issuer refuses: the page comes back with the error. One axe run on this page covers
    // every control the page can show (fields, roles, both contexts, MFA, the error), and axe is
    // the slow part of this file.
    await page.keyboard.type('not-a-upn');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#upn-error');
    const refused = await new AxeBuilder({ page }).analyze();
    const contexts = await page.locator('input[name=acrs]:checked').count();

    // Keyboard only: the UPN field, then Tab to the display name and the Admin check box.
    await page.focus('#upn');
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.type('kim@contoso.com');
    await page.keyboard.press('Tab');
    await page.keyboard.type('Kim');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Space');
    await page.keyboard.press('Enter');
    await page.waitForURL((url) => url.searchParams.has('code'));
    const back = new URL(page.url());

    expect(refused.violations.map((violation) => `${violation.id} (${violation.impact ?? ''})`)).toEqual([]);
    expect(contexts).toBe(2);
    expect(back.origin + back.pathname).toBe(`${origin}/`);
    expect(back.searchParams.get('state')).toBe('st');
    // The one error is the refused form's 400 itself.
    expect(errors).toEqual([
      'Failed to load resource: the server responded with a status of 400 (Bad Request)',
    ]);
    // The next page remembers who signed in, with the role chosen by keyboard.
    await page.goto(authorizeUrl());
    await expect(page.inputValue('#upn')).resolves.toBe('kim@contoso.com');
    await expect(page.inputValue('#name')).resolves.toBe('Kim');
    await expect(page.isChecked('#role-0')).resolves.toBe(true);
    await expect(page.isChecked('#role-1')).resolves.toBe(false);
  } finally {
    await context.close();
  }
});
