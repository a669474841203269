/**
 * Plain http is only ever allowed to this machine: executors, portal origins, the portal's sign-in
 * authority and link bases may use it on loopback (local hosts and tests); anywhere else a page or a
 * signed call could be read or altered in transit. One definition, so every check agrees.
 */
const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]']);

/** `url.hostname` of a loopback address (IPv6 in brackets, as `URL` writes it). */
export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname);
}

/** https, or http to a loopback host. */
export function isHttpsOrLoopback(url: URL): boolean {
  return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname));
}
