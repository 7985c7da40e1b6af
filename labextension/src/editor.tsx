/**
 * The stage editor: a dialog for one code cell's pipeline tags. Real form controls with labels,
 * so it works from the keyboard (Tab through, Space toggles, Enter applies, Escape cancels).
 */

import { Dialog, ReactWidget } from '@jupyterlab/apputils';
import * as React from 'react';

import { StageDot } from './components/StageDot';
import { IMagicInfo, IStageEdit, applyEdit, isKaleTag, isKnownTag } from './edit';
import { stageColors } from './stages';
import { STAGE_NAME_RULE, isStageName } from './tags';

/** What the editor knows about the notebook around the cell. */
export interface IEditorContext {
  /** 1-based position of the cell. */
  index: number;
  /** The cell's current tags. */
  tags: string[];
  /** Stage names of the notebook, in order, with the position of the cell starting each. */
  stages: { name: string; cell: number }[];
  /** The stage the cell would continue if it started none. */
  continues: string | null;
  /** The stage this cell starts now (tags or %%mlops line), if any. */
  current: string | null;
  /** A `%%mlops stage` first line, which sets the stage from the source. */
  magic: IMagicInfo | null;
  /** The notebook is written in Kale's dialect. */
  kale: boolean;
  /** Start in "new stage" mode. */
  startNew?: boolean;
}

const ROLES: ['parameters' | 'setup' | 'metrics' | 'skip', string][] = [
  ['parameters', "Literal assignments: the pipeline's typed parameters."],
  ['setup', 'Imports and helpers, run at the top of every stage.'],
  ['metrics', 'Names listed here are recorded as metrics.'],
  ['skip', 'Not part of the pipeline (exploration, plots); its other tags are kept.']
];

const NEW = '__new__'; // never a stage name (those start with a letter)
const CONTINUE = '';

interface IFormState {
  choice: string; // CONTINUE, NEW or a stage name
  newName: string;
  edit: IStageEdit;
  retriesText: string;
  timeoutText: string;
}

/** The problems that keep the form from being applied (empty: fine). */
export function formProblems(state: IFormState, ctx: IEditorContext): string[] {
  const problems: string[] = [];
  if (state.edit.role === 'code' && state.choice === NEW) {
    const name = state.newName.trim();
    if (!isStageName(name)) {
      problems.push(
        name
          ? `'${name}' is not a valid stage name: use ${STAGE_NAME_RULE}.`
          : 'Name the new stage.'
      );
    } else if (ctx.stages.some(s => s.name === name && s.cell !== ctx.index)) {
      problems.push(
        `Stage '${name}' already exists: pick it from the list to move its start to this cell.`
      );
    }
  }
  if (state.retriesText.trim() && !/^[0-9]+$/.test(state.retriesText.trim())) {
    problems.push('Retries: a whole number from 0 to 100.');
  } else if (Number(state.retriesText || 0) > 100) {
    problems.push('Retries: a whole number from 0 to 100.');
  }
  const timeout = state.timeoutText.trim();
  if (timeout && !(/^[0-9]+(\.[0-9]+)?$/.test(timeout) && Number(timeout) > 0)) {
    problems.push('Timeout: a positive number of seconds.');
  }
  return problems;
}

/** The edit a valid form stands for. */
export function formEdit(state: IFormState): IStageEdit {
  const stage =
    state.choice === NEW
      ? state.newName.trim()
      : state.choice === CONTINUE
        ? null
        : state.choice;
  return {
    ...state.edit,
    stage,
    retries: state.retriesText.trim() ? Number(state.retriesText) : null,
    timeout: state.timeoutText.trim() ? Number(state.timeoutText) : null
  };
}

function initialState(edit: IStageEdit, ctx: IEditorContext): IFormState {
  return {
    choice: ctx.startNew ? NEW : (edit.stage ?? CONTINUE),
    newName: '',
    edit,
    retriesText: edit.retries === null ? '' : String(edit.retries),
    timeoutText: edit.timeout === null ? '' : String(edit.timeout)
  };
}

function StageEditor(props: {
  ctx: IEditorContext;
  state: IFormState;
  onChange: (state: IFormState) => void;
}): JSX.Element {
  const { ctx, onChange } = props;
  const [state, setState] = React.useState(props.state);
  const update = (patch: Partial<IFormState>, edit?: Partial<IStageEdit>): void => {
    const next = { ...state, ...patch, edit: { ...state.edit, ...(edit ?? {}) } };
    setState(next);
    onChange(next);
  };
  const problems = formProblems(state, ctx);
  const colors = stageColors(ctx.stages.map(s => s.name));
  const role = state.edit.role;
  const stageFixed = ctx.magic !== null && ctx.magic.stage !== null;
  const ownStage =
    state.choice === NEW
      ? state.newName.trim()
      : state.choice === CONTINUE
        ? ctx.continues
        : state.choice;
  const preview = applyEdit(ctx.tags, formEdit(state), { kale: ctx.kale });
  const id = (name: string): string => `mlops-edit-${name}`;
  const toggleRole = (which: 'parameters' | 'setup' | 'metrics', on: boolean): void =>
    update({}, { role: on ? which : 'code' });

  return (
    <div className="mlops-editor">
      <p className="mlops-editor-intro">
        Cell {ctx.index}. A stage tag starts a stage; untagged code cells below belong
        to it.
      </p>

      <fieldset className="mlops-editor-group" disabled={role !== 'code'}>
        <legend>Stage</legend>
        {stageFixed ? (
          <p className="mlops-editor-note">
            Set by the first source line <code>{ctx.magic!.line}</code>: edit the source
            to change it.
          </p>
        ) : (
          <>
            <label htmlFor={id('stage')}>This cell</label>
            <select
              id={id('stage')}
              className="mlops-editor-stage"
              value={state.choice}
              onChange={e => update({ choice: e.target.value })}
            >
              <option value={CONTINUE}>
                {ctx.continues
                  ? `continues stage '${ctx.continues}' (no stage tag)`
                  : 'starts no stage (no stage tag)'}
              </option>
              {ctx.stages.map(s => (
                <option key={s.name} value={s.name}>
                  {s.cell === ctx.index || s.name === ctx.current
                    ? `starts stage '${s.name}'`
                    : ctx.kale
                      ? `continues step '${s.name}' (block:${s.name})`
                      : `starts stage '${s.name}' (moved here from cell ${s.cell})`}
                </option>
              ))}
              <option value={NEW}>starts a new stage…</option>
            </select>
            {state.choice === NEW && (
              <>
                <label htmlFor={id('name')}>New stage name</label>
                <input
                  id={id('name')}
                  className="mlops-editor-name"
                  type="text"
                  autoComplete="off"
                  spellCheck={false}
                  placeholder="e.g. train"
                  value={state.newName}
                  aria-invalid={problems.length > 0 && state.newName !== ''}
                  aria-describedby={id('problems')}
                  onChange={e => update({ newName: e.target.value })}
                  ref={el => {
                    if (
                      el &&
                      ctx.startNew &&
                      document.activeElement?.tagName !== 'INPUT'
                    ) {
                      el.focus();
                    }
                  }}
                />
              </>
            )}
          </>
        )}
        {ctx.stages.filter(s => s.name !== ownStage).length > 0 && (
          <fieldset className="mlops-editor-after">
            <legend>Runs after (besides the data it reads)</legend>
            {ctx.stages
              .filter(s => s.name !== ownStage)
              .map(s => {
                const fromMagic = ctx.magic?.after.includes(s.name) ?? false;
                return (
                  <label key={s.name} className="mlops-editor-check">
                    <input
                      type="checkbox"
                      checked={fromMagic || state.edit.after.includes(s.name)}
                      disabled={fromMagic}
                      onChange={e =>
                        update(
                          {},
                          {
                            after: e.target.checked
                              ? [...state.edit.after, s.name]
                              : state.edit.after.filter(n => n !== s.name)
                          }
                        )
                      }
                    />
                    <StageDot color={colors.get(s.name)} />
                    {s.name}
                  </label>
                );
              })}
          </fieldset>
        )}
      </fieldset>

      <fieldset className="mlops-editor-group mlops-editor-roles">
        <legend>Role</legend>
        {ROLES.map(([which, help]) => (
          <label key={which} className="mlops-editor-check" title={help}>
            <input
              type="checkbox"
              className={`mlops-editor-${which}`}
              checked={which === 'skip' ? state.edit.skip : role === which}
              onChange={e =>
                which === 'skip'
                  ? update({}, { skip: e.target.checked })
                  : toggleRole(which, e.target.checked)
              }
            />
            {which}
          </label>
        ))}
        <p className="mlops-editor-help">
          {role !== 'code'
            ? ROLES.find(([w]) => w === role)![1]
            : state.edit.skip
              ? ROLES[3][1]
              : 'Stage code (none checked).'}
        </p>
      </fieldset>

      <fieldset
        className="mlops-editor-group mlops-editor-options"
        disabled={role !== 'code'}
      >
        <legend>Stage options</legend>
        <label className="mlops-editor-check">
          <input
            type="checkbox"
            checked={state.edit.cache === false}
            onChange={e => update({}, { cache: e.target.checked ? false : null })}
          />
          no cache
        </label>
        <label htmlFor={id('retries')}>retries</label>
        <input
          id={id('retries')}
          type="number"
          min={0}
          max={100}
          step={1}
          value={state.retriesText}
          onChange={e => update({ retriesText: e.target.value })}
        />
        <label htmlFor={id('timeout')}>timeout (s)</label>
        <input
          id={id('timeout')}
          type="number"
          min={0}
          step="any"
          value={state.timeoutText}
          onChange={e => update({ timeoutText: e.target.value })}
        />
      </fieldset>

      <div id={id('problems')} className="mlops-editor-problems" role="alert">
        {problems.map(p => (
          <div key={p}>{p}</div>
        ))}
      </div>

      <div className="mlops-editor-tags" aria-label="Tags after applying">
        <span>Tags:</span>
        {preview.length === 0 && <em>none</em>}
        {preview.map((t, i) => (
          <code
            key={`${t}-${i}`}
            className={
              'mlops-tag' +
              (isKaleTag(t) ? ' mlops-tag-kale' : '') +
              (isKnownTag(t) ? '' : ' mlops-tag-other')
            }
            title={
              isKaleTag(t)
                ? "Kale's dialect: read as is, kept"
                : isKnownTag(t)
                  ? 'pipeline tag'
                  : 'not a pipeline tag: kept, ignored'
            }
          >
            {t}
          </code>
        ))}
      </div>
    </div>
  );
}

class EditorBody extends ReactWidget implements Dialog.IBodyWidget<IFormState> {
  constructor(
    private ctx: IEditorContext,
    private state: IFormState
  ) {
    super();
    this.addClass('mlops-editor-body');
  }

  getValue(): IFormState {
    return this.state;
  }

  render(): JSX.Element {
    return (
      <StageEditor
        ctx={this.ctx}
        state={this.state}
        onChange={s => {
          this.state = s;
        }}
      />
    );
  }
}

/**
 * Show the editor; resolves to the edit to apply, or null when cancelled. A form with problems
 * is shown again (with the problems) rather than applied.
 */
export async function editStage(
  edit: IStageEdit,
  ctx: IEditorContext
): Promise<IStageEdit | null> {
  let state = initialState(edit, ctx);
  for (;;) {
    const dialog = new Dialog<IFormState>({
      title: ctx.current ? `Pipeline tags — stage '${ctx.current}'` : 'Pipeline tags',
      body: new EditorBody(ctx, state),
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Apply' })],
      focusNodeSelector: ctx.startNew ? '.mlops-editor-name' : 'select, input',
      hasClose: true
    });
    dialog.addClass('mlops-editor-dialog');
    const result = await dialog.launch();
    if (!result.button.accept || result.value === null) {
      return null;
    }
    state = result.value;
    if (formProblems(state, ctx).length === 0) {
      return formEdit(state);
    }
    ctx = { ...ctx, startNew: false };
  }
}
