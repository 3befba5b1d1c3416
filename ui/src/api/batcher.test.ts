import { describe, expect, it } from 'vitest';
import { Batcher } from './batcher';
import { FakeClock } from './fakes';

function setup(interval = 250) {
  const clock = new FakeClock();
  const batches: number[][] = [];
  const batcher = new Batcher<number>((items) => batches.push(items), interval, clock);
  return { clock, batches, batcher };
}

describe('Batcher', () => {
  it('hands on the first event after a quiet spell at once', () => {
    const { clock, batches, batcher } = setup();
    batcher.push(1);
    clock.advance(0);
    expect(batches).toEqual([[1]]);
  });

  it('gathers a burst into one batch per interval, in order', () => {
    const { clock, batches, batcher } = setup();
    batcher.push(1);
    clock.advance(0);
    for (let i = 2; i <= 5; i++) {
      batcher.push(i);
      clock.advance(50);
    }
    expect(batches).toEqual([[1]]);
    clock.advance(100);
    expect(batches).toEqual([[1], [2, 3, 4, 5]]);
  });

  it('applies 10,000 events spread over 2 seconds at most 4 times a second', () => {
    const { clock, batches, batcher } = setup();
    for (let i = 0; i < 10_000; i++) {
      batcher.push(i);
      clock.advance(0.2);
    }
    clock.advance(250);
    expect(batches.flat()).toHaveLength(10_000);
    expect(batches.length).toBeLessThanOrEqual(2000 / 250 + 2);
    expect(batches.flat()).toEqual([...Array(10_000).keys()]);
  });

  it('flush() hands on what is buffered now; dispose() drops it', () => {
    const { clock, batches, batcher } = setup();
    batcher.push(1);
    batcher.flush();
    expect(batches).toEqual([[1]]);
    batcher.push(2);
    batcher.dispose();
    clock.advance(1000);
    expect(batches).toEqual([[1]]);
    expect(clock.pendingTimers).toBe(0);
  });
});
