/**
 * LISTEN on a dedicated connection (a pooled one would lose its LISTEN when released). When the
 * connection fails, `onNotify` is called once with no payload (so waiters look again) and the
 * listener reconnects in the background; callers keep a poll interval as the fallback.
 */
import type { Knex } from 'knex';
import { Client, type ClientConfig } from 'pg';

export interface Listener {
  close(): Promise<void>;
}

export async function listen(db: Knex, channel: string, onNotify: (payload: string | undefined) => void): Promise<Listener> {
  const config = (db.client as { config: { connection: ClientConfig } }).config.connection;
  let client: Client | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;

  const connect = async (): Promise<void> => {
    const c = new Client({ ...config, application_name: 'tessera-listen' });
    c.on('notification', (n) => {
      if (n.channel === channel) onNotify(n.payload);
    });
    c.on('error', () => {
      if (client === c) client = undefined;
      void c.end().catch(() => undefined);
      onNotify(undefined);
      if (!closed) retry = setTimeout(() => void connect().catch(() => undefined), 1000);
    });
    await c.connect();
    await c.query(`LISTEN ${quoteIdent(channel)}`);
    if (closed) return void (await c.end());
    client = c;
  };

  await connect().catch(() => {
    if (!closed) retry = setTimeout(() => void connect().catch(() => undefined), 1000);
  });
  return {
    async close() {
      closed = true;
      if (retry) clearTimeout(retry);
      await client?.end().catch(() => undefined);
      client = undefined;
    },
  };
}

function quoteIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a channel name: ${name}`);
  return name;
}
