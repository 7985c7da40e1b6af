/**
 * The models the notebook's runs logged, as the panel shows them: the list, each model's
 * versions (newest first) with their aliases, and each model's promote form with the answer of
 * its last promotion.
 *
 * Read when the notebook changes, after each promotion, on Refresh, and when a run of this
 * notebook ends (it may have logged a new version): never on a timer of its own.
 */

import { IAliasResult, IErrorInfo, IModel, IModelSummary, asErrorInfo } from '../api';
import { EMPTY_PROMOTE_FORM, IPromoteForm, aliasRequest } from '../models';
import { IModelContext } from './context';

export class ModelsState {
  constructor(
    private context: IModelContext,
    /** The list was read again: aliases may have moved, new versions come. */
    private listed: () => void
  ) {}

  /** The notebook's models, by name. */
  get list(): readonly IModelSummary[] {
    return this._list;
  }

  /** The first read of this notebook's models has not answered yet. */
  get loading(): boolean {
    return this._loading;
  }

  /** Why the list could not be read, or null. */
  get error(): IErrorInfo | null {
    return this._error;
  }

  /** A model whole (versions, aliases), or why it could not be read; undefined until read. */
  detail(name: string): IModel | IErrorInfo | undefined {
    return this._details.get(name);
  }

  /** A model's promote form: what was typed in it, else the defaults. */
  form(name: string): Readonly<IPromoteForm> {
    return this._forms.get(name) ?? EMPTY_PROMOTE_FORM;
  }

  /** A promotion of this model is on its way. */
  promoting(name: string): boolean {
    return this._promoting.has(name);
  }

  /** The answer of the model's last promotion (until its form is changed). */
  result(name: string): IAliasResult | undefined {
    return this._results.get(name);
  }

  /** Why the last promotion could not be asked for (by the form or the server). */
  promoteError(name: string): IErrorInfo | undefined {
    return this._promoteErrors.get(name);
  }

  /** Forget the last notebook's models; forms are per model and go with them. */
  reset(): void {
    this._list = [];
    this._error = null;
    this._details.clear();
    this._forms.clear();
    this._promoting.clear();
    this._results.clear();
    this._promoteErrors.clear();
    this._loading = true;
  }

  async refresh(): Promise<void> {
    const path = this.context.path();
    if (!path) {
      return;
    }
    const current = this.context.current();
    try {
      const list = await this.context.client.models(path);
      if (!current()) {
        return;
      }
      this._list = [...list].sort((a, b) => a.name.localeCompare(b.name));
      this._error = null;
      const names = new Set(this._list.map(m => m.name));
      for (const name of [...this._details.keys()]) {
        if (!names.has(name)) {
          this._details.delete(name);
          this._forms.delete(name);
          this._results.delete(name);
          this._promoteErrors.delete(name);
        }
      }
      this.listed();
      await Promise.all(this._list.map(m => this._loadDetail(m.name, path, current)));
    } catch (err) {
      if (current()) {
        this._error = asErrorInfo(err);
      }
    } finally {
      if (current()) {
        this._loading = false;
        this.context.emit();
      }
    }
  }

  private async _loadDetail(
    name: string,
    path: string,
    current: () => boolean
  ): Promise<void> {
    try {
      const model = await this.context.client.model(name, path);
      if (current()) {
        this._details.set(name, model);
      }
    } catch (err) {
      if (current()) {
        this._details.set(name, asErrorInfo(err));
      }
    }
  }

  // -- the promote form

  setField<K extends keyof IPromoteForm>(
    name: string,
    field: K,
    value: IPromoteForm[K]
  ): void {
    this._forms.set(name, { ...this.form(name), [field]: value });
    // an answer to other fields would read as the answer to these
    this._results.delete(name);
    this._promoteErrors.delete(name);
    this.context.emit();
  }

  /**
   * Promote the form's version to its alias. A refusal is an answer like a move (shown with the
   * requirements not met); either way the model is read again, its aliases may have moved.
   */
  async promote(name: string): Promise<void> {
    const path = this.context.path();
    if (!path || this._promoting.has(name)) {
      return;
    }
    const model = this._details.get(name);
    const versions =
      model && 'versions' in model ? model.versions.map(v => v.version) : [];
    const made = aliasRequest(this.form(name), versions);
    if ('error' in made) {
      this._promoteErrors.set(name, asErrorInfo(new Error(made.error)));
      this._results.delete(name);
      this.context.emit();
      return;
    }
    const current = this.context.current();
    this._promoting.add(name);
    this._results.delete(name);
    this._promoteErrors.delete(name);
    this.context.emit();
    try {
      const result = await this.context.client.setAlias(name, made.request, path);
      if (current()) {
        this._results.set(name, result);
      }
    } catch (err) {
      if (current()) {
        this._promoteErrors.set(name, asErrorInfo(err));
      }
    } finally {
      if (current()) {
        this._promoting.delete(name);
        this.context.emit();
      }
    }
    if (current()) {
      await this.refresh();
    }
  }

  private _list: IModelSummary[] = [];
  private _loading = true;
  private _error: IErrorInfo | null = null;
  private _details = new Map<string, IModel | IErrorInfo>();
  private _forms = new Map<string, IPromoteForm>();
  private _promoting = new Set<string>();
  private _results = new Map<string, IAliasResult>();
  private _promoteErrors = new Map<string, IErrorInfo>();
}
