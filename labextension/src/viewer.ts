/**
 * A read-only view of an executed stage notebook, for when the file cannot be opened through the
 * contents API (it lives under the hidden `.mlops/` folder, which Jupyter Server refuses unless
 * `ContentsManager.allow_hidden` is on). The notebook comes from `GET runs/{id}/stages/{s}/notebook`.
 */

import { OutputAreaModel, SimplifiedOutputArea } from '@jupyterlab/outputarea';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { Panel, Widget } from '@lumino/widgets';

function text(source: unknown): string {
  return Array.isArray(source)
    ? source.join('')
    : typeof source === 'string'
      ? source
      : '';
}

export class StageNotebookView extends Panel {
  constructor(notebook: any, rendermime: IRenderMimeRegistry, caption: string) {
    super();
    this.addClass('mlops-stage-view');
    const head = new Widget();
    head.addClass('mlops-stage-view-head');
    head.node.textContent = caption;
    this.addWidget(head);
    const cells: any[] = Array.isArray(notebook?.cells) ? notebook.cells : [];
    for (const cell of cells) {
      const box = new Panel();
      box.addClass('mlops-stage-view-cell');
      const source = new Widget();
      source.addClass('mlops-stage-view-source');
      const prompt = document.createElement('div');
      prompt.className = 'mlops-stage-view-prompt';
      prompt.textContent =
        cell.cell_type === 'code'
          ? `[${cell.execution_count ?? ' '}]:`
          : cell.cell_type;
      const pre = document.createElement('pre');
      pre.textContent = text(cell.source);
      source.node.append(prompt, pre);
      box.addWidget(source);
      if (
        cell.cell_type === 'code' &&
        Array.isArray(cell.outputs) &&
        cell.outputs.length
      ) {
        const model = new OutputAreaModel({ values: cell.outputs, trusted: false });
        const outputs = new SimplifiedOutputArea({ model, rendermime });
        outputs.addClass('mlops-stage-view-outputs');
        box.addWidget(outputs);
      }
      this.addWidget(box);
    }
  }
}
