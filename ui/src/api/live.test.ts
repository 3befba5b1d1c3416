import { describe, expect, it } from 'vitest';
import type { LiveEvent, StreamSpec } from './events';
import { FakeClock, FakeEventSource } from './fakes';
import { LiveStreams, OFFLINE_AFTER, RESERVE_MS } from './live';

const RUN: StreamSpec = { kind: 'run', flow: 'F', run: '1' };
const ALL: StreamSpec = { kind: 'all' };

function setup() {
  const clock = new FakeClock();
  const sources: FakeEventSource[] = [];
  const events: LiveEvent[] = [];
  const refusals: string[] = [];
  const streams = new LiveStreams({
    open: (url) => {
      const s = new FakeEventSource(url);
      sources.push(s);
      return s;
    },
    onEvent: (e) => events.push(e),
    onRefused: () => refusals.push(sources.at(-1)?.url ?? ''),
    url: (spec, last) => `${spec.kind}${last === null ? '' : `?last_event_id=${last}`}`,
    timers: clock,
    lingerMs: 5000,
  });
  const last = () => {
    const s = sources.at(-1);
    if (!s) throw new Error('no EventSource');
    return s;
  };
  return { clock, sources, events, refusals, streams, last };
}

describe('LiveStreams', () => {
  it('opens one connection per stream, shared by everyone who needs it', () => {
    const { sources, streams } = setup();
    const a = streams.acquire(RUN);
    const b = streams.acquire({ kind: 'run', flow: 'F', run: '1' });
    streams.acquire(ALL);
    expect(sources.map((s) => s.url)).toEqual(['run', 'all']);
    a();
    a(); // releasing twice counts once
    expect(sources[0]?.closed).toBe(false);
    b();
    expect(streams.openCount()).toBe(2); // lingering
  });

  it('keeps a released stream a few seconds, so a page change does not reconnect', () => {
    const { clock, sources, streams } = setup();
    streams.acquire(RUN)();
    clock.advance(3000);
    streams.acquire(RUN);
    clock.advance(10_000);
    expect(sources).toHaveLength(1);
    expect(sources[0]?.closed).toBe(false);
  });

  it('closes a stream no one needs, and resumes it from its last event when reopened', () => {
    const { clock, sources, streams, last } = setup();
    const release = streams.acquire(RUN);
    last().open();
    last().message('hello', { newest: 41 }, 41);
    last().message(
      'task_status',
      { flow_id: 'F', run_id: '1', step_name: 's', task_id: '2', status: 'completed' },
      42,
    );
    last().message('log', { flow_id: 'F', run_id: '1', task_id: '2', lines: [] }); // no id
    release();
    clock.advance(5000);
    expect(sources[0]?.closed).toBe(true);
    expect(streams.state()).toBe('idle');
    streams.acquire(RUN);
    expect(last().url).toBe('run?last_event_id=42');
  });

  it('keeps at most one stream lingering', () => {
    const { sources, streams } = setup();
    streams.acquire(ALL)();
    streams.acquire(RUN)();
    expect(sources[0]?.closed).toBe(true);
    expect(sources[1]?.closed).toBe(false);
  });

  it('opens a reserved stream at once and hands it to the page that acquires it', () => {
    const { clock, sources, streams } = setup();
    streams.reserve(RUN);
    expect(sources.map((s) => s.url)).toEqual(['run']);
    const release = streams.acquire(RUN);
    expect(sources).toHaveLength(1);
    release(); // the page is left at once
    clock.advance(5000);
    expect(sources[0]?.closed).toBe(true); // the page took the reservation's place
  });

  it('lets a reservation no page claims go, and a newer one replace it', () => {
    const { clock, sources, streams } = setup();
    streams.reserve(RUN);
    streams.reserve(ALL);
    clock.advance(5000);
    expect(sources[0]?.closed).toBe(true); // replaced, then lingered
    expect(sources[1]?.closed).toBe(false);
    clock.advance(RESERVE_MS);
    expect(sources[1]?.closed).toBe(true);
    expect(streams.state()).toBe('idle');
  });

  it('reserves nothing for a stream already in use, nor reconnects it', () => {
    const { clock, sources, streams } = setup();
    const release = streams.acquire(ALL);
    streams.reserve(ALL); // a filter change on the page that holds it
    release();
    clock.advance(5000);
    expect(sources[0]?.closed).toBe(true);
    streams.acquire(RUN)();
    streams.reserve(RUN); // lingering: taken back, on the same connection
    streams.acquire(RUN);
    expect(sources).toHaveLength(2);
  });

  it('a page change keeps the reserved stream though the old page lets its own linger', () => {
    const { sources, streams } = setup();
    const leave = streams.acquire(ALL);
    streams.reserve(RUN); // the loader of the next page
    leave(); // the old page unmounts
    streams.acquire(RUN); // the new page mounts
    expect(sources.map((s) => [s.url, s.closed])).toEqual([
      ['all', false],
      ['run', false],
    ]);
  });

  it('delivers parsed events and drops malformed ones', () => {
    const { streams, events, last } = setup();
    streams.acquire(RUN);
    last().open();
    last().message('hello', { newest: 3 }, 3);
    last().message('run_status', { flow_id: 'F', run_id: '1', status: 'failed' }, 4);
    last().message('run_status', 'not json', 5);
    last().message('task_status', { flow_id: 'F' }, 6);
    last().message('resync', { reason: 'missed too many events' }, 9);
    expect(events.map((e) => e.kind)).toEqual(['hello', 'run_status', 'resync']);
    const resync = events[2];
    expect(resync?.kind === 'resync' && resync.stream).toEqual(RUN);
  });

  it('says reconnecting while the browser retries, offline when it keeps failing', () => {
    const { streams, last } = setup();
    streams.acquire(RUN);
    expect(streams.state()).toBe('connecting');
    last().open();
    expect(streams.state()).toBe('open');
    last().fail();
    expect(streams.state()).toBe('reconnecting');
    for (let i = 1; i < OFFLINE_AFTER; i++) last().fail();
    expect(streams.state()).toBe('offline');
    last().open();
    expect(streams.state()).toBe('open');
  });

  it('reconnects by itself with backoff when the browser gives up, resuming from the last id', () => {
    const { clock, sources, streams, last } = setup();
    streams.acquire(RUN);
    last().open();
    last().message('hello', { newest: 7 }, 7);
    last().fail(true);
    expect(sources[0]?.closed).toBe(true);
    clock.advance(999);
    expect(sources).toHaveLength(1);
    clock.advance(1);
    expect(sources).toHaveLength(2);
    expect(last().url).toBe('run?last_event_id=7');
    last().fail(true);
    clock.advance(1999);
    expect(sources).toHaveLength(2); // waits longer each time
    clock.advance(1);
    expect(sources).toHaveLength(3);
    streams.wake(); // nothing waiting: no extra connection
    expect(sources).toHaveLength(3);
    last().fail(true);
    streams.wake(); // the network is back: retry now
    expect(sources).toHaveLength(4);
  });

  it('says when the server refuses a stream, not when the connection only drops', () => {
    const { clock, refusals, streams, last } = setup();
    streams.acquire(RUN);
    last().open();
    last().fail(); // the browser reconnects by itself
    expect(refusals).toEqual([]);
    last().fail(true); // an HTTP error (a 401 once the session is gone, say)
    expect(refusals).toEqual(['run']);
    clock.advance(2000); // the retry is refused too
    last().fail(true);
    expect(refusals).toEqual(['run', 'run']);
  });

  it('does not say connecting while another stream is open (a page change)', () => {
    const { streams, sources } = setup();
    const release = streams.acquire(ALL);
    sources[0]?.open();
    release();
    streams.acquire(RUN);
    expect(streams.state()).toBe('open');
  });

  it('reports the worst state of the streams in use, ignoring lingering ones', () => {
    const { streams, sources } = setup();
    const release = streams.acquire(ALL);
    sources[0]?.open();
    streams.acquire(RUN);
    sources[1]?.open();
    sources[0]?.fail();
    expect(streams.state()).toBe('reconnecting');
    release();
    expect(streams.state()).toBe('open');
  });
});
