/**
 * The Pipeline side panel: stage graph, problems pointing at cells, parameters form, Compile and
 * Run, run history with live stage status, metrics, executed stage notebooks, diff of two runs.
 * The widget re-renders its React view (components/) on each change of the model.
 */

import { ReactWidget, UseSignal } from '@jupyterlab/apputils';
import * as React from 'react';

import { IRun, IStageRun } from './api';
import { PanelBody } from './components/PanelBody';
import { PipelineModel } from './model';

export interface IPanelActions {
  /** Open the executed notebook of a stage of a run. */
  openStageNotebook(run: IRun, stage: IStageRun): void;
  /** The stage notebook's path relative to the server root, or null when outside it. */
  stagePath(stage: IStageRun): string | null;
}

export class PipelinePanel extends ReactWidget {
  constructor(
    readonly model: PipelineModel,
    private actions: IPanelActions
  ) {
    super();
    this.id = 'mlops-pipeline-panel';
    this.addClass('mlops-panel');
  }

  render(): JSX.Element {
    return (
      <UseSignal signal={this.model.changed}>
        {() => <PanelBody model={this.model} actions={this.actions} />}
      </UseSignal>
    );
  }
}
