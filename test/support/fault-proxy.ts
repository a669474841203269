/**
 * A TCP proxy on loopback that can cut its traffic: while cut, it resets every open connection and
 * every new one, as clients see a service that went away. Its own port never changes, so what is
 * behind it can be stopped and started again elsewhere (`retarget`) without the client noticing
 * anything but the outage.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface FaultProxy {
  /** The port clients connect to. */
  readonly port: number;
  /** Resets every connection, and every new one until `restore`. */
  cut(): void;
  restore(): void;
  /** Where new connections go from now on. */
  retarget(port: number): void;
  close(): Promise<void>;
}

export async function startFaultProxy(targetPort: number): Promise<FaultProxy> {
  let target = targetPort;
  let cut = false;
  const open = new Set<Socket>();
  const track = (s: Socket) => {
    open.add(s);
    s.once('close', () => open.delete(s));
  };
  const server: Server = createServer((client) => {
    if (cut) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect({ host: '127.0.0.1', port: target });
    track(client);
    track(upstream);
    // Either side failing ends both, abruptly, as a dropped connection would.
    client.on('error', () => upstream.resetAndDestroy());
    upstream.on('error', () => client.resetAndDestroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    cut() {
      cut = true;
      for (const s of open) s.resetAndDestroy();
    },
    restore() {
      cut = false;
    },
    retarget(next) {
      target = next;
    },
    close() {
      for (const s of open) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}
