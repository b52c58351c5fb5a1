/**
 * Encrypts every Temporal payload (workflow and activity inputs and results, heartbeat details,
 * signals, queries, memos, failure details) with AES-256-GCM before it leaves the process, so
 * histories stored by the Temporal server never hold PII in clear text.
 *
 * The key comes from TESSERA_PAYLOAD_KEY (base64 of 32 bytes), TESSERA_PAYLOAD_KEY_FILE, or the
 * secrets file; its id (a hash prefix, not the key) travels in the payload metadata so keys can
 * be rotated: decoding looks the id up among the current and previous keys.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { readSecret } from './config';

const ENCODING = 'binary/encrypted';
const CIPHER = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface CodecKey {
  id: string;
  key: Buffer;
}

export function codecKey(base64: string): CodecKey {
  const key = Buffer.from(base64.trim(), 'base64');
  if (key.length !== 32) {
    throw new Error('the payload encryption key must be 32 bytes, base64-encoded (e.g. `openssl rand -base64 32`)');
  }
  return { id: createHash('sha256').update(key).digest('hex').slice(0, 16), key };
}

/** Current key from TESSERA_PAYLOAD_KEY(_FILE); older keys (for decoding only) from TESSERA_PAYLOAD_KEYS_PREVIOUS (comma-separated base64). */
export function loadCodecKeys(env: NodeJS.ProcessEnv = process.env): { current: CodecKey; previous: CodecKey[] } {
  const current = readSecret('TESSERA_PAYLOAD_KEY', env);
  if (!current) {
    throw new Error(
      'TESSERA_PAYLOAD_KEY (or TESSERA_PAYLOAD_KEY_FILE) is not set: Temporal payloads must be encrypted. ' +
        'Create one with `openssl rand -base64 32`; `npm start` creates .data/secrets/payload.key for you.',
    );
  }
  const previous = (readSecret('TESSERA_PAYLOAD_KEYS_PREVIOUS', env) ?? '')
    .split(',')
    .filter((s) => s.trim())
    .map(codecKey);
  return { current: codecKey(current), previous };
}

export class EncryptionCodec implements PayloadCodec {
  private readonly byId: Map<string, Buffer>;

  constructor(private readonly current: CodecKey, previous: CodecKey[] = []) {
    this.byId = new Map([current, ...previous].map((k) => [k.id, k.key]));
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv(CIPHER, this.current.key, iv);
      const plain = serialize(payload);
      const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: { encoding: Buffer.from(ENCODING), 'encryption-key-id': Buffer.from(this.current.id) },
        data,
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const encoding = payload.metadata?.encoding && Buffer.from(payload.metadata.encoding).toString();
      if (encoding !== ENCODING) return payload;
      const keyId = Buffer.from(payload.metadata?.['encryption-key-id'] ?? []).toString();
      const key = this.byId.get(keyId);
      if (!key) throw new Error(`no payload key with id ${keyId} is configured (rotate keys via TESSERA_PAYLOAD_KEYS_PREVIOUS)`);
      const data = Buffer.from(payload.data ?? []);
      const iv = data.subarray(0, IV_BYTES);
      const tag = data.subarray(data.length - TAG_BYTES);
      const decipher = createDecipheriv(CIPHER, key, iv);
      decipher.setAuthTag(tag);
      const plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      return deserialize(plain);
    });
  }
}

/** A Payload is metadata (string → bytes) plus data; serialise it as JSON with base64 bytes. */
function serialize(payload: Payload): Buffer {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(payload.metadata ?? {})) metadata[k] = Buffer.from(v).toString('base64');
  return Buffer.from(JSON.stringify({ m: metadata, d: Buffer.from(payload.data ?? []).toString('base64') }));
}

function deserialize(buf: Buffer): Payload {
  const { m, d } = JSON.parse(buf.toString()) as { m: Record<string, string>; d: string };
  const metadata: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(m)) metadata[k] = Buffer.from(v, 'base64');
  return { metadata, data: Buffer.from(d, 'base64') };
}
