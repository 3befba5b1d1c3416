// Tables drop their less important columns as they narrow (issue 11: usable from a
// 360 px phone up). Each table lists its layouts from the widest to the narrowest; the
// first whose columns fit at their minimum widths is the one drawn.

export interface ColumnDef {
  /** The narrowest the column may be, in px. */
  min: number;
  /** Its CSS grid track; a fixed `${min}px` when omitted. */
  track?: string;
}

export interface Layout<K extends string> {
  keys: readonly K[];
  /** grid-template-columns for these keys. */
  template: string;
}

/** Row padding and column gap of `.tr` (base.css). */
export const ROW_PADDING = 16;
export const COLUMN_GAP = 10;

export function minWidth<K extends string>(keys: readonly K[], defs: Record<K, ColumnDef>): number {
  const columns = keys.reduce((w, k) => w + defs[k].min, 0);
  return columns + Math.max(0, keys.length - 1) * COLUMN_GAP + ROW_PADDING;
}

export function pickLayout<K extends string>(
  layouts: readonly (readonly K[])[],
  defs: Record<K, ColumnDef>,
  width: number,
): Layout<K> {
  const keys = layouts.find((l) => minWidth(l, defs) <= width) ?? layouts.at(-1) ?? [];
  return { keys, template: keys.map((k) => defs[k].track ?? `${defs[k].min}px`).join(' ') };
}
