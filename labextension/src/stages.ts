/**
 * Which stage each cell of a notebook belongs to, as `compiler._assign_stages` decides it.
 *
 * The compiler stops at the first problem; the editor shows every problem on its cell and keeps
 * going, so the colours stay useful while a notebook is half-tagged. Tested against the shared
 * table `tests/cases/stages.json` (the Python suite checks the compiler against it too).
 *
 * Pure: no JupyterLab imports.
 */

import {
  ICellTags,
  Role,
  TagError,
  hasKaleTags,
  noTags,
  parseCellTags,
  pyStrip
} from './tags';

/** The stage of code cells above the first stage tag (and of an untagged notebook). */
export const DEFAULT_STAGE = 'main';

export interface ICellInput {
  /** 'code', 'markdown' or 'raw'. */
  type: string;
  tags: readonly string[];
  source: string;
  id?: string | null;
}

export interface ICellStage {
  /** 1-based position among all cells, as the compiler's messages count them. */
  index: number;
  role: Role;
  /** The stage whose code this is (for a skip cell: the stage it sits in, if any). */
  stage: string | null;
  /** This cell starts its stage (the stage's label goes here). */
  starts: boolean;
  /** A later cell of a Kale step that started further up (`block:NAME` repeated). */
  resumes: boolean;
  /** What is wrong with the cell's tags, or null. */
  error: string | null;
  hint: string | null;
  /** The parse of the cell's own tags (null when they do not parse). */
  tags: ICellTags | null;
  /**
   * This untagged cell continues the stage (or role) above past cells left out just above it
   * (skip cells, papermill's replaced injected-parameters cell): `mlops explain` notes it too.
   */
  continues: boolean;
}

export interface INotebookStages {
  /** One entry per cell; null for markdown and raw cells. */
  cells: (ICellStage | null)[];
  /** Stage names in notebook order. */
  stages: string[];
  /** Per stage: the position of its first cell. */
  firstCell: { [stage: string]: number };
  /** The notebook uses Kale's dialect (untagged cells continue the role above). */
  kale: boolean;
  /** How many cells carry an error. */
  errors: number;
}

/** Walk the cells once, as the compiler does. */
export function assignStages(cells: readonly ICellInput[]): INotebookStages {
  const result: (ICellStage | null)[] = cells.map(() => null);
  const parsed: { i: number; tags: ICellTags | null; error: TagError | null }[] = [];
  cells.forEach((cell, i) => {
    if (cell.type !== 'code') {
      return;
    }
    try {
      parsed.push({ i, tags: parseCellTags(cell.tags, cell.source), error: null });
    } catch (err) {
      if (!(err instanceof TagError)) {
        throw err;
      }
      parsed.push({ i, tags: null, error: err });
    }
  });
  const kale = parsed.some(({ i, tags }) =>
    tags ? tags.kale : hasKaleTags(cells[i].tags)
  );

  // papermill replaces its injected-parameters cell when it parameterizes a notebook: with a
  // parameters cell it is left out (-p and the defaults stand), without one it declares them
  const declared = parsed.some(
    ({ tags }) => tags !== null && tags.role === 'parameters' && !tags.injected
  );

  const stages: string[] = [];
  const firstCell: { [stage: string]: number } = {};
  let current: string | null = null;
  let previousRole: Role | null = null; // the last cell that counts for Kale's continuation
  let gap = false; // the code cell just above was left out
  let errors = 0;

  for (const { i, tags: own, error } of parsed) {
    const index = i + 1;
    const above = gap;
    gap = false;
    let tags = own;
    const info: ICellStage = {
      index,
      role: tags ? tags.role : 'code',
      stage: null,
      starts: false,
      resumes: false,
      error: error ? error.message : null,
      hint: error ? error.hint : null,
      tags: own,
      continues: false
    };
    result[i] = info;
    if (tags?.injected) {
      if (declared) {
        info.role = 'skip'; // left out
        gap = true;
      }
      continue; // never continued: it is not the author's cell
    }
    if (
      kale &&
      (tags === null || !tags.tagged) &&
      previousRole !== null &&
      previousRole !== 'code'
    ) {
      // Kale: an untagged cell continues the role of the cell above (skips aside)
      tags = { ...noTags(), role: previousRole, tagged: true, kale: true };
      info.role = previousRole;
      info.continues = above;
    }
    if (!tags || tags.role !== 'skip') {
      previousRole = tags ? tags.role : 'code';
    } else if (tags.stage !== null) {
      previousRole = null; // a skipped cell that starts a stage (our dialect) ends any role
    }
    if (
      info.role === 'parameters' ||
      info.role === 'setup' ||
      info.role === 'metrics'
    ) {
      continue;
    }
    const name = tags?.stage ?? null;
    if (name !== null) {
      if (!(name in firstCell)) {
        firstCell[name] = index;
        stages.push(name);
        info.starts = true;
      } else if (tags!.dialect === 'kale') {
        info.resumes = true; // Kale's dialect: a repeated block: name continues that step
      } else if (!info.error) {
        info.error = `stage '${name}' is already started at cell ${firstCell[name]}${idOf(cells, firstCell[name])}.`;
        info.hint =
          'Give this stage another name, or remove the tag to continue the previous stage.';
      }
      current = name;
    } else if (current === null) {
      if (info.role === 'skip' && !(tags && (tags.after.length || hasOptions(tags)))) {
        gap = true;
        continue;
      }
      if (!tags?.tagged && onlyFaceMagics(cells[i].source)) {
        info.role = 'skip'; // it drives the pipeline: no part of it
        gap = true;
        continue;
      }
      current = DEFAULT_STAGE;
      firstCell[current] = index;
      stages.push(current);
      info.starts = true;
    } else if (info.role !== 'skip' && !tags?.tagged) {
      info.continues = above;
    }
    if (info.role === 'skip') {
      gap = true;
    }
    info.stage = current;
  }

  // after: must name a stage of this notebook
  for (const info of result) {
    if (info && !info.error && info.tags) {
      const unknown = info.tags.after.find(up => !(up in firstCell));
      if (unknown !== undefined) {
        const known = [...stages].sort().join(', ') || 'none';
        info.error = `'after:${unknown}' names no stage of this notebook (stages: ${known}).`;
        info.hint = 'Fix the name or remove the tag.';
      }
    }
    if (info?.error) {
      errors += 1;
    }
  }
  return { cells: result, stages, firstCell, kale, errors };
}

function idOf(cells: readonly ICellInput[], index: number): string {
  const id = cells[index - 1]?.id;
  return id ? ` (id ${id})` : '';
}

function hasOptions(tags: ICellTags): boolean {
  return (
    tags.cache !== null ||
    tags.retries !== null ||
    tags.timeout !== null ||
    tags.resources !== null ||
    tags.check !== null
  );
}

// `%mlops run`, `compile`, `explain`... and `%load_ext mlops_jupyter` (compiler/stages.py)
const FACE_MAGIC =
  /^([ \t]*)(?:%mlops(?:[ \t]+(?!log\b)\S.*)?|%load_ext[ \t]+mlops_jupyter)[ \t]*$/gm;

/** A cell like `%load_ext mlops_jupyter` or `%mlops run`: it drives the pipeline. */
function onlyFaceMagics(source: string): boolean {
  return source.includes('%') && pyStrip(source.replace(FACE_MAGIC, '')) === '';
}

/**
 * Stage colours: picked from the name, so a stage keeps its colour wherever it is drawn (cells,
 * graph, run history) and whatever is inserted around it. Mid-saturation, readable on light
 * and dark themes. `stageColors` resolves clashes within one notebook.
 */
export const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#59a14f',
  '#e15759',
  '#76b7b2',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#3d9ad1',
  '#8cd17d',
  '#d4a6c8'
];

function slot(name: string): number {
  // FNV-1a, 32 bit
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    hash ^= name.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % PALETTE.length;
}

/** The colour of a stage on its own. */
export function stageColor(name: string): string {
  return PALETTE[slot(name)];
}

/**
 * The colours of a notebook's stages (in notebook order): each its own colour, then the next free
 * one of the palette when two names pick the same, so neighbours are told apart.
 */
export function stageColors(names: readonly string[]): Map<string, string> {
  const colors = new Map<string, string>();
  const used = new Set<number>();
  for (const name of names) {
    if (colors.has(name)) {
      continue;
    }
    let at = slot(name);
    for (let k = 0; k < PALETTE.length && used.has(at); k++) {
      at = (at + 1) % PALETTE.length;
    }
    used.add(at);
    if (used.size >= PALETTE.length) {
      used.clear(); // more stages than colours: start over
    }
    colors.set(name, PALETTE[at]);
  }
  return colors;
}
