/**
 * CBS (claims-based security) authorisation. The SDK puts a SAS token on `$cbs` before every attach
 * (`SharedAccessSignature sr=<audience>&sig=…&se=<expiry>&skn=<key name>`, where sig is the
 * HMAC-SHA256 of "<audience>\n<expiry>" with the key). We check it against this run's random key, so
 * only a client given this run's connection string can attach anything but `$cbs` itself.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { reply, type ConnState } from './connection';
import { asRecord } from './values';

export const KEY_NAME = 'RootManageSharedAccessKey';

export const NOT_AUTHORIZED = 'A valid SAS token must be put on $cbs before attaching.';

/** Only `$cbs` may be attached before the connection has presented a valid token. */
export function mayAttach(state: ConnState, address: string | undefined): boolean {
  return address === '$cbs' || state.authorized;
}

/** Answers a request on `$cbs`: a valid put-token authorises the connection. */
export function onPutToken(
  state: ConnState,
  message: unknown,
  sharedAccessKey: string,
  log: (msg: string) => void,
): void {
  const request = asRecord(message);
  const props = asRecord(request.application_properties);
  let status = 202;
  let description = 'Accepted';
  if (props.operation !== 'put-token') {
    status = 400;
    description = `Unsupported $cbs operation '${String(props.operation)}'.`;
  } else if (
    props.type !== 'servicebus.windows.net:sastoken' ||
    !validSas(request.body, sharedAccessKey, Date.now())
  ) {
    status = 401;
    description = 'InvalidSignature: the token has an invalid signature or has expired.';
  } else {
    state.authorized = true;
  }
  // $cbs replies use kebab-case keys (unlike $management's camelCase).
  reply(state, request, { 'status-code': status, 'status-description': description }, undefined, log);
}

/** Checks a `SharedAccessSignature sr=…&sig=…&se=…&skn=…` token against the key. */
function validSas(token: unknown, sharedAccessKey: string, now: number): boolean {
  const prefix = 'SharedAccessSignature ';
  if (typeof token !== 'string' || !token.startsWith(prefix)) return false;
  const fields = new Map<string, string>();
  for (const part of token.slice(prefix.length).split('&')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq), part.slice(eq + 1));
  }
  const sr = fields.get('sr');
  const se = fields.get('se');
  const sig = fields.get('sig');
  const skn = fields.get('skn');
  if (sr === undefined || se === undefined || sig === undefined || skn === undefined) return false;
  if (decodeURIComponent(skn) !== KEY_NAME || Number(se) * 1000 <= now) return false;
  const expected = createHmac('sha256', sharedAccessKey).update(`${sr}\n${se}`).digest();
  const given = Buffer.from(decodeURIComponent(sig), 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
