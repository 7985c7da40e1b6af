/**
 * What the stage editor changes in a cell's `metadata.tags`, and nothing more.
 *
 * `readEdit` turns tags into the editor's fields; `applyEdit` writes the fields back. A field the
 * user did not change keeps its tags exactly (Kale's `block:`, `prev:`, `imports`... stay as they
 * are); tags this language does not know are never touched. Pure: no JupyterLab imports.
 */

import {
  AFTER_PREFIXES,
  MAGIC_PREFIX,
  ROLE_TAGS,
  Role,
  STAGE_PREFIXES,
  firstLine,
  isKaleTag,
  isMagicLine,
  parseMagicLine,
  pyStrip,
  roleTag
} from './tags';

/** Skip is not a role here: the editor has a checkbox for it, beside the role. */
export type EditRole = Exclude<Role, 'skip'>;

export interface IStageEdit {
  /** The stage this cell starts; null: it continues the stage above. */
  stage: string | null;
  /** `after:` names on this cell. */
  after: string[];
  role: EditRole;
  skip: boolean;
  /** `cache:off` is false, `cache:on` true, no tag null. */
  cache: boolean | null;
  retries: number | null;
  timeout: number | null;
}

/** What the first source line says, if it is a `%%mlops stage` line (read-only in the editor). */
export interface IMagicInfo {
  stage: string | null;
  after: string[];
  line: string;
}

/** The role each tag gives a cell, `skip` aside. A Map, not an object: a tag named
 * `constructor` or `toString` must not find a role on Object.prototype. */
const ROLE_OF: ReadonlyMap<string, EditRole> = new Map(
  Object.entries(ROLE_TAGS).filter(
    (entry): entry is [string, EditRole] => entry[1] !== 'skip'
  )
);

function stagePrefix(tag: string): string | undefined {
  return STAGE_PREFIXES.find(([p]) => tag.startsWith(p))?.[0];
}

function stageOf(tag: string): string | null {
  const prefix = stagePrefix(tag);
  return prefix && tag.length > prefix.length ? tag.slice(prefix.length) : null;
}

function afterOf(tag: string): string | null {
  const prefix = AFTER_PREFIXES.find(p => tag.startsWith(p));
  return prefix ? tag.slice(prefix.length) : null;
}

export function readMagic(source: string): IMagicInfo | null {
  const line = firstLine(source);
  if (!isMagicLine(line)) {
    return null;
  }
  try {
    const found = parseMagicLine(line);
    return { stage: found.stage, after: found.after, line };
  } catch {
    return { stage: null, after: [], line };
  }
}

/** The editor's fields for a cell's tags (tolerant: tags that do not parse are read as far as they go). */
export function readEdit(tags: readonly string[]): IStageEdit {
  const edit: IStageEdit = {
    stage: null,
    after: [],
    role: 'code',
    skip: false,
    cache: null,
    retries: null,
    timeout: null
  };
  for (const raw of tags) {
    const tag = pyStrip(raw);
    const stage = stageOf(tag);
    const after = afterOf(tag);
    if (tag === 'skip') {
      edit.skip = true;
    } else if (ROLE_OF.has(tag)) {
      edit.role = edit.role === 'code' ? (ROLE_OF.get(tag) as EditRole) : edit.role;
    } else if (stage !== null) {
      edit.stage = edit.stage ?? stage;
    } else if (after !== null) {
      if (after && !edit.after.includes(after)) {
        edit.after.push(after);
      }
    } else if (tag === 'cache:off' || tag === 'cache:on') {
      edit.cache = tag === 'cache:on';
    } else if (/^retries:[0-9]+$/.test(tag)) {
      edit.retries = Number(tag.slice(8));
    } else if (/^timeout:[0-9]+(\.[0-9]+)?$/.test(tag)) {
      edit.timeout = Number(tag.slice(8));
    }
  }
  return edit;
}

export interface IApplyOptions {
  /** The notebook is written in Kale's dialect: new tags use Kale's names. */
  kale?: boolean;
}

/**
 * The cell's new tags: `tags` with the fields of `edit` that differ from `readEdit(tags)`
 * rewritten. Order is kept; new tags go at the end.
 */
export function applyEdit(
  tags: readonly string[],
  edit: IStageEdit,
  options: IApplyOptions = {}
): string[] {
  const before = readEdit(tags);
  const kale = !!options.kale;
  const next = { ...edit, after: [...edit.after] };
  if (next.role !== 'code') {
    // a parameters / setup / metrics cell carries no stage, after: or option tags
    next.stage = null;
    next.after = [];
    next.cache = null;
    next.retries = null;
    next.timeout = null;
  }
  let out = tags.map(t => t);
  const add: string[] = [];

  if (next.stage !== before.stage) {
    const old = out.find(t => stageOf(pyStrip(t)) !== null);
    const prefix = old ? stagePrefix(pyStrip(old))! : kale ? 'block:' : 'stage:';
    out = out.filter(t => stageOf(pyStrip(t)) === null);
    if (next.stage !== null) {
      add.push(prefix + next.stage);
    }
  }

  if (next.after.join('\n') !== before.after.join('\n')) {
    out = out.filter(t => {
      const name = afterOf(pyStrip(t));
      return name === null || next.after.includes(name);
    });
    const kept = new Set(out.map(t => afterOf(pyStrip(t))).filter(n => n !== null));
    for (const name of next.after) {
      if (!kept.has(name)) {
        add.push((kale ? 'prev:' : 'after:') + name);
      }
    }
  }

  if (next.role !== before.role) {
    out = out.filter(t => !ROLE_OF.has(pyStrip(t)));
    if (next.role !== 'code') {
      add.push(roleTag(next.role, kale));
    }
  }

  if (next.skip !== before.skip) {
    out = out.filter(t => pyStrip(t) !== 'skip');
    if (next.skip) {
      add.push('skip');
    }
  }

  const option = (
    key: 'cache' | 'retries' | 'timeout',
    text: (value: boolean | number) => string
  ): void => {
    if (next[key] !== before[key]) {
      out = out.filter(t => !pyStrip(t).startsWith(key + ':'));
      const value = next[key];
      if (value !== null) {
        add.push(`${key}:${text(value)}`);
      }
    }
  };
  option('cache', v => (v ? 'on' : 'off'));
  option('retries', v => String(v));
  option('timeout', v => String(v));

  return [...out, ...add];
}

/** Tags this language reads (the rest are kept and ignored). */
export function isKnownTag(tag: string): boolean {
  const t = pyStrip(tag);
  return (
    t === 'skip' ||
    ROLE_OF.has(t) ||
    stageOf(t) !== null ||
    afterOf(t) !== null ||
    t.startsWith('cache:') ||
    t.startsWith('retries:') ||
    t.startsWith('timeout:') ||
    t === 'block:'
  );
}

// the stage editor takes all of its tag vocabulary from this module
export { MAGIC_PREFIX, isKaleTag };
