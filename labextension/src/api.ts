/**
 * Typed client of the server extension's REST API (docs/rest-api.md).
 *
 * Every request goes through `ServerConnection.makeRequest`, which adds the token and the XSRF
 * header; nothing here runs code in a kernel.
 */

import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import type { IAliasRequest, IAliasResult, IModel, IModelSummary } from './models';
import type { IMonitorReport, MonitorWindow } from './monitor';
import type { IErrorInfo } from './paths';
import type { ICronPreview, IFire, ISchedule, IScheduleRequest } from './schedules';
import type { RunStatus, StageStatus } from './status';

export type {
  IAliasMove,
  IAliasRequest,
  IAliasResult,
  IModel,
  IModelSummary,
  IModelVersion,
  IRequirementRow
} from './models';
export type {
  IColumnDrift,
  IMonitorReport,
  IPredictionShift,
  IPredictions,
  MonitorWindow
} from './monitor';
export type { IErrorInfo } from './paths';
export type {
  CatchUp,
  ICronPreview,
  IFire,
  ISchedule,
  IScheduleRequest,
  Overlap
} from './schedules';
export type { RunStatus, StageStatus } from './status';

export type ParameterType = 'int' | 'float' | 'bool' | 'str' | string;

export interface IParameter {
  default: unknown;
  type: ParameterType;
}

export interface IWhy {
  cell: number;
  line: number;
  how: string;
}

export interface IStageInfo {
  name: string;
  /** Every upstream stage: explicit `after:` tags and data flow. */
  after: string[];
  explicit_after: string[];
  inputs: string[];
  outputs: string[];
  /** Cell ids of the stage's code. */
  cells: string[];
  options: { [key: string]: unknown };
  parameters: string[];
  metrics: string[];
  /** Input variable -> the stage producing it: the variables on the graph's edges. */
  from: { [variable: string]: string };
  why: { [variable: string]: IWhy };
}

/** `GET pipeline` (`mlops explain --json`) and `POST compile` (`mlops compile --json`). */
export interface IPipeline {
  pipeline: string;
  version: string;
  /** The compiled folder (compile only), else null. */
  output: string | null;
  notebook: string;
  path?: string;
  parameters: { [name: string]: IParameter };
  stages: IStageInfo[];
  setup_cells: number[];
  parameter_cells: {
    [name: string]: { cell: number; id: string | null; line: number };
  };
  warnings: string[];
}

export interface IStageRun {
  name: string;
  /** Open to any string: a newer server may send a status this build does not know. */
  status: StageStatus | string;
  started_at: string | null;
  ended_at: string | null;
  duration_s: number | null;
  /** Absolute path of the executed stage notebook. */
  notebook: string | null;
  /** The same, relative to the server root (null when outside it or not written yet). */
  path?: string | null;
  error: string | null;
  cache_key?: string | null;
  attempts?: number;
}

/** `GET runs/{id}` (`mlops show --json` plus the server's fields) and the items of `GET runs`. */
export interface IRun {
  run_id: string;
  /** Open to any string, as a stage's status is. */
  status: RunStatus | string;
  pipeline: string;
  version: string;
  parameters: { [name: string]: unknown };
  metrics: { [key: string]: number | null };
  stages: IStageRun[];
  started_at: string | null;
  ended_at: string | null;
  duration_s: number | null;
  notebook: string | null;
  path?: string | null;
  compiled?: string | null;
  run_dir?: string | null;
  origin?: string;
  error: string | null;
  code?: { [key: string]: unknown };
  environment?: { [key: string]: unknown };
  cancellable?: boolean;
}

export interface IMetricPoint {
  step: number | null;
  value: number | null;
  time: string;
  stage: string | null;
}

export type IMetrics = { [key: string]: IMetricPoint[] };

/** `GET diff`: only what differs, each entry `[value in a, value in b]`. */
export interface IDiff {
  a: string;
  b: string;
  [section: string]: string | { [name: string]: [unknown, unknown] };
}

export interface IRunOptions {
  parameters?: { [name: string]: unknown };
  stages?: string[];
  from?: string;
  no_cache?: boolean;
  force?: string[];
  jobs?: number;
}

/** An error answered by the server (or the network), in the REST API's one error shape. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly info: IErrorInfo
  ) {
    super(info.text || info.error);
    this.name = 'ApiError';
  }
}

function errorInfo(message: string): IErrorInfo {
  return {
    error: message,
    notebook: null,
    cell: null,
    cell_id: null,
    line: null,
    hint: null,
    text: message
  };
}

/** Turn anything thrown into the error shape, for display. */
export function asErrorInfo(err: unknown): IErrorInfo {
  if (err instanceof ApiError) {
    return err.info;
  }
  return errorInfo(err instanceof Error ? err.message : String(err));
}

export class MlopsClient {
  constructor(settings?: ServerConnection.ISettings) {
    this.settings = settings ?? ServerConnection.makeSettings();
  }

  readonly settings: ServerConnection.ISettings;

  /** The URL of a route, e.g. `url('runs', id)` with `{path}` as query. */
  url(parts: string[], query: { [key: string]: string | undefined } = {}): string {
    const base = URLExt.join(
      this.settings.baseUrl,
      'mlops/api',
      ...parts.map(encodeURIComponent)
    );
    const defined: { [key: string]: string } = {};
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined) {
        defined[key] = value;
      }
    }
    const search = URLExt.objectToQueryString(defined);
    return search ? base + search : base;
  }

  async request<T>(
    parts: string[],
    query: { [key: string]: string | undefined } = {},
    init: RequestInit = {}
  ): Promise<T> {
    const url = this.url(parts, query);
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(url, init, this.settings);
    } catch (err) {
      throw new ApiError(
        0,
        errorInfo(
          `cannot reach the Jupyter server (${err instanceof Error ? err.message : err}).`
        )
      );
    }
    const text = await response.text();
    let data: any = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (!response.ok) {
      if (data && typeof data === 'object' && typeof data.error === 'string') {
        throw new ApiError(response.status, { ...errorInfo(data.error), ...data });
      }
      const hint =
        response.status === 404 && !data
          ? ' Is the mlops_jupyter server extension enabled? (jupyter server extension list)'
          : '';
      throw new ApiError(
        response.status,
        errorInfo(`${response.status} ${response.statusText || 'error'}.${hint}`)
      );
    }
    return data as T;
  }

  private post<T>(parts: string[], body: unknown, query = {}): Promise<T> {
    return this.request<T>(parts, query, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'Content-Type': 'application/json' }
    });
  }

  /** Stages, parameters and data flow of a saved notebook; writes nothing. */
  explain(path: string): Promise<IPipeline> {
    return this.request<IPipeline>(['pipeline'], { path });
  }

  compile(path: string): Promise<IPipeline> {
    return this.post<IPipeline>(['compile'], { path });
  }

  /** Start a run; it goes on in the server. Answers as soon as the run is recorded. */
  startRun(path: string, options: IRunOptions = {}): Promise<{ run_id: string }> {
    return this.post<{ run_id: string }>(['runs'], { path, ...options });
  }

  runs(path: string, limit?: number): Promise<IRun[]> {
    return this.request<IRun[]>(['runs'], {
      path,
      limit: limit === undefined ? undefined : String(limit)
    });
  }

  run(runId: string, path?: string): Promise<IRun> {
    return this.request<IRun>(['runs', runId], { path });
  }

  cancel(runId: string, path?: string): Promise<{ run_id: string; status: string }> {
    return this.post(['runs', runId, 'cancel'], {}, { path });
  }

  metrics(runId: string, path?: string): Promise<IMetrics> {
    return this.request<IMetrics>(['runs', runId, 'metrics'], { path });
  }

  /** The executed notebook of one stage of one run, as nbformat JSON. */
  stageNotebook(runId: string, stage: string, path?: string): Promise<any> {
    return this.request<any>(['runs', runId, 'stages', stage, 'notebook'], { path });
  }

  diff(a: string, b: string, path?: string): Promise<IDiff> {
    return this.request<IDiff>(['diff'], { a, b, path });
  }

  /** The schedules of the store serving `path` (every one: the caller picks its notebook's). */
  schedules(path?: string): Promise<ISchedule[]> {
    return this.request<ISchedule[]>(['schedules'], { path });
  }

  /** Check and add a schedule; its cron, zone and parameters are checked as `mlops` does. */
  addSchedule(request: IScheduleRequest): Promise<ISchedule> {
    return this.post<ISchedule>(['schedules'], request);
  }

  schedule(name: string, path?: string): Promise<ISchedule> {
    return this.request<ISchedule>(['schedules', name], { path });
  }

  /** Pause (`enabled` false) or resume a schedule. */
  enableSchedule(name: string, enabled: boolean, path?: string): Promise<ISchedule> {
    return this.post<ISchedule>(
      ['schedules', name, enabled ? 'resume' : 'pause'],
      {},
      { path }
    );
  }

  /** Remove a schedule and its history; the runs it started stay. */
  removeSchedule(name: string, path?: string): Promise<{ removed: string }> {
    return this.request<{ removed: string }>(
      ['schedules', name],
      { path },
      { method: 'DELETE' }
    );
  }

  scheduleHistory(name: string, path?: string): Promise<IFire[]> {
    return this.request<IFire[]>(['schedules', name, 'history'], { path });
  }

  /** The models whose versions runs of the notebook at `path` logged. */
  models(path: string): Promise<IModelSummary[]> {
    return this.request<IModelSummary[]>(['models'], { path });
  }

  /** A model whole: its versions newest first, aliases and their moves. */
  model(name: string, path?: string): Promise<IModel> {
    return this.request<IModel>(['models', name], { path });
  }

  /**
   * Point an alias at a version. A refused promotion is an answer (`moved` false, with the
   * requirements' table), not an ApiError.
   */
  setAlias(name: string, request: IAliasRequest, path?: string): Promise<IAliasResult> {
    return this.post<IAliasResult>(['models', name, 'aliases'], request, { path });
  }

  /**
   * What `mlops serve` recorded for one version of a model over the last `window`: the version
   * `alias` names, the newest without one.
   */
  monitor(
    name: string,
    options: { alias?: string; window: MonitorWindow; path?: string }
  ): Promise<IMonitorReport> {
    return this.request<IMonitorReport>(['models', name, 'monitor'], {
      path: options.path,
      alias: options.alias,
      window: options.window
    });
  }

  /** The next `count` fire times of a cron expression, or an ApiError saying what is wrong. */
  cron(expr: string, tz?: string, count = 5): Promise<ICronPreview> {
    return this.request<ICronPreview>(['cron'], {
      expr,
      tz: tz || undefined,
      count: String(count)
    });
  }
}
