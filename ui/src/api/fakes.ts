// Test doubles for the live-update tests: a clock with timers, and EventSources.
import type { Timers } from './batcher';
import type { EventSourceLike } from './live';

/** A clock that moves only when told, running the timers that fall due. */
export class FakeClock implements Timers {
  time = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private nextId = 1;

  now = () => this.time;

  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + ms, fn });
    return id;
  };

  clearTimeout = (handle: unknown) => {
    this.timers.delete(handle as number);
  };

  /** Moves the clock forward by `ms`, firing due timers in time order. */
  advance(ms: number) {
    const end = this.time + ms;
    for (;;) {
      let due: [number, { at: number; fn: () => void }] | null = null;
      for (const entry of this.timers) {
        if (entry[1].at <= end && (!due || entry[1].at < due[1].at)) due = entry;
      }
      if (!due) break;
      this.timers.delete(due[0]);
      this.time = Math.max(this.time, due[1].at);
      due[1].fn();
    }
    this.time = end;
  }

  get pendingTimers() {
    return this.timers.size;
  }
}

export class FakeEventSource implements EventSourceLike {
  readyState = 0;
  closed = false;
  private listeners = new Map<string, ((e: Event) => void)[]>();

  constructor(readonly url: string) {}

  addEventListener(type: string, listener: (e: Event) => void) {
    const list = this.listeners.get(type) ?? [];
    list.push(listener);
    this.listeners.set(type, list);
  }

  close() {
    this.closed = true;
    this.readyState = 2;
  }

  private fire(type: string, event: Event) {
    for (const l of this.listeners.get(type) ?? []) l(event);
  }

  open() {
    this.readyState = 1;
    this.fire('open', new Event('open'));
  }

  /** A message as the browser delivers it: `lastEventId` is kept from earlier events. */
  message(type: string, data: unknown, id?: number) {
    if (id !== undefined) this.lastId = String(id);
    const text = typeof data === 'string' ? data : JSON.stringify(data);
    this.fire(type, new MessageEvent(type, { data: text, lastEventId: this.lastId }));
  }
  private lastId = '';

  /** The connection dropped; the browser retries by itself unless `fatal`. */
  fail(fatal = false) {
    this.readyState = fatal ? 2 : 0;
    this.fire('error', new Event('error'));
  }
}
