import { describe, expect, it } from 'vitest';
import { isPlain, parseAnsi, stripAnsi } from './ansi';

describe('parseAnsi', () => {
  it('passes plain text through', () => {
    const spans = parseAnsi('hello world');
    expect(spans).toHaveLength(1);
    expect(spans[0]?.text).toBe('hello world');
    expect(isPlain(spans[0]?.style ?? ({ fg: 'x' } as never))).toBe(true);
  });
  it('colours and resets', () => {
    const spans = parseAnsi('a\x1b[31mred\x1b[0m b');
    expect(spans.map((s) => s.text)).toEqual(['a', 'red', ' b']);
    expect(spans[1]?.style.fg).toBe('ansi-red');
    expect(spans[2]?.style.fg).toBeNull();
  });
  it('combines bold, bright, background, 256 and true colours', () => {
    const [s] = parseAnsi('\x1b[1;92;44mx');
    expect(s?.style).toMatchObject({ bold: true, fg: 'ansi-bright-green', bg: 'ansi-blue' });
    expect(parseAnsi('\x1b[38;5;196mx')[0]?.style.fg).toBe('rgb(255,0,0)');
    expect(parseAnsi('\x1b[38;5;244mx')[0]?.style.fg).toBe('rgb(128,128,128)');
    expect(parseAnsi('\x1b[48;2;1;2;3mx')[0]?.style.bg).toBe('rgb(1,2,3)');
  });
  it('drops escapes that are not colours', () => {
    expect(parseAnsi('\x1b[2K\x1b[1Gprogress\x1b]0;title\x07!').map((s) => s.text)).toEqual([
      'progress!',
    ]);
  });
  it('strips escapes', () => {
    expect(stripAnsi('\x1b[1m\x1b[31mError\x1b[0m: boom')).toBe('Error: boom');
  });
});
