export interface Frame {
  /** The file's name, without its folders. */
  file: string;
  path: string;
  line: number;
  fn: string;
}

const FRAME = /^\s*File "([^"]+)", line (\d+), in (.+?)\s*$/;

/**
 * The innermost frame of a Python traceback: where the exception was raised, which for
 * a step's own error is the user's code (Metaflow's frames come before it).
 */
export function innermostFrame(traceback: string | null | undefined): Frame | null {
  if (!traceback) return null;
  let found: Frame | null = null;
  for (const line of traceback.split('\n')) {
    const m = FRAME.exec(line);
    if (!m) continue;
    const [, path = '', n = '0', fn = ''] = m;
    found = { path, file: path.split(/[\\/]/).at(-1) ?? path, line: Number(n), fn };
  }
  return found;
}

/** One piece of a traceback for display: a run of library frames (Metaflow's, Python's,
 * installed packages') to collapse, a frame of the user's own code to highlight, or
 * other text (the header, the exception line). */
export interface TracebackPart {
  kind: 'user' | 'library' | 'text';
  lines: string[];
}

// Installed packages (Metaflow itself among them) and the interpreter's own modules.
const LIBRARY = /[\\/](site-packages|dist-packages|lib[\\/]python\d[\d.]*)[\\/]|^<frozen /;

/** Splits a Python traceback into parts; each frame keeps its source line(s) below it. */
export function tracebackParts(traceback: string): TracebackPart[] {
  const parts: TracebackPart[] = [];
  const push = (kind: TracebackPart['kind'], line: string) => {
    const last = parts.at(-1);
    // Consecutive library frames collapse into one part; each user frame stands alone.
    if (last && last.kind === kind && kind !== 'user') last.lines.push(line);
    else parts.push({ kind, lines: [line] });
  };
  let inFrame: TracebackPart['kind'] | null = null;
  let frameIndent = 0;
  for (const line of traceback.split('\n')) {
    const m = FRAME.exec(line);
    if (m) {
      const path = m[1] ?? '';
      inFrame = LIBRARY.test(path) ? 'library' : 'user';
      frameIndent = line.length - line.trimStart().length;
      push(inFrame, line);
      continue;
    }
    const indent = line.length - line.trimStart().length;
    const last = parts.at(-1);
    if (inFrame && last && line.trim() && indent > frameIndent) {
      last.lines.push(line); // the frame's source line
      continue;
    }
    inFrame = null;
    push('text', line);
  }
  return parts;
}
