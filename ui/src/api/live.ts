// The event-stream connections of a page: one EventSource per distinct stream, shared by
// every component that asks for it (reference-counted). The browser reconnects a dropped
// stream by itself (the server sends `retry:`) and resumes it with the Last-Event-ID
// header; when it gives up (an HTTP error closes the EventSource for good) this reconnects
// with backoff and `last_event_id=` in the URL. A stream no one needs lingers a few
// seconds (moving between pages hands over without a gap) and remembers its last event id,
// so opening it again later resumes where it stopped rather than starting blind. A page
// on its way reserves its stream (its route's loader, main.tsx), so the stream opens with
// the page's first requests, not once the page's code has loaded.
import { realTimers, type Timers } from './batcher';
import { apiUrl } from './client';
import {
  EVENT_NAMES,
  type EventName,
  type LiveEvent,
  parseEvent,
  type StreamSpec,
  streamKey,
  streamParams,
} from './events';

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'offline';

/** What this module needs of an EventSource (a fake one in tests). */
export interface EventSourceLike {
  readonly readyState: number;
  addEventListener(type: string, listener: (event: Event) => void): void;
  close(): void;
}

const CLOSED = 2;
/** Failed attempts in a row before the stream counts as offline (the server retries every 2 s). */
export const OFFLINE_AFTER = 3;
const LINGER_MS = 5_000;
// Browsers allow six HTTP/1.1 connections per server, shared by every tab: a tab keeps
// its own stream and at most one that lingers.
const MAX_LINGERING = 1;
const MAX_BACKOFF_MS = 30_000;
/** How long a reserved stream waits for its page (a page's code loads in well under it). */
export const RESERVE_MS = 10_000;

interface Stream {
  key: string;
  spec: StreamSpec;
  refs: number;
  source: EventSourceLike | null;
  state: Exclude<ConnectionState, 'idle'>;
  lastEventId: string | null;
  /** Errors since the stream was last open. */
  failures: number;
  openedAt: number;
  releasedAt: number;
  linger: unknown;
  retry: unknown;
}

export interface LiveStreamsOptions {
  open: (url: string) => EventSourceLike;
  onEvent: (event: LiveEvent) => void;
  /**
   * The server answered a stream with an HTTP error. An EventSource does not say which, so
   * this is where to ask (a 401 means the session is gone, see client.ts).
   */
  onRefused?: () => void;
  url?: (spec: StreamSpec, lastEventId: string | null) => string;
  timers?: Timers;
  lingerMs?: number;
}

export function streamUrl(spec: StreamSpec, lastEventId: string | null): string {
  return apiUrl('/events', { ...streamParams(spec), last_event_id: lastEventId });
}

const RANK: Record<ConnectionState, number> = {
  idle: 0,
  open: 1,
  connecting: 2,
  reconnecting: 3,
  offline: 4,
};

export class LiveStreams {
  private readonly streams = new Map<string, Stream>();
  /** Last event id of streams that were closed, to resume them when they open again. */
  private readonly lastIds = new Map<string, string>();
  private readonly listeners = new Set<() => void>();
  private readonly timers: Timers;
  private readonly url: (spec: StreamSpec, lastEventId: string | null) => string;
  private readonly lingerMs: number;
  private snapshot: ConnectionState = 'idle';
  /** The stream of the page being navigated to, held until that page acquires it. */
  private reservation: { key: string; release: () => void; timer: unknown } | null = null;

  constructor(private readonly options: LiveStreamsOptions) {
    this.timers = options.timers ?? realTimers;
    this.url = options.url ?? streamUrl;
    this.lingerMs = options.lingerMs ?? LINGER_MS;
  }

  /** Starts (or shares) a stream; call the returned function when it is no longer needed. */
  acquire(spec: StreamSpec): () => void {
    const key = streamKey(spec);
    let s = this.streams.get(key);
    if (!s) {
      s = {
        key,
        spec,
        refs: 0,
        source: null,
        state: 'connecting',
        lastEventId: this.lastIds.get(key) ?? null,
        failures: 0,
        openedAt: 0,
        releasedAt: 0,
        linger: null,
        retry: null,
      };
      this.streams.set(key, s);
      this.connect(s);
    } else if (s.linger !== null) {
      this.timers.clearTimeout(s.linger);
      s.linger = null;
    }
    s.refs++;
    if (this.reservation?.key === key) this.unreserve();
    this.changed();
    const stream = s;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.release(stream);
    };
  }

  /**
   * Opens the stream a page is about to acquire, before its code has loaded. Data read
   * before its stream opened is read again when the stream says hello (liveCache.ts): the
   * page's first requests, started by its loader, would all be made twice. The page's
   * acquire() takes the stream over; one no page claims is released after RESERVE_MS, or
   * when another page is reserved. A stream in use already needs nothing.
   */
  reserve(spec: StreamSpec): void {
    const key = streamKey(spec);
    const s = this.streams.get(key);
    if (this.reservation?.key === key || (s && s.refs > 0)) return;
    const release = this.acquire(spec);
    this.unreserve();
    const timer = this.timers.setTimeout(() => this.unreserve(), RESERVE_MS);
    this.reservation = { key, release, timer };
  }

  private unreserve() {
    const r = this.reservation;
    if (!r) return;
    this.reservation = null;
    this.timers.clearTimeout(r.timer);
    r.release();
  }

  /** The state of the streams in use, the worst first ('idle' when none is). */
  readonly state = (): ConnectionState => this.snapshot;

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  };

  /** Reconnect now whatever waits to retry (the browser says the network is back). */
  wake(): void {
    for (const s of this.streams.values()) {
      if (s.source === null && s.retry !== null) {
        this.timers.clearTimeout(s.retry);
        s.retry = null;
        this.connect(s);
      }
    }
  }

  /** Open streams (for tests). */
  openCount(): number {
    return this.streams.size;
  }

  lastEventId(spec: StreamSpec): string | null {
    const key = streamKey(spec);
    return this.streams.get(key)?.lastEventId ?? this.lastIds.get(key) ?? null;
  }

  closeAll(): void {
    if (this.reservation) this.timers.clearTimeout(this.reservation.timer);
    this.reservation = null;
    for (const s of [...this.streams.values()]) this.close(s);
  }

  private release(s: Stream) {
    s.refs--;
    if (s.refs > 0) return;
    s.releasedAt = this.timers.now();
    s.linger = this.timers.setTimeout(() => this.close(s), this.lingerMs);
    const lingering = [...this.streams.values()]
      .filter((x) => x.refs === 0)
      .sort((a, b) => a.releasedAt - b.releasedAt);
    for (const x of lingering.slice(0, Math.max(0, lingering.length - MAX_LINGERING))) {
      this.close(x);
    }
    this.changed();
  }

  private close(s: Stream) {
    if (this.streams.get(s.key) !== s) return;
    s.source?.close();
    s.source = null;
    for (const t of [s.linger, s.retry]) if (t !== null) this.timers.clearTimeout(t);
    s.linger = s.retry = null;
    if (s.lastEventId !== null) this.lastIds.set(s.key, s.lastEventId);
    this.streams.delete(s.key);
    this.changed();
  }

  private connect(s: Stream) {
    s.retry = null;
    s.openedAt = this.timers.now();
    const source = this.options.open(this.url(s.spec, s.lastEventId));
    s.source = source;
    source.addEventListener('open', () => {
      if (s.source !== source) return;
      s.failures = 0;
      s.state = 'open';
      this.changed();
    });
    source.addEventListener('error', () => {
      if (s.source !== source) return;
      s.failures++;
      s.state = s.failures >= OFFLINE_AFTER ? 'offline' : 'reconnecting';
      if (source.readyState === CLOSED) {
        // The browser gave up (an HTTP error, say a proxy's 502): retry with backoff.
        source.close();
        s.source = null;
        const wait = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (s.failures - 1));
        s.retry = this.timers.setTimeout(() => this.connect(s), wait);
        this.options.onRefused?.();
      }
      this.changed();
    });
    for (const name of EVENT_NAMES) {
      source.addEventListener(name, (event) => this.receive(s, source, name, event));
    }
  }

  private receive(s: Stream, source: EventSourceLike, name: EventName, event: Event) {
    if (s.source !== source) return;
    const message = event as MessageEvent<unknown>;
    // `log` events have no id; the browser then keeps the last one, and so does this.
    if (message.lastEventId) s.lastEventId = message.lastEventId;
    const parsed = parseEvent(
      name,
      typeof message.data === 'string' ? message.data : '',
      s.spec,
      this.timers.now(),
      s.openedAt,
    );
    if (parsed) this.options.onEvent(parsed);
  }

  private changed() {
    let worst: ConnectionState = 'idle';
    let anyOpen = false;
    for (const s of this.streams.values()) {
      if (s.state === 'open') anyOpen = true;
      if (s.refs > 0 && RANK[s.state] > RANK[worst]) worst = s.state;
    }
    // A page change opens a new stream while the last one still lingers: no need to flash
    // "connecting" while the server is plainly there.
    if (worst === 'connecting' && anyOpen) worst = 'open';
    if (worst === this.snapshot) return;
    this.snapshot = worst;
    for (const l of this.listeners) l();
  }
}
