import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ACTIVE, DONE_OK, FINAL, RUN_STATUSES, STAGE_STATUSES } from '../src/status';
import { readJson } from './tables';

interface IStatuses {
  run: string[];
  stage: string[];
  final: string[];
  active: string[];
  done_ok: string[];
}

const TABLE = readJson<IStatuses>('statuses.json');

describe('status.ts mirrors tests/cases/statuses.json', () => {
  it('lists every run and stage status, in order', () => {
    assert.deepEqual([...RUN_STATUSES], TABLE.run);
    assert.deepEqual([...STAGE_STATUSES], TABLE.stage);
  });

  it('has the same final, active and done_ok statuses (sets: in any order)', () => {
    assert.deepEqual(FINAL, new Set(TABLE.final));
    assert.deepEqual(ACTIVE, new Set(TABLE.active));
    assert.deepEqual(DONE_OK, new Set(TABLE.done_ok));
  });
});
