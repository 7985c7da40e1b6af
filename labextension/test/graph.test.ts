import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { IGraphStage, edgeLabel, layoutGraph } from '../src/graph';

const IRIS: IGraphStage[] = [
  { name: 'load', after: [], from: {} },
  { name: 'split', after: ['load'], from: { X: 'load', y: 'load' } },
  {
    name: 'train_forest',
    after: ['split'],
    from: { X_train: 'split', y_train: 'split' }
  },
  {
    name: 'train_logreg',
    after: ['split'],
    from: { X_train: 'split', y_train: 'split' }
  },
  {
    name: 'evaluate',
    after: ['load', 'split', 'train_forest', 'train_logreg'],
    from: {
      class_names: 'load',
      X_test: 'split',
      forest: 'train_forest',
      logreg: 'train_logreg'
    }
  },
  { name: 'report', after: ['evaluate'], explicit_after: ['evaluate'], from: {} }
];

describe('layoutGraph', () => {
  const layout = layoutGraph(IRIS);
  const node = (name: string) => layout.nodes.find(n => n.name === name)!;

  it('puts each stage one layer below its deepest upstream', () => {
    assert.deepEqual(
      IRIS.map(s => node(s.name).layer),
      [0, 1, 2, 2, 3, 4]
    );
    assert.ok(node('split').y > node('load').y);
    assert.equal(node('train_forest').y, node('train_logreg').y);
  });

  it('keeps nodes of a layer apart and inside the drawing', () => {
    const a = node('train_forest');
    const b = node('train_logreg');
    assert.ok(a.x + a.width <= b.x || b.x + b.width <= a.x);
    for (const n of layout.nodes) {
      assert.ok(n.x >= 0 && n.x + n.width <= layout.width);
      assert.ok(n.y >= 0 && n.y + n.height <= layout.height);
    }
  });

  it('labels each edge with the variables that flow on it', () => {
    const edge = layout.edges.find(e => e.from === 'split' && e.to === 'train_forest')!;
    assert.deepEqual(edge.variables, ['X_train', 'y_train']);
    assert.equal(edge.label, 'X_train, y_train');
    assert.equal(edge.explicit, false);
    const after = layout.edges.find(e => e.to === 'report')!;
    assert.equal(after.explicit, true);
    assert.equal(after.label, '');
    assert.equal(layout.edges.length, 1 + 1 + 1 + 4 + 1);
  });

  it('places labels where they overlap no node and no other label', () => {
    const boxes = layout.edges
      .filter(e => e.label)
      .map(e => {
        const w = e.label.length * 6.1 + 6;
        return { x: e.labelX - w / 2, y: e.labelY - 6.5, w, h: 13 };
      });
    const hit = (
      a: (typeof boxes)[0],
      b: { x: number; y: number; w: number; h: number }
    ) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
    boxes.forEach((a, i) => {
      boxes.slice(i + 1).forEach(b => assert.ok(!hit(a, b), 'labels overlap'));
      layout.nodes.forEach(n =>
        assert.ok(
          !hit(a, { x: n.x, y: n.y, w: n.width, h: n.height }),
          'label on a node'
        )
      );
      assert.ok(a.x >= 0 && a.x + a.w <= layout.width);
    });
    // the short edges get theirs
    assert.ok(layout.edges.find(e => e.from === 'load' && e.to === 'split')!.label);
  });

  it('survives a cycle and names it no layer twice', () => {
    const cyclic = layoutGraph([
      { name: 'a', after: ['b'], from: {} },
      { name: 'b', after: ['a'], from: {} }
    ]);
    assert.equal(cyclic.nodes.length, 2);
  });

  it('ignores upstreams that are not stages, and draws nothing for no stages', () => {
    assert.equal(
      layoutGraph([{ name: 'a', after: ['ghost'], from: {} }]).edges.length,
      0
    );
    assert.equal(layoutGraph([]).height, 0);
  });
});

describe('edgeLabel', () => {
  it('shortens long lists with +N', () => {
    assert.equal(edgeLabel(['a', 'b']), 'a, b');
    assert.equal(
      edgeLabel(['features_train', 'labels_train', 'features_test', 'labels_test']),
      'features_train +3'
    );
    assert.equal(edgeLabel(['x'.repeat(40)]).length, 30);
  });
});
