/**
 * The notebook's pipeline as the panel shows it: what the server explains of the saved notebook,
 * the parameters form, Compile and the start of a run, the live stage tags, and the problems of
 * all of them, each pointing at its cell.
 */

import { IErrorInfo, IPipeline, asErrorInfo } from '../api';
import { formatParameter, parseParameter } from '../paths';
import { INotebookStages } from '../stages';
import { IModelContext } from './context';

export interface IProblem extends IErrorInfo {
  /** Where it comes from: the live tags, or the server (explain / compile / run). */
  source: 'tags' | 'explain' | 'compile' | 'run';
}

export class PipelineState {
  constructor(private context: IModelContext) {}

  /** The saved notebook's stages, parameters and data flow, as the server last explained it. */
  get explain(): IPipeline | null {
    return this._explain;
  }

  /** The server is reading the notebook (the first time: nothing to show yet). */
  get loading(): boolean {
    return this._loading;
  }

  /** The action under way, one at a time. */
  get busy(): 'compile' | 'run' | null {
    return this._busy;
  }

  /** What the last Compile wrote, until a run starts. */
  get compiled(): IPipeline | null {
    return this._compiled;
  }

  /** The parameters form's fields, as typed. */
  get params(): { readonly [name: string]: string } {
    return this._params;
  }

  /** Problems to show, each pointing at its cell: tags first (live), then the server's. */
  get problems(): IProblem[] {
    const found: IProblem[] = [];
    const stages = this._localStages;
    const notebook = this.context.notebook();
    if (stages && notebook) {
      const models = notebook.content.model?.cells;
      stages.cells.forEach((info, i) => {
        if (info?.error) {
          const id = models?.get(i)?.id ?? null;
          const where = `cell ${info.index}${id ? ` (id ${id})` : ''}`;
          found.push({
            source: 'tags',
            error: info.error,
            notebook: this.context.path(),
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
      this._explainError && { ...this._explainError, source: 'explain' as const },
      this._actionError
    ]) {
      if (problem && !seen.has(problem.error)) {
        seen.add(problem.error);
        found.push(problem);
      }
    }
    return found;
  }

  /** Forget the last notebook's pipeline; the parameters typed are kept (see _syncParams). */
  reset(): void {
    this._explain = null;
    this._explainError = null;
    this._actionError = null;
    this._compiled = null;
    this._localStages = null;
  }

  /** The stages the cells' tags make now, unsaved edits included. */
  setLocalStages(stages: INotebookStages | null): void {
    this._localStages = stages;
  }

  async refresh(): Promise<void> {
    const path = this.context.path();
    if (!path) {
      return;
    }
    const current = this.context.current();
    this._loading = true;
    this.context.emit();
    try {
      const explain = await this.context.client.explain(path);
      if (!current()) {
        return;
      }
      this._explain = explain;
      this._explainError = null;
      this._syncParams(explain);
    } catch (err) {
      if (!current()) {
        return;
      }
      this._explainError = asErrorInfo(err);
    } finally {
      if (current()) {
        this._loading = false;
        this.context.emit();
      }
    }
  }

  // -- parameters

  setParam(name: string, text: string): void {
    this._params = { ...this._params, [name]: text };
    this.context.emit();
  }

  resetParams(): void {
    this._params = {};
    if (this._explain) {
      this._syncParams(this._explain);
    }
    this.context.emit();
  }

  paramError(name: string): string | null {
    const spec = this._explain?.parameters[name];
    if (!spec) {
      return null;
    }
    const parsed = parseParameter(spec.type, this._params[name] ?? '');
    return 'error' in parsed ? parsed.error : null;
  }

  /** The values differing from the defaults, typed; null when a field does not parse. */
  paramValues(): { [name: string]: unknown } | null {
    const values: { [name: string]: unknown } = {};
    for (const [name, spec] of Object.entries(this._explain?.parameters ?? {})) {
      const text = this._params[name];
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
      next[name] = name in this._params && old === fresh ? this._params[name] : fresh;
      this._defaults[name] = fresh;
    }
    this._params = next;
  }

  // -- actions

  async compile(): Promise<void> {
    const path = this.context.path();
    if (!path || this._busy) {
      return;
    }
    this._busy = 'compile';
    this._actionError = null;
    this.context.emit();
    try {
      await this._save();
      const compiled = await this.context.client.compile(path);
      this._compiled = compiled;
      this._explain = compiled;
      this._explainError = null;
      this._syncParams(compiled);
    } catch (err) {
      this.actionFailed('compile', err);
    } finally {
      this._busy = null;
      this.context.emit();
    }
  }

  /**
   * Start a run with the form's parameters. `started` gets the new run's id while the Run
   * button is still busy, so the run shows as followed in the same render that frees it.
   */
  async run(started: (runId: string) => void): Promise<string | null> {
    const path = this.context.path();
    if (!path || this._busy) {
      return null;
    }
    const parameters = this.paramValues();
    if (parameters === null) {
      this.actionFailed(
        'run',
        new Error('Fix the parameters marked in the form first.')
      );
      this.context.emit();
      return null;
    }
    this._busy = 'run';
    this._actionError = null;
    this.context.emit();
    try {
      await this._save();
      const { run_id } = await this.context.client.startRun(path, { parameters });
      this._compiled = null;
      started(run_id);
      return run_id;
    } catch (err) {
      this.actionFailed('run', err);
      return null;
    } finally {
      this._busy = null;
      this.context.emit();
    }
  }

  /** Show what an action's failure says among the problems (the caller re-renders). */
  actionFailed(source: 'compile' | 'run', err: unknown): void {
    this._actionError = { ...asErrorInfo(err), source };
  }

  /** Save the notebook if it has unsaved changes: the server reads the file. */
  private async _save(): Promise<void> {
    const panel = this.context.notebook();
    if (panel && panel.model?.dirty) {
      await panel.context.save();
    }
  }

  private _explain: IPipeline | null = null;
  private _explainError: IErrorInfo | null = null;
  private _loading = false;
  private _busy: 'compile' | 'run' | null = null;
  private _actionError: IProblem | null = null;
  private _compiled: IPipeline | null = null;
  private _params: { [name: string]: string } = {};
  private _defaults: { [name: string]: string } = {};
  private _localStages: INotebookStages | null = null;
}
