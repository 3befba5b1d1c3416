import { describe, expect, it } from 'vitest';
import { pageOffset, pagesForRange } from './pages';

describe('pagesForRange', () => {
  it('asks nothing for lines the tail already holds', () => {
    expect(pagesForRange(1, 50, 800, 1, 1000)).toEqual([]);
    expect(pagesForRange(4001, 4050, 5000, 4001, 1000)).toEqual([]);
  });
  it('asks the pages that cover the lines in view before the tail', () => {
    expect(pagesForRange(990, 1010, 5000, 4001, 1000)).toEqual([0, 1]);
    expect(pagesForRange(3990, 4010, 5000, 4001, 1000)).toEqual([3]);
  });
  it('includes a page that straddles the start of the tail', () => {
    // Tail covers 4501..5500; page 4 (4001..5000) still has 4001..4500 outside it.
    expect(pagesForRange(4400, 4600, 5500, 4501, 1000)).toEqual([4]);
  });
  it('clamps to the log', () => {
    expect(pagesForRange(-5, 1e9, 2500, 1501, 1000)).toEqual([0, 1]);
    expect(pagesForRange(1, 10, 0, 1, 1000)).toEqual([]);
    expect(pageOffset(2, 1000)).toBe(2000);
  });
});
