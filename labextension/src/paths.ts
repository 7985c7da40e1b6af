/**
 * Small pure helpers the panel needs: paths relative to the server root, the error shape,
 * typed parameter values. No JupyterLab imports, so the node unit tests can load this file.
 */

/** The REST API's one error shape (`MlopsError.to_dict()`). */
export interface IErrorInfo {
  error: string;
  notebook: string | null;
  /** 1-based position of the cell in the notebook. */
  cell: number | null;
  cell_id: string | null;
  /** 1-based line within the cell. */
  line: number | null;
  hint: string | null;
  text: string;
}

/** A contents path without its drive prefix (`RTC:dir/a.ipynb` -> `dir/a.ipynb`). */
export function stripDrive(path: string): string {
  const colon = path.indexOf(':');
  const slash = path.indexOf('/');
  return colon >= 0 && (slash < 0 || colon < slash) ? path.slice(colon + 1) : path;
}

/**
 * An absolute file path as a path relative to the server root, `/`-separated; null when it is
 * not under the root. Windows paths (`C:\\x\\y`) are compared case-insensitively.
 */
export function relativeToRoot(absolute: string, root: string): string | null {
  if (!absolute || !root) {
    return null;
  }
  const windows = /^[A-Za-z]:[\\/]/.test(root) || root.includes('\\');
  const norm = (p: string): string => {
    let out = windows ? p.replace(/\\/g, '/') : p;
    out = out.replace(/\/+/g, '/');
    return out.length > 1 ? out.replace(/\/$/, '') : out;
  };
  const a = norm(absolute);
  const r = norm(root);
  const same = (x: string, y: string): boolean =>
    windows ? x.toLowerCase() === y.toLowerCase() : x === y;
  if (same(a, r)) {
    return '';
  }
  const prefix = r === '/' ? '/' : r + '/';
  if (a.length <= prefix.length || !same(a.slice(0, prefix.length), prefix)) {
    return null;
  }
  const rest = a.slice(prefix.length);
  return rest.split('/').includes('..') ? null : rest;
}

/**
 * A form field's text as the value to send for a parameter of `type`, or an error message.
 * Text for `str`; numbers and booleans as JSON values; other types (list, dict, None) as JSON.
 */
export function parseParameter(
  type: string,
  text: string
): { value: unknown } | { error: string } {
  const trimmed = text.trim();
  switch (type) {
    case 'str':
      return { value: text };
    case 'int':
      return /^[-+]?[0-9]+$/.test(trimmed)
        ? { value: Number(trimmed) }
        : { error: `expects an int, e.g. 100` };
    case 'float': {
      const value = Number(trimmed);
      return trimmed !== '' && Number.isFinite(value)
        ? { value }
        : { error: `expects a number, e.g. 0.25` };
    }
    case 'bool':
      if (trimmed === 'true' || trimmed === 'True') {
        return { value: true };
      }
      if (trimmed === 'false' || trimmed === 'False') {
        return { value: false };
      }
      return { error: 'expects true or false' };
    default:
      try {
        return { value: JSON.parse(trimmed) };
      } catch {
        return { error: `expects a JSON value (${type})` };
      }
  }
}

/** How a parameter's value is written in its form field. */
export function formatParameter(type: string, value: unknown): string {
  if (type === 'str' && typeof value === 'string') {
    return value;
  }
  if (type === 'float' && typeof value === 'number' && Number.isInteger(value)) {
    return value.toFixed(1);
  }
  return JSON.stringify(value) ?? '';
}
