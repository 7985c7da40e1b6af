/**
 * How the panel writes durations, values, times and statuses: one place for each, so the run
 * history, the stage table and the graph write them alike. Pure: no JupyterLab imports.
 */

import { Status } from './status';

/** A duration in seconds, short: `0.4s`, `12s`, `3m 05s`. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) {
    return '';
  }
  if (seconds < 10) {
    return `${seconds.toFixed(1)}s`;
  }
  if (seconds < 60) {
    return `${Math.round(seconds)}s`;
  }
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds - 60 * m);
  return `${m}m ${String(s).padStart(2, '0')}s`;
}

/** A metric value, compact. */
export function formatValue(value: unknown): string {
  if (typeof value === 'number') {
    if (Number.isInteger(value)) {
      return String(value);
    }
    const abs = Math.abs(value);
    return abs !== 0 && (abs < 1e-3 || abs >= 1e6)
      ? value.toExponential(3)
      : trimZeros(value.toPrecision(6));
  }
  if (value === null || value === undefined) {
    return '—';
  }
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function trimZeros(text: string): string {
  return text.includes('.') && !text.includes('e')
    ? text.replace(/0+$/, '').replace(/\.$/, '')
    : text;
}

/** When a run started: the time of day for today's, with the date for older ones. */
export function formatTime(iso: string | null): string {
  if (!iso) {
    return '';
  }
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) {
    return iso;
  }
  const time = date.toLocaleTimeString(undefined, {
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit'
  });
  return date.toDateString() === new Date().toDateString()
    ? time
    : `${date.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })} ${time}`;
}

const STATUS_MARK: { readonly [status in Status]?: string } = {
  succeeded: '✓',
  cached: '≡',
  failed: '✗',
  running: '◐',
  pending: '○',
  skipped: '–',
  interrupted: '■'
};

/** The one-character mark of a status, `?` for one this build has no mark for. */
export function statusMark(status: string): string {
  return STATUS_MARK[status as Status] ?? '?';
}
