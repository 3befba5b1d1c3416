// Which pages of a log to fetch for the lines in view. The tail request always covers the
// last `pageSize` lines, so only pages wholly before the tail are fetched (and those never
// change, so they are cached for good).

/**
 * Page k holds lines k*size+1 .. (k+1)*size (line numbers are 1-based); the API's `start`
 * parameter is the 0-based index of its first line, k*size.
 */
export function pageOffset(k: number, size: number): number {
  return k * size;
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
    const from = pageOffset(k, size) + 1;
    // Lines from tailStart on come with the tail; a page wholly inside it is not needed.
    if (from >= tailStart) continue;
    pages.push(k);
  }
  return pages;
}
