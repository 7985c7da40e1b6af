/**
 * A served model's monitor report as the panel shows it: the REST shape of `mlops monitor --json`,
 * the windows offered, which version is watched (the champion, else the newest), and each part
 * of the report in words — traffic, the verdict on the inputs' drift, the per-column rows and the
 * predictions line — worded as `mlops monitor` prints them. Pure: no JupyterLab imports, so the
 * node tests load it.
 */

import { formatValue } from './format';
import type { IModelSummary } from './models';

/** One column's test (`tracking/drift.py`); an untested column has `test` null and a `note`. */
export interface IColumnDrift {
  test: string | null;
  statistic: number | null;
  p_value: number | null;
  threshold: number | null;
  drift: boolean;
  note?: string;
}

/** The predictions of the window against those of the window before. */
export interface IPredictionShift extends IColumnDrift {
  against: string;
}

export interface IPredictions {
  rows: number;
  kind?: 'classes' | 'numbers' | string;
  /** A classifier's classes (or few distinct values) and how often each was answered. */
  counts?: { [value: string]: number };
  mean?: number | null;
  std?: number | null;
  /** Null when either window had too few predictions to compare. */
  shift: IPredictionShift | null;
}

/** `GET models/{name}/monitor` (`mlops monitor --json`). */
export interface IMonitorReport {
  model: string;
  version: number;
  ref: string;
  window: { seconds: number; since: string; until: string };
  requests: number;
  errors: number;
  error_rate: number | null;
  latency_ms: { p50: number | null; p99: number | null };
  served_rows: number;
  /** The training data in the model's lineage, path relative to the server root. */
  reference: { path: string; hash: string; rows: number } | null;
  drift: boolean;
  /** The drifted share of the tested columns. */
  share: number | null;
  columns: { [column: string]: IColumnDrift };
  /** Why the inputs were not tested (no training data, too few rows), or null. */
  note: string | null;
  predictions?: IPredictions;
}

export type MonitorWindow = '15m' | '1h' | '24h' | '7d';

/** The windows the select offers, as `mlops monitor --window` spells them. */
export const WINDOWS: readonly { value: MonitorWindow; label: string }[] = [
  { value: '15m', label: 'last 15 minutes' },
  { value: '1h', label: 'last hour' },
  { value: '24h', label: 'last 24 hours' },
  { value: '7d', label: 'last 7 days' }
];

/** `mlops monitor`'s own default. */
export const DEFAULT_WINDOW: MonitorWindow = '1h';

/** The alias a deployment serves by convention: watched when the model has it. */
export const CHAMPION = 'champion';

/** serve/monitor.py MIN_ROWS: fewer predictions than this in a window are not compared. */
export const MIN_ROWS = 30;

/** Which version the monitor reads: the champion's when the model has one, else the newest. */
export function monitorTarget(summary: Pick<IModelSummary, 'latest' | 'aliases'>): {
  alias: string | null;
  version: number;
  text: string;
} {
  const champion = summary.aliases?.[CHAMPION];
  if (champion !== undefined) {
    return {
      alias: CHAMPION,
      version: champion,
      text: `${CHAMPION}, version ${champion}`
    };
  }
  return {
    alias: null,
    version: summary.latest,
    text: `newest, version ${summary.latest} (no ${CHAMPION})`
  };
}

/**
 * A report no longer about the version the monitor watches: the alias moved, a champion was
 * named, or a newer version was logged while none is.
 */
export function targetMoved(
  summary: Pick<IModelSummary, 'latest' | 'aliases'>,
  report: Pick<IMonitorReport, 'version'>
): boolean {
  return monitorTarget(summary).version !== report.version;
}

/** A latency in milliseconds, `—` when no request was timed. */
export function formatMs(value: number | null | undefined): string {
  return value === null || value === undefined ? '—' : `${formatValue(value)} ms`;
}

/** A share as a percentage with one decimal, as `mlops monitor` prints the error rate. */
export function formatPercent(share: number | null | undefined, digits = 1): string {
  return share === null || share === undefined || !Number.isFinite(share)
    ? '—'
    : `${(share * 100).toFixed(digits)} %`;
}

/** The errors and their rate: `1 (7.7 %)`. */
export function errorsText(
  report: Pick<IMonitorReport, 'errors' | 'error_rate'>
): string {
  return `${report.errors} (${formatPercent(report.error_rate)})`;
}

/** The first 12 characters of a content hash, as the CLI shows them. */
export function shortHash(hash: string): string {
  return hash.slice(0, 12);
}

/** The training data compared with, in a line. */
export function referenceText(report: Pick<IMonitorReport, 'reference'>): string {
  const ref = report.reference;
  if (!ref) {
    return 'none in the lineage';
  }
  return `${ref.path} ${shortHash(ref.hash)} (${ref.rows} row${ref.rows === 1 ? '' : 's'})`;
}

/** The columns whose test found drift, in the report's order. */
export function driftedColumns(report: Pick<IMonitorReport, 'columns'>): string[] {
  return Object.entries(report.columns)
    .filter(([, c]) => c.drift)
    .map(([name]) => name);
}

/** The columns that were tested (the share counts only these). */
export function testedColumns(report: Pick<IMonitorReport, 'columns'>): string[] {
  return Object.entries(report.columns)
    .filter(([, c]) => c.test !== null)
    .map(([name]) => name);
}

/** The overall verdict on the inputs: drift, no drift, or not tested (the note says why). */
export function driftVerdict(
  report: Pick<IMonitorReport, 'drift' | 'share' | 'columns'>
): { state: 'drift' | 'steady' | 'untested'; text: string } {
  const tested = testedColumns(report).length;
  if (!tested) {
    return { state: 'untested', text: 'inputs not tested for drift' };
  }
  const drifted = driftedColumns(report).length;
  const share = `${drifted} of ${tested} column${tested === 1 ? '' : 's'} (${formatPercent(report.share, 0)})`;
  return report.drift
    ? { state: 'drift', text: `drift: ${share}` }
    : { state: 'steady', text: `no drift: ${share}` };
}

/** Why a test said drift or not: its p-value, else its statistic, against the threshold. */
export function driftRule(column: IColumnDrift): string {
  if (column.test === null) {
    return column.note ?? 'not tested';
  }
  const threshold = formatValue(column.threshold);
  if (column.p_value !== null) {
    return `p ${formatValue(column.p_value)} ${column.drift ? '<' : '≥'} ${threshold}`;
  }
  return `${column.test} ${formatValue(column.statistic)} ${column.drift ? '≥' : '<'} ${threshold}`;
}

/** A row of the per-column table, every cell as text. */
export interface IColumnRow {
  column: string;
  test: string;
  statistic: string;
  pValue: string;
  drift: boolean;
  verdict: 'drift' | 'no' | '—';
  /** The rule applied, or why the column was not tested. */
  why: string;
}

export function columnRows(report: Pick<IMonitorReport, 'columns'>): IColumnRow[] {
  return Object.entries(report.columns).map(([column, c]) => ({
    column,
    test: c.test ?? '—',
    statistic: formatValue(c.statistic),
    pValue: formatValue(c.p_value),
    drift: c.drift,
    verdict: c.drift ? 'drift' : c.test === null ? '—' : 'no',
    why: driftRule(c)
  }));
}

/** How many values of a classifier's counts the line shows before `…`. */
const COUNTS_SHOWN = 8;

/** The predictions in a line, and whether they moved since the window before. */
export function predictionsLine(predictions: IPredictions | null | undefined): {
  shift: 'shifted' | 'steady' | 'not compared' | null;
  text: string;
} {
  const rows = predictions?.rows ?? 0;
  if (!predictions || !rows) {
    return { shift: null, text: 'none recorded in the window' };
  }
  let shown: string;
  if (predictions.kind === 'classes' && predictions.counts) {
    const entries = Object.entries(predictions.counts);
    shown = entries
      .slice(0, COUNTS_SHOWN)
      .map(([value, count]) => `${value}: ${count}`)
      .join(', ');
    if (entries.length > COUNTS_SHOWN) {
      shown += `, … (${entries.length} values)`;
    }
  } else {
    shown = `mean ${formatValue(predictions.mean)}, std ${formatValue(predictions.std)}`;
  }
  const head = `${rows} row${rows === 1 ? '' : 's'}: ${shown}; `;
  const shift = predictions.shift;
  if (!shift) {
    const where = rows < MIN_ROWS ? 'this window' : 'the window before';
    return {
      shift: 'not compared',
      text: `${head}not compared (fewer than ${MIN_ROWS} in ${where})`
    };
  }
  const test = shift.test ? ` (${shift.test})` : '';
  return shift.drift
    ? { shift: 'shifted', text: `${head}shifted vs ${shift.against}${test}` }
    : { shift: 'steady', text: `${head}steady vs ${shift.against}${test}` };
}
