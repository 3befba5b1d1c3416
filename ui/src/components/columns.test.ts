import { describe, expect, it } from 'vitest';
import { type ColumnDef, minWidth, pickLayout } from './columns';

type K = 'a' | 'b' | 'c';
const defs: Record<K, ColumnDef> = {
  a: { min: 100, track: 'minmax(100px, 1fr)' },
  b: { min: 50 },
  c: { min: 200 },
};
const layouts: K[][] = [['a', 'b', 'c'], ['a', 'b'], ['a']];

describe('pickLayout', () => {
  it('counts the gaps between columns and the row padding', () => {
    expect(minWidth(['a', 'b', 'c'], defs)).toBe(350 + 2 * 10 + 16);
    expect(minWidth(['a'], defs)).toBe(116);
  });
  it('keeps every column while they fit', () => {
    const l = pickLayout(layouts, defs, 386);
    expect(l.keys).toEqual(['a', 'b', 'c']);
    expect(l.template).toBe('minmax(100px, 1fr) 50px 200px');
  });
  it('drops columns, least important first, as the table narrows', () => {
    expect(pickLayout(layouts, defs, 385).keys).toEqual(['a', 'b']);
    expect(pickLayout(layouts, defs, 175).keys).toEqual(['a']);
  });
  it('falls back to the narrowest layout when even that does not fit', () => {
    expect(pickLayout(layouts, defs, 40).keys).toEqual(['a']);
  });
});
