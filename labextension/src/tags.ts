/**
 * The tag language: what one cell's `metadata.tags` (and `%%mlops stage` line) mean.
 *
 * A port of `mlops_jupyter/tags.py`. Both are tested against the same table of cases,
 * `tests/cases/tags.json`, so keep the two in step (messages included: the table checks them).
 *
 * Pure: no JupyterLab imports, so the node unit tests can load it as is.
 */

export const STAGE_NAME = /^[a-z][a-z0-9_-]{0,62}$/;
export const STAGE_NAME_RULE =
  "a lowercase letter, then up to 62 lowercase letters, digits, '_' or '-'";

export type Role = 'code' | 'parameters' | 'setup' | 'skip' | 'metrics';
export type Dialect = 'stage' | 'kale' | 'magic';

// The first tag of a role in each dialect is the one the stage editor writes (roleTag).
export const ROLE_TAGS: { readonly [tag: string]: Role } = {
  parameters: 'parameters',
  'pipeline-parameters': 'parameters', // Kale
  setup: 'setup',
  imports: 'setup', // Kale
  functions: 'setup', // Kale
  metrics: 'metrics',
  'pipeline-metrics': 'metrics', // Kale
  skip: 'skip',
  // papermill's: the cell it left from its last run (see parseCellTags and stages.ts)
  'injected-parameters': 'parameters'
};
export const INJECTED_TAG = 'injected-parameters';

export const STAGE_PREFIXES: ReadonlyArray<[string, Dialect]> = [
  ['stage:', 'stage'],
  ['block:', 'kale'],
  ['step:', 'kale']
];

/** Tags only Kale writes: a notebook with any of them follows Kale's continuation rule. */
export const KALE_TAGS: ReadonlySet<string> = new Set([
  'imports',
  'functions',
  'pipeline-parameters',
  'pipeline-metrics'
]);
export const KALE_PREFIXES = ['block:', 'step:', 'prev:'];
/**
 * Kale's tag language (its nbprocessor's _TAGS_LANGUAGE, minus the limit:/annotation:/label:
 * tags we ignore): a cell tagged only in it is read as Kale reads it (see parseCellTags).
 */
const KALE_SPECIAL: ReadonlySet<string> = new Set([
  'skip',
  'imports',
  'functions',
  'pipeline-parameters',
  'pipeline-metrics'
]);
const OPTION_PREFIXES = ['cache:', 'retries:', 'timeout:', 'resources:'];
export const AFTER_PREFIXES = ['after:', 'prev:'];
export const MAGIC_PREFIX = '%%mlops';
export const CHECK_TAG = 'check';

/** A tag (or `%%mlops` line) that does not parse; the caller adds the cell's location. */
export class TagError extends Error {
  constructor(
    message: string,
    readonly hint: string | null = null
  ) {
    super(message);
    this.name = 'TagError';
  }
}

export interface ICellTags {
  role: Role;
  /** This cell starts (or, in Kale's dialect, continues) a stage. */
  stage: string | null;
  /** How the stage was named. */
  dialect: Dialect | null;
  after: string[];
  cache: boolean | null;
  retries: number | null;
  timeout: number | null;
  /** What a worker must have to run the stage, by resource name (Dask's `resources=`). */
  resources: { [name: string]: number } | null;
  /** A check stage: its failure is a check failure, which keeps the run's models from promotion. */
  check: boolean | null;
  /** The first source line is a `%%mlops stage` line. */
  magic: boolean;
  /** Carries any tag this language knows (else the cell continues the cell above). */
  tagged: boolean;
  /** Carries a tag only Kale's dialect uses. */
  kale: boolean;
  /** papermill's `injected-parameters` cell. */
  injected: boolean;
}

// Python's str.strip()/str.split() whitespace, so both parsers cut words at the same places.
const PY_SPACE =
  ' \\t\\n\\r\\x0b\\x0c\\x1c\\x1d\\x1e\\x1f\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const STRIP = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, 'g');
const SPLIT = new RegExp(`[${PY_SPACE}]+`);

/** Python's `str.strip()`. */
export function pyStrip(text: string): string {
  return text.replace(STRIP, '');
}

/** Python's `str.split()` with no argument. */
export function pySplit(text: string): string[] {
  const stripped = pyStrip(text);
  return stripped ? stripped.split(SPLIT) : [];
}

// what Python's str.isprintable() refuses (repr escapes these)
const NOT_PRINTABLE = /^[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]$/u;

/** Python's `repr()` of a string, for messages that quote the user's text. */
export function pyRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (ch === '\\') {
      out += '\\\\';
    } else if (ch === quote) {
      out += '\\' + ch;
    } else if (ch === '\n') {
      out += '\\n';
    } else if (ch === '\r') {
      out += '\\r';
    } else if (ch === '\t') {
      out += '\\t';
    } else if (ch !== ' ' && NOT_PRINTABLE.test(ch)) {
      const hex = code.toString(16);
      out +=
        code <= 0xff
          ? '\\x' + hex.padStart(2, '0')
          : code <= 0xffff
            ? '\\u' + hex.padStart(4, '0')
            : '\\U' + hex.padStart(8, '0');
    } else {
      out += ch;
    }
  }
  return quote + out + quote;
}

export function isStageName(name: string): boolean {
  return STAGE_NAME.test(name);
}

export function checkStageName(name: string): string {
  if (!STAGE_NAME.test(name)) {
    throw new TagError(
      `${pyRepr(name)} is not a valid stage name.`,
      `A stage name is ${STAGE_NAME_RULE}, e.g. 'train' or 'load-data'.`
    );
  }
  return name;
}

function parseRetries(value: string): number {
  if (!/^[0-9]+$/.test(value) || Number(value) > 100) {
    throw new TagError(`'retries:${value}' needs a whole number from 0 to 100.`);
  }
  return Number(value);
}

function parseTimeout(value: string): number {
  // a plain decimal only, as in tags.py (no '1_000', no '1e3', no '٣')
  const seconds = /^[0-9]+(\.[0-9]+)?$/.test(value) ? Number(value) : NaN;
  if (!(seconds > 0 && Number.isFinite(seconds))) {
    throw new TagError(
      `'timeout:${value}' needs a positive number of seconds, e.g. 'timeout:600'.`
    );
  }
  return seconds;
}

const RESOURCE = /^([A-Za-z][A-Za-z0-9_.-]{0,62})=([0-9]+(\.[0-9]+)?)$/;

function parseResource(value: string): [string, number] {
  const found = RESOURCE.exec(value);
  const amount = found ? Number(found[2]) : NaN;
  if (!found || !(amount > 0 && Number.isFinite(amount))) {
    throw new TagError(
      `'resources:${value}' needs NAME=AMOUNT, a name and a positive number, ` +
        "e.g. 'resources:GPU=1'."
    );
  }
  return [found[1], amount];
}

function parseCache(value: string): boolean {
  if (value !== 'on' && value !== 'off') {
    throw new TagError(`'cache:${value}' must be 'cache:off' (or 'cache:on').`);
  }
  return value === 'on';
}

const LIST = /[:;,]/;

/** The stage a `prev:`/`after:`/`block:`/`step:` tag names; a list gets what to write. */
function oneName(tag: string, prefix: string): string {
  const value = tag.slice(prefix.length);
  const names = value.split(LIST).filter(n => n);
  if (names.length > 1 && names.every(n => STAGE_NAME.test(n))) {
    const old = KALE_PREFIXES.includes(prefix) ? ' (an old Kale form)' : '';
    if (STAGE_PREFIXES.some(([p]) => p === prefix)) {
      const every = old ? 'functions' : 'setup';
      throw new TagError(
        `${pyRepr(tag)} puts the cell in several stages${old}; a cell belongs to one stage.`,
        `Tag it ${pyRepr(prefix + names[0])} and give each other stage its own copy of ` +
          `the code, or make it a '${every}' cell if every stage needs it.`
      );
    }
    throw new TagError(
      `${pyRepr(tag)} names several stages in one tag${old}.`,
      'Write one tag per stage: ' + names.map(n => pyRepr(prefix + n)).join(', ') + '.'
    );
  }
  return checkStageName(value);
}

/** A tag this language reads (anything else is kept and ignored). */
function isKnownTag(tag: string): boolean {
  return (
    Object.prototype.hasOwnProperty.call(ROLE_TAGS, tag) ||
    tag === CHECK_TAG ||
    [...STAGE_PREFIXES.map(([p]) => p), ...AFTER_PREFIXES, ...OPTION_PREFIXES].some(p =>
      tag.startsWith(p)
    )
  );
}

/** A tag of Kale's language (`skip` is both Kale's and ours). */
function isKaleLanguage(tag: string): boolean {
  return KALE_SPECIAL.has(tag) || KALE_PREFIXES.some(p => tag.startsWith(p));
}

export interface IMagicLine {
  stage: string;
  after: string[];
  cache?: boolean;
  retries?: number;
  timeout?: number;
  check?: boolean;
}

/**
 * Parse `%%mlops stage NAME [--after A,B] [--no-cache] [--retries N] [--timeout S]
 * [--check]`.
 */
export function parseMagicLine(line: string): IMagicLine {
  const words = pySplit(line);
  const shown = pyRepr(pyStrip(line));
  if (words.length < 3 || words[1] !== 'stage') {
    throw new TagError(
      `${shown} is not a stage line.`,
      "Write '%%mlops stage NAME' (optionally '--after A,B') as the cell's first line."
    );
  }
  const found: IMagicLine = { stage: checkStageName(words[2]), after: [] };
  const rest = words.slice(3);
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i];
    const eq = word.indexOf('=');
    const flag = eq < 0 ? word : word.slice(0, eq);
    let inline = eq < 0 ? '' : word.slice(eq + 1);
    const takesValue = ['--after', '--retries', '--timeout'].includes(flag);
    if (takesValue && !inline) {
      if (i + 1 >= rest.length) {
        throw new TagError(`'${flag}' in ${shown} needs a value.`);
      }
      i += 1;
      inline = rest[i];
    }
    if (flag === '--after') {
      for (const name of inline.split(',')) {
        if (name) {
          found.after.push(checkStageName(name));
        }
      }
    } else if (flag === '--retries') {
      found.retries = parseRetries(inline);
    } else if (flag === '--timeout') {
      found.timeout = parseTimeout(inline);
    } else if (flag === '--no-cache' && !inline) {
      found.cache = false;
    } else if (flag === '--check' && !inline) {
      found.check = true;
    } else {
      throw new TagError(
        `unknown option ${pyRepr(word)} in ${shown}.`,
        'Known options: --after A,B  --no-cache  --retries N  --timeout SECONDS  ' +
          '--check.'
      );
    }
  }
  return found;
}

/** The first source line, as the compiler sees it (leading blank lines skipped). */
export function firstLine(source: string): string {
  return source.replace(/^\n+/, '').split('\n', 1)[0];
}

/** Whether a first line is a `%%mlops ...` line. */
export function isMagicLine(line: string): boolean {
  return (
    line.startsWith(MAGIC_PREFIX) &&
    [' ', '\t', ''].includes(line.charAt(MAGIC_PREFIX.length))
  );
}

/** Whether a tag is one only Kale's dialect writes. */
export function isKaleTag(raw: string): boolean {
  const tag = pyStrip(raw);
  return KALE_TAGS.has(tag) || KALE_PREFIXES.some(p => tag.startsWith(p));
}

/** Whether any tag is one only Kale's dialect writes. */
export function hasKaleTags(tags: readonly string[]): boolean {
  return tags.some(isKaleTag);
}

/** The tag that gives a cell `role`, in our dialect or (`kale`) in Kale's. */
export function roleTag(
  role: 'parameters' | 'setup' | 'metrics',
  kale: boolean
): string {
  return Object.keys(ROLE_TAGS).find(
    tag => ROLE_TAGS[tag] === role && KALE_TAGS.has(tag) === kale
  )!;
}

/**
 * Read one cell's tags and first source line. Unknown tags are ignored (and kept by whoever
 * writes the tags back). Throws {@link TagError} as `parse_cell_tags` raises it.
 */
export function parseCellTags(tags: readonly string[], source = ''): ICellTags {
  const roles = new Set<Role>();
  let stage: string | null = null;
  let dialect: Dialect | null = null;
  const after: string[] = [];
  const opts = new Map<'cache' | 'retries' | 'timeout' | 'check', boolean | number>();
  const resources = new Map<string, number>();

  const setOpt = (
    key: 'cache' | 'retries' | 'timeout' | 'check',
    value: boolean | number,
    tag: string
  ): void => {
    if (opts.has(key) && opts.get(key) !== value) {
      throw new TagError(
        `the cell has conflicting '${key}:' tags (${pyRepr(tag)} and an earlier one).`
      );
    }
    opts.set(key, value);
  };
  const setStage = (name: string, how: Dialect): void => {
    checkStageName(name);
    if (stage !== null && stage !== name) {
      throw new TagError(
        `the cell starts two stages, ${pyRepr(stage)} and ${pyRepr(name)}.`,
        "Keep one stage tag per cell; put the other stage's code in its own cell."
      );
    }
    stage = name;
    dialect = dialect ?? how;
  };

  const stripped = tags.map(pyStrip);
  const kale = hasKaleTags(tags);
  const known = stripped.filter(isKnownTag);
  if (
    known.length > 0 &&
    known.every(isKaleLanguage) &&
    !isMagicLine(firstLine(source))
  ) {
    // Kale's rule (nbprocessor.parse_cell_metadata): the first of its special tags decides the
    // cell, and its block:/step:/prev: tags are then ignored -- a skipped cell starts no step,
    // an imports cell joins no step.
    const special = stripped.find(t => KALE_SPECIAL.has(t));
    if (special !== undefined) {
      return { ...noTags(), role: ROLE_TAGS[special], tagged: true, kale };
    }
  }

  for (const tag of stripped) {
    if (Object.prototype.hasOwnProperty.call(ROLE_TAGS, tag)) {
      roles.add(ROLE_TAGS[tag]);
      continue;
    }
    const prefix = STAGE_PREFIXES.find(([p]) => tag.startsWith(p));
    if (prefix) {
      const [p, how] = prefix;
      const name = tag.slice(p.length);
      if (p === 'stage:' || name) {
        setStage(oneName(tag, p), how);
      }
      // else: Kale's UI leaves an empty 'block:' behind, which Kale reads as no tag
    } else if (AFTER_PREFIXES.some(p => tag.startsWith(p))) {
      const name = oneName(tag, tag.slice(0, tag.indexOf(':') + 1));
      if (!after.includes(name)) {
        after.push(name);
      }
    } else if (tag === CHECK_TAG) {
      setOpt('check', true, tag);
    } else if (tag.startsWith('cache:')) {
      setOpt('cache', parseCache(tag.slice(6)), tag);
    } else if (tag.startsWith('retries:')) {
      setOpt('retries', parseRetries(tag.slice(8)), tag);
    } else if (tag.startsWith('timeout:')) {
      setOpt('timeout', parseTimeout(tag.slice(8)), tag);
    } else if (tag.startsWith('resources:')) {
      const [name, amount] = parseResource(tag.slice(10));
      if (resources.has(name) && resources.get(name) !== amount) {
        throw new TagError(
          `the cell has conflicting 'resources:${name}=' tags (${pyRepr(tag)} and an ` +
            'earlier one).'
        );
      }
      resources.set(name, amount);
    }
    // anything else (Kale's limit:, annotations, user tags) is kept and ignored
  }

  const line = firstLine(source);
  const magic = isMagicLine(line);
  if (magic) {
    const found = parseMagicLine(line);
    setStage(found.stage, 'magic');
    for (const name of found.after) {
      if (!after.includes(name)) {
        after.push(name);
      }
    }
    for (const key of ['cache', 'retries', 'timeout', 'check'] as const) {
      const value = found[key];
      if (value !== undefined) {
        setOpt(key, value, pyStrip(line));
      }
    }
  }

  const hasOpts = opts.size > 0 || resources.size > 0;
  const tagged = roles.size > 0 || stage !== null || after.length > 0 || hasOpts;
  let role: Role = 'code';
  if (roles.has('skip')) {
    role = 'skip'; // skip wins so a cell can be switched off without losing its other tags
  } else if (roles.size > 1) {
    throw new TagError(
      `the cell has tags for different roles (${[...roles].sort().join(', ')}).`,
      'A cell is one of: parameters, setup, metrics, or stage code.'
    );
  } else if (roles.size === 1) {
    role = [...roles][0];
  }
  if (
    (role === 'parameters' || role === 'setup' || role === 'metrics') &&
    (stage !== null || after.length > 0 || hasOpts)
  ) {
    throw new TagError(
      `a ${role} cell cannot also carry stage, after: or option tags.`,
      `Move the stage tags to the next code cell, or remove the '${role}' tag.`
    );
  }
  const get = <T>(key: 'cache' | 'retries' | 'timeout' | 'check'): T | null =>
    opts.has(key) ? (opts.get(key) as T) : null;
  return {
    role,
    stage,
    dialect,
    after,
    cache: get<boolean>('cache'),
    retries: get<number>('retries'),
    timeout: get<number>('timeout'),
    resources: resources.size
      ? Object.fromEntries(
          [...resources].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        )
      : null,
    check: get<boolean>('check'),
    magic,
    tagged,
    kale,
    injected: stripped.includes(INJECTED_TAG)
  };
}

/** The parse of a cell with no tags. */
export function noTags(): ICellTags {
  return {
    role: 'code',
    stage: null,
    dialect: null,
    after: [],
    cache: null,
    retries: null,
    timeout: null,
    resources: null,
    check: null,
    magic: false,
    tagged: false,
    kale: false,
    injected: false
  };
}
