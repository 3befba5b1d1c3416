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
