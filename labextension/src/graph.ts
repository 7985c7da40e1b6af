/**
 * Layered layout of the stage graph, top to bottom (the side panel is narrow and tall).
 *
 * A stage's layer is the length of the longest chain of upstream stages above it; within a
 * layer stages are ordered by where their upstreams sit (one barycentre sweep), then by
 * notebook order. Edges carry the variables that flow on them (`stages[].from`).
 *
 * Pure: no DOM, no JupyterLab imports.
 */

export interface IGraphStage {
  name: string;
  after: readonly string[];
  explicit_after?: readonly string[];
  from: { readonly [variable: string]: string };
}

export interface INode {
  name: string;
  /** The name as drawn (shortened when long). */
  label: string;
  layer: number;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface IEdge {
  from: string;
  to: string;
  /** Variables passed from `from` to `to`, sorted. */
  variables: string[];
  /** The text drawn on the edge (shortened when long; the full list is `variables`). */
  label: string;
  /** An `after:` edge with no data on it. */
  explicit: boolean;
  /** SVG path data. */
  path: string;
  labelX: number;
  labelY: number;
}

export interface ILayout {
  width: number;
  height: number;
  nodes: INode[];
  edges: IEdge[];
}

export const NODE_HEIGHT = 30;
const LAYER_GAP = 58;
const NODE_GAP = 18;
const MARGIN = 12;
const CHAR_WIDTH = 7.2;
const MAX_LABEL = 22;
const MAX_EDGE_LABEL = 30;

export function shorten(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max - 1) + '…';
}

/** The edge label: variables joined, with `+N` for the ones that do not fit. */
export function edgeLabel(variables: readonly string[], max = MAX_EDGE_LABEL): string {
  let label = '';
  for (let i = 0; i < variables.length; i++) {
    const more = variables.length - i - 1;
    const next = (label ? label + ', ' : '') + variables[i];
    const tail = more ? ` +${more}` : '';
    if ((next + tail).length > max && label) {
      return `${label} +${variables.length - i}`;
    }
    label = next;
  }
  return shorten(label, max);
}

export function layoutGraph(stages: readonly IGraphStage[]): ILayout {
  const index = new Map(stages.map((s, i) => [s.name, i]));
  const upstream = (s: IGraphStage): string[] => s.after.filter(up => index.has(up));

  // longest-path layering, safe against cycles (the compiler refuses them; the panel must not hang)
  const layer = new Map<string, number>();
  const visiting = new Set<string>();
  const layerOf = (name: string): number => {
    const known = layer.get(name);
    if (known !== undefined) {
      return known;
    }
    if (visiting.has(name)) {
      return 0;
    }
    visiting.add(name);
    const stage = stages[index.get(name)!];
    const value = Math.max(-1, ...upstream(stage).map(layerOf)) + 1;
    visiting.delete(name);
    layer.set(name, value);
    return value;
  };
  stages.forEach(s => layerOf(s.name));

  const rows: string[][] = [];
  for (const s of stages) {
    (rows[layer.get(s.name)!] ??= []).push(s.name);
  }
  // room for the colour bar on the left and a status mark on the right
  const widthOf = (name: string): number =>
    Math.max(72, Math.round(shorten(name, MAX_LABEL).length * CHAR_WIDTH + 38));

  // x centre of each placed node, for the barycentre sweep
  const centre = new Map<string, number>();
  const rowWidth = (row: string[]): number =>
    row.reduce((sum, n) => sum + widthOf(n), 0) +
    NODE_GAP * Math.max(0, row.length - 1);
  const width = Math.max(160, ...rows.map(r => rowWidth(r ?? []))) + 2 * MARGIN;

  const nodes: INode[] = [];
  rows.forEach((row, depth) => {
    if (!row) {
      return;
    }
    if (depth > 0) {
      const bary = (name: string): number => {
        const ups = upstream(stages[index.get(name)!]).filter(u => centre.has(u));
        return ups.length
          ? ups.reduce((sum, u) => sum + centre.get(u)!, 0) / ups.length
          : Number.POSITIVE_INFINITY;
      };
      row.sort((a, b) => bary(a) - bary(b) || index.get(a)! - index.get(b)!);
    }
    let x = (width - rowWidth(row)) / 2;
    for (const name of row) {
      const w = widthOf(name);
      const node: INode = {
        name,
        label: shorten(name, MAX_LABEL),
        layer: depth,
        x,
        y: MARGIN + depth * (NODE_HEIGHT + LAYER_GAP),
        width: w,
        height: NODE_HEIGHT
      };
      nodes.push(node);
      centre.set(name, x + w / 2);
      x += w + NODE_GAP;
    }
  });

  const byName = new Map(nodes.map(n => [n.name, n]));
  const edges: IEdge[] = [];
  const curves: { edge: IEdge; pts: number[]; span: number }[] = [];
  for (const stage of stages) {
    const target = byName.get(stage.name)!;
    const ups = upstream(stage);
    // several edges into one node enter side by side
    ups.forEach((up, k) => {
      const source = byName.get(up)!;
      const variables = Object.entries(stage.from)
        .filter(([, producer]) => producer === up)
        .map(([variable]) => variable)
        .sort();
      const x1 = source.x + source.width / 2;
      const y1 = source.y + source.height;
      const spread = Math.min(target.width - 16, 12 * (ups.length - 1));
      const x2 =
        target.x +
        target.width / 2 +
        (ups.length > 1 ? (k / (ups.length - 1) - 0.5) * spread : 0);
      const y2 = target.y;
      const bend = Math.max(24, (y2 - y1) / 2);
      const path = `M${r(x1)},${r(y1)} C${r(x1)},${r(y1 + bend)} ${r(x2)},${r(y2 - bend)} ${r(x2)},${r(y2)}`;
      const edge: IEdge = {
        from: up,
        to: stage.name,
        variables,
        label: '',
        explicit: variables.length === 0,
        path,
        labelX: 0,
        labelY: 0
      };
      edges.push(edge);
      curves.push({
        edge,
        pts: [x1, y1, x1, y1 + bend, x2, y2 - bend, x2, y2],
        span: target.layer - source.layer
      });
    });
  }
  placeLabels(curves, nodes, width);
  const height = rows.length
    ? MARGIN * 2 + rows.length * NODE_HEIGHT + (rows.length - 1) * LAYER_GAP
    : 0;
  return { width: r(width), height, nodes, edges };
}

interface IBox {
  x: number;
  y: number;
  w: number;
  h: number;
}

const LABEL_CHAR = 6.1;
const LABEL_HEIGHT = 13;

function overlaps(a: IBox, b: IBox): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

/**
 * Put each edge's label on its curve where it overlaps no node and no other label: shorter
 * edges first, a few positions along the curve, the full list first and shorter forms after.
 * An edge whose label fits nowhere is drawn without one (its tooltip still lists the variables).
 */
function placeLabels(
  curves: { edge: IEdge; pts: number[]; span: number }[],
  nodes: readonly INode[],
  width: number
): void {
  const taken: IBox[] = nodes.map(n => ({
    x: n.x - 2,
    y: n.y - 2,
    w: n.width + 4,
    h: n.height + 4
  }));
  const order = [...curves].sort(
    (a, b) => a.span - b.span || a.edge.variables.length - b.edge.variables.length
  );
  for (const { edge, pts, span } of order) {
    if (!edge.variables.length) {
      continue;
    }
    const spots = span > 1 ? [0.8, 0.7, 0.88] : [0.5, 0.38, 0.62, 0.3, 0.7];
    const texts = [...new Set([30, 20, 12].map(max => edgeLabel(edge.variables, max)))];
    search: for (const text of texts) {
      for (const t of spots) {
        const x = bezier(pts[0], pts[2], pts[4], pts[6], t);
        const y = bezier(pts[1], pts[3], pts[5], pts[7], t);
        const w = text.length * LABEL_CHAR + 6;
        const box = { x: x - w / 2, y: y - LABEL_HEIGHT / 2, w, h: LABEL_HEIGHT };
        const inside = box.x >= 0 && box.x + box.w <= width;
        if (inside && !taken.some(other => overlaps(box, other))) {
          taken.push(box);
          edge.label = text;
          edge.labelX = r(x);
          edge.labelY = r(y);
          break search;
        }
      }
    }
  }
}

function bezier(p0: number, p1: number, p2: number, p3: number, t: number): number {
  const u = 1 - t;
  return u * u * u * p0 + 3 * u * u * t * p1 + 3 * u * t * t * p2 + t * t * t * p3;
}

function r(value: number): number {
  return Math.round(value * 10) / 10;
}
