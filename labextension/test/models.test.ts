import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  EMPTY_PROMOTE_FORM,
  IAliasResult,
  IModelVersion,
  IRequirementRow,
  MAX_REQUIREMENTS,
  aliasError,
  aliasRequest,
  bestVersions,
  failureReason,
  lowerIsBetter,
  metricKeys,
  promotionOutcome,
  requirementLines,
  varyingParameters
} from '../src/models';
import { readJson } from './tables';

function version(n: number, extra: Partial<IModelVersion> = {}): IModelVersion {
  return {
    name: 'iris',
    version: n,
    hash: `h${n}`,
    flavor: 'sklearn',
    format: 'skops',
    size: 100,
    run_id: `20261208-0000${n}0-abcdef`,
    stage: 'train',
    parameters: {},
    metrics: {},
    data: [],
    aliases: [],
    signature: null,
    created_at: null,
    run_status: 'succeeded',
    ...extra
  };
}

function row(extra: Partial<IRequirementRow>): IRequirementRow {
  return {
    requirement: 'accuracy>=+0.01',
    metric: 'accuracy',
    candidate: 0.8733333333333333,
    baseline: 0.9733333333333334,
    required: '>= 0.983333 (baseline +0.01)',
    ok: false,
    note: '',
    ...extra
  };
}

const RUN_OK = row({
  requirement: 'run succeeded',
  metric: 'run',
  candidate: 'succeeded',
  baseline: null,
  required: 'succeeded',
  ok: true,
  note: 'run r2 (every check stage passed)'
});

describe('lowerIsBetter runs tests/cases/metric_direction.json (shared with test_widgets.py)', () => {
  const table = readJson<{ cases: [string, boolean][] }>('metric_direction.json');
  for (const [key, lower] of table.cases) {
    it(`${key}: ${lower ? 'lower' : 'higher'} is better`, () => {
      assert.equal(lowerIsBetter(key), lower);
    });
  }
});

describe('bestVersions', () => {
  const versions = [
    version(3, { metrics: { accuracy: 0.9, loss: 0.4 } }),
    version(2, { metrics: { accuracy: 0.95, loss: 0.2 } }),
    version(1, { metrics: { accuracy: 0.95, loss: null } })
  ];
  it('marks the highest, every one when tied', () => {
    assert.deepEqual([...bestVersions(versions, 'accuracy')].sort(), [1, 2]);
  });
  it('marks the lowest of a loss, leaving out missing values', () => {
    assert.deepEqual([...bestVersions(versions, 'loss')], [2]);
  });
  it('marks none when no version has a number', () => {
    assert.equal(bestVersions(versions, 'f1').size, 0);
    assert.equal(bestVersions([], 'accuracy').size, 0);
  });
});

describe('metricKeys and varyingParameters', () => {
  const versions = [
    version(2, {
      metrics: { loss: 1, accuracy: 0.5 },
      parameters: { C: 0.01, seed: 1 }
    }),
    version(1, { metrics: { f1: 0.2 }, parameters: { C: 1.0, seed: 1 } })
  ];
  it('gives every metric, sorted', () => {
    assert.deepEqual(metricKeys(versions), ['accuracy', 'f1', 'loss']);
  });
  it('gives only the parameters that differ', () => {
    assert.deepEqual(varyingParameters(versions), ['C']);
    assert.deepEqual(varyingParameters([versions[0]]), []);
  });
  it('counts a parameter one version lacks as differing', () => {
    const extra = [...versions, version(0, { parameters: { C: 1.0 } })];
    assert.deepEqual(varyingParameters(extra), ['C', 'seed']);
  });
});

describe('aliasError', () => {
  it('takes the aliases the server takes', () => {
    for (const alias of ['champion', 'b', 'Prod_2-eu', 'x'.repeat(63), '']) {
      assert.equal(aliasError(alias), null, alias);
    }
  });
  it('refuses the others, with the rule', () => {
    for (const alias of ['2nd', '-x', 'a b', 'x'.repeat(64), 'ü', 'a@b']) {
      assert.ok(aliasError(alias)?.startsWith(`'${alias}' cannot be an alias`), alias);
    }
    assert.match(aliasError('latest')!, /newest version/);
  });
});

describe('requirementLines', () => {
  it('gives one requirement a line, trimmed, blank lines left out', () => {
    assert.deepEqual(requirementLines(' accuracy>=+0.01 \r\n\n  rmse<=0.5\n   \n'), [
      'accuracy>=+0.01',
      'rmse<=0.5'
    ]);
    assert.deepEqual(requirementLines(''), []);
  });
});

describe('aliasRequest', () => {
  const versions = [3, 2, 1];
  it('promotes the newest version to champion by default', () => {
    assert.deepEqual(aliasRequest(EMPTY_PROMOTE_FORM, versions), {
      request: { version: 3, alias: 'champion', promote: true, require: [] }
    });
  });
  it('sends the version picked, the requirements and the reason', () => {
    const made = aliasRequest(
      {
        version: '1',
        alias: ' staging ',
        require: 'accuracy>=+0.01\n\naccuracy>=+2%\n',
        reason: '  better on the holdout '
      },
      versions
    );
    assert.deepEqual(made, {
      request: {
        version: 1,
        alias: 'staging',
        promote: true,
        require: ['accuracy>=+0.01', 'accuracy>=+2%'],
        reason: 'better on the holdout'
      }
    });
  });
  it('refuses a version the model does not have', () => {
    assert.deepEqual(aliasRequest({ ...EMPTY_PROMOTE_FORM, version: '7' }, versions), {
      error: 'Pick one of the versions.'
    });
    assert.ok('error' in aliasRequest(EMPTY_PROMOTE_FORM, []));
  });
  it('refuses an empty or malformed alias', () => {
    const empty = aliasRequest({ ...EMPTY_PROMOTE_FORM, alias: '  ' }, versions);
    assert.deepEqual(empty, { error: 'Give the alias a name, e.g. champion.' });
    const latest = aliasRequest({ ...EMPTY_PROMOTE_FORM, alias: 'latest' }, versions);
    assert.ok('error' in latest && latest.error.includes('taken'));
  });
  it('refuses more requirements than the server takes', () => {
    const require = Array.from({ length: MAX_REQUIREMENTS + 1 }, () => 'f1>0').join(
      '\n'
    );
    const made = aliasRequest({ ...EMPTY_PROMOTE_FORM, require }, versions);
    assert.deepEqual(made, { error: `At most 50 requirements, not 51.` });
  });
});

describe('promotionOutcome', () => {
  const base: IAliasResult = {
    name: 'iris',
    version: 1,
    alias: 'champion',
    from: null,
    to: 1,
    moved: true,
    already: false,
    requirements: [RUN_OK]
  };
  it('says where the alias moved from and to', () => {
    assert.deepEqual(promotionOutcome(base), {
      state: 'moved',
      text: 'iris@champion moved from nowhere to version 1.',
      failed: []
    });
    const again = promotionOutcome({ ...base, version: 3, from: 1, to: 3 });
    assert.equal(again.text, 'iris@champion moved from version 1 to version 3.');
  });
  it('says when there was nothing to move', () => {
    const outcome = promotionOutcome({
      ...base,
      from: 1,
      moved: false,
      already: true,
      requirements: []
    });
    assert.equal(outcome.state, 'already');
    assert.equal(outcome.text, 'iris@champion is already version 1: nothing to move.');
  });
  it('gives a refusal with the requirements not met', () => {
    const unmet = row({});
    const missing = row({
      requirement: 'f1>0.1',
      metric: 'f1',
      candidate: null,
      baseline: null,
      required: '> 0.1',
      note: "the candidate has no metric 'f1'"
    });
    const outcome = promotionOutcome({
      ...base,
      version: 2,
      from: 1,
      to: 1,
      moved: false,
      requirements: [
        RUN_OK,
        unmet,
        row({ requirement: 'accuracy>0.5', ok: true }),
        missing
      ]
    });
    assert.equal(outcome.state, 'refused');
    assert.equal(
      outcome.text,
      'Refused: 2 requirements not met; iris@champion stays at version 1 ' +
        '(version 2 was the candidate).'
    );
    assert.deepEqual(outcome.failed, [unmet, missing]);
  });
  it('gives the failed run as the reason when that was all', () => {
    const failedRun = {
      ...RUN_OK,
      candidate: 'failed',
      ok: false,
      note: 'run r2 failed'
    };
    const outcome = promotionOutcome({
      ...base,
      version: 2,
      from: null,
      to: null,
      moved: false,
      requirements: [failedRun]
    });
    assert.equal(
      outcome.text,
      'Refused: 1 requirement not met; iris@champion stays unset ' +
        '(version 2 was the candidate).'
    );
    assert.deepEqual(outcome.failed, [failedRun]);
  });
});

describe('failureReason', () => {
  it("gives the server's note when there is one", () => {
    const note = "the candidate has no metric 'f1'";
    assert.equal(failureReason(row({ note })), note);
  });
  it('else the value against what was required', () => {
    assert.equal(
      failureReason(row({})),
      'accuracy is 0.873333, not >= 0.983333 (baseline +0.01)'
    );
  });
});
