/**
 * The status vocabulary of runs and stages, a mirror of `mlops_jupyter/status.py`. Both are
 * tested against the shared table `tests/cases/statuses.json`: a new status goes in all three.
 *
 * Pure: no JupyterLab imports.
 */

/** Every status a run can have, in the table's order. */
export const RUN_STATUSES = [
  'running',
  'interrupting',
  'succeeded',
  'failed',
  'interrupted'
] as const;

/** Every status a stage of a run can have, in the table's order. */
export const STAGE_STATUSES = [
  'pending',
  'running',
  'succeeded',
  'cached',
  'failed',
  'skipped'
] as const;

export type RunStatus = (typeof RUN_STATUSES)[number];
export type StageStatus = (typeof STAGE_STATUSES)[number];
export type Status = RunStatus | StageStatus;

// The sets are typed on what goes in but asked about any string: they test what the server
// sends, and a newer server may send a status this build does not know.

/** Run statuses that never change again. */
export const FINAL: ReadonlySet<string> = new Set<RunStatus>([
  'succeeded',
  'failed',
  'interrupted'
]);

/** Statuses (of runs or stages) still moving: a run with one is polled until it ends. */
export const ACTIVE: ReadonlySet<string> = new Set<Status>([
  'pending',
  'running',
  'interrupting'
]);

/** Stage statuses whose outputs a downstream stage may use. */
export const DONE_OK: ReadonlySet<string> = new Set<StageStatus>([
  'succeeded',
  'cached'
]);
