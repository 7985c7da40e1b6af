import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  TagError,
  checkStageName,
  isStageName,
  parseCellTags,
  pyRepr,
  pySplit
} from '../src/tags';
import { readTable } from './tables';

interface ICase {
  name: string;
  tags: string[];
  source: string;
  expect?: { [field: string]: unknown };
  error?: string;
}

const CASES = readTable<ICase>('tags.json');

describe('tests/cases/tags.json (shared with tests/test_tags.py)', () => {
  it('has cases of both kinds', () => {
    assert.ok(CASES.filter(c => c.expect).length >= 30);
    assert.ok(CASES.filter(c => c.error).length >= 30);
  });
  for (const c of CASES) {
    it(c.name, () => {
      if (c.expect) {
        const parsed = parseCellTags(c.tags, c.source);
        const fields: { [field: string]: unknown } = {};
        for (const key of Object.keys(c.expect)) {
          fields[key] = (parsed as unknown as { [field: string]: unknown })[key];
        }
        assert.deepEqual(fields, c.expect);
      } else {
        assert.throws(
          () => parseCellTags(c.tags, c.source),
          (err: unknown) => {
            assert.ok(err instanceof TagError, String(err));
            assert.ok(
              err.message.includes(c.error!),
              `${JSON.stringify(err.message)} should contain ${JSON.stringify(c.error)}`
            );
            return true;
          }
        );
      }
    });
  }
});

describe('tags.ts helpers', () => {
  it('validates stage names as tags.py does', () => {
    assert.ok(isStageName('load-data_v2'));
    assert.ok(isStageName('a'.repeat(63)));
    assert.ok(!isStageName('a'.repeat(64)));
    assert.ok(!isStageName('Train'));
    assert.ok(!isStageName('train\n'));
    assert.equal(checkStageName('x'), 'x');
    assert.throws(() => checkStageName('9a'), /'9a' is not a valid stage name/);
  });
  it('quotes like Python repr', () => {
    assert.equal(pyRepr('abc'), "'abc'");
    assert.equal(pyRepr("it's"), '"it\'s"');
    assert.equal(pyRepr('a\nb\t\\'), "'a\\nb\\t\\\\'");
    assert.equal(pyRepr('\u00a0\u200b'), "'\\xa0\\u200b'");
  });
  it('splits like Python str.split()', () => {
    assert.deepEqual(pySplit('  %%mlops\tstage  a \u3000 b '), [
      '%%mlops',
      'stage',
      'a',
      'b'
    ]);
    assert.deepEqual(pySplit('   '), []);
  });
  it('marks Kale tags', () => {
    assert.equal(parseCellTags(['block:a']).kale, true);
    assert.equal(parseCellTags(['stage:a']).kale, false);
    assert.equal(parseCellTags(['hide-input']).tagged, false);
  });
});
