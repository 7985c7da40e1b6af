/**
 * The monitor of each model the notebook's runs logged: whether it is open, its window, and the
 * last report read (or why it could not be).
 *
 * A report is read when its monitor is opened, its window changed, on its Refresh and the
 * panel's, and when the models are read again and the version it watches moved (a promotion,
 * a new version while there is no champion): never on a timer of its own, since what
 * `mlops serve` records reaches the store only once a second and a report over hours changes
 * slowly.
 */

import { IErrorInfo, IModelSummary, IMonitorReport, asErrorInfo } from '../api';
import { DEFAULT_WINDOW, MonitorWindow, monitorTarget, targetMoved } from '../monitor';
import { IModelContext } from './context';

export class MonitorState {
  constructor(
    private context: IModelContext,
    /** The notebook's models as last read: which version each monitor watches. */
    private summaries: () => readonly IModelSummary[]
  ) {}

  isOpen(name: string): boolean {
    return this._open.has(name);
  }

  window(name: string): MonitorWindow {
    return this._windows.get(name) ?? DEFAULT_WINDOW;
  }

  /** The last report of the model's monitor, or why it could not be read. */
  report(name: string): IMonitorReport | IErrorInfo | undefined {
    return this._reports.get(name);
  }

  /** A read of this model's report is on its way. */
  loading(name: string): boolean {
    return this._loading.has(name);
  }

  /** Forget the last notebook's monitors. */
  reset(): void {
    this._open.clear();
    this._windows.clear();
    this._reports.clear();
    this._loading.clear();
    this._asked.clear();
  }

  /** Open the monitor (reading its report) or close it. */
  toggle(name: string): Promise<void> {
    if (this._open.delete(name)) {
      this.context.emit();
      return Promise.resolve();
    }
    this._open.add(name);
    return this.read(name);
  }

  setWindow(name: string, window: MonitorWindow): Promise<void> {
    this._windows.set(name, window);
    return this.read(name);
  }

  /** Read every open monitor's report again. */
  async refresh(): Promise<void> {
    await Promise.all([...this._open].map(name => this.read(name)));
  }

  /** The models were read again: a monitor whose version is no longer the one it watches reads. */
  async follow(): Promise<void> {
    const moved = this.summaries().filter(summary => {
      const report = this._reports.get(summary.name);
      return (
        this._open.has(summary.name) &&
        report !== undefined &&
        'version' in report &&
        targetMoved(summary, report)
      );
    });
    await Promise.all(moved.map(summary => this.read(summary.name)));
  }

  async read(name: string): Promise<void> {
    const path = this.context.path();
    const summary = this.summaries().find(s => s.name === name);
    if (!path || !summary) {
      return;
    }
    const current = this.context.current();
    // an answer to an earlier window (or Refresh) that arrives last must not be the one shown
    const asked = (this._asked.get(name) ?? 0) + 1;
    this._asked.set(name, asked);
    const latest = (): boolean => current() && this._asked.get(name) === asked;
    this._loading.add(name);
    this.context.emit();
    try {
      const alias = monitorTarget(summary).alias ?? undefined;
      const report = await this.context.client.monitor(name, {
        alias,
        window: this.window(name),
        path
      });
      if (latest()) {
        this._reports.set(name, report);
      }
    } catch (err) {
      if (latest()) {
        this._reports.set(name, asErrorInfo(err));
      }
    } finally {
      if (latest()) {
        this._loading.delete(name);
        this.context.emit();
      }
    }
  }

  private _open = new Set<string>();
  private _windows = new Map<string, MonitorWindow>();
  private _reports = new Map<string, IMonitorReport | IErrorInfo>();
  private _loading = new Set<string>();
  private _asked = new Map<string, number>();
}
