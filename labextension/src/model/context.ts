/**
 * What the two halves of the panel's model (pipeline.ts, runs.ts) get from the one that holds
 * them (index.ts): the notebook they are about, the client, and a way to re-render the view.
 */

import type { NotebookPanel } from '@jupyterlab/notebook';

import type { MlopsClient } from '../api';

export interface IModelContext {
  readonly client: MlopsClient;
  /** The notebook the panel shows, or null. */
  notebook(): NotebookPanel | null;
  /** That notebook's path for the server (no drive prefix), or null. */
  path(): string | null;
  /**
   * A test that stays true until the panel moves to another notebook (or is disposed): an
   * answer that arrives after that is for a notebook no longer shown, and is dropped.
   */
  current(): () => boolean;
  /** Tell the view to render again. */
  emit(): void;
}
