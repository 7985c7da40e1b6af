/**
 * The Pipeline panel's state for the active notebook: what the server explains, the parameters
 * form, compile / run actions, run history with live polling, metrics and a diff of two runs.
 * The React view (panel.tsx) only renders this and calls its methods.
 */

import { NotebookPanel } from '@jupyterlab/notebook';
import { ISignal, Signal } from '@lumino/signaling';

import {
  ApiError,
  IDiff,
  IErrorInfo,
  IMetrics,
  IPipeline,
  IRun,
  MlopsClient,
  asErrorInfo
} from './api';
import { NotebookStages } from './cellmarks';
import { formatParameter, parseParameter, stripDrive } from './paths';
import { INotebookStages } from './stages';

export const ACTIVE = new Set(['running', 'pending', 'interrupting']);

export interface IProblem extends IErrorInfo {
  /** Where it comes from: the live tags, or the server (explain / compile / run). */
  source: 'tags' | 'explain' | 'compile' | 'run';
}

export class PipelineModel {
  constructor(
    readonly client: MlopsClient,
    private options: {
      pollInterval: number;
      stagesOf: (panel: NotebookPanel) => NotebookStages;
      gotoCell: (panel: NotebookPanel, where: IErrorInfo) => Promise<void>;
    }
  ) {}

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  // -- state (read by the view)
  notebook: NotebookPanel | null = null;
  explain: IPipeline | null = null;
  explainError: IErrorInfo | null = null;
  loading = false;
  busy: 'compile' | 'run' | null = null;
  actionError: IProblem | null = null;
  compiled: IPipeline | null = null;
  params: { [name: string]: string } = {};
  runs: IRun[] = [];
  runsError: IErrorInfo | null = null;
  watching: string | null = null;
  expanded = new Set<string>();
  metrics = new Map<string, IMetrics | IErrorInfo>();
  selected: string[] = [];
  diff: IDiff | null = null;
  diffError: IErrorInfo | null = null;
  localStages: INotebookStages | null = null;

  get path(): string | null {
    return this.notebook ? stripDrive(this.notebook.context.path) : null;
  }

  get dirty(): boolean {
    return !!this.notebook?.model?.dirty;
  }

  /** The run whose stage statuses colour the graph: the one being watched, else the newest. */
  get shownRun(): IRun | null {
    if (this.watching) {
      const run = this.runs.find(r => r.run_id === this.watching);
      if (run) {
        return run;
      }
    }
    return this.runs[0] ?? null;
  }

  /** Problems to show, each pointing at its cell: tags first (live), then the server's. */
  get problems(): IProblem[] {
    const found: IProblem[] = [];
    const stages = this.localStages;
    if (stages && this.notebook) {
      const models = this.notebook.content.model?.cells;
      stages.cells.forEach((info, i) => {
        if (info?.error) {
          const id = models?.get(i)?.id ?? null;
          const where = `cell ${info.index}${id ? ` (id ${id})` : ''}`;
          found.push({
            source: 'tags',
            error: info.error,
            notebook: this.path,
            cell: info.index,
            cell_id: id,
            line: null,
            hint: info.hint,
            text: `${where}: ${info.error}`
          });
        }
      });
    }
    const seen = new Set(found.map(p => p.error));
    for (const problem of [
      this.explainError && { ...this.explainError, source: 'explain' as const },
      this.actionError
    ]) {
      if (problem && !seen.has(problem.error)) {
        seen.add(problem.error);
        found.push(problem);
      }
    }
    return found;
  }

  // -- the notebook

  setNotebook(panel: NotebookPanel | null): void {
    if (panel === this.notebook) {
      return;
    }
    if (this.notebook) {
      Signal.disconnectReceiver(this);
    }
    this.notebook = panel;
    this.explain = null;
    this.explainError = null;
    this.actionError = null;
    this.compiled = null;
    this.runs = [];
    this.runsError = null;
    this.watching = null;
    this.expanded.clear();
    this.metrics.clear();
    this.selected = [];
    this.diff = null;
    this.diffError = null;
    this.localStages = null;
    this._generation += 1;
    if (panel) {
      panel.context.saveState.connect((_, state) => {
        if (state === 'completed') {
          void this.refreshExplain();
        }
        this._emit();
      }, this);
      panel.context.pathChanged.connect(() => void this.refresh(), this);
      panel.model?.stateChanged.connect((_, change) => {
        if (change.name === 'dirty') {
          this._emit();
        }
      }, this);
      const stages = this.options.stagesOf(panel);
      this.localStages = stages.stages;
      stages.changed.connect((_, found) => {
        this.localStages = found;
        this._emit();
      }, this);
      panel.disposed.connect(() => {
        if (this.notebook === panel) {
          this.setNotebook(null);
        }
      }, this);
      void panel.context.ready.then(() => {
        if (this.notebook === panel) {
          void this.refresh();
        }
      });
    }
    this._emit();
  }

  async refresh(): Promise<void> {
    await Promise.all([this.refreshExplain(), this.refreshRuns()]);
  }

  async refreshExplain(): Promise<void> {
    const path = this.path;
    if (!path) {
      return;
    }
    const generation = this._generation;
    this.loading = true;
    this._emit();
    try {
      const explain = await this.client.explain(path);
      if (generation !== this._generation) {
        return;
      }
      this.explain = explain;
      this.explainError = null;
      this._syncParams(explain);
    } catch (err) {
      if (generation !== this._generation) {
        return;
      }
      this.explainError = asErrorInfo(err);
    } finally {
      if (generation === this._generation) {
        this.loading = false;
        this._emit();
      }
    }
  }

  async refreshRuns(): Promise<void> {
    const path = this.path;
    if (!path) {
      return;
    }
    const generation = this._generation;
    try {
      const runs = await this.client.runs(path, 20);
      if (generation !== this._generation) {
        return;
      }
      this.runs = runs;
      this.runsError = null;
      // a run going on (started here or with `mlops run` in a terminal): watch it
      const live = runs.find(r => ACTIVE.has(r.status));
      if (live && !this._polling.has(live.run_id)) {
        void this.watch(live.run_id);
      }
    } catch (err) {
      if (generation === this._generation) {
        this.runsError = asErrorInfo(err);
      }
    }
    this._emit();
  }

  // -- parameters

  setParam(name: string, text: string): void {
    this.params = { ...this.params, [name]: text };
    this._emit();
  }

  resetParams(): void {
    this.params = {};
    if (this.explain) {
      this._syncParams(this.explain);
    }
    this._emit();
  }

  paramError(name: string): string | null {
    const spec = this.explain?.parameters[name];
    if (!spec) {
      return null;
    }
    const parsed = parseParameter(spec.type, this.params[name] ?? '');
    return 'error' in parsed ? parsed.error : null;
  }

  /** The values differing from the defaults, typed; null when a field does not parse. */
  paramValues(): { [name: string]: unknown } | null {
    const values: { [name: string]: unknown } = {};
    for (const [name, spec] of Object.entries(this.explain?.parameters ?? {})) {
      const text = this.params[name];
      if (text === undefined) {
        continue;
      }
      const parsed = parseParameter(spec.type, text);
      if ('error' in parsed) {
        return null;
      }
      if (JSON.stringify(parsed.value) !== JSON.stringify(spec.default)) {
        values[name] = parsed.value;
      }
    }
    return values;
  }

  private _syncParams(explain: IPipeline): void {
    const next: { [name: string]: string } = {};
    for (const [name, spec] of Object.entries(explain.parameters)) {
      const old = this._defaults[name];
      const fresh = formatParameter(spec.type, spec.default);
      // keep what the user typed unless the default itself changed
      next[name] = name in this.params && old === fresh ? this.params[name] : fresh;
      this._defaults[name] = fresh;
    }
    this.params = next;
  }

  // -- actions

  /** Save the notebook if it has unsaved changes: the server reads the file. */
  async save(): Promise<void> {
    const panel = this.notebook;
    if (panel && panel.model?.dirty) {
      await panel.context.save();
    }
  }

  async compile(): Promise<void> {
    const path = this.path;
    if (!path || this.busy) {
      return;
    }
    this.busy = 'compile';
    this.actionError = null;
    this._emit();
    try {
      await this.save();
      const compiled = await this.client.compile(path);
      this.compiled = compiled;
      this.explain = compiled;
      this.explainError = null;
      this._syncParams(compiled);
    } catch (err) {
      this.actionError = { ...asErrorInfo(err), source: 'compile' };
    } finally {
      this.busy = null;
      this._emit();
    }
  }

  async run(): Promise<string | null> {
    const path = this.path;
    if (!path || this.busy) {
      return null;
    }
    const parameters = this.paramValues();
    if (parameters === null) {
      this.actionError = {
        ...asErrorInfo(new Error('Fix the parameters marked in the form first.')),
        source: 'run'
      };
      this._emit();
      return null;
    }
    this.busy = 'run';
    this.actionError = null;
    this._emit();
    try {
      await this.save();
      const { run_id } = await this.client.startRun(path, { parameters });
      this.compiled = null;
      this.expanded.add(run_id);
      void this.watch(run_id);
      return run_id;
    } catch (err) {
      this.actionError = { ...asErrorInfo(err), source: 'run' };
      return null;
    } finally {
      this.busy = null;
      this._emit();
    }
  }

  async cancel(runId: string): Promise<void> {
    try {
      await this.client.cancel(runId, this.path ?? undefined);
    } catch (err) {
      this.actionError = { ...asErrorInfo(err), source: 'run' };
    }
    this._emit();
  }

  /** Poll a run until it ends, merging each answer into the history. */
  async watch(runId: string): Promise<void> {
    if (this._polling.has(runId)) {
      return;
    }
    this._polling.add(runId);
    this.watching = runId;
    const generation = this._generation;
    const path = this.path ?? undefined;
    let missing = 0;
    try {
      for (;;) {
        let run: IRun;
        try {
          run = await this.client.run(runId, path);
        } catch (err) {
          if (err instanceof ApiError && err.status === 404 && ++missing < 10) {
            await sleep(this.options.pollInterval);
            continue; // not recorded yet
          }
          throw err;
        }
        if (generation !== this._generation) {
          return;
        }
        this._merge(run);
        this._emit();
        if (!ACTIVE.has(run.status)) {
          this.metrics.delete(runId);
          if (this.expanded.has(runId)) {
            void this.loadMetrics(runId);
          }
          break;
        }
        await sleep(this.options.pollInterval);
      }
    } catch (err) {
      if (generation === this._generation) {
        this.runsError = asErrorInfo(err);
      }
    } finally {
      this._polling.delete(runId);
      this._emit();
    }
  }

  private _merge(run: IRun): void {
    const at = this.runs.findIndex(r => r.run_id === run.run_id);
    if (at >= 0) {
      this.runs = [...this.runs.slice(0, at), run, ...this.runs.slice(at + 1)];
    } else {
      this.runs = [run, ...this.runs];
    }
  }

  toggleExpanded(runId: string): void {
    if (this.expanded.has(runId)) {
      this.expanded.delete(runId);
    } else {
      this.expanded.add(runId);
      void this.loadMetrics(runId);
    }
    this._emit();
  }

  async loadMetrics(runId: string): Promise<void> {
    if (this.metrics.has(runId)) {
      return;
    }
    try {
      this.metrics.set(runId, await this.client.metrics(runId, this.path ?? undefined));
    } catch (err) {
      this.metrics.set(runId, asErrorInfo(err));
    }
    this._emit();
  }

  toggleSelected(runId: string): void {
    if (this.selected.includes(runId)) {
      this.selected = this.selected.filter(id => id !== runId);
    } else {
      this.selected = [...this.selected, runId].slice(-2);
    }
    this._emit();
  }

  async compare(): Promise<void> {
    if (this.selected.length !== 2) {
      return;
    }
    // older run first, so the diff reads "from a to b"
    const [x, y] = this.selected;
    const order = (id: string): number => this.runs.findIndex(r => r.run_id === id);
    const [a, b] = order(x) > order(y) ? [x, y] : [y, x];
    try {
      this.diff = await this.client.diff(a, b, this.path ?? undefined);
      this.diffError = null;
    } catch (err) {
      this.diff = null;
      this.diffError = asErrorInfo(err);
    }
    this._emit();
  }

  closeDiff(): void {
    this.diff = null;
    this.diffError = null;
    this._emit();
  }

  async gotoCell(where: IErrorInfo): Promise<void> {
    if (this.notebook) {
      await this.options.gotoCell(this.notebook, where);
    }
  }

  dispose(): void {
    this._generation += 1;
    Signal.clearData(this);
  }

  private _emit(): void {
    this._changed.emit();
  }

  private _changed = new Signal<this, void>(this);
  private _defaults: { [name: string]: string } = {};
  private _generation = 0;
  private _polling = new Set<string>();
}

function sleep(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms));
}
