import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import type { Payload } from '@temporalio/common';
import { codecKey, EncryptionCodec, loadCodecKeys } from './payload-codec';

const key = () => codecKey(randomBytes(32).toString('base64'));
const plain = (data: string): Payload => ({ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from(data) });

test('payloads round-trip, and the stored bytes do not contain the data', async () => {
  const codec = new EncryptionCodec(key());
  const [encoded] = await codec.encode([plain('{"email":"ada@example.com"}')]);
  assert.equal(Buffer.from(encoded!.metadata!.encoding!).toString(), 'binary/encrypted');
  assert.ok(!Buffer.from(encoded!.data!).toString('latin1').includes('ada@example.com'));
  const [decoded] = await codec.decode([encoded!]);
  assert.equal(Buffer.from(decoded!.data!).toString(), '{"email":"ada@example.com"}');
  assert.equal(Buffer.from(decoded!.metadata!.encoding!).toString(), 'json/plain');
});

test('a tampered payload is refused (authenticated encryption)', async () => {
  const codec = new EncryptionCodec(key());
  const [encoded] = await codec.encode([plain('"x"')]);
  const data = Buffer.from(encoded!.data!);
  data.writeUInt8(data.readUInt8(data.length - 20) ^ 1, data.length - 20);
  await assert.rejects(codec.decode([{ ...encoded!, data }]));
});

test('after a key rotation, payloads written with the previous key still decode', async () => {
  const old = key();
  const [written] = await new EncryptionCodec(old).encode([plain('"history"')]);
  const rotated = new EncryptionCodec(key(), [old]);
  const [decoded] = await rotated.decode([written!]);
  assert.equal(Buffer.from(decoded!.data!).toString(), '"history"');
  await assert.rejects(new EncryptionCodec(key()).decode([written!]), /no payload key with id/);
});

test('unencrypted payloads pass through decode unchanged', async () => {
  const p = plain('"legacy"');
  assert.deepEqual(await new EncryptionCodec(key()).decode([p]), [p]);
});

test('keys are read from the environment and must be 32 bytes', () => {
  const k = randomBytes(32).toString('base64');
  assert.equal(loadCodecKeys({ TESSERA_PAYLOAD_KEY: k }).current.id, codecKey(k).id);
  assert.throws(() => loadCodecKeys({}), /TESSERA_PAYLOAD_KEY/);
  assert.throws(() => codecKey(randomBytes(16).toString('base64')), /32 bytes/);
});
