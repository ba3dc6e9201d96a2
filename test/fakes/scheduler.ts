// A manual clock and timer queue: time moves only when a test calls advance().
import { Cancel, Scheduler } from '../../src/signaling/runtime';

interface ITask {
  at: number;
  order: number;
  callback: () => void;
  cancelled: boolean;
}

export class FakeScheduler implements Scheduler {
  constructor(public time = 0) {}

  now(): number {
    return this.time;
  }

  after(ms: number, callback: () => void): Cancel {
    const task: ITask = {
      at: this.time + Math.max(0, ms),
      order: ++this._order,
      callback,
      cancelled: false
    };
    this._tasks.push(task);
    return () => {
      task.cancelled = true;
    };
  }

  /** Delays (from now) of the timers still pending, soonest first. */
  pending(): number[] {
    return this._live()
      .map(task => task.at - this.time)
      .sort((a, b) => a - b);
  }

  /** Move time forward by `ms`, running every timer that falls due, in order. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const due = this._live()
        .filter(task => task.at <= end)
        .sort((a, b) => a.at - b.at || a.order - b.order)[0];
      if (due === undefined) {
        break;
      }
      due.cancelled = true;
      this.time = due.at;
      due.callback();
    }
    this.time = end;
  }

  private _live(): ITask[] {
    this._tasks = this._tasks.filter(task => !task.cancelled);
    return this._tasks;
  }

  private _tasks: ITask[] = [];
  private _order = 0;
}
