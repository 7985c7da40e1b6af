import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  CronPreview,
  EMPTY_FORM,
  ICronPreview,
  ISchedule,
  ITimers,
  cronHasSeconds,
  fireOffset,
  fireStatusShown,
  formatFireTime,
  nextFireDelay,
  notebookSchedules,
  scheduleNameError,
  scheduleRequest
} from '../src/schedules';

function schedule(name: string, extra: Partial<ISchedule> = {}): ISchedule {
  return {
    name,
    target: `/root/${name}.ipynb`,
    path: `${name}.ipynb`,
    compiled: null,
    cron: '* * * * *',
    tz: 'UTC',
    parameters: {},
    enabled: true,
    catch_up: 'latest',
    max_catch_up: 10,
    overlap: 'skip',
    pin: false,
    on_failure: null,
    next_fire: null,
    last_fire: null,
    ...extra
  };
}

describe('scheduleNameError', () => {
  it('takes the names the server takes', () => {
    for (const name of ['nightly', 'a', 'train-2_b', 'x'.repeat(63), '']) {
      assert.equal(scheduleNameError(name), null, name);
    }
  });
  it('refuses the others, with the rule', () => {
    for (const name of ['Nightly', '2am', '-x', 'a b', 'x'.repeat(64), 'ü']) {
      const error = scheduleNameError(name);
      assert.ok(error?.startsWith(`'${name}' is not a schedule name.`), name);
      assert.ok(error?.includes('lowercase letter'));
    }
  });
});

describe('scheduleRequest', () => {
  const form = { ...EMPTY_FORM, name: ' nightly ', cron: ' 30 2 * * * ' };
  it('sends only what differs from the defaults', () => {
    assert.deepEqual(scheduleRequest(form, 'dir/a.ipynb', {}), {
      request: { name: 'nightly', path: 'dir/a.ipynb', cron: '30 2 * * *' }
    });
  });
  it('sends the parameters, zone and options given', () => {
    const made = scheduleRequest(
      { ...form, tz: 'Europe/Berlin', catchUp: 'all', overlap: 'queue', pin: true },
      'a.ipynb',
      { n: 12, name: 'x' }
    );
    assert.deepEqual(made, {
      request: {
        name: 'nightly',
        path: 'a.ipynb',
        cron: '30 2 * * *',
        parameters: { n: 12, name: 'x' },
        tz: 'Europe/Berlin',
        catch_up: 'all',
        overlap: 'queue',
        pin: true
      }
    });
  });
  it('says what to fix first', () => {
    const error = (f: typeof form, p: { [k: string]: unknown } | null = {}): string => {
      const made = scheduleRequest(f, 'a.ipynb', p);
      assert.ok('error' in made);
      return made.error;
    };
    assert.match(error({ ...form, name: '' }), /name/);
    assert.match(error({ ...form, name: 'Bad' }), /not a schedule name/);
    assert.match(error({ ...form, cron: '  ' }), /cron expression/);
    assert.match(error(form, null), /parameters/);
  });
});

describe('notebookSchedules', () => {
  it("keeps the notebook's schedules, by name", () => {
    const list = [
      schedule('b', { path: 'a.ipynb' }),
      schedule('other'),
      schedule('a', { path: 'a.ipynb' }),
      schedule('outside', { path: null })
    ];
    assert.deepEqual(
      notebookSchedules(list, 'a.ipynb').map(s => s.name),
      ['a', 'b']
    );
  });
});

describe('formatFireTime', () => {
  it("writes the zone's own wall clock, not the browser's", () => {
    assert.equal(formatFireTime('2026-12-03T02:30:00+01:00'), 'Thu 3 Dec 2026 02:30');
    assert.equal(formatFireTime('2026-03-29T03:00:00+02:00'), 'Sun 29 Mar 2026 03:00');
    assert.equal(formatFireTime('2026-12-03T02:30:15.5Z'), 'Thu 3 Dec 2026 02:30:15');
    assert.equal(fireOffset('2026-12-03T02:30:00+01:00'), '+01:00');
    assert.equal(fireOffset('2026-12-03T02:30:00Z'), 'Z');
  });
  it('has a short form, and seconds when the cron has them', () => {
    const iso = '2027-01-09T23:05:00-05:00';
    assert.equal(formatFireTime(iso, { short: true }), '9 Jan 23:05');
    assert.equal(formatFireTime(iso, { seconds: true }), 'Sat 9 Jan 2027 23:05:00');
    assert.ok(cronHasSeconds(' */10  * * * * * '));
    assert.ok(!cronHasSeconds('30 2 * * *'));
    assert.ok(!cronHasSeconds('@daily'));
  });
  it('leaves anything else as it is', () => {
    assert.equal(formatFireTime(null), '');
    assert.equal(formatFireTime('soon'), 'soon');
    assert.equal(fireOffset('soon'), '');
  });
  it("shows a fire's own statuses as the run status they amount to", () => {
    assert.equal(fireStatusShown('claimed'), 'running');
    assert.equal(fireStatusShown('queued'), 'pending');
    assert.equal(fireStatusShown('succeeded'), 'succeeded');
    assert.equal(fireStatusShown('skipped'), 'skipped');
  });
});

describe('nextFireDelay', () => {
  const now = Date.parse('2026-12-02T10:00:00Z');
  it('waits for the earliest enabled fire ahead, plus the slack', () => {
    const list = [
      schedule('a', { next_fire: '2026-12-02T11:00:00+01:00' }), // 10:00Z: now, not ahead
      schedule('b', { next_fire: '2026-12-02T10:05:00Z' }),
      schedule('c', { next_fire: '2026-12-02T10:01:00Z', enabled: false }),
      schedule('d', { next_fire: '2026-12-02T12:02:00+02:00' }) // 10:02Z
    ];
    assert.equal(nextFireDelay(list, now, 1000), 2 * 60_000 + 1000);
  });
  it('has nothing to wait for without a fire ahead, and never waits past a day', () => {
    assert.equal(nextFireDelay([schedule('a')], now), null);
    assert.equal(
      nextFireDelay([schedule('a', { next_fire: '2027-01-01T00:00:00Z' })], now, 0),
      86_400_000
    );
  });
});

/** Timers run by hand: `tick()` runs every timer still set. */
class FakeTimers implements ITimers {
  pending = new Map<number, () => void>();
  delays: number[] = [];
  private next = 0;
  setTimeout(fn: () => void, ms: number): unknown {
    this.delays.push(ms);
    this.pending.set(++this.next, fn);
    return this.next;
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  tick(): void {
    const due = [...this.pending.values()];
    this.pending.clear();
    due.forEach(fn => fn());
  }
}

function deferred<T>(): {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
} {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const flush = (): Promise<void> => new Promise(resolve => setImmediate(resolve));

describe('CronPreview', () => {
  function setup() {
    const timers = new FakeTimers();
    const asked: {
      expr: string;
      tz: string;
      answer: ReturnType<typeof deferred<ICronPreview>>;
    }[] = [];
    let changes = 0;
    const preview = new CronPreview(
      (expr, tz) => {
        const answer = deferred<ICronPreview>();
        asked.push({ expr, tz, answer });
        return answer.promise;
      },
      () => changes++,
      250,
      timers
    );
    return { timers, asked, preview, changes: () => changes };
  }

  it('asks once typing pauses, for the last text only', async () => {
    const { timers, asked, preview } = setup();
    for (const text of ['*', '* *', '* * * * *']) {
      preview.update(text, '');
    }
    assert.equal(asked.length, 0);
    assert.deepEqual(preview.value, { state: 'pending', expr: '* * * * *' });
    assert.equal(timers.pending.size, 1);
    assert.deepEqual(timers.delays, [250, 250, 250]);
    timers.tick();
    assert.deepEqual(
      asked.map(a => [a.expr, a.tz]),
      [['* * * * *', '']]
    );
    const answer = {
      cron: '* * * * *',
      tz: 'UTC',
      next: ['2026-12-02T10:01:00+00:00']
    };
    asked[0].answer.resolve(answer);
    await flush();
    assert.deepEqual(preview.value, {
      state: 'ok',
      expr: '* * * * *',
      preview: answer
    });
  });

  it("shows the server's error in its shape", async () => {
    const { timers, asked, preview } = setup();
    preview.update('* * *', 'Europe/Berlin');
    timers.tick();
    assert.equal(asked[0].tz, 'Europe/Berlin');
    const info = {
      error: "'* * *' is not a cron expression",
      text: "'* * *' is not a cron expression. Use 5 fields.",
      hint: 'Use 5 fields.',
      notebook: null,
      cell: null,
      cell_id: null,
      line: null
    };
    asked[0].answer.reject(Object.assign(new Error(info.text), { info }));
    await flush();
    assert.deepEqual(preview.value, { state: 'error', expr: '* * *', error: info });
  });

  it('drops an answer to text no longer in the field', async () => {
    const { timers, asked, preview } = setup();
    preview.update('0 2 * * *', '');
    timers.tick();
    preview.update('0 3 * * *', '');
    timers.tick();
    const late = { cron: '0 2 * * *', tz: 'UTC', next: ['x'] };
    const fresh = { cron: '0 3 * * *', tz: 'UTC', next: ['y'] };
    asked[1].answer.resolve(fresh);
    await flush();
    asked[0].answer.resolve(late);
    await flush();
    assert.deepEqual(preview.value, { state: 'ok', expr: '0 3 * * *', preview: fresh });
  });

  it('asks nothing for an empty field, nor after dispose', async () => {
    const { timers, asked, preview, changes } = setup();
    preview.update('0 2 * * *', '');
    preview.update('   ', '');
    assert.equal(timers.pending.size, 0);
    assert.deepEqual(preview.value, { state: 'empty' });
    preview.update('0 4 * * *', '');
    timers.tick();
    preview.dispose();
    asked[0].answer.resolve({ cron: '0 4 * * *', tz: 'UTC', next: [] });
    await flush();
    assert.equal(preview.value.state, 'pending');
    assert.equal(asked.length, 1);
    assert.ok(changes() >= 3);
  });
});
