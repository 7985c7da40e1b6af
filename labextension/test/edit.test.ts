import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { applyEdit, isKaleTag, isKnownTag, readEdit, readMagic } from '../src/edit';
import { parseCellTags } from '../src/tags';

describe('readEdit / applyEdit', () => {
  it('an unchanged edit gives back the same tags, Kale and unknown ones included', () => {
    for (const tags of [
      [],
      ['stage:train', 'after:load', 'hide-input'],
      ['block:train', 'prev:load', 'limit:nvidia.com/gpu:1'],
      ['imports'],
      ['pipeline-parameters', 'remove_cell'],
      ['stage:a', 'skip', 'cache:off', 'retries:3', 'timeout:60'],
      ['block:']
    ]) {
      assert.deepEqual(applyEdit(tags, readEdit(tags)), tags);
    }
  });

  it('a tag named like an Object.prototype member is an unknown tag, not a role', () => {
    for (const tag of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      assert.equal(isKnownTag(tag), false, tag);
      assert.equal(readEdit([tag]).role, 'code', tag);
      assert.deepEqual(applyEdit([tag], readEdit([tag])), [tag]);
    }
  });

  it('starts a new stage with stage: and keeps the other tags in place', () => {
    const tags = ['hide-input'];
    const out = applyEdit(tags, { ...readEdit(tags), stage: 'train' });
    assert.deepEqual(out, ['hide-input', 'stage:train']);
    assert.equal(parseCellTags(out).stage, 'train');
  });

  it("renames a Kale step in Kale's dialect", () => {
    const tags = ['block:train', 'prev:load'];
    assert.deepEqual(applyEdit(tags, { ...readEdit(tags), stage: 'fit' }), [
      'prev:load',
      'block:fit'
    ]);
  });

  it('writes Kale names for new tags in a Kale notebook', () => {
    const out = applyEdit(
      [],
      { ...readEdit([]), stage: 'a', after: ['b'] },
      { kale: true }
    );
    assert.deepEqual(out, ['block:a', 'prev:b']);
    assert.deepEqual(
      applyEdit([], { ...readEdit([]), role: 'setup' }, { kale: true }),
      ['imports']
    );
  });

  it('removes the stage tag to continue the stage above', () => {
    const tags = ['stage:train', 'skip'];
    assert.deepEqual(applyEdit(tags, { ...readEdit(tags), stage: null }), ['skip']);
  });

  it('adds and removes after: names, keeping prev: tags that stay', () => {
    const tags = ['block:c', 'prev:a', 'prev:b'];
    assert.deepEqual(applyEdit(tags, { ...readEdit(tags), after: ['b', 'x'] }), [
      'block:c',
      'prev:b',
      'after:x'
    ]);
  });

  it('a role clears stage, after: and options (they would be an error)', () => {
    const tags = ['stage:a', 'after:b', 'retries:2', 'keep-me'];
    const out = applyEdit(tags, { ...readEdit(tags), role: 'parameters' });
    assert.deepEqual(out, ['keep-me', 'parameters']);
    assert.equal(parseCellTags(out).role, 'parameters');
  });

  it('switches roles and toggles skip', () => {
    const tags = ['pipeline-metrics'];
    assert.deepEqual(applyEdit(tags, { ...readEdit(tags), role: 'setup' }), ['setup']);
    assert.deepEqual(applyEdit(tags, { ...readEdit(tags), role: 'code' }), []);
    assert.deepEqual(applyEdit(['stage:a'], { ...readEdit(['stage:a']), skip: true }), [
      'stage:a',
      'skip'
    ]);
  });

  it('writes options', () => {
    const edit = {
      ...readEdit([]),
      stage: 'a',
      cache: false,
      retries: 2,
      timeout: 1.5
    };
    const out = applyEdit([], edit);
    assert.deepEqual(out, ['stage:a', 'cache:off', 'retries:2', 'timeout:1.5']);
    const parsed = parseCellTags(out);
    assert.equal(parsed.cache, false);
    assert.equal(parsed.retries, 2);
    assert.equal(parsed.timeout, 1.5);
  });

  it('reads tags that do not parse as far as they go', () => {
    const edit = readEdit(['stage:Bad', 'retries:x', 'after:ok']);
    assert.equal(edit.stage, 'Bad');
    assert.equal(edit.retries, null);
    assert.deepEqual(edit.after, ['ok']);
  });

  it('reads a %%mlops stage line', () => {
    assert.deepEqual(readMagic('\n%%mlops stage fit --after a,b\nx = 1'), {
      stage: 'fit',
      after: ['a', 'b'],
      line: '%%mlops stage fit --after a,b'
    });
    assert.equal(readMagic('x = 1'), null);
  });

  it('classifies tags', () => {
    assert.ok(isKaleTag('prev:a') && isKaleTag('imports') && !isKaleTag('after:a'));
    assert.ok(
      isKnownTag('stage:a') && isKnownTag('timeout:5') && !isKnownTag('hide-input')
    );
  });
});
