// The shared tables of cases in ../tests/cases, read by the Python suite as well.
import * as fs from 'node:fs';
import * as path from 'node:path';

// compiled to build-test/test/: the repository root is three levels up
const CASES = path.resolve(__dirname, '..', '..', '..', 'tests', 'cases');

/** A whole table, for one that is an object of named lists rather than a list of cases. */
export function readJson<T>(name: string): T {
  const text = fs.readFileSync(path.join(CASES, name), 'utf-8');
  return JSON.parse(text) as T;
}

export function readTable<T>(name: string): T[] {
  return readJson<{ cases: T[] }>(name).cases;
}
