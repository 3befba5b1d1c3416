// ANSI SGR escapes (colours, bold, italic, underline) to styled spans. Other escapes
// (cursor moves, OSC titles) are dropped: logs are shown, not replayed.

export interface AnsiStyle {
  fg: string | null;
  bg: string | null;
  bold: boolean;
  dim: boolean;
  italic: boolean;
  underline: boolean;
}

export interface AnsiSpan {
  text: string;
  style: AnsiStyle;
}

const PLAIN: AnsiStyle = {
  fg: null,
  bg: null,
  bold: false,
  dim: false,
  italic: false,
  underline: false,
};

/** Basic 16 colours as names (the theme maps them to CSS variables). */
const NAMES = ['black', 'red', 'green', 'yellow', 'blue', 'magenta', 'cyan', 'white'];

function color256(n: number): string {
  if (n < 8) return `ansi-${NAMES[n]}`;
  if (n < 16) return `ansi-bright-${NAMES[n - 8]}`;
  if (n < 232) {
    const v = n - 16;
    const level = (c: number) => (c === 0 ? 0 : 55 + c * 40);
    return `rgb(${level(Math.floor(v / 36))},${level(Math.floor(v / 6) % 6)},${level(v % 6)})`;
  }
  const g = 8 + (n - 232) * 10;
  return `rgb(${g},${g},${g})`;
}

function applySgr(style: AnsiStyle, codes: number[]): AnsiStyle {
  let s = { ...style };
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i] ?? 0;
    if (c === 0) s = { ...PLAIN };
    else if (c === 1) s.bold = true;
    else if (c === 2) s.dim = true;
    else if (c === 3) s.italic = true;
    else if (c === 4) s.underline = true;
    else if (c === 22) {
      s.bold = false;
      s.dim = false;
    } else if (c === 23) s.italic = false;
    else if (c === 24) s.underline = false;
    else if (c >= 30 && c <= 37) s.fg = `ansi-${NAMES[c - 30]}`;
    else if (c === 39) s.fg = null;
    else if (c >= 40 && c <= 47) s.bg = `ansi-${NAMES[c - 40]}`;
    else if (c === 49) s.bg = null;
    else if (c >= 90 && c <= 97) s.fg = `ansi-bright-${NAMES[c - 90]}`;
    else if (c >= 100 && c <= 107) s.bg = `ansi-bright-${NAMES[c - 100]}`;
    else if (c === 38 || c === 48) {
      const mode = codes[i + 1];
      let value: string | null = null;
      if (mode === 5) {
        value = color256(codes[i + 2] ?? 0);
        i += 2;
      } else if (mode === 2) {
        value = `rgb(${codes[i + 2] ?? 0},${codes[i + 3] ?? 0},${codes[i + 4] ?? 0})`;
        i += 4;
      }
      if (c === 38) s.fg = value;
      else s.bg = value;
    }
  }
  return s;
}

// CSI sequences (ESC [ params final), OSC (ESC ] ... BEL/ST), and lone ESC + one char.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching terminal escapes is the point
const ESCAPE = /\x1b\[([0-9;?]*)([A-Za-z])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]/g;

/** Splits a line into spans, carrying the style in from the previous line. */
export function parseAnsi(line: string, initial: AnsiStyle = PLAIN): AnsiSpan[] {
  const spans: AnsiSpan[] = [];
  let style = initial;
  let last = 0;
  const push = (text: string) => {
    if (!text) return;
    const prev = spans[spans.length - 1];
    if (prev && prev.style === style) prev.text += text;
    else spans.push({ text, style });
  };
  ESCAPE.lastIndex = 0;
  for (let m = ESCAPE.exec(line); m; m = ESCAPE.exec(line)) {
    push(line.slice(last, m.index));
    last = m.index + m[0].length;
    if (m[2] === 'm') {
      const codes = (m[1] ?? '').split(';').map((p) => (p === '' ? 0 : Number.parseInt(p, 10)));
      style = applySgr(style, codes);
    }
  }
  push(line.slice(last));
  return spans;
}

/** The plain text of a line, escapes removed (for search highlighting and copying). */
export function stripAnsi(line: string): string {
  return line.replace(ESCAPE, '');
}

export function isPlain(style: AnsiStyle): boolean {
  return (
    style.fg === null &&
    style.bg === null &&
    !style.bold &&
    !style.dim &&
    !style.italic &&
    !style.underline
  );
}
