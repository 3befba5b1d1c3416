// The page's live updates, wired together: event streams -> batcher -> query cache.
import type { QueryClient } from '@tanstack/react-query';
import { createContext, type ReactNode, useContext, useEffect, useSyncExternalStore } from 'react';
import { Batcher } from './batcher';
import { api } from './client';
import { type LiveEvent, type StreamSpec, streamKey } from './events';
import { type ConnectionState, type EventSourceLike, LiveStreams } from './live';
import { LiveCache } from './liveCache';

export interface Live {
  streams: LiveStreams;
  batcher: Batcher<LiveEvent>;
  cache: LiveCache;
  /** Connects the pieces to the page; returns the undo. */
  start: () => () => void;
}

export function createLive(
  qc: QueryClient,
  open: (url: string) => EventSourceLike = (url) => new EventSource(url),
): Live {
  const cache = new LiveCache(qc);
  // Following the cache from the start, not from the first render: the routes' loaders
  // (main.tsx) start requests before it, and events that arrive while a request is in
  // flight are replayed over its response.
  cache.attach();
  const batcher = new Batcher<LiveEvent>((events) => cache.apply(events));
  const streams = new LiveStreams({
    open,
    onEvent: (e) => batcher.push(e),
    // An EventSource hides why it was refused; a request through the client finds out,
    // and a 401 (the session is gone) sends the page to sign in.
    onRefused: () => void api.health().catch(() => undefined),
  });
  return {
    streams,
    batcher,
    cache,
    start: () => {
      const wake = () => streams.wake();
      window.addEventListener('online', wake);
      return () => {
        window.removeEventListener('online', wake);
        streams.closeAll();
        batcher.dispose();
      };
    },
  };
}

const LiveContext = createContext<Live | null>(null);

export function LiveProvider({ live, children }: { live: Live; children: ReactNode }) {
  useEffect(() => live.start(), [live]);
  return <LiveContext.Provider value={live}>{children}</LiveContext.Provider>;
}

/** Keeps a stream open while the calling component is mounted (null: none). */
export function useLiveStream(spec: StreamSpec | null): void {
  const live = useContext(LiveContext);
  const key = spec ? streamKey(spec) : null;
  // biome-ignore lint/correctness/useExhaustiveDependencies: the key names the stream
  useEffect(() => {
    if (!live || !spec) return;
    return live.streams.acquire(spec);
  }, [live, key]);
}

const idle = () => () => {};
const idleState = (): ConnectionState => 'idle';

/** The state of the page's event streams, for the header's indicator. */
export function useConnectionState(): ConnectionState {
  const live = useContext(LiveContext);
  return useSyncExternalStore(
    live ? live.streams.subscribe : idle,
    live ? live.streams.state : idleState,
  );
}
