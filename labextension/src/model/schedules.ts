/**
 * The notebook's cron schedules as the panel shows them: the list (those whose target is this
 * notebook), each one's recent fires, Pause/Resume and Remove, and the "New schedule" form with
 * its live preview of the next fire times.
 *
 * Read when the notebook changes, after each action, on Refresh, and once a little after the
 * earliest next fire (so a fired run shows up): never on a timer of its own.
 */

import { IErrorInfo, IFire, ISchedule, asErrorInfo } from '../api';
import {
  CronPreview,
  CronPreviewState,
  EMPTY_FORM,
  IScheduleForm,
  nextFireDelay,
  notebookSchedules,
  scheduleRequest
} from '../schedules';
import { IModelContext } from './context';

/** How many fires of each schedule the panel shows. */
export const HISTORY_SHOWN = 10;

export class SchedulesState {
  constructor(
    private context: IModelContext,
    private options: {
      /** The parameters form's values as Run sends them; null when one does not parse. */
      parameters(): { [name: string]: unknown } | null;
      /** A schedule's fire time went by: read the runs (and these) again. */
      fired(): void;
    }
  ) {
    this._preview = new CronPreview(
      (expr, tz) => this.context.client.cron(expr, tz || undefined, 5),
      () => this.context.emit()
    );
  }

  /** This notebook's schedules, by name. */
  get list(): readonly ISchedule[] {
    return this._list;
  }

  /** The first read of this notebook's schedules has not answered yet. */
  get loading(): boolean {
    return this._loading;
  }

  /** Why the list could not be read, or null. */
  get error(): IErrorInfo | null {
    return this._error;
  }

  /** A schedule's latest fires (at most HISTORY_SHOWN), or why they could not be read. */
  history(name: string): readonly IFire[] | IErrorInfo | undefined {
    return this._history.get(name);
  }

  /** The action going on for a schedule, one at a time. */
  busy(name: string): 'pause' | 'resume' | 'remove' | undefined {
    return this._busy.get(name);
  }

  /** Why the last action on a schedule failed. */
  actionError(name: string): IErrorInfo | undefined {
    return this._actionErrors.get(name);
  }

  get form(): Readonly<IScheduleForm> {
    return this._form;
  }

  get preview(): CronPreviewState {
    return this._preview.value;
  }

  get creating(): boolean {
    return this._creating;
  }

  /** Why Create was refused (by the form or the server). */
  get createError(): IErrorInfo | null {
    return this._createError;
  }

  /** The schedule Create last added, to point at it. */
  get created(): string | null {
    return this._created;
  }

  /** Forget the last notebook's schedules; the form keeps what was typed in it. */
  reset(): void {
    this._list = [];
    this._error = null;
    this._history.clear();
    this._busy.clear();
    this._actionErrors.clear();
    this._createError = null;
    this._created = null;
    this._loading = true;
    this._disarm();
  }

  async refresh(): Promise<void> {
    const path = this.context.path();
    if (!path) {
      return;
    }
    const current = this.context.current();
    try {
      const all = await this.context.client.schedules(path);
      if (!current()) {
        return;
      }
      this._list = notebookSchedules(all, path);
      this._error = null;
      const names = new Set(this._list.map(s => s.name));
      for (const name of [...this._history.keys()]) {
        if (!names.has(name)) {
          this._history.delete(name);
        }
      }
      await Promise.all(this._list.map(s => this._loadHistory(s.name, path, current)));
    } catch (err) {
      if (current()) {
        this._error = asErrorInfo(err);
      }
    } finally {
      if (current()) {
        this._loading = false;
        this._arm();
        this.context.emit();
      }
    }
  }

  private async _loadHistory(
    name: string,
    path: string,
    current: () => boolean
  ): Promise<void> {
    try {
      const fires = await this.context.client.scheduleHistory(name, path);
      if (current()) {
        this._history.set(name, fires.slice(0, HISTORY_SHOWN));
      }
    } catch (err) {
      if (current()) {
        this._history.set(name, asErrorInfo(err));
      }
    }
  }

  // -- actions on a schedule

  /** Pause (`enabled` false) or resume. */
  setEnabled(name: string, enabled: boolean): Promise<void> {
    return this._act(name, enabled ? 'resume' : 'pause', path =>
      this.context.client.enableSchedule(name, enabled, path)
    );
  }

  /** Remove (the view asks the user first); the runs it started stay. */
  remove(name: string): Promise<void> {
    return this._act(name, 'remove', path =>
      this.context.client.removeSchedule(name, path)
    );
  }

  private async _act(
    name: string,
    action: 'pause' | 'resume' | 'remove',
    call: (path: string) => Promise<unknown>
  ): Promise<void> {
    const path = this.context.path();
    if (!path || this._busy.has(name)) {
      return;
    }
    const current = this.context.current();
    this._busy.set(name, action);
    this._actionErrors.delete(name);
    this.context.emit();
    try {
      await call(path);
    } catch (err) {
      if (current()) {
        this._actionErrors.set(name, asErrorInfo(err));
      }
    } finally {
      if (current()) {
        this._busy.delete(name);
      }
    }
    if (current()) {
      await this.refresh();
    }
  }

  // -- the form

  setField<K extends keyof IScheduleForm>(field: K, value: IScheduleForm[K]): void {
    this._form = { ...this._form, [field]: value };
    this._createError = null;
    if (field === 'cron' || field === 'tz') {
      this._preview.update(this._form.cron, this._form.tz);
    }
    this.context.emit();
  }

  /** Add the form's schedule with the parameters form's values; the form empties on success. */
  async create(): Promise<void> {
    const path = this.context.path();
    if (!path || this._creating) {
      return;
    }
    const made = scheduleRequest(this._form, path, this.options.parameters());
    if ('error' in made) {
      this._createError = asErrorInfo(new Error(made.error));
      this.context.emit();
      return;
    }
    const current = this.context.current();
    this._creating = true;
    this._createError = null;
    this._created = null;
    this.context.emit();
    try {
      // the server reads the notebook's parameters from the file, as Run does
      const panel = this.context.notebook();
      if (panel && panel.model?.dirty) {
        await panel.context.save();
      }
      const schedule = await this.context.client.addSchedule(made.request);
      if (!current()) {
        return;
      }
      this._created = schedule.name;
      this._form = { ...this._form, name: '' };
      // the times shown were "next" when typed: show them from now, as the new schedule has
      this._preview.update(this._form.cron, this._form.tz);
    } catch (err) {
      if (current()) {
        this._createError = asErrorInfo(err);
      }
    } finally {
      if (current()) {
        this._creating = false;
        this.context.emit();
      }
    }
    if (current() && this._created) {
      await this.refresh();
    }
  }

  dispose(): void {
    this._disarm();
    this._preview.dispose();
  }

  /** One read a little after the earliest next fire, so its run shows without a Refresh. */
  private _arm(): void {
    this._disarm();
    const delay = nextFireDelay(this._list, Date.now());
    if (delay !== null) {
      const current = this.context.current();
      this._timer = setTimeout(() => {
        this._timer = null;
        if (current()) {
          this.options.fired();
        }
      }, delay);
    }
  }

  private _disarm(): void {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private _list: ISchedule[] = [];
  private _loading = true;
  private _error: IErrorInfo | null = null;
  private _history = new Map<string, IFire[] | IErrorInfo>();
  private _busy = new Map<string, 'pause' | 'resume' | 'remove'>();
  private _actionErrors = new Map<string, IErrorInfo>();
  private _form: IScheduleForm = { ...EMPTY_FORM };
  private _preview: CronPreview;
  private _creating = false;
  private _createError: IErrorInfo | null = null;
  private _created: string | null = null;
  private _timer: ReturnType<typeof setTimeout> | null = null;
}
