// Which pages of a log to fetch for the lines in view. The tail request always covers the
// last `pageSize` lines, so only pages wholly before the tail are fetched (and those never
// change, so they are cached for good).

/** Page k holds lines k*size+1 .. (k+1)*size (1-based). */
export function pageStart(k: number, size: number): number {
  return k * size + 1;
}

export function pagesForRange(
  firstLine: number,
  lastLine: number,
  total: number,
  tailStart: number,
  size: number,
): number[] {
  if (total <= 0 || lastLine < firstLine) return [];
  const a = Math.max(1, firstLine);
  const b = Math.min(total, lastLine);
  const pages: number[] = [];
  for (let k = Math.floor((a - 1) / size); k <= Math.floor((b - 1) / size); k++) {
    const from = pageStart(k, size);
    // Lines from tailStart on come with the tail; a page wholly inside it is not needed.
    if (from >= tailStart) continue;
    pages.push(k);
  }
  return pages;
}
