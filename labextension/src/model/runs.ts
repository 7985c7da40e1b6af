/**
 * The notebook's runs as the panel shows them: the history (polled while a run goes on), which
 * rows are open and their metrics, and the two runs picked for a diff.
 */

import { ApiError, IDiff, IErrorInfo, IMetrics, IRun, asErrorInfo } from '../api';
import { ACTIVE } from '../status';
import { IModelContext } from './context';

export class RunsState {
  constructor(
    private context: IModelContext,
    private options: { readonly pollInterval: number },
    /** A watched run ended (succeeded, failed or interrupted). */
    private ended: () => void
  ) {}

  /** The notebook's runs, newest first. */
  get list(): readonly IRun[] {
    return this._list;
  }

  /** Why the history (or polling a run) failed, or null. */
  get error(): IErrorInfo | null {
    return this._error;
  }

  /** The run whose stage statuses colour the graph: the one being watched, else the newest. */
  get shownRun(): IRun | null {
    if (this._watching) {
      const run = this._list.find(r => r.run_id === this._watching);
      if (run) {
        return run;
      }
    }
    return this._list[0] ?? null;
  }

  /** The runs whose rows are open. */
  get expanded(): ReadonlySet<string> {
    return this._expanded;
  }

  /** Each open run's metric series, or why they could not be read. */
  get metrics(): ReadonlyMap<string, IMetrics | IErrorInfo> {
    return this._metrics;
  }

  /** The runs ticked for a diff, at most two, the last ticked last. */
  get selected(): readonly string[] {
    return this._selected;
  }

  get diff(): IDiff | null {
    return this._diff;
  }

  get diffError(): IErrorInfo | null {
    return this._diffError;
  }

  /** Forget the last notebook's runs (a poll still going on drops its answers). */
  reset(): void {
    this._list = [];
    this._error = null;
    this._watching = null;
    this._expanded.clear();
    this._metrics.clear();
    this._selected = [];
    this._diff = null;
    this._diffError = null;
  }

  async refresh(): Promise<void> {
    const path = this.context.path();
    if (!path) {
      return;
    }
    const current = this.context.current();
    try {
      const runs = await this.context.client.runs(path, 20);
      if (!current()) {
        return;
      }
      this._list = runs;
      this._error = null;
      // a run going on (started here or with `mlops run` in a terminal): watch it
      const live = runs.find(r => ACTIVE.has(r.status));
      if (live && !this._polling.has(live.run_id)) {
        void this.watch(live.run_id);
      }
    } catch (err) {
      if (current()) {
        this._error = asErrorInfo(err);
      }
    }
    this.context.emit();
  }

  /** A run just started here: open its row and watch it. */
  follow(runId: string): void {
    this._expanded.add(runId);
    void this.watch(runId);
  }

  /** Poll a run until it ends, merging each answer into the history. */
  async watch(runId: string): Promise<void> {
    if (this._polling.has(runId)) {
      return;
    }
    this._polling.add(runId);
    this._watching = runId;
    const current = this.context.current();
    const path = this.context.path() ?? undefined;
    let missing = 0;
    try {
      for (;;) {
        let run: IRun;
        try {
          run = await this.context.client.run(runId, path);
        } catch (err) {
          if (err instanceof ApiError && err.status === 404 && ++missing < 10) {
            await sleep(this.options.pollInterval);
            continue; // not recorded yet
          }
          throw err;
        }
        if (!current()) {
          return;
        }
        this._merge(run);
        this.context.emit();
        if (!ACTIVE.has(run.status)) {
          this.ended();
          this._metrics.delete(runId);
          if (this._expanded.has(runId)) {
            void this.loadMetrics(runId);
          }
          break;
        }
        await sleep(this.options.pollInterval);
      }
    } catch (err) {
      if (current()) {
        this._error = asErrorInfo(err);
      }
    } finally {
      this._polling.delete(runId);
      this.context.emit();
    }
  }

  private _merge(run: IRun): void {
    const at = this._list.findIndex(r => r.run_id === run.run_id);
    if (at >= 0) {
      this._list = [...this._list.slice(0, at), run, ...this._list.slice(at + 1)];
    } else {
      this._list = [run, ...this._list];
    }
  }

  /**
   * Open a run's row (a schedule's fire links here), reading the run first when it is not among
   * the history's newest; false when it cannot be read.
   */
  async reveal(runId: string): Promise<boolean> {
    if (!this._list.some(r => r.run_id === runId)) {
      const current = this.context.current();
      try {
        const run = await this.context.client.run(
          runId,
          this.context.path() ?? undefined
        );
        if (!current()) {
          return false;
        }
        this._merge(run);
        this._list = [...this._list].sort((x, y) =>
          (y.started_at ?? '').localeCompare(x.started_at ?? '')
        );
      } catch (err) {
        if (current()) {
          this._error = asErrorInfo(err);
          this.context.emit();
        }
        return false;
      }
    }
    this._expanded.add(runId);
    void this.loadMetrics(runId);
    this.context.emit();
    return true;
  }

  toggleExpanded(runId: string): void {
    if (this._expanded.has(runId)) {
      this._expanded.delete(runId);
    } else {
      this._expanded.add(runId);
      void this.loadMetrics(runId);
    }
    this.context.emit();
  }

  async loadMetrics(runId: string): Promise<void> {
    if (this._metrics.has(runId)) {
      return;
    }
    try {
      this._metrics.set(
        runId,
        await this.context.client.metrics(runId, this.context.path() ?? undefined)
      );
    } catch (err) {
      this._metrics.set(runId, asErrorInfo(err));
    }
    this.context.emit();
  }

  toggleSelected(runId: string): void {
    if (this._selected.includes(runId)) {
      this._selected = this._selected.filter(id => id !== runId);
    } else {
      this._selected = [...this._selected, runId].slice(-2);
    }
    this.context.emit();
  }

  async compare(): Promise<void> {
    if (this._selected.length !== 2) {
      return;
    }
    // older run first, so the diff reads "from a to b"
    const [x, y] = this._selected;
    const order = (id: string): number => this._list.findIndex(r => r.run_id === id);
    const [a, b] = order(x) > order(y) ? [x, y] : [y, x];
    try {
      this._diff = await this.context.client.diff(
        a,
        b,
        this.context.path() ?? undefined
      );
      this._diffError = null;
    } catch (err) {
      this._diff = null;
      this._diffError = asErrorInfo(err);
    }
    this.context.emit();
  }

  closeDiff(): void {
    this._diff = null;
    this._diffError = null;
    this.context.emit();
  }

  private _list: IRun[] = [];
  private _error: IErrorInfo | null = null;
  private _watching: string | null = null;
  private _expanded = new Set<string>();
  private _metrics = new Map<string, IMetrics | IErrorInfo>();
  private _selected: string[] = [];
  private _diff: IDiff | null = null;
  private _diffError: IErrorInfo | null = null;
  private _polling = new Set<string>();
}

function sleep(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms));
}
