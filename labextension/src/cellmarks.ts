/**
 * Stage marks on the cells of one notebook: a coloured bar per stage on the left of every code
 * cell, a label (a button that opens the stage editor) on each stage's first cell, their own
 * marks for parameters / setup / metrics / skip cells, and tag problems shown on their cell.
 *
 * Recomputed from the cells' tags (and `%%mlops` first lines) on every change, the way the
 * compiler reads them (src/stages.ts).
 */

import { Cell, ICellModel } from '@jupyterlab/cells';
import { NotebookPanel } from '@jupyterlab/notebook';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { IStageEdit, applyEdit, readEdit, readMagic } from './edit';
import { IEditorContext, editStage } from './editor';
import { ICellStage, INotebookStages, assignStages, stageColors } from './stages';

const CELL_CLASS = 'mlops-cell';
const MARK_CLASS = 'mlops-mark';
const ROLE_LABEL: { [role: string]: string } = {
  parameters: 'parameters',
  setup: 'setup',
  metrics: 'metrics',
  skip: 'skip'
};

export function cellTags(model: ICellModel): string[] {
  const tags = model.getMetadata('tags');
  return Array.isArray(tags)
    ? tags.filter((t): t is string => typeof t === 'string')
    : [];
}

export function setCellTags(model: ICellModel, tags: string[]): void {
  if (tags.length) {
    model.setMetadata('tags', tags);
  } else if (model.getMetadata('tags') !== undefined) {
    model.deleteMetadata('tags');
  }
}

/** The stages of a notebook's current (unsaved) content. */
export function notebookStages(panel: NotebookPanel): INotebookStages {
  const cells = panel.content.model
    ? Array.from(panel.content.model.cells, model => ({
        type: model.type,
        tags: cellTags(model),
        source: model.type === 'code' ? model.sharedModel.getSource() : '',
        id: model.id
      }))
    : [];
  return assignStages(cells);
}

/** Tracks one notebook and keeps its cells' marks current. */
export class NotebookStages implements IDisposable {
  constructor(readonly panel: NotebookPanel) {
    this._schedule = this._schedule.bind(this);
    const model = panel.content.model;
    panel.content.modelChanged.connect(this._watchModel, this);
    if (model) {
      this._watchModel();
    }
    panel.disposed.connect(() => this.dispose());
  }

  /** Emitted after the marks are recomputed (with the new stages). */
  get changed(): ISignal<this, INotebookStages> {
    return this._changed;
  }

  get stages(): INotebookStages {
    return this._stages ?? this.compute();
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    cancelAnimationFrame(this._frame);
    Signal.clearData(this);
  }

  compute(): INotebookStages {
    this._stages = notebookStages(this.panel);
    return this._stages;
  }

  /** Open the stage editor for the cell at `index` (0-based) and write what it returns. */
  async edit(index: number, startNew = false): Promise<boolean> {
    const notebook = this.panel.content;
    const cell = notebook.widgets[index];
    if (!cell || cell.model.type !== 'code') {
      return false;
    }
    const stages = this.compute();
    const info = stages.cells[index];
    const source = cell.model.sharedModel.getSource();
    const tags = cellTags(cell.model);
    const magic = readMagic(source);
    // the stage this cell would continue: the nearest code cell above that belongs to a stage
    let continues: string | null = null;
    for (let i = index - 1; i >= 0; i--) {
      const above = stages.cells[i];
      if (above?.stage) {
        continues = above.stage;
        break;
      }
    }
    const ctx: IEditorContext = {
      index: index + 1,
      tags,
      stages: stages.stages.map(name => ({ name, cell: stages.firstCell[name] })),
      continues,
      current: info?.starts || info?.resumes ? info.stage : null,
      magic,
      kale: stages.kale,
      startNew
    };
    const before = readEdit(tags);
    const edit = await editStage(before, ctx);
    if (!edit || cell.isDisposed) {
      return false;
    }
    this.write(index, edit, stages);
    return true;
  }

  /** Write an edit to the cell at `index`; moving a stage's start takes its tag off the old cell. */
  write(
    index: number,
    edit: IStageEdit,
    stages: INotebookStages = this.compute()
  ): void {
    const notebook = this.panel.content;
    const model = notebook.widgets[index].model;
    const tags = cellTags(model);
    const moved =
      edit.stage !== null &&
      !stages.kale &&
      edit.stage in stages.firstCell &&
      stages.firstCell[edit.stage] !== index + 1
        ? stages.firstCell[edit.stage] - 1
        : -1;
    const sharedModel = notebook.model?.sharedModel;
    const apply = (): void => {
      if (moved >= 0) {
        const other = notebook.widgets[moved].model;
        const otherTags = cellTags(other);
        setCellTags(
          other,
          applyEdit(otherTags, { ...readEdit(otherTags), stage: null })
        );
      }
      setCellTags(model, applyEdit(tags, edit, { kale: stages.kale }));
    };
    if (sharedModel) {
      sharedModel.transact(apply);
    } else {
      apply();
    }
    this._schedule();
  }

  private _watchModel(): void {
    const model = this.panel.content.model;
    if (!model || model === this._model) {
      return;
    }
    this._model = model;
    model.cells.changed.connect(this._onCellsChanged, this);
    for (const cell of model.cells) {
      this._watchCell(cell);
    }
    this._schedule();
  }

  private _onCellsChanged(): void {
    for (const cell of this.panel.content.model?.cells ?? []) {
      this._watchCell(cell);
    }
    this._schedule();
  }

  private _watchCell(model: ICellModel): void {
    if (this._watched.has(model)) {
      return;
    }
    this._watched.add(model);
    model.metadataChanged.connect(this._schedule, this);
    // only the first line of the source can change a stage (%%mlops stage)
    let first = model.sharedModel.getSource().split('\n', 1)[0];
    model.contentChanged.connect(() => {
      const now = model.sharedModel.getSource().replace(/^\n+/, '').split('\n', 1)[0];
      if (now !== first) {
        first = now;
        this._schedule();
      }
    }, this);
  }

  private _schedule(): void {
    if (this._disposed || this._frame) {
      return;
    }
    this._frame = requestAnimationFrame(() => {
      this._frame = 0;
      if (!this._disposed) {
        this._render();
      }
    });
  }

  private _render(): void {
    const stages = this.compute();
    const notebook = this.panel.content;
    const colors = stageColors(stages.stages);
    notebook.widgets.forEach((cell, i) => {
      const info = stages.cells[i] ?? null;
      decorate(cell, info, colors);
      if (info) {
        void cell.ready.then(() => {
          if (!cell.isDisposed && !this._disposed) {
            this._mark(cell, info, i);
          }
        });
      } else {
        cell.node.querySelector(`:scope > .jp-CellHeader > .${MARK_CLASS}`)?.remove();
        cell.node.classList.remove('mlops-labelled');
      }
    });
    this._changed.emit(stages);
  }

  private _mark(cell: Cell, info: ICellStage, index: number): void {
    const header = cell.node.querySelector(':scope > .jp-CellHeader');
    if (!header) {
      return;
    }
    let mark = header.querySelector(`:scope > .${MARK_CLASS}`) as HTMLElement | null;
    if (!mark) {
      mark = document.createElement('div');
      mark.className = MARK_CLASS;
      // keys typed on the buttons are theirs, not the notebook's shortcuts
      mark.setAttribute('data-lm-suppress-shortcuts', 'true');
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'mlops-chip';
      mark.appendChild(button);
      const problem = document.createElement('span');
      problem.className = 'mlops-problem';
      mark.appendChild(problem);
      button.addEventListener('click', event => {
        event.preventDefault();
        event.stopPropagation();
        const at = this.panel.content.widgets.indexOf(cell);
        if (at >= 0) {
          this.panel.content.activeCellIndex = at;
          void this.edit(at);
        }
      });
      header.appendChild(mark);
    }
    const button = mark.querySelector('button')!;
    const problem = mark.querySelector('.mlops-problem') as HTMLElement;
    const { text, title, quiet } = describe(info);
    mark.classList.toggle('mlops-mark-quiet', quiet);
    cell.node.classList.toggle('mlops-labelled', !quiet);
    mark.classList.toggle('mlops-mark-error', !!info.error);
    if (button.dataset.text !== text) {
      button.dataset.text = text;
      button.textContent = '';
      const dot = document.createElement('span');
      dot.className = 'mlops-dot';
      dot.setAttribute('aria-hidden', 'true');
      button.appendChild(dot);
      const label = document.createElement('span');
      label.className = 'mlops-chip-label';
      label.textContent = text;
      button.appendChild(label);
    }
    button.title = title;
    button.setAttribute(
      'aria-label',
      `${title} Cell ${index + 1}: edit its pipeline tags.`
    );
    problem.textContent = info.error
      ? `${info.error}${info.hint ? ' ' + info.hint : ''}`
      : '';
  }

  private _changed = new Signal<this, INotebookStages>(this);
  private _disposed = false;
  private _frame = 0;
  private _model: unknown = null;
  private _stages: INotebookStages | null = null;
  private _watched = new WeakSet<ICellModel>();
}

/** Classes and colour on the cell node (works on cells not rendered yet, too). */
function decorate(
  cell: Cell,
  info: ICellStage | null,
  colors: Map<string, string>
): void {
  const node = cell.node;
  node.classList.toggle(CELL_CLASS, !!info);
  for (const role of ['code', 'parameters', 'setup', 'metrics', 'skip']) {
    node.classList.toggle(`mlops-role-${role}`, info?.role === role);
  }
  node.classList.toggle('mlops-starts', !!info && (info.starts || info.resumes));
  node.classList.toggle('mlops-error', !!info?.error);
  if (info?.stage && info.role !== 'skip') {
    node.style.setProperty('--mlops-color', colors.get(info.stage) ?? 'transparent');
    node.dataset.mlopsStage = info.stage;
  } else {
    node.style.removeProperty('--mlops-color');
    delete node.dataset.mlopsStage;
  }
  if (info) {
    node.dataset.mlopsRole = info.role;
  } else {
    delete node.dataset.mlopsRole;
  }
}

function describe(info: ICellStage): { text: string; title: string; quiet: boolean } {
  const after = info.tags?.after.length ? ` ← ${info.tags.after.join(', ')}` : '';
  if (info.error) {
    return { text: 'tag problem', title: `Tag problem: ${info.error}`, quiet: false };
  }
  if (info.role !== 'code') {
    const inside =
      info.role === 'skip' && info.stage ? ` (in stage '${info.stage}')` : '';
    const starts = info.role === 'skip' && info.starts ? `${info.stage} · ` : '';
    return {
      text: starts + ROLE_LABEL[info.role],
      title: `${ROLE_LABEL[info.role]} cell${inside}.`,
      quiet: false
    };
  }
  if (info.starts || info.resumes) {
    return {
      text: `${info.stage}${after}`,
      title: `Starts stage '${info.stage}'${after ? ', after ' + info.tags!.after.join(', ') : ''}.`,
      quiet: false
    };
  }
  return {
    text: info.stage ?? '',
    title: `Part of stage '${info.stage}'.`,
    quiet: true
  };
}
