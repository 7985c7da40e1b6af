/**
 * Schedules as the panel handles them: the REST shapes, the "New schedule" form turned into a
 * request, the fire times written in the schedule's own zone, and the cron field's debounced
 * preview of the next fire times. Pure: no JupyterLab imports, so the node tests load it.
 */

import type { IErrorInfo } from './paths';

export type CatchUp = 'skip' | 'latest' | 'all';
export type Overlap = 'skip' | 'queue';

/** A cron schedule in the store (`mlops schedule show --json`, `GET schedules/{name}`). */
export interface ISchedule {
  name: string;
  /** The notebook or compiled folder it runs, absolute. */
  target: string;
  /** The same, relative to the server root (null when outside it). */
  path: string | null;
  /** The pinned compiled folder, or null. */
  compiled: string | null;
  cron: string;
  tz: string;
  parameters: { [name: string]: unknown };
  enabled: boolean;
  catch_up: CatchUp | string;
  max_catch_up: number;
  overlap: Overlap | string;
  pin: boolean;
  on_failure: string | null;
  /** ISO-8601 in the schedule's zone, with its offset; null while paused. */
  next_fire: string | null;
  last_fire: string | null;
}

/** What `POST schedules` takes. */
export interface IScheduleRequest {
  name: string;
  /** The notebook, relative to the server root. */
  path: string;
  cron: string;
  parameters?: { [name: string]: unknown };
  tz?: string;
  catch_up?: CatchUp;
  max_catch_up?: number;
  overlap?: Overlap;
  pin?: boolean;
}

/** One fire of a schedule (`GET schedules/{name}/history`), newest first. */
export interface IFire {
  scheduled_for: string;
  fired_at: string | null;
  run_id: string | null;
  /** The run's status once it ended, else the fire's own (claimed, queued, skipped...). */
  status: string;
  reason: 'on-time' | 'catch-up' | 'overlap' | string;
  attempts: number;
  previous_run_id: string | null;
}

/** `GET cron`: the next fire times of an expression, in its zone. */
export interface ICronPreview {
  cron: string;
  tz: string;
  next: string[];
}

export const CATCH_UP: readonly [CatchUp, string][] = [
  ['latest', 'after downtime, run the most recent missed time'],
  ['skip', 'after downtime, run none of the missed times'],
  ['all', 'after downtime, run every missed time (at most 10)']
];

export const OVERLAP: readonly [Overlap, string][] = [
  ['skip', 'a fire due while the last run goes is skipped'],
  ['queue', 'a fire due while the last run goes runs after it']
];

// the rule of mlops_jupyter/schedule/model.py check_name; the server checks it again
const NAME = /^[a-z][a-z0-9_-]{0,62}$/;
export const SCHEDULE_NAME_HINT =
  "A name is a lowercase letter, then up to 62 lowercase letters, digits, '-' or '_', " +
  'e.g. nightly-train.';

/** Why `name` cannot name a schedule, or null. An empty name is not an error yet. */
export function scheduleNameError(name: string): string | null {
  if (!name || NAME.test(name)) {
    return null;
  }
  return `'${name}' is not a schedule name. ${SCHEDULE_NAME_HINT}`;
}

/** The "New schedule" form's fields, as typed. */
export interface IScheduleForm {
  name: string;
  cron: string;
  /** Empty: the machine's zone (the server's). */
  tz: string;
  catchUp: CatchUp;
  overlap: Overlap;
  pin: boolean;
}

export const EMPTY_FORM: IScheduleForm = {
  name: '',
  cron: '',
  tz: '',
  catchUp: 'latest',
  overlap: 'skip',
  pin: false
};

/**
 * The request the form makes for the notebook at `path` with the parameters form's values (as
 * Run sends them: only those differing from the defaults; null when one does not parse), or
 * what to fix first. Options left at their defaults are not sent, so the server's apply.
 */
export function scheduleRequest(
  form: IScheduleForm,
  path: string,
  parameters: { [name: string]: unknown } | null
): { request: IScheduleRequest } | { error: string } {
  const name = form.name.trim();
  if (!name) {
    return { error: 'Give the schedule a name, e.g. nightly.' };
  }
  const bad = scheduleNameError(name);
  if (bad) {
    return { error: bad };
  }
  const cron = form.cron.trim();
  if (!cron) {
    return { error: "Give a cron expression, e.g. '30 2 * * *' (every day at 02:30)." };
  }
  if (parameters === null) {
    return { error: 'Fix the parameters marked in the form first.' };
  }
  const request: IScheduleRequest = { name, path, cron };
  if (Object.keys(parameters).length) {
    request.parameters = parameters;
  }
  if (form.tz.trim()) {
    request.tz = form.tz.trim();
  }
  if (form.catchUp !== EMPTY_FORM.catchUp) {
    request.catch_up = form.catchUp;
  }
  if (form.overlap !== EMPTY_FORM.overlap) {
    request.overlap = form.overlap;
  }
  if (form.pin) {
    request.pin = true;
  }
  return { request };
}

/** The schedules running the notebook at `path` (root-relative), by name. */
export function notebookSchedules(
  list: readonly ISchedule[],
  path: string
): ISchedule[] {
  return list.filter(s => s.path === path).sort((a, b) => a.name.localeCompare(b.name));
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = [
  'Jan',
  'Feb',
  'Mar',
  'Apr',
  'May',
  'Jun',
  'Jul',
  'Aug',
  'Sep',
  'Oct',
  'Nov',
  'Dec'
];
const ISO =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})?$/;

/**
 * A fire time as the clock of the schedule's zone reads it: `Thu 3 Dec 2026 02:30`, or
 * `3 Dec 02:30` when `short`; seconds when `seconds` says so (a 6-field cron) or they are not
 * zero. The ISO string carries that wall clock, so it is not converted to the browser's zone,
 * which may not be the schedule's. Anything else is returned as it is.
 */
export function formatFireTime(
  iso: string | null,
  options: { short?: boolean; seconds?: boolean } = {}
): string {
  if (!iso) {
    return '';
  }
  const m = ISO.exec(iso);
  if (!m) {
    return iso;
  }
  const [, y, mo, d, h, mi, s] = m;
  const clock = `${h}:${mi}${options.seconds || s !== '00' ? `:${s}` : ''}`;
  const day = `${+d} ${MONTHS[+mo - 1]}`;
  if (options.short) {
    return `${day} ${clock}`;
  }
  const weekday = WEEKDAYS[new Date(Date.UTC(+y, +mo - 1, +d)).getUTCDay()];
  return `${weekday} ${day} ${y} ${clock}`;
}

/** A cron expression with seconds (6 fields, seconds first). */
export function cronHasSeconds(expr: string): boolean {
  return expr.trim().split(/\s+/).length === 6;
}

// a fire's own statuses, shown with the mark of the run status they amount to
const FIRE_SHOWN_AS: { readonly [status: string]: string } = {
  claimed: 'running',
  queued: 'pending'
};

/** The status a fire is shown with (a fire whose run ended has the run's status). */
export function fireStatusShown(status: string): string {
  return FIRE_SHOWN_AS[status] ?? status;
}

/** The UTC offset an ISO time carries (`+01:00`, `Z`), or ''. */
export function fireOffset(iso: string | null): string {
  const m = iso ? ISO.exec(iso) : null;
  return m?.[8] ?? '';
}

/**
 * Milliseconds until a little after the earliest next fire still ahead, to read the schedules
 * (and runs) again once it has fired; null when none is ahead. At most a day: browsers run a
 * longer setTimeout at once.
 */
export function nextFireDelay(
  list: readonly ISchedule[],
  now: number,
  slackMs = 3000
): number | null {
  let soonest: number | null = null;
  for (const s of list) {
    const at = s.enabled && s.next_fire ? Date.parse(s.next_fire) : NaN;
    if (Number.isFinite(at) && at > now && (soonest === null || at < soonest)) {
      soonest = at;
    }
  }
  return soonest === null ? null : Math.min(soonest - now + slackMs, 86_400_000);
}

/** What the cron field shows under it. */
export type CronPreviewState =
  | { state: 'empty' }
  | { state: 'pending'; expr: string }
  | { state: 'ok'; expr: string; preview: ICronPreview }
  | { state: 'error'; expr: string; error: IErrorInfo };

export interface ITimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * The cron field's preview: asks `fetch` for the next fire times once typing pauses for
 * `delayMs`, and keeps only the answer to the latest text (an answer to older text arriving
 * late is dropped, so the preview never shows times of an expression no longer in the field).
 */
export class CronPreview {
  constructor(
    private fetch: (expr: string, tz: string) => Promise<ICronPreview>,
    private onChange: () => void,
    private delayMs = 250,
    private timers: ITimers = {
      setTimeout: (fn, ms) => setTimeout(fn, ms),
      clearTimeout: handle => clearTimeout(handle as ReturnType<typeof setTimeout>)
    }
  ) {}

  get value(): CronPreviewState {
    return this._value;
  }

  /** The field (or the zone) changed. */
  update(expr: string, tz: string): void {
    const text = expr.trim();
    const zone = tz.trim();
    this._cancel();
    this._asked += 1;
    if (!text) {
      this._set({ state: 'empty' });
      return;
    }
    const asked = this._asked;
    this._set({ state: 'pending', expr: text });
    this._timer = this.timers.setTimeout(() => {
      this._timer = null;
      this.fetch(text, zone).then(
        preview => {
          if (asked === this._asked) {
            this._set({ state: 'ok', expr: text, preview });
          }
        },
        (err: unknown) => {
          if (asked === this._asked) {
            this._set({ state: 'error', expr: text, error: toErrorInfo(err) });
          }
        }
      );
    }, this.delayMs);
  }

  /** Stop: no request after this, and answers still on their way are dropped. */
  dispose(): void {
    this._cancel();
    this._asked += 1;
  }

  private _cancel(): void {
    if (this._timer !== null) {
      this.timers.clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private _set(value: CronPreviewState): void {
    this._value = value;
    this.onChange();
  }

  private _value: CronPreviewState = { state: 'empty' };
  private _timer: unknown = null;
  private _asked = 0;
}

function toErrorInfo(err: unknown): IErrorInfo {
  // an ApiError carries the server's error shape; anything else becomes one
  const info = (err as { info?: IErrorInfo } | null)?.info;
  if (info && typeof info.error === 'string') {
    return info;
  }
  const message = err instanceof Error ? err.message : String(err);
  return {
    error: message,
    text: message,
    hint: null,
    notebook: null,
    cell: null,
    cell_id: null,
    line: null
  };
}
