import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  DEFAULT_WINDOW,
  IColumnDrift,
  IMonitorReport,
  IPredictions,
  MIN_ROWS,
  WINDOWS,
  columnRows,
  driftRule,
  driftVerdict,
  driftedColumns,
  errorsText,
  formatMs,
  formatPercent,
  monitorTarget,
  predictionsLine,
  referenceText,
  shortHash,
  targetMoved,
  testedColumns
} from '../src/monitor';

function ks(statistic: number, p: number): IColumnDrift {
  return { test: 'ks', statistic, p_value: p, threshold: 0.05, drift: p < 0.05 };
}

// the shape `mlops monitor --json` gave for iris traffic with two petal columns moved
function report(extra: Partial<IMonitorReport> = {}): IMonitorReport {
  return {
    model: 'iris',
    version: 2,
    ref: 'iris@champion',
    window: {
      seconds: 3600,
      since: '2026-12-08T01:00:00Z',
      until: '2026-12-08T02:00:00Z'
    },
    requests: 13,
    errors: 1,
    error_rate: 1 / 13,
    latency_ms: { p50: 2.417, p99: 11.2 },
    served_rows: 300,
    reference: { path: 'iris', hash: '9f86d081884c7d659a2feaa0c55ad015', rows: 150 },
    drift: true,
    share: 0.5,
    columns: {
      'sepal length (cm)': ks(0.06, 0.61),
      'sepal width (cm)': ks(0.07, 0.42),
      'petal length (cm)': ks(0.62, 1.2e-31),
      'petal width (cm)': ks(0.55, 3.4e-25)
    },
    note: null,
    predictions: {
      rows: 300,
      kind: 'classes',
      counts: { '0': 12, '1': 40, '2': 248 },
      shift: null
    },
    ...extra
  };
}

describe('WINDOWS', () => {
  it('offers the windows mlops monitor --window reads, the default among them', () => {
    assert.deepEqual(
      WINDOWS.map(w => w.value),
      ['15m', '1h', '24h', '7d']
    );
    assert.ok(WINDOWS.some(w => w.value === DEFAULT_WINDOW));
    assert.equal(DEFAULT_WINDOW, '1h');
  });
});

describe('monitorTarget and targetMoved', () => {
  it('watches the champion when the model has one', () => {
    assert.deepEqual(
      monitorTarget({ latest: 3, aliases: { champion: 1, staging: 3 } }),
      {
        alias: 'champion',
        version: 1,
        text: 'champion, version 1'
      }
    );
  });
  it('else the newest version, with no alias sent', () => {
    assert.deepEqual(monitorTarget({ latest: 3, aliases: { staging: 2 } }), {
      alias: null,
      version: 3,
      text: 'newest, version 3 (no champion)'
    });
  });
  it('says a report is stale once the watched version moved', () => {
    const shown = { version: 1 };
    assert.equal(targetMoved({ latest: 3, aliases: { champion: 1 } }, shown), false);
    assert.equal(targetMoved({ latest: 3, aliases: { champion: 3 } }, shown), true);
    assert.equal(targetMoved({ latest: 1, aliases: {} }, shown), false);
    assert.equal(targetMoved({ latest: 2, aliases: {} }, shown), true);
  });
});

describe('traffic in words', () => {
  it('writes latencies in ms, none as a dash', () => {
    assert.equal(formatMs(2.417), '2.417 ms');
    assert.equal(formatMs(12), '12 ms');
    assert.equal(formatMs(null), '—');
  });
  it('writes the error rate as mlops monitor does', () => {
    assert.equal(errorsText(report()), '1 (7.7 %)');
    assert.equal(errorsText({ errors: 0, error_rate: 0 }), '0 (0.0 %)');
    assert.equal(errorsText({ errors: 0, error_rate: null }), '0 (—)');
    assert.equal(formatPercent(0.5, 0), '50 %');
  });
  it('names the training data by path, short hash and rows', () => {
    assert.equal(shortHash('9f86d081884c7d659a2feaa0c55ad015'), '9f86d081884c');
    assert.equal(referenceText(report()), 'iris 9f86d081884c (150 rows)');
    assert.equal(referenceText({ reference: null }), 'none in the lineage');
  });
});

describe('drift', () => {
  it('finds the drifted columns, in the report order', () => {
    assert.deepEqual(driftedColumns(report()), [
      'petal length (cm)',
      'petal width (cm)'
    ]);
    assert.equal(testedColumns(report()).length, 4);
  });
  it('gives the verdict with the share of tested columns', () => {
    assert.deepEqual(driftVerdict(report()), {
      state: 'drift',
      text: 'drift: 2 of 4 columns (50 %)'
    });
    const calm = report({
      drift: false,
      share: 0,
      columns: { a: ks(0.1, 0.5), b: ks(0.1, 0.4) }
    });
    assert.deepEqual(driftVerdict(calm), {
      state: 'steady',
      text: 'no drift: 0 of 2 columns (0 %)'
    });
  });
  it('counts an untested column out of the share', () => {
    const partly = report({
      drift: false,
      share: 0,
      columns: {
        a: ks(0.1, 0.5),
        b: {
          test: null,
          statistic: null,
          p_value: null,
          threshold: null,
          drift: false,
          note: 'not in the reference data'
        }
      }
    });
    assert.equal(driftVerdict(partly).text, 'no drift: 0 of 1 column (0 %)');
    assert.deepEqual(testedColumns(partly), ['a']);
  });
  it('says the inputs were not tested when no column was (the note says why)', () => {
    const few = report({
      drift: false,
      share: 0,
      columns: {},
      note: '12 sampled rows in the window; drift needs at least 30'
    });
    assert.deepEqual(driftVerdict(few), {
      state: 'untested',
      text: 'inputs not tested for drift'
    });
    assert.deepEqual(columnRows(few), []);
  });
});

describe('columnRows and driftRule', () => {
  it('gives a row per column with its numbers and verdict', () => {
    const rows = columnRows(report());
    assert.deepEqual(
      rows.map(r => [r.column, r.test, r.statistic, r.pValue, r.verdict, r.drift]),
      [
        ['sepal length (cm)', 'ks', '0.06', '0.61', 'no', false],
        ['sepal width (cm)', 'ks', '0.07', '0.42', 'no', false],
        ['petal length (cm)', 'ks', '0.62', '1.200e-31', 'drift', true],
        ['petal width (cm)', 'ks', '0.55', '3.400e-25', 'drift', true]
      ]
    );
    assert.equal(rows[2].why, 'p 1.200e-31 < 0.05');
    assert.equal(rows[0].why, 'p 0.61 ≥ 0.05');
  });
  it('holds a distance (no p-value) to its threshold', () => {
    const far = {
      test: 'wasserstein',
      statistic: 0.31,
      p_value: null,
      threshold: 0.1,
      drift: true
    };
    assert.equal(driftRule(far), 'wasserstein 0.31 ≥ 0.1');
    assert.equal(
      driftRule({ ...far, test: 'jensenshannon', statistic: 0.02, drift: false }),
      'jensenshannon 0.02 < 0.1'
    );
  });
  it('gives an untested column a dash and its note', () => {
    const [row] = columnRows({
      columns: {
        x: {
          test: null,
          statistic: null,
          p_value: null,
          threshold: null,
          drift: false,
          note: 'no values on the current side'
        }
      }
    });
    assert.deepEqual(row, {
      column: 'x',
      test: '—',
      statistic: '—',
      pValue: '—',
      drift: false,
      verdict: '—',
      why: 'no values on the current side'
    });
  });
});

describe('predictionsLine', () => {
  const classes: IPredictions = {
    rows: 300,
    kind: 'classes',
    counts: { '0': 12, '1': 40, '2': 248 },
    shift: null
  };
  it('gives class counts, not compared without a window before', () => {
    assert.deepEqual(predictionsLine(classes), {
      shift: 'not compared',
      text: '300 rows: 0: 12, 1: 40, 2: 248; not compared (fewer than 30 in the window before)'
    });
  });
  it('says which window had too few', () => {
    const few = predictionsLine({ ...classes, rows: MIN_ROWS - 1 });
    assert.match(few.text, /fewer than 30 in this window\)$/);
  });
  it('says shifted or steady against the window before', () => {
    const shift = {
      against: 'the window before',
      test: 'chisquare',
      statistic: 80.2,
      p_value: 1e-12,
      threshold: 0.05,
      drift: true
    };
    assert.deepEqual(predictionsLine({ ...classes, shift }), {
      shift: 'shifted',
      text: '300 rows: 0: 12, 1: 40, 2: 248; shifted vs the window before (chisquare)'
    });
    const steady = predictionsLine({ ...classes, shift: { ...shift, drift: false } });
    assert.equal(steady.shift, 'steady');
    assert.match(steady.text, /steady vs the window before \(chisquare\)$/);
  });
  it('gives a regressor mean and std', () => {
    const numbers: IPredictions = {
      rows: 40,
      kind: 'numbers',
      mean: 12.3456789,
      std: 0.5,
      shift: null
    };
    assert.equal(
      predictionsLine(numbers).text,
      '40 rows: mean 12.3457, std 0.5; not compared (fewer than 30 in the window before)'
    );
  });
  it('shortens many classes', () => {
    const counts = Object.fromEntries(
      Array.from({ length: 12 }, (_, i) => [`c${i}`, i + 1])
    );
    const text = predictionsLine({ ...classes, counts }).text;
    assert.match(text, /c7: 8, … \(12 values\);/);
    assert.ok(!text.includes('c8'));
  });
  it('says when nothing was predicted', () => {
    assert.deepEqual(predictionsLine({ rows: 0, shift: null }), {
      shift: null,
      text: 'none recorded in the window'
    });
    assert.equal(predictionsLine(undefined).shift, null);
  });
});
