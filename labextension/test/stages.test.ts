import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  ICellInput,
  PALETTE,
  assignStages,
  stageColor,
  stageColors
} from '../src/stages';
import { readTable } from './tables';

interface ICase {
  name: string;
  cells: (ICellInput & { id: string })[];
  expect?: {
    stages: { [name: string]: string[] };
    setup: string[];
    parameters: string[];
  };
  error?: { message: string; cell: number };
}

const CASES = readTable<ICase>('stages.json');

describe('tests/cases/stages.json (shared with tests/test_stages_table.py)', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const found = assignStages(c.cells);
      if (c.expect) {
        const stages: { [name: string]: string[] } = {};
        const setup: string[] = [];
        const parameters: string[] = [];
        found.cells.forEach((info, i) => {
          const id = c.cells[i].id;
          assert.equal(info?.error ?? null, null, `cell ${id}: ${info?.error}`);
          if (info?.role === 'code' && info.stage) {
            (stages[info.stage] ??= []).push(id);
          } else if (info?.role === 'setup') {
            setup.push(id);
          } else if (info?.role === 'parameters') {
            parameters.push(id);
          }
        });
        assert.deepEqual(stages, c.expect.stages);
        assert.deepEqual(found.stages, Object.keys(c.expect.stages));
        assert.deepEqual(setup, c.expect.setup);
        assert.deepEqual(parameters, c.expect.parameters);
        assert.equal(found.errors, 0);
      } else {
        // the compiler stops at the first problem in notebook order; the editor shows them all
        const first = found.cells.find(info => info?.error);
        assert.ok(first, 'an error is found');
        assert.equal(first.error, c.error!.message);
        assert.equal(first.index, c.error!.cell);
      }
    });
  }

  it('marks the first cell of each stage and where Kale resumes a step', () => {
    const found = assignStages([
      { type: 'code', tags: ['block:a'], source: '' },
      { type: 'code', tags: [], source: '' },
      { type: 'code', tags: ['block:b'], source: '' },
      { type: 'code', tags: ['block:a'], source: '' }
    ]);
    assert.deepEqual(
      found.cells.map(c => [c!.stage, c!.starts, c!.resumes]),
      [
        ['a', true, false],
        ['a', false, false],
        ['b', true, false],
        ['a', false, true]
      ]
    );
    assert.deepEqual(found.firstCell, { a: 1, b: 3 });
    assert.equal(found.kale, true);
  });

  it('keeps going after a bad tag, so the rest of the notebook is still coloured', () => {
    const found = assignStages([
      { type: 'code', tags: ['stage:a'], source: '' },
      { type: 'code', tags: ['retries:many'], source: '' },
      { type: 'code', tags: ['stage:b'], source: '' }
    ]);
    assert.equal(found.errors, 1);
    assert.equal(found.cells[1]!.stage, 'a');
    assert.match(found.cells[1]!.error!, /retries:many/);
    assert.equal(found.cells[2]!.stage, 'b');
  });

  it('marks the cells that continue a stage or a role past cells left out', () => {
    const found = assignStages([
      { type: 'code', tags: ['imports'], source: 'import math' },
      { type: 'code', tags: ['skip'], source: 'math.pi' },
      { type: 'code', tags: [], source: 'import json' },
      { type: 'code', tags: ['block:a'], source: 'x = 1' },
      { type: 'code', tags: ['skip'], source: 'print(x)' },
      { type: 'markdown', tags: [], source: 'notes' },
      { type: 'code', tags: ['skip'], source: 'print(x)' },
      { type: 'code', tags: [], source: 'y = x' },
      { type: 'code', tags: [], source: 'z = y' }
    ]);
    assert.deepEqual(
      found.cells.map(c => c && [c.role, c.stage, c.continues]),
      [
        ['setup', null, false],
        ['skip', null, false],
        ['setup', null, true],
        ['code', 'a', false],
        ['skip', 'a', false],
        null,
        ['skip', 'a', false],
        ['code', 'a', true],
        ['code', 'a', false]
      ]
    );
  });

  it("leaves out papermill's injected cell and cells that only drive the pipeline", () => {
    const found = assignStages([
      { type: 'code', tags: [], source: '%load_ext mlops_jupyter' },
      { type: 'code', tags: ['parameters'], source: "msg = 'Hi'" },
      { type: 'code', tags: ['injected-parameters'], source: "msg = 'Hello'" },
      { type: 'code', tags: [], source: 'print(msg)' }
    ]);
    assert.deepEqual(
      found.cells.map(c => [c!.role, c!.stage]),
      [
        ['skip', null],
        ['parameters', null],
        ['skip', null],
        ['code', 'main']
      ]
    );
    assert.equal(found.cells[2]!.tags!.injected, true);
    assert.equal(found.firstCell.main, 4);
  });
});

describe('stage colours', () => {
  it('are stable and come from the palette', () => {
    assert.equal(stageColor('train'), stageColor('train'));
    assert.ok(PALETTE.includes(stageColor('load')));
    const used = new Set(
      ['load', 'split', 'train', 'evaluate', 'report'].map(stageColor)
    );
    assert.ok(used.size >= 3);
  });
  it('differ within a notebook while the palette lasts', () => {
    const names = [
      'load',
      'split',
      'train_forest',
      'train_logreg',
      'evaluate',
      'report'
    ];
    const colors = stageColors(names);
    assert.equal(new Set(colors.values()).size, names.length);
    assert.equal(colors.get('load'), stageColor('load')); // the first keeps its own
    const many = stageColors(Array.from({ length: 30 }, (_, i) => `s${i}`));
    assert.equal(many.size, 30);
  });
});
