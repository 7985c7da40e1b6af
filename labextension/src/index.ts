/**
 * mlops-jupyter in JupyterLab: stage tags on cells, stage colours, the Pipeline side panel, and
 * commands (palette, cell context menu, cell toolbar) for tagging, compiling and running. All
 * pipeline work happens in the server extension, over authenticated REST (src/api.ts).
 */

import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import {
  ICommandPalette,
  MainAreaWidget,
  showErrorMessage
} from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { LabIcon } from '@jupyterlab/ui-components';

import { IErrorInfo, IRun, IStageRun, MlopsClient, asErrorInfo } from './api';
import { NotebookStages } from './cellmarks';
import { PipelineModel } from './model';
import { PipelinePanel } from './panel';
import { relativeToRoot } from './paths';
import { StageNotebookView } from './viewer';

const PLUGIN_ID = 'mlops-jupyter-labextension:plugin';

export const CommandIDs = {
  editStage: 'mlops:edit-stage',
  newStage: 'mlops:new-stage',
  openPanel: 'mlops:open-panel',
  compile: 'mlops:compile',
  run: 'mlops:run'
} as const;

export const pipelineIcon = new LabIcon({
  name: 'mlops:pipeline',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">' +
    '<g class="jp-icon3" fill="#616161">' +
    '<rect x="8" y="2" width="8" height="5" rx="1.5"/>' +
    '<rect x="2" y="17" width="8" height="5" rx="1.5"/>' +
    '<rect x="14" y="17" width="8" height="5" rx="1.5"/>' +
    '<path d="M11 7h2v3.5h5.5a1 1 0 0 1 1 1V17h-2v-4.5h-11V17h-2v-5.5a1 1 0 0 1 1-1H11z"/>' +
    '</g></svg>'
});

export const stageIcon = new LabIcon({
  name: 'mlops:stage',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">' +
    '<g class="jp-icon3" fill="#616161">' +
    '<path d="M3 4h3v16H3z"/>' +
    '<path d="M8 5h9l4 4-4 4H8z"/>' +
    '<path d="M8 15h8v2H8zM8 19h5v2H8z"/>' +
    '</g></svg>'
});

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Tag notebook cells as pipeline stages, see the stage graph, compile, run and watch runs.',
  autoStart: true,
  requires: [INotebookTracker, IDocumentManager, IRenderMimeRegistry],
  optional: [ICommandPalette, ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    docManager: IDocumentManager,
    rendermime: IRenderMimeRegistry,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null
  ) => {
    const client = new MlopsClient();
    const trackers = new WeakMap<NotebookPanel, NotebookStages>();
    const stagesOf = (panel: NotebookPanel): NotebookStages => {
      let found = trackers.get(panel);
      if (!found || found.isDisposed) {
        found = new NotebookStages(panel);
        trackers.set(panel, found);
      }
      return found;
    };
    tracker.widgetAdded.connect((_, panel) => void stagesOf(panel));
    tracker.forEach(panel => void stagesOf(panel));

    const options = { pollInterval: 500, stagesOf, gotoCell };
    const model = new PipelineModel(client, options);

    const stagePath = (stage: IStageRun): string | null =>
      stage.path ??
      (stage.notebook
        ? relativeToRoot(stage.notebook, PageConfig.getOption('serverRoot'))
        : null);

    const panel = new PipelinePanel(model, {
      openStageNotebook: (run, stage) => void openStageNotebook(run, stage),
      stagePath
    });
    panel.title.icon = pipelineIcon;
    panel.title.caption = 'Pipeline';
    app.shell.add(panel, 'right', { rank: 650 });

    model.setNotebook(tracker.currentWidget);
    tracker.currentChanged.connect((_, current) => {
      if (current) {
        model.setNotebook(current);
      }
    });
    // the last notebook closed: empty the panel
    tracker.widgetAdded.connect((_, added) => {
      added.disposed.connect(() => {
        if (!tracker.currentWidget) {
          model.setNotebook(null);
        }
      });
    });

    if (settingRegistry) {
      void settingRegistry
        .load(PLUGIN_ID)
        .then(settings => {
          const read = (): void => {
            const ms = Number(settings.get('pollInterval').composite);
            options.pollInterval = Number.isFinite(ms) && ms >= 100 ? ms : 500;
          };
          read();
          settings.changed.connect(read);
        })
        .catch(() => undefined);
    }

    async function gotoCell(nb: NotebookPanel, where: IErrorInfo): Promise<void> {
      const notebook = nb.content;
      const cells = notebook.model?.cells;
      if (!cells) {
        return;
      }
      let index = -1;
      if (where.cell_id) {
        index = Array.from(cells).findIndex(c => c.id === where.cell_id);
      }
      if (
        index < 0 &&
        where.cell !== null &&
        where.cell >= 1 &&
        where.cell <= cells.length
      ) {
        index = where.cell - 1;
      }
      if (index < 0) {
        return;
      }
      app.shell.activateById(nb.id);
      notebook.deselectAll();
      notebook.activeCellIndex = index;
      notebook.mode = 'command';
      const cell = notebook.widgets[index];
      await notebook.scrollToCell(cell, 'center');
      if (where.line !== null && cell.editor) {
        cell.editor.setCursorPosition({ line: Math.max(0, where.line - 1), column: 0 });
      }
      notebook.node.focus();
      cell.node.classList.remove('mlops-flash');
      void cell.node.offsetWidth; // restart the animation
      cell.node.classList.add('mlops-flash');
      setTimeout(() => cell.node.classList.remove('mlops-flash'), 1600);
    }

    async function openStageNotebook(run: IRun, stage: IStageRun): Promise<void> {
      const path = stagePath(stage);
      if (path) {
        try {
          // the contents API refuses files under hidden folders unless allow_hidden is on
          await docManager.services.contents.get(path, { content: false });
          docManager.openOrReveal(path);
          return;
        } catch {
          // fall through to the server's copy
        }
      }
      try {
        const notebook = await client.stageNotebook(
          run.run_id,
          stage.name,
          model.path ?? undefined
        );
        const caption = `Stage '${stage.name}' of run ${run.run_id} (${stage.status}), read-only — ${
          path ?? stage.notebook
        }`;
        const content = new StageNotebookView(notebook, rendermime, caption);
        const widget = new MainAreaWidget({ content });
        widget.id = `mlops-stage-${run.run_id}-${stage.name}`;
        widget.title.label = `${stage.name} · ${run.run_id}`;
        widget.title.caption = caption;
        widget.title.icon = pipelineIcon;
        widget.title.closable = true;
        app.shell.add(widget, 'main', { mode: 'split-right' });
        app.shell.activateById(widget.id);
      } catch (err) {
        await showErrorMessage(
          'Cannot open the stage notebook',
          `${asErrorInfo(err).text}\n\nIt is at ${stage.notebook ?? 'an unknown place'}.`
        );
      }
    }

    const activeCellIndex = (): number => {
      const nb = tracker.currentWidget;
      const cell = nb?.content.activeCell;
      return nb && cell && cell.model.type === 'code' ? nb.content.activeCellIndex : -1;
    };
    const openPanel = (): void => {
      app.shell.activateById(panel.id);
    };

    app.commands.addCommand(CommandIDs.editStage, {
      label: 'Tag Cell as Stage…',
      caption: "Edit the active cell's pipeline tags: stage, after, role, options",
      icon: stageIcon,
      isEnabled: () => activeCellIndex() >= 0,
      execute: async () => {
        const nb = tracker.currentWidget;
        const index = activeCellIndex();
        if (nb && index >= 0) {
          await stagesOf(nb).edit(index);
        }
      }
    });
    app.commands.addCommand(CommandIDs.newStage, {
      label: 'Start a New Stage at This Cell…',
      caption: 'Tag the active cell with a new stage name',
      isEnabled: () => activeCellIndex() >= 0,
      execute: async () => {
        const nb = tracker.currentWidget;
        const index = activeCellIndex();
        if (nb && index >= 0) {
          await stagesOf(nb).edit(index, true);
        }
      }
    });
    app.commands.addCommand(CommandIDs.openPanel, {
      label: 'Open Pipeline Panel',
      caption:
        'Stage graph, parameters, compile, run and run history of the active notebook',
      icon: pipelineIcon,
      execute: openPanel
    });
    app.commands.addCommand(CommandIDs.compile, {
      label: 'Compile Pipeline',
      caption: 'Save the notebook and compile it into a pipeline',
      isEnabled: () => !!tracker.currentWidget,
      execute: async () => {
        openPanel();
        await model.compile();
      }
    });
    app.commands.addCommand(CommandIDs.run, {
      label: 'Run Pipeline',
      caption: "Save the notebook and run its pipeline with the panel's parameters",
      isEnabled: () => !!tracker.currentWidget,
      execute: async () => {
        openPanel();
        await model.run();
      }
    });

    if (palette) {
      for (const command of [
        CommandIDs.editStage,
        CommandIDs.newStage,
        CommandIDs.openPanel,
        CommandIDs.compile,
        CommandIDs.run
      ]) {
        palette.addItem({ command, category: 'Pipeline' });
      }
    }

    const selector = '.jp-Notebook .jp-Cell';
    app.contextMenu.addItem({ type: 'separator', selector, rank: 40 });
    [
      CommandIDs.editStage,
      CommandIDs.newStage,
      CommandIDs.openPanel,
      CommandIDs.compile,
      CommandIDs.run
    ].forEach((command, i) => {
      app.contextMenu.addItem({ command, selector, rank: 40.1 + i / 10 });
    });
  }
};

export default plugin;
