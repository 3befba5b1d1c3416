import { describe, expect, it } from 'vitest';
import {
  formatBytes,
  formatClock,
  formatCount,
  formatDuration,
  formatRelative,
  formatTick,
  formatTime,
  liveDuration,
  plural,
} from './format';

describe('formatDuration', () => {
  it('shows milliseconds, seconds, minutes, hours and days', () => {
    expect(formatDuration(350)).toBe('350ms');
    expect(formatDuration(20_000)).toBe('20s');
    expect(formatDuration(2_345)).toBe('2.3s');
    expect(formatDuration(287_000)).toBe('4m 47s');
    expect(formatDuration((2 * 3600 + 48 * 60 + 25) * 1000)).toBe('2h 48m 25s');
    expect(formatDuration((3 * 86400 + 4 * 3600 + 12 * 60) * 1000)).toBe('3d 4h 12m');
  });
  it('shows a dash for unknown durations', () => {
    expect(formatDuration(null)).toBe('—');
    expect(formatDuration(undefined)).toBe('—');
    expect(formatDuration(-5)).toBe('—');
  });
});

describe('formatTick', () => {
  it('is short', () => {
    expect(formatTick(0)).toBe('0');
    expect(formatTick(500)).toBe('500ms');
    expect(formatTick(1500)).toBe('1.5s');
    expect(formatTick(300_000)).toBe('5m');
    expect(formatTick(90_000)).toBe('1m 30s');
    expect(formatTick(5_400_000)).toBe('1h 30m');
  });
});

describe('formatTime', () => {
  const t = Date.UTC(2026, 10, 26, 7, 0, 3, 45);
  it('formats UTC with a Z', () => {
    expect(formatTime(t, 'utc')).toBe('2026-11-26 07:00:03Z');
  });
  it('formats local time in the browser zone (tests run in America/New_York)', () => {
    expect(formatTime(t, 'local')).toBe('2026-11-26 02:00:03');
  });
  it('formats clock time with milliseconds', () => {
    expect(formatClock(t, 'utc')).toBe('07:00:03.045');
    expect(formatClock(null, 'utc')).toBe('');
  });
  it('shows a dash for missing times', () => {
    expect(formatTime(null, 'utc')).toBe('—');
  });
});

describe('formatRelative', () => {
  const now = 1_000_000_000_000;
  it('rounds to the largest unit', () => {
    expect(formatRelative(now - 10_000, now)).toBe('just now');
    expect(formatRelative(now - 5 * 60_000, now)).toBe('5m ago');
    expect(formatRelative(now - 3 * 3_600_000, now)).toBe('3h ago');
    expect(formatRelative(now - 2 * 86_400_000, now)).toBe('2d ago');
  });
});

describe('formatCount and formatBytes', () => {
  it('groups thousands', () => {
    expect(formatCount(10000)).toBe('10,000');
  });
  it('uses binary units', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(50 * 1024 * 1024)).toBe('50 MiB');
  });
});

describe('liveDuration', () => {
  it('prefers the server duration', () => {
    expect(liveDuration(0, 10, 7, false, 100)).toBe(7);
  });
  it('ticks while running', () => {
    expect(liveDuration(1000, null, null, true, 4000)).toBe(3000);
  });
  it('is unknown for a stopped thing without an end', () => {
    expect(liveDuration(1000, null, null, false, 4000)).toBeNull();
  });
});

describe('plural', () => {
  it('says one thing in the singular and any other count in the plural', () => {
    expect(plural(1, 'line')).toBe('1 line');
    expect(plural(0, 'task')).toBe('0 tasks');
    expect(plural(1234, 'run')).toBe('1,234 runs');
    expect(plural(2, 'match', 'matches')).toBe('2 matches');
  });
});
