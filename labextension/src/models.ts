/**
 * Models as the panel handles them: the REST shapes of the registry, which metric values are the
 * best among a model's versions, the promote form turned into a request, and what a promotion's
 * answer says (moved, already there, or refused and why). Pure: no JupyterLab imports, so the
 * node tests load it.
 */

import { formatValue } from './format';

/** An item of `GET models?path=NB` (`mlops models --json`). */
export interface IModelSummary {
  name: string;
  /** How many versions there are. */
  versions: number;
  /** The newest version's number. */
  latest: number;
  aliases: { [alias: string]: number };
}

/** A version of a model (`mlops model show --json`), as `GET models/{name}` lists them. */
export interface IModelVersion {
  name: string;
  version: number;
  hash: string;
  flavor: string;
  format: string;
  size: number;
  run_id: string;
  stage: string | null;
  pipeline?: string | null;
  pipeline_version?: string | null;
  parameters: { [name: string]: unknown };
  metrics: { [key: string]: number | null };
  /** The data versions the run read, paths relative to the server root. */
  data: { path: string; hash: string }[];
  aliases: string[];
  signature: { inputs: unknown; outputs: unknown } | null;
  created_at: string | null;
  /** Null when the run's record was removed. */
  run_status: string | null;
  run_origin?: string | null;
  stage_status?: string | null;
}

/** One recorded move of an alias. */
export interface IAliasMove {
  name: string;
  alias: string;
  from: number | null;
  to: number;
  how: 'alias' | 'promote' | string;
  who: string | null;
  when: string;
  why: string | null;
  requirements: IRequirementRow[] | null;
}

/** `GET models/{name}`: the model whole, versions newest first. */
export interface IModel {
  name: string;
  latest: number;
  aliases: { [alias: string]: number };
  versions: IModelVersion[];
  moves: IAliasMove[];
}

/** A row of a promotion's table: one requirement checked against the candidate. */
export interface IRequirementRow {
  requirement: string;
  metric: string;
  /** The candidate's value (for the "run succeeded" row, the run's status). */
  candidate: number | string | null;
  baseline: number | null;
  /** What was required, e.g. `>= 0.983333 (baseline +0.01)`. */
  required: string;
  ok: boolean;
  note: string;
}

/** What `POST models/{name}/aliases` takes. */
export interface IAliasRequest {
  version: number;
  alias: string;
  promote: boolean;
  require: string[];
  reason?: string;
}

/** The answer of a promotion (`mlops model promote --json`); `moved` false: nothing changed. */
export interface IAliasResult {
  name: string;
  version: number;
  alias: string;
  /** The version the alias pointed at before, or null. */
  from: number | null;
  /** The version it points at now. */
  to: number | null;
  moved: boolean;
  /** The alias was on that version already: nothing was checked. */
  already?: boolean;
  requirements?: IRequirementRow[];
  reason?: string | null;
}

// tables.py's _LOWER (both run tests/cases/metric_direction.json), so the panel marks the same
// best values as %mlops models and the CLI
const LOWER =
  /(^|[_\-. /])(loss|logloss|error|err|errors|rmse|mse|mae|mape|smape|rmsle|perplexity|wer|cer|latency|duration|time|seconds)($|[_\-. /0-9])/i;

/** A metric whose name says less is better; sklearn's scorer names (`neg_...`) are not. */
export function lowerIsBetter(key: string): boolean {
  const lower = key.toLowerCase();
  if (lower.startsWith('neg_') || lower.startsWith('neg-')) {
    return false;
  }
  return LOWER.test(key);
}

function finite(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** The numbers of the versions holding the best value of `key` (all of them when tied). */
export function bestVersions(
  versions: readonly IModelVersion[],
  key: string
): Set<number> {
  const lower = lowerIsBetter(key);
  let best: number | null = null;
  for (const v of versions) {
    const value = finite(v.metrics?.[key]);
    if (value !== null && (best === null || (lower ? value < best : value > best))) {
      best = value;
    }
  }
  return new Set(
    best === null
      ? []
      : versions.filter(v => finite(v.metrics?.[key]) === best).map(v => v.version)
  );
}

/** Every metric any version has, sorted: the table's metric columns. */
export function metricKeys(versions: readonly IModelVersion[]): string[] {
  const keys = new Set<string>();
  for (const v of versions) {
    Object.keys(v.metrics ?? {}).forEach(k => keys.add(k));
  }
  return [...keys].sort();
}

/** The parameters whose value differs between versions: the ones worth a column. */
export function varyingParameters(versions: readonly IModelVersion[]): string[] {
  const names = new Set<string>();
  for (const v of versions) {
    Object.keys(v.parameters ?? {}).forEach(k => names.add(k));
  }
  return [...names].filter(
    name =>
      new Set(versions.map(v => JSON.stringify(v.parameters?.[name]) ?? 'undefined'))
        .size > 1
  );
}

// the rule of tracking/models.py check_alias; the server checks it again
const ALIAS = /^[A-Za-z][A-Za-z0-9_-]{0,62}$/;
/** `NAME@latest` is the newest version, so no alias may be called that. */
const LATEST = 'latest';
/** request.py MAX_REQUIREMENTS. */
export const MAX_REQUIREMENTS = 50;

/** Why `alias` cannot name an alias, or null. An empty alias is not an error yet. */
export function aliasError(alias: string): string | null {
  if (!alias || (ALIAS.test(alias) && alias !== LATEST)) {
    return null;
  }
  if (alias === LATEST) {
    return `'${LATEST}' is taken: NAME@${LATEST} is the newest version.`;
  }
  return (
    `'${alias}' cannot be an alias: it starts with a letter and has letters, digits, ` +
    "'_' and '-' (at most 63), for example champion."
  );
}

/** The requirements typed in the form, one a line; blank lines are left out. */
export function requirementLines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map(line => line.trim())
    .filter(line => line !== '');
}

/** The promote form of one model, as typed. */
export interface IPromoteForm {
  /** The version picked, as the select has it; '' until one is picked: the newest. */
  version: string;
  alias: string;
  /** Requirements, one a line: `rmse<=0.5`, `accuracy>=+0.01`, `accuracy>=+2%`. */
  require: string;
  reason: string;
}

export const EMPTY_PROMOTE_FORM: IPromoteForm = {
  version: '',
  alias: 'champion',
  require: '',
  reason: ''
};

/**
 * The request the form makes, given the model's version numbers (newest first), or what to fix
 * first. Always a promotion: the alias moves only if the version's run succeeded and every
 * requirement holds. What the requirements say is left to the server, which answers a bad one
 * with a message naming it.
 */
export function aliasRequest(
  form: IPromoteForm,
  versions: readonly number[]
): { request: IAliasRequest } | { error: string } {
  const version = form.version === '' ? versions[0] : Number(form.version);
  if (version === undefined || !versions.includes(version)) {
    return { error: 'Pick one of the versions.' };
  }
  const alias = form.alias.trim();
  if (!alias) {
    return { error: 'Give the alias a name, e.g. champion.' };
  }
  const bad = aliasError(alias);
  if (bad) {
    return { error: bad };
  }
  const require = requirementLines(form.require);
  if (require.length > MAX_REQUIREMENTS) {
    return {
      error: `At most ${MAX_REQUIREMENTS} requirements, not ${require.length}.`
    };
  }
  const request: IAliasRequest = { version, alias, promote: true, require };
  const reason = form.reason.trim();
  if (reason) {
    request.reason = reason;
  }
  return { request };
}

function versionText(version: number | null): string {
  return version === null ? 'nowhere' : `version ${version}`;
}

/** What a promotion did, in a line, and the requirements that were not met. */
export function promotionOutcome(result: IAliasResult): {
  state: 'moved' | 'already' | 'refused';
  text: string;
  failed: IRequirementRow[];
} {
  const target = `${result.name}@${result.alias}`;
  if (result.already) {
    return {
      state: 'already',
      text: `${target} is already version ${result.version}: nothing to move.`,
      failed: []
    };
  }
  if (result.moved) {
    return {
      state: 'moved',
      text: `${target} moved from ${versionText(result.from)} to ${versionText(result.to)}.`,
      failed: []
    };
  }
  const failed = (result.requirements ?? []).filter(row => !row.ok);
  const count = `${failed.length} requirement${failed.length === 1 ? '' : 's'}`;
  const stays =
    result.from === null ? 'stays unset' : `stays at version ${result.from}`;
  return {
    state: 'refused',
    text:
      `Refused: ${count} not met; ${target} ${stays} ` +
      `(version ${result.version} was the candidate).`,
    failed
  };
}

/**
 * Why a requirement was not met, in words: the server's note when it wrote one (no such metric,
 * no baseline, the run failed), else the candidate's value against what was required.
 */
export function failureReason(row: IRequirementRow): string {
  if (row.note) {
    return row.note;
  }
  return `${row.metric} is ${formatValue(row.candidate)}, not ${row.required}`;
}
