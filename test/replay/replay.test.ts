/**
 * Determinism guard: every committed history (test/replay/histories/<release>/*.json) must replay
 * on the current workflow code. A failure here means a change needs `patched()`.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { Worker } from '@temporalio/worker';
import { EncryptionCodec, codecKey } from '../../platform/payload-codec';
import { workflowBundle } from '../support/env';
import { FIXTURE_PAYLOAD_KEY } from './fixture-key';

const root = join(__dirname, 'histories');
/** Per release: history file → the workflow id it was recorded under (child workflow ids derive from it). */
const WORKFLOW_IDS = 'workflow-ids.json';

function recordedWorkflowId(file: string): string {
  const index = join(root, file, '..', WORKFLOW_IDS);
  const ids = existsSync(index) ? (JSON.parse(readFileSync(index, 'utf8')) as Record<string, string>) : {};
  return ids[basename(file)] ?? file;
}
const files = readdirSync(root).flatMap((release) =>
  statSync(join(root, release)).isDirectory()
    ? readdirSync(join(root, release)).filter((f) => f.endsWith('.json') && f !== WORKFLOW_IDS).map((f) => join(release, f))
    : [],
);

for (const file of files) {
  test(`replays ${file}`, async () => {
    const history = JSON.parse(readFileSync(join(root, file), 'utf8'));
    await Worker.runReplayHistory(
      {
        workflowBundle: await workflowBundle(),
        dataConverter: { payloadCodecs: [new EncryptionCodec(codecKey(FIXTURE_PAYLOAD_KEY))], failureConverterPath: require.resolve('../../platform/failure-converter') },
      },
      history,
      recordedWorkflowId(file),
    );
  });
}
