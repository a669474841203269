/**
 * Talks to a running local host the way portals and Power Automate do: real HTTP, bearer tokens
 * minted by the host's development issuer.
 */
export interface ApiResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export async function mintToken(
  hostUrl: string,
  upn: string,
  roles: string[] = [],
  name?: string,
): Promise<string> {
  const res = await fetch(`${hostUrl}/dev/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ upn, roles, ...(name ? { name } : {}) }),
  });
  if (res.status !== 200) throw new Error(`minting a token failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

export interface Caller {
  upn: string;
  token: string;
  get<T = unknown>(path: string): Promise<ApiResponse<T>>;
  post<T = unknown>(path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse<T>>;
  put<T = unknown>(path: string, body?: unknown): Promise<ApiResponse<T>>;
  delete<T = unknown>(path: string): Promise<ApiResponse<T>>;
  raw(path: string, init: RequestInit): Promise<ApiResponse>;
}

export async function send<T>(url: string, init: RequestInit): Promise<ApiResponse<T>> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: unknown = text;
  const type = res.headers.get('content-type') ?? '';
  if (type.includes('json') && text.length > 0) body = JSON.parse(text);
  return { status: res.status, headers: res.headers, body: body as T, text };
}

/** A signed-in caller (roles as app roles in the token), or an anonymous one with token ''. */
export async function caller(hostUrl: string, upn: string, roles: string[] = []): Promise<Caller> {
  const token = upn === '' ? '' : await mintToken(hostUrl, upn, roles);
  const auth: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const call = <T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    send<T>(`${hostUrl}${path}`, {
      method,
      headers: { ...auth, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
  return {
    upn,
    token,
    get: (path) => call('GET', path),
    post: (path, body, headers) => call('POST', path, body, headers),
    put: (path, body) => call('PUT', path, body),
    delete: (path) => call('DELETE', path),
    raw: (path, init) =>
      send(`${hostUrl}${path}`, {
        ...init,
        headers: { ...auth, ...(init.headers as Record<string, string>) },
      }),
  };
}
