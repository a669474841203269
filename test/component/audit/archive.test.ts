/**
 * The archive in Blob storage: day exports (idempotent, recoverable after a crash between data and
 * manifest, never silently replaced), the daily chore that exports and anchors, and the offline
 * verifier an auditor runs on a downloaded day.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAuditVerify } from '../../../infra/tools/audit-verify';
import { createBlobs } from '#shared/adapters/blobs';
import { ManifestSchema } from '#shared/audit/export-file';
import { AuditKeyPurpose, auditSubkey } from '#shared/audit/keys';
import type { AuditLog } from '#shared/audit/log';
import { archiveDays, daysToArchive } from '#shared/audit/maintenance';
import { AuditAction } from '#shared/audit/types';
import { settings } from '#shared/config';
import { isDomainError } from '#shared/domain/errors';
import { startComponentEnv, type ComponentEnv } from '../../support/component';
import { HMAC_KEY, anEvent, collect, testClock, testLog } from './support';

let env: ComponentEnv;
let dir: string;
let log: AuditLog;
let container: ContainerClient;
const clock = testClock('2030-06-10T22:00:00.000Z');

async function blobText(name: string): Promise<string> {
  return (await container.getBlobClient(name).downloadToBuffer()).toString('utf8');
}

beforeAll(async () => {
  env = await startComponentEnv();
  dir = await mkdtemp(join(tmpdir(), 'zsa-audit-'));
  const made = testLog(clock, { chains: 4 });
  log = made.log;
  container = await createBlobs(settings()).container(made.name);
  // Rows on 10 June (late evening) and 11 June (just after midnight).
  for (let i = 0; i < 24; i++) {
    await Promise.all([log.append(anEvent(i)), log.append(anEvent(100 + i))]);
    clock.advance(10 * 60_000);
  }
}, 60_000);

afterAll(async () => {
  await env.close();
  await rm(dir, { recursive: true, force: true });
});

describe('exporting a day', () => {
  it('is refused until the day is over (and a settling margin has passed)', async () => {
    clock.set('2030-06-11T00:05:00.000Z');
    const outcome = await log.exportDay('2030-06-10').then(
      () => 'exported',
      (e: unknown) => e,
    );
    expect(isDomainError(outcome, 'NOT_YET_DUE')).toBe(true);
  });

  it('writes the rows and a manifest with the count, each chain head and the digest; a second run writes nothing', async () => {
    // Prepare
    clock.set('2030-06-12T00:30:00.000Z');
    const expected = await collect(
      log.exportRows({ from: new Date('2030-06-10T00:00:00Z'), to: new Date('2030-06-11T00:00:00Z') }),
    );

    // Act
    const first = await log.exportDay('2030-06-10');
    const etag = (await container.getBlobClient(first.blob).getProperties()).etag;
    const again = await log.exportDay('2030-06-10');

    // Assess
    expect(first).toMatchObject({
      status: 'exported',
      blob: 'audit/2030/06/10.jsonl',
      manifestBlob: 'audit/2030/06/10.manifest.json',
    });
    expect(first.manifest.rows).toBe(expected.length);
    expect(expected.length).toBeGreaterThan(0);
    const lastOf = (chain: number) => expected.filter((r) => r.chain === chain).at(-1);
    for (const summary of first.manifest.chains) {
      expect(summary).toMatchObject({
        lastSequence: lastOf(summary.chain)?.sequence,
        lastHash: lastOf(summary.chain)?.hash,
      });
    }
    expect(ManifestSchema.parse(JSON.parse(await blobText(first.manifestBlob)))).toEqual(first.manifest);
    expect(again).toMatchObject({ status: 'exists', manifest: first.manifest });
    expect((await container.getBlobClient(first.blob).getProperties()).etag).toBe(etag);
  });

  it('completes a run that stopped between the data and the manifest, keeping the data blob', async () => {
    // Prepare: the 11th exported, then its manifest lost (as if the run died before writing it).
    const done = await log.exportDay('2030-06-11');
    await container.getBlobClient(done.manifestBlob).delete();
    const etag = (await container.getBlobClient(done.blob).getProperties()).etag;

    // Act
    const resumed = await log.exportDay('2030-06-11');

    // Assess
    expect(resumed.status).toBe('exported');
    expect({ ...resumed.manifest, exportedAt: '' }).toEqual({ ...done.manifest, exportedAt: '' });
    expect((await container.getBlobClient(done.blob).getProperties()).etag).toBe(etag);
  });

  it('refuses to write a manifest for a data blob that differs from the table', async () => {
    // Prepare
    const names = { data: 'audit/2030/06/09.jsonl' };
    const forged = '{"forged":true}\n';
    await container.getBlockBlobClient(names.data).upload(forged, forged.length);

    // Act
    const outcome = await log.exportDay('2030-06-09').then(
      () => 'exported',
      (e: unknown) => e,
    );

    // Assess
    expect(isDomainError(outcome, 'CONFLICT')).toBe(true);
    expect(await container.getBlobClient('audit/2030/06/09.manifest.json').exists()).toBe(false);
  });
});

describe('the daily archive chore', () => {
  it('exports every finished day of the week not yet exported, audits each, anchors; a rerun only anchors', async () => {
    // Prepare
    clock.set('2030-06-13T00:15:00.000Z');
    expect(daysToArchive(clock.now())).toEqual(
      [
        '2030-06-05',
        '2030-06-06',
        '2030-06-07',
        '2030-06-08',
        '2030-06-09',
        '2030-06-10',
        '2030-06-11',
        '2030-06-12',
      ].slice(1),
    );
    await container.getBlobClient('audit/2030/06/09.jsonl').delete();

    // Act
    const first = await archiveDays(log, clock.now());
    const second = await archiveDays(log, clock.now());

    // Assess
    expect(first.exports.map((e) => `${e.day}:${e.status}`)).toEqual([
      '2030-06-06:exported',
      '2030-06-07:exported',
      '2030-06-08:exported',
      '2030-06-09:exported',
      '2030-06-10:exists',
      '2030-06-11:exists',
      '2030-06-12:exported',
    ]);
    expect(second.exports.every((e) => e.status === 'exists')).toBe(true);
    const rows = await collect(log.exportRows());
    expect(
      rows.filter((r) => r.action === AuditAction.AuditExported && r.actorKind === 'system'),
    ).toHaveLength(5);
    expect(
      rows.filter((r) => r.action === AuditAction.AuditAnchored && r.actorKind === 'system'),
    ).toHaveLength(2);
    expect(await log.verify()).toMatchObject({ ok: true });
    expect((await log.verify()).anchors).toBeGreaterThan(0);
  });
});

describe('npm run audit:verify', () => {
  it('passes a downloaded day with its manifest beside it, and fails it once a line is changed', async () => {
    // Prepare
    const file = join(dir, '10.jsonl');
    await writeFile(file, await blobText('audit/2030/06/10.jsonl'));
    await writeFile(join(dir, '10.manifest.json'), await blobText('audit/2030/06/10.manifest.json'));
    const anchorNames: string[] = [];
    for await (const b of container.listBlobsFlat({ prefix: 'anchors/' })) anchorNames.push(b.name);
    const anchors = join(dir, 'anchors.jsonl');
    await writeFile(anchors, (await Promise.all(anchorNames.map(blobText))).join(''));
    const out: string[] = [];
    const env = { ZSA_AUDIT_HMAC_KEY: HMAC_KEY };

    // Act
    const intact = await runAuditVerify([file, '--anchors', anchors], (l) => out.push(l), env);
    const text = await blobText('audit/2030/06/10.jsonl');
    await writeFile(file, text.replace('"outcome":"success"', '"outcome":"failure"'));
    const broken = await runAuditVerify([file], (l) => out.push(l), env);
    const usage = await runAuditVerify([], (l) => out.push(l), env);

    // Assess
    expect(intact).toBe(0);
    expect(JSON.parse(out[0] ?? '{}')).toMatchObject({
      ok: true,
      manifest: join(dir, '10.manifest.json'),
      chainKeys: [{ source: 'ZSA_AUDIT_HMAC_KEY' }],
      keyedUnchecked: 0,
    });
    expect(broken).toBe(1);
    expect(JSON.parse(out[1] ?? '{}')).toMatchObject({ ok: false, firstBroken: { reason: 'hash-mismatch' } });
    expect(usage).toBe(2);
  });

  it('checks keyed rows with the chain key an auditor is given, and says plainly when it has no key', async () => {
    // Prepare: the day as downloaded, and the chain subkey an operator derives for the auditor.
    const file = join(dir, 'keyed.jsonl');
    await writeFile(file, await blobText('audit/2030/06/10.jsonl'));
    const chainKey = auditSubkey(HMAC_KEY, AuditKeyPurpose.chain).toString('hex');
    const out: string[] = [];

    // Act
    const withSubkey = await runAuditVerify([file], (l) => out.push(l), { ZSA_AUDIT_CHAIN_KEY: chainKey });
    const withoutKey = await runAuditVerify([file], (l) => out.push(l), {});
    const wrongKey = await runAuditVerify([file], (l) => out.push(l), { ZSA_AUDIT_HMAC_KEY: 'another key' });
    const badSubkey = await runAuditVerify([file], (l) => out.push(l), { ZSA_AUDIT_CHAIN_KEY: 'abc' });

    // Assess
    expect(withSubkey).toBe(0);
    expect(JSON.parse(out[0] ?? '{}')).toMatchObject({
      ok: true,
      chainKeys: [{ source: 'ZSA_AUDIT_CHAIN_KEY' }],
    });
    expect(withoutKey).toBe(3);
    const unkeyed = JSON.parse(out[1] ?? '{}') as {
      ok: boolean;
      checked: number;
      keyedUnchecked: number;
      message: string;
    };
    expect(unkeyed).toMatchObject({ ok: false, chainKeys: [] });
    expect(unkeyed.keyedUnchecked).toBe(unkeyed.checked);
    expect(unkeyed.message).toMatch(/NOT checked.*ZSA_AUDIT_CHAIN_KEY/);
    expect(wrongKey).toBe(1);
    // The rows name a key the one given is not: reported as such, not as a changed row.
    expect(JSON.parse(out[2] ?? '{}')).toMatchObject({ firstBroken: { reason: 'unknown-key' } });
    expect(badSubkey).toBe(2);
  });
});
