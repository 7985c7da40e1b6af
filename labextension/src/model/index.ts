/**
 * The Pipeline panel's state for the active notebook, in five parts: `pipeline` (what the server
 * explains, the parameters form, compile, the live tags' problems), `runs` (history with live
 * polling, metrics, a diff of two runs), `schedules` (the notebook's cron schedules, their
 * fires, the form adding one), `models` (the models its runs logged, their versions and
 * aliases, the promote form) and `monitor` (what `mlops serve` recorded for each of those
 * models). This holds the notebook all five are about and the one signal the view re-renders
 * on; the React view (panel.tsx, components/) only renders this and calls its methods.
 */

import { NotebookPanel } from '@jupyterlab/notebook';
import { ISignal, Signal } from '@lumino/signaling';

import { IErrorInfo, MlopsClient } from '../api';
import { NotebookStages } from '../cellmarks';
import { stripDrive } from '../paths';
import { IModelContext } from './context';
import { ModelsState } from './models';
import { MonitorState } from './monitor';
import { PipelineState } from './pipeline';
import { RunsState } from './runs';
import { SchedulesState } from './schedules';

export { ModelsState } from './models';
export { MonitorState } from './monitor';
export type { IProblem } from './pipeline';
export { PipelineState } from './pipeline';
export { RunsState } from './runs';
export { SchedulesState } from './schedules';

export class PipelineModel {
  constructor(
    readonly client: MlopsClient,
    private options: {
      pollInterval: number;
      stagesOf: (panel: NotebookPanel) => NotebookStages;
      gotoCell: (panel: NotebookPanel, where: IErrorInfo) => Promise<void>;
    }
  ) {
    const context: IModelContext = {
      client,
      notebook: () => this._notebook,
      path: () => this.path,
      current: () => {
        const generation = this._generation;
        return () => generation === this._generation;
      },
      emit: () => this._changed.emit()
    };
    this.pipeline = new PipelineState(context);
    // the options object itself: the poll interval follows the settings as they change; a run
    // that ends may have logged a new version of a model
    this.runs = new RunsState(context, options, () => void this.models.refresh());
    this.schedules = new SchedulesState(context, {
      // a schedule runs with the values Run would send
      parameters: () => this.pipeline.paramValues(),
      fired: () => void Promise.all([this.runs.refresh(), this.schedules.refresh()])
    });
    this.models = new ModelsState(context, () => void this.monitor.follow());
    this.monitor = new MonitorState(context, () => this.models.list);
  }

  readonly pipeline: PipelineState;
  readonly runs: RunsState;
  readonly schedules: SchedulesState;
  readonly models: ModelsState;
  readonly monitor: MonitorState;

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get notebook(): NotebookPanel | null {
    return this._notebook;
  }

  get path(): string | null {
    return this._notebook ? stripDrive(this._notebook.context.path) : null;
  }

  get dirty(): boolean {
    return !!this._notebook?.model?.dirty;
  }

  setNotebook(panel: NotebookPanel | null): void {
    if (panel === this._notebook) {
      return;
    }
    if (this._notebook) {
      Signal.disconnectReceiver(this);
    }
    this._notebook = panel;
    this.pipeline.reset();
    this.runs.reset();
    this.schedules.reset();
    this.models.reset();
    this.monitor.reset();
    this._generation += 1;
    if (panel) {
      panel.context.saveState.connect((_, state) => {
        if (state === 'completed') {
          void this.pipeline.refresh();
        }
        this._changed.emit();
      }, this);
      panel.context.pathChanged.connect(() => void this.refresh(), this);
      panel.model?.stateChanged.connect((_, change) => {
        if (change.name === 'dirty') {
          this._changed.emit();
        }
      }, this);
      const stages = this.options.stagesOf(panel);
      this.pipeline.setLocalStages(stages.stages);
      stages.changed.connect((_, found) => {
        this.pipeline.setLocalStages(found);
        this._changed.emit();
      }, this);
      panel.disposed.connect(() => {
        if (this._notebook === panel) {
          this.setNotebook(null);
        }
      }, this);
      void panel.context.ready.then(() => {
        if (this._notebook === panel) {
          void this.refresh();
        }
      });
    }
    this._changed.emit();
  }

  async refresh(): Promise<void> {
    await Promise.all([
      this.pipeline.refresh(),
      this.runs.refresh(),
      this.schedules.refresh(),
      this.models.refresh(),
      this.monitor.refresh()
    ]);
  }

  compile(): Promise<void> {
    return this.pipeline.compile();
  }

  run(): Promise<string | null> {
    return this.pipeline.run(runId => this.runs.follow(runId));
  }

  /** Cancel a run; a refusal shows among the problems, as a failed Run does. */
  async cancel(runId: string): Promise<void> {
    try {
      await this.client.cancel(runId, this.path ?? undefined);
    } catch (err) {
      this.pipeline.actionFailed('run', err);
    }
    this._changed.emit();
  }

  async gotoCell(where: IErrorInfo): Promise<void> {
    if (this._notebook) {
      await this.options.gotoCell(this._notebook, where);
    }
  }

  dispose(): void {
    this._generation += 1;
    this.schedules.dispose();
    Signal.clearData(this);
  }

  private _changed = new Signal<this, void>(this);
  private _notebook: NotebookPanel | null = null;
  private _generation = 0;
}
