import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { formatDuration, formatValue } from '../src/format';
import {
  formatParameter,
  parseParameter,
  relativeToRoot,
  stripDrive
} from '../src/paths';

describe('relativeToRoot', () => {
  it('gives the path under the root', () => {
    assert.equal(
      relativeToRoot('/srv/work/.mlops/runs/r1/a.ipynb', '/srv/work'),
      '.mlops/runs/r1/a.ipynb'
    );
    assert.equal(relativeToRoot('/srv/work/x.ipynb', '/srv/work/'), 'x.ipynb');
    assert.equal(relativeToRoot('/x.ipynb', '/'), 'x.ipynb');
  });
  it('refuses paths outside the root', () => {
    assert.equal(relativeToRoot('/srv/workshop/x.ipynb', '/srv/work'), null);
    assert.equal(relativeToRoot('/tmp/x.ipynb', '/srv/work'), null);
    assert.equal(relativeToRoot('/srv/work/../etc/x', '/srv/work'), null);
    assert.equal(relativeToRoot('/srv/work/x', ''), null);
  });
  it('handles Windows paths', () => {
    assert.equal(
      relativeToRoot('C:\\Users\\me\\p\\a.ipynb', 'c:\\users\\me'),
      'p/a.ipynb'
    );
  });
});

describe('stripDrive', () => {
  it('drops a drive prefix only', () => {
    assert.equal(stripDrive('RTC:dir/a.ipynb'), 'dir/a.ipynb');
    assert.equal(stripDrive('dir/a:b.ipynb'), 'dir/a:b.ipynb');
    assert.equal(stripDrive('a.ipynb'), 'a.ipynb');
  });
});

describe('parameters', () => {
  it('parses by type', () => {
    assert.deepEqual(parseParameter('int', ' 42 '), { value: 42 });
    assert.ok('error' in parseParameter('int', '4.2'));
    assert.deepEqual(parseParameter('float', '0.25'), { value: 0.25 });
    assert.ok('error' in parseParameter('float', ''));
    assert.deepEqual(parseParameter('bool', 'true'), { value: true });
    assert.deepEqual(parseParameter('str', ' a b '), { value: ' a b ' });
    assert.deepEqual(parseParameter('list', '[1, 2]'), { value: [1, 2] });
    assert.ok('error' in parseParameter('dict', '{x'));
  });
  it('formats defaults for the form', () => {
    assert.equal(formatParameter('float', 1), '1.0');
    assert.equal(formatParameter('int', 100), '100');
    assert.equal(formatParameter('str', 'abc'), 'abc');
    assert.equal(formatParameter('bool', false), 'false');
    assert.equal(formatParameter('NoneType', null), 'null');
  });
});

describe('formatting', () => {
  it('durations', () => {
    assert.equal(formatDuration(0.42), '0.4s');
    assert.equal(formatDuration(12.4), '12s');
    assert.equal(formatDuration(185), '3m 05s');
    assert.equal(formatDuration(null), '');
  });
  it('values', () => {
    assert.equal(formatValue(0.9210526315789473), '0.921053');
    assert.equal(formatValue(120000.4), '120000');
    assert.equal(formatValue(0.5), '0.5');
    assert.equal(formatValue(3), '3');
    assert.equal(formatValue(1e-7), '1.000e-7');
    assert.equal(formatValue(null), '—');
  });
});
